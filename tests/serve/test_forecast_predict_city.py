"""``forecast predict`` takes its area, roads and stations as ``plan`` does (found by a
new-user test: with ``--city`` it forecast on the rectangle around the incidents, not the
city's area, and it had no ``--roads``/``--stations``, so a boundary file and an OSM
extract gave ``gbm`` no place layers).

On the SYNTHETIC example city examples/shanghai (real OpenStreetMap streets of central
Shanghai, a made-up boundary, stations and 110 calls of March 2024)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xunfang.serve.cli import app

pytestmark = pytest.mark.realdata

EXAMPLE = Path(__file__).parents[2] / "examples" / "shanghai"
OSM = "shanghai-osm/central_shanghai_drive.osm"
# the place layers gbm reads from roads and stations (schools: none in these files)
PLACE = "place layers dist_junction_m, dist_major_road_m, dist_station_m, junctions, road_m"


def _predict(args: list[str], out: Path, data_dir: Path, env: dict[str, str]) -> dict:
    if not (data_dir / OSM).is_file():
        pytest.skip("no Shanghai extract")
    res = CliRunner().invoke(
        app,
        ["forecast", "predict", *args, "--out", str(out), "--data-dir", str(data_dir)],
        env={"COLUMNS": "200", "XUNFANG_CACHE_DIR": str(out.parent / "cache"), **env},
    )
    assert res.exit_code == 0, res.output
    return json.loads((out / "run.json").read_text("utf-8"))


@pytest.mark.parametrize("how", ["--city", "XUNFANG_CITY"])
def test_predict_with_a_city_file_forecasts_its_default_area(
    how: str, data_dir: Path, tmp_path: Path
) -> None:
    city = str(EXAMPLE / "city.toml")
    args, env = (["--city", city], {}) if how == "--city" else ([], {"XUNFANG_CITY": city})
    run = _predict(args, tmp_path / "p", data_dir, env)
    # the city file's default, `default = "西片,东片"` of its layer `area`, as plan takes it
    assert run["area"] == "area:西片,东片"
    # the place layers from the city file's roads and stations (before: "left out: place
    # layers: no city study area (give --area)")
    assert PLACE in run["context"]


def test_predict_takes_roads_and_stations_for_the_place_layers(
    data_dir: Path, tmp_path: Path
) -> None:
    files = [
        "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv"),
        "--mapping", str(EXAMPLE / "mapping_110.toml"),
        "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--boundary-name", "西片",
        "--frame", "gcj02",
    ]  # fmt: skip
    bare = _predict(files, tmp_path / "bare", data_dir, {})
    assert bare["area"] == "boundary:西片"
    assert (
        "place layers none; left out: stations: the city names no stations file"
        in (bare["context"])
    )
    more = ["--roads", str(data_dir / OSM), "--stations", str(EXAMPLE / "stations_gcj02.csv")]
    run = _predict([*files, *more], tmp_path / "full", data_dir, {})
    assert run["area"] == "boundary:西片"
    assert PLACE in run["context"]


def test_evaluate_takes_roads_and_stations_too(data_dir: Path, tmp_path: Path) -> None:
    """``forecast evaluate`` had no --roads/--stations (a new-user test): gbm was evaluated
    without the place layers that ``predict`` gives it."""
    if not (data_dir / OSM).is_file():
        pytest.skip("no Shanghai extract")
    out = tmp_path / "ev"
    args = [
        "forecast", "evaluate",
        "--incidents", str(EXAMPLE / "incidents_110_synthetic.csv"),
        "--mapping", str(EXAMPLE / "mapping_110.toml"),
        "--boundary", str(EXAMPLE / "boundary_gcj02.geojson"), "--boundary-name", "西片",
        "--frame", "gcj02", "--windows", "2", "--methods", "naive,gbm",
        "--no-offset-sensitivity",
        "--roads", str(data_dir / OSM), "--stations", str(EXAMPLE / "stations_gcj02.csv"),
        "--out", str(out), "--data-dir", str(data_dir),
    ]  # fmt: skip
    res = CliRunner().invoke(
        app, args, env={"COLUMNS": "200", "XUNFANG_CACHE_DIR": str(tmp_path / "cache")}
    )
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert PLACE in run["context"]
