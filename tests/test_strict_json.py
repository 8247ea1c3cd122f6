"""Strict JSON reading: a key repeated in one object is refused, naming the key and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xunfang import strict_json
from xunfang.errors import DataFileError
from xunfang.strict_json import DuplicateKeyError


def test_unique_keys_read_as_json_loads() -> None:
    text = '{"a": 1, "b": {"a": 2, "c": [1, {"a": 3}]}, "d": null}'
    assert strict_json.loads(text) == json.loads(text)
    assert strict_json.loads(b'{"x": 1.5}') == {"x": 1.5}


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('{"priority": 1, "priority": 3}', "priority", 1),
        # the repeat on line 3, in an object inside a list
        ('{"calls": [\n  {"lon": 121.47, "lat": 31.23,\n   "lon": 121.48}\n]}', "lon", 3),
        # the same key in two different objects is fine; the repeat in the second one is not
        ('{"a": {"k": 1},\n "b": {"k": 1,\n\n  "k": 2}}', "k", 4),
    ],
)
def test_repeated_key_is_named_with_its_line(text: str, key: str, line: int) -> None:
    with pytest.raises(DuplicateKeyError) as info:
        strict_json.loads(text)
    assert (info.value.key, info.value.line) == (key, line)
    assert f"duplicate key {key!r}" in str(info.value) and f"(line {line})" in str(info.value)


def test_not_json_is_still_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        strict_json.loads('{"a": ')


def test_files_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "plan_summary.json"
    path.write_text('{\n  "area": "district:1",\n  "area": "district:2"\n}', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"plan_summary\.json, field 'area': line 3: dup"):
        strict_json.load_file(path)
    geo = tmp_path / "boundary.geojson"
    geo.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature",\n'
        '"properties": {"name": "东片", "name": "西片"}, "geometry": null}]}',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match=r"field 'name': line 2: duplicate key 'name'"):
        strict_json.check_file(geo)
    csv = tmp_path / "sites.csv"  # not JSON: not read
    csv.write_text('name\n"{""a"": 1, ""a"": 2}"\n', encoding="utf-8")
    strict_json.check_file(csv)
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(DataFileError, match="not valid JSON"):
        strict_json.load_file(bad)
    strict_json.check_file(bad)  # not JSON at all: left to the reader's own message


def test_plan_folder_and_boundary_with_a_repeated_key_are_refused(tmp_path: Path) -> None:
    from xunfang.ingest.areas import read_boundary_file
    from xunfang.plan.booth_plan import read_plan_record

    (tmp_path / "plan_summary.json").write_text(
        '{"area": "district:1", "output_frame": "gcj02",\n "output_frame": "wgs84"}',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match=r"field 'output_frame': line 2: duplicate key"):
        read_plan_record(tmp_path)
    boundary = tmp_path / "boundary.geojson"
    square = '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}'
    boundary.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        f'"properties": {{"name": "东片", "name": "西片"}}, "geometry": {square}}}]}}',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match=r"boundary\.geojson, field 'name': line 1"):
        read_boundary_file(boundary)


def test_deep_nesting_is_a_named_error_not_a_recursion_crash(tmp_path: Path) -> None:
    with pytest.raises(strict_json.NestingError, match="nested too deeply"):
        strict_json.loads("[" * 30_000 + "]" * 30_000)
    assert strict_json.loads("[[[1]]]") == [[[1]]]  # ordinary nesting passes
    geo = tmp_path / "deep.geojson"
    geo.write_text('{"a":' * 10_000 + "1" + "}" * 10_000, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"deep\.geojson.*nested too deeply"):
        strict_json.check_file(geo)
    with pytest.raises(DataFileError, match="nested too deeply"):
        strict_json.load_file(geo)
