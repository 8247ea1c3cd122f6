"""Ingest checks found by a new-user test: future times, conflicting duplicate ids,
control characters in text, outliers in time. Fixtures are synthetic, written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.errors import DataFileError
from xunfang.ingest.coords import wgs84_to_bd09, wgs84_to_gcj02
from xunfang.ingest.incidents import ingest
from xunfang.ingest.sites import read_sites
from xunfang.serve.cli import app

HEADER = "接警单编号,报警时间,报警类别,经度,纬度,事发地址"
NOW = pd.Timestamp("2024-03-10 12:00", tz="UTC")
LANG_ZH = ["--lang", "zh"]


def _write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "110.csv"
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("gb18030"))
    return path


def _rows(n: int, start: str = "2024-03-01 08:00:00") -> list[str]:
    t0 = pd.Timestamp(start)
    return [
        f"J{i:04d},{(t0 + pd.Timedelta(hours=i)):%Y-%m-%d %H:%M:%S},盗窃,"
        f"{121.48 + i * 1e-4:.4f},31.2300,南京东路{i}号"
        for i in range(n)
    ]


def test_future_times_are_rejected_naming_row_and_field(tmp_path: Path) -> None:
    rows = _rows(5)
    # local Asia/Shanghai: 2024-03-10 20:59 = 12:59 UTC, 1 min inside now + 1 hour
    rows.append("J0100,2024-03-10 20:59:00,盗窃,121.4800,31.2300,a")
    # 2024-03-10 21:01 local = 13:01 UTC, 1 min past now + 1 hour
    rows.append("J0101,2024-03-10 21:01:00,盗窃,121.4800,31.2300,b")
    rows.append("J0102,2099-12-31 10:00:00,盗窃,121.4800,31.2300,c")
    # a tester's call 19 hours ahead (2024-03-11 15:00 local = 07:00 UTC): it was kept
    # under the one-day tolerance, and kpi then blamed each of its step times
    rows.append("J0103,2024-03-11 15:00:00,盗窃,121.4800,31.2300,d")
    _, rejected, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rejected["future_time"] == 3
    assert report.rows_accepted == 6
    fut = rejected[rejected["reason"] == "future_time"]
    assert list(fut["source_row"]) == [8, 9, 10]  # the file's lines (the header is line 1)
    assert set(fut["field"]) == {"报警时间"}
    assert report.examples["future_time"][0]["value"] == "2024-03-10 21:01:00"
    assert report.examples["future_time"][0]["expected"] == (
        "a time not after 2024-03-10T13:00:00+00:00 (UTC)"
    )
    assert report.period == ("2024-03-01T00:00:00+00:00", "2024-03-10T12:59:00+00:00")
    # a wider tolerance keeps the 21:01 row and the one 19 hours ahead
    _, _, wide = ingest(
        [_write(tmp_path, rows)], "cn110", now=NOW, future_tolerance=pd.Timedelta(days=1)
    )
    assert wide.rejected["future_time"] == 1


def test_a_call_in_the_future_is_rejected_in_the_terminal_in_en_and_zh(tmp_path: Path) -> None:
    # the clock's own now: a call 19 hours ahead (local time) is rejected as future_time,
    # its row and field named; --future-hours 20 keeps it
    ahead = (pd.Timestamp.now(tz="Asia/Shanghai") + pd.Timedelta(hours=19)).floor("s")
    rows = [*_rows(3), f"J0100,{ahead:%Y-%m-%d %H:%M:%S},盗窃,121.4800,31.2300,a"]
    path = _write(tmp_path, rows)
    args = ["ingest", str(path), "--profile", "cn110", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "rejected: time in the future │ 1 │" in flat
    assert f"e.g. 110.csv row 5, field '报警时间': '{ahead:%Y-%m-%d %H:%M:%S}'" in flat
    report = json.loads((tmp_path / "o" / "ingest_report.json").read_text("utf-8"))
    assert report["rejected"]["future_time"] == 1 and report["rows_accepted"] == 3
    zh = CliRunner().invoke(app, [*args, *LANG_ZH])
    flat = " ".join(zh.output.split())
    assert "拒绝：时间晚于当前时间 │ 1 │" in flat
    assert f"例：110.csv 第 5 行，字段 '报警时间'：'{ahead:%Y-%m-%d %H:%M:%S}'" in flat
    kept = CliRunner().invoke(app, [*args, "--future-hours", "20"])
    assert kept.exit_code == 0, kept.output
    report = json.loads((tmp_path / "o" / "ingest_report.json").read_text("utf-8"))
    assert report["rejected"]["future_time"] == 0 and report["rows_accepted"] == 4
    both = CliRunner().invoke(app, [*args, "--future-hours", "2", "--future-days", "1", *LANG_ZH])
    assert both.exit_code != 0
    assert "--future-hours 与 --future-days 只能给出其一" in both.output


def test_a_lone_row_years_apart_is_named_in_a_note(tmp_path: Path) -> None:
    rows = [*_rows(20), "J0999,2019-03-01 08:00:00,盗窃,121.4800,31.2300,x"]
    _, _, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rows_accepted == 21
    span = [n for n in report.notes if "accepted row(s) lie" in n]
    assert len(span) == 1 and "1 accepted row(s)" in span[0]
    assert "row 22" in span[0] and "365 days" in span[0]  # the header is line 1
    assert sum("条已接受的行与时间中位数" in n for n in report.notes_zh) == 1
    _, _, clean = ingest([_write(tmp_path, _rows(20))], "cn110", now=NOW)
    assert not any("accepted row(s) lie" in n for n in clean.notes)


def test_rows_without_an_id_are_counted_and_named_in_en_and_zh(tmp_path: Path) -> None:
    # a tester's rows with an empty 接警单编号 were given FILE:LINE ids without a word
    rows = _rows(6)
    rows[1] = rows[1].replace("J0001,", ",")  # line 3: empty
    rows[4] = rows[4].replace("J0004,", "  ,")  # line 6: spaces only (was the id "")
    rows[5] = rows[5].replace("J0005,", ",")  # line 7
    path = _write(tmp_path, rows)
    table, _, report = ingest([path], "cn110", now=NOW)
    assert report.rows_accepted == 6  # kept, as before
    assert table.frame["incident_id"].tolist() == [
        "J0000",
        "110.csv:3",
        "J0002",
        "J0003",
        "110.csv:6",
        "110.csv:7",
    ]
    assert report.generated_ids == {"110.csv": 3}
    assert report.to_dict()["generated_ids"] == {"110.csv": 3}
    assert (
        "110.csv: 3 row(s) had no 接警单编号: each was given the id 110.csv:ROW, its file "
        "and row (row(s) 3, 6-7)"
    ) in report.notes
    assert "110.csv：3 行没有接警单编号：已以“110.csv:行号”作为其编号（第 3, 6-7 行）" in (
        report.notes_zh
    )
    args = ["ingest", str(path), "--profile", "cn110", "--out", str(tmp_path / "o")]
    flat = " ".join(CliRunner().invoke(app, args).output.split())
    assert "rows without an id (given FILE:ROW) │ 3 │" in flat
    assert "3 row(s) had no 接警单编号" in flat
    flat = " ".join(CliRunner().invoke(app, [*args, *LANG_ZH]).output.split())
    assert "无编号的行（以“文件名:行号”为编号） │ 3 │" in flat
    assert "3 行没有接警单编号" in flat
    # every row with an id: no count, no note
    _, _, full = ingest([_write(tmp_path, _rows(6))], "cn110", now=NOW)
    assert full.generated_ids == {}
    assert not any("had no" in n for n in full.notes)


def test_duplicate_ids_exact_repeat_and_conflict_differ(tmp_path: Path) -> None:
    rows = _rows(3)
    rows.append(rows[0])  # exact repeat of row 1
    rows.append(rows[1].replace("08:00:00", "09:00:00").replace("09:00:00,盗窃", "23:00:00,盗窃"))
    rows.append(rows[2].replace("31.2300", "31.2400"))  # same id and time, other place
    _, rejected, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rejected["duplicate_id"] == 1
    assert report.rejected["duplicate_id_conflict"] == 2
    assert dict(zip(rejected["source_row"], rejected["reason"], strict=True)) == {
        5: "duplicate_id",  # data row 4 on line 5: the header is line 1
        6: "duplicate_id_conflict",
        7: "duplicate_id_conflict",
    }
    assert set(rejected["field"]) == {"接警单编号"}


def test_control_and_bidi_characters_are_cleaned_and_counted(tmp_path: Path) -> None:
    rows = _rows(3)
    rows[0] = rows[0].replace("南京东路0号", "南京\x07东路\x1b0\x00号")
    rows[1] = rows[1].replace("南京东路1号", "abc\u202egnp.exe\u2066x\u2069")
    rows[2] = rows[2].replace("南京东路2号", "南京\t东路")
    table, _, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert list(table.frame["address"]) == ["南京东路0号", "abcgnp.exex", "南京 东路"]
    assert report.cleaned_text == {"address": 3}
    assert report.to_dict()["cleaned_text"] == {"address": 3}


def test_text_longer_than_the_cap_is_cut_counted_and_named(tmp_path: Path) -> None:
    # SYNTHETIC: the tester's 2,000,000-character address, one of 2,001 and one of 2,000
    rows = _rows(4)
    rows[0] = rows[0].replace("南京东路0号", "路" * 2_000)  # at the cap: kept whole
    rows[1] = rows[1].replace("南京东路1号", "路" * 2_000_000)
    rows[2] = rows[2].replace("南京东路2号", "a" * 1_999 + "号X")
    table, _, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rows_accepted == 4
    lengths = table.frame["address"].str.len().tolist()
    assert lengths == [2_000, 2_000, 2_000, len("南京东路3号")]
    assert table.frame["address"].iloc[2] == "a" * 1_999 + "号"
    assert report.truncated_text == {"address": 2}
    assert report.to_dict()["max_text_chars"] == 2_000
    assert report.notes == (
        "110.csv: 2 cell(s) of field '事发地址' longer than 2,000 characters cut to 2,000 "
        "(row(s) 3, 4; the longest 2,000,000)",
    )
    assert report.notes_zh[0].startswith("110.csv：字段 '事发地址' 有 2 个单元格超过 2,000 个字符")


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8"])
def test_a_stray_nul_in_a_cell_is_cleaned_and_counted_not_a_binary_file(
    tmp_path: Path, encoding: str
) -> None:
    # SYNTHETIC: the tester's case, one NUL byte inside an address of a 110 export
    rows = _rows(3)
    rows[1] = rows[1].replace("南京东路1号", "南京东\x00路1号")
    path = tmp_path / "110_nul.csv"
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))
    table, _, report = ingest([path], "cn110", now=NOW)
    assert report.rows_accepted == 3
    assert list(table.frame["address"]) == ["南京东路0号", "南京东路1号", "南京东路2号"]
    assert report.cleaned_text == {"address": 1}


def test_a_single_byte_code_page_file_with_stray_nuls_is_text(tmp_path: Path) -> None:
    from xunfang.ingest.readers import sniff_kind

    # cp1252 (Western European): 2 NULs in 200 bytes = 1 %, the share still read as text
    rows = "".join(f"{i};Rue de l'Église {i};1\n" for i in range(12))
    body = ("id;adresse;x\n" + rows).encode("cp1252")[:198]
    text = body[:50] + b"\x00" + body[50:120] + b"\x00" + body[120:]
    assert len(text) == 200 and text.count(0) == 2
    (tmp_path / "fr.csv").write_bytes(text)
    assert sniff_kind(tmp_path / "fr.csv") == "csv"
    # a third NUL (3 in 201 bytes, 1.5 %) is more than stray: binary
    (tmp_path / "fr3.csv").write_bytes(text[:150] + b"\x00" + text[150:])
    with pytest.raises(DataFileError, match=r"fr3\.csv: is a binary file, not a table"):
        sniff_kind(tmp_path / "fr3.csv")


def test_real_binary_files_are_still_refused(tmp_path: Path) -> None:
    from xunfang.ingest.readers import sniff_kind

    # random bytes (compressed or encrypted data): 0.4 % NUL but ~10 % other control bytes
    blob = np.random.default_rng(0).bytes(4096)
    assert 0 < blob.count(0) <= 0.01 * len(blob)
    (tmp_path / "data.csv").write_bytes(blob)
    with pytest.raises(DataFileError, match=r"data\.csv: is a binary file, not a table"):
        sniff_kind(tmp_path / "data.csv")
    # an executable: mostly NUL padding
    (tmp_path / "tool.csv").write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"\x03\x00>")
    with pytest.raises(DataFileError, match=r"tool\.csv: is a binary file"):
        sniff_kind(tmp_path / "tool.csv")


def _frames_case(tmp_path: Path) -> tuple[Path, Path]:
    """SYNTHETIC: 10 calls near 121.477 E, 31.232 N written in BD-09 (Baidu) and a square
    study area (121.470..121.480 E, 31.225..31.235 N in WGS-84) written in GCJ-02."""
    lon_w = 121.476 + 0.0002 * np.arange(10)
    lat_w = 31.231 + 0.0002 * np.arange(10)
    lon_b, lat_b = wgs84_to_bd09(lon_w, lat_w)
    rows = [
        f"J{i:04d},2024-03-01 0{i}:00:00,盗窃,{lon_b[i]:.7f},{lat_b[i]:.7f},x" for i in range(10)
    ]
    square = [(121.470, 31.225), (121.480, 31.225), (121.480, 31.235), (121.470, 31.235)]
    gx, gy = wgs84_to_gcj02([p[0] for p in square], [p[1] for p in square])
    ring = [[float(x), float(y)] for x, y in zip(gx, gy, strict=True)]
    boundary = tmp_path / "area_gcj02.geojson"
    boundary.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "测试辖区"},
                        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    return _write(tmp_path, rows), boundary


def test_boundary_frame_is_not_the_incidents_frame(tmp_path: Path) -> None:
    calls, boundary = _frames_case(tmp_path)
    base = ["ingest", str(calls), "--profile", "cn110", "--frame", "bd09"]
    base += ["--boundary", str(boundary)]
    out = tmp_path / "ok"
    result = CliRunner().invoke(app, [*base, "--boundary-frame", "gcj02", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "ingest_report.json").read_text(encoding="utf-8"))
    assert report["rows_accepted"] == 10
    assert report["frame"] == ["bd09"] and report["area_frame"] == "gcj02"
    # without --boundary-frame the boundary is read in --frame (bd09), as plan reads it:
    # the square moves about 600 m west and every call falls outside; the note says why
    bad = tmp_path / "bad"
    CliRunner().invoke(app, [*base, "--out", str(bad)])
    report = json.loads((bad / "ingest_report.json").read_text(encoding="utf-8"))
    assert report["rejected"]["outside_area"] == 10 and report["area_frame"] == "bd09"
    assert any("--boundary-frame" in n for n in report["notes"])


def _gcj_case(tmp_path: Path) -> tuple[Path, Path]:
    """SYNTHETIC: 10 calls in GCJ-02 (as a 110 system on AMap writes them) on a line north
    from the south edge of the square of :func:`_frames_case` (its boundary, in GCJ-02),
    121.473 E, 31.2252 N + 0.0008 degrees each (WGS-84); read as WGS-84 they move 0.0045
    degrees east (still inside) and 0.00194 south, which puts the 3 southern ones (up to
    31.2268 N) south of the edge at 31.225 N."""
    _calls, boundary = _frames_case(tmp_path)
    lon_w = np.full(10, 121.473)
    lat_w = 31.2252 + 0.0008 * np.arange(10)
    lon_g, lat_g = wgs84_to_gcj02(lon_w, lat_w)
    rows = [
        f"J{i:04d},2024-03-01 0{i}:00:00,盗窃,{lon_g[i]:.7f},{lat_g[i]:.7f},x" for i in range(10)
    ]
    return _write(tmp_path, rows), boundary


def test_a_gcj02_boundary_without_frame_reads_the_incidents_in_its_frame_with_a_note(
    tmp_path: Path,
) -> None:
    # a tester's 110 export and boundary, both GCJ-02, --boundary-frame gcj02 and no
    # --frame: the calls were read as WGS-84 without a word, 27 % rejected as outside
    calls, boundary = _gcj_case(tmp_path)
    base = ["ingest", str(calls), "--profile", "cn110", "--boundary", str(boundary)]
    base += ["--boundary-frame", "gcj02"]
    out = tmp_path / "ok"
    result = CliRunner().invoke(app, [*base, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Incident coordinates read as gcj02, the frame of the area's boundary" in " ".join(
        result.output.split()
    )
    report = json.loads((out / "ingest_report.json").read_text(encoding="utf-8"))
    assert report["rows_accepted"] == 10 and report["frame"] == ["gcj02"]
    result = CliRunner().invoke(app, [*base, *LANG_ZH, "--out", str(tmp_path / "zh")])
    assert "警情坐标按区域边界的坐标系gcj02读取" in "".join(result.output.split())
    # --frame wgs84 stated: read so, and the mix of frames with 30 % outside (fewer than
    # half) now brings the note naming both frames and both options
    bad = tmp_path / "bad"
    result = CliRunner().invoke(app, [*base, "--frame", "wgs84", "--out", str(bad)])
    assert "Incident coordinates read as" not in result.output
    report = json.loads((bad / "ingest_report.json").read_text(encoding="utf-8"))
    assert report["rejected"]["outside_area"] == 3 and report["frame"] == ["wgs84"]
    assert (
        "3 of 10 located rows (30%) fall outside 测试辖区: the area was read in frame gcj02, "
        "the incidents in wgs84; if the boundary file is in another frame, give it with "
        "--boundary-frame, if the incidents are, with --frame"
    ) in report["notes"]


def test_a_mapping_frame_conflicts_only_with_frame_option(tmp_path: Path) -> None:
    calls, boundary = _frames_case(tmp_path)
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'name = "m"\nencoding = "gb18030"\n[layout]\ntimezone = "Asia/Shanghai"\n'
        'id = "接警单编号"\ntime = "报警时间"\ntype = "报警类别"\nscheme = "cn110"\n'
        'time_formats = ["%Y-%m-%d %H:%M:%S"]\n'
        '[[layout.coords]]\nkind = "lonlat"\nx = "经度"\ny = "纬度"\nframe = "bd09"\n',
        encoding="utf-8",
    )
    base = ["ingest", str(calls), "--mapping", str(mapping), "--boundary", str(boundary)]
    result = CliRunner().invoke(app, [*base, "--frame", "gcj02", "--out", str(tmp_path / "c")])
    assert result.exit_code != 0 and "frame conflict" in result.output
    out = tmp_path / "ok"
    result = CliRunner().invoke(app, [*base, "--boundary-frame", "gcj02", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "ingest_report.json").read_text(encoding="utf-8"))
    assert report["rows_accepted"] == 10 and report["frame"] == ["bd09"]


def _merged_workbook(path: Path, rows: list[list[object]], header: list[list[object]]) -> Path:
    """SYNTHETIC: a title row merged over every column, then ``header`` (two rows with
    a group cell merged over its sub-columns), then ``rows``."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    width = len(header[-1])
    ws.append(["黄浦分局110接警记录导出（2024年3月）"] + [None] * (width - 1))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    for r in header:
        ws.append(r)
    ws.merge_cells(start_row=2, start_column=width - 1, end_row=2, end_column=width)
    for r in rows:
        ws.append(r)
    book.save(path)
    return path


def test_excel_title_row_and_merged_two_row_header(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["J1", "2024-03-01 08:00:00", "盗窃", 121.4801, 31.2301],
        ["J2", "2024-03-01 09:00:00", "盗窃", 121.4802, 31.2302],
    ]
    header: list[list[object]] = [
        ["接警单编号", "报警时间", "报警类别", "坐标", None],
        [None, None, None, "经度", "纬度"],
    ]
    book = _merged_workbook(tmp_path / "110.xlsx", rows, header)
    table, _, report = ingest([book], "cn110", now=NOW)
    assert report.rows_read == 2
    assert list(table.frame["incident_id"]) == ["J1", "J2"]
    assert list(table.frame["lon"]) == [121.4801, 121.4802]
    # the same header named by number: row 3 (merged with row 2 above it)
    table3, _, _ = ingest([book], "cn110", now=NOW, header_row=3)
    assert list(table3.frame["incident_id"]) == ["J1", "J2"]
    # row 1 (the title) is no header: the error names what the header has
    with pytest.raises(DataFileError, match="黄浦分局110接警记录导出"):
        ingest([book], "cn110", now=NOW, header_row=1)


def test_csv_title_row_found_by_auto_and_by_number(tmp_path: Path) -> None:
    path = tmp_path / "titled.csv"
    body = "\r\n".join(["110接警记录导出", "", HEADER, *_rows(3)]) + "\r\n"
    path.write_bytes(body.encode("gb18030"))
    table, _, report = ingest([path], "cn110", now=NOW)
    assert report.rows_read == 3 and list(table.frame["incident_id"]) == ["J0000", "J0001", "J0002"]
    table3, _, _ = ingest([path], "cn110", now=NOW, header_row=3)
    assert list(table3.frame["incident_id"]) == ["J0000", "J0001", "J0002"]
    out = tmp_path / "o"
    result = CliRunner().invoke(
        app, ["ingest", str(path), "--profile", "cn110", "--header-row", "0", "--out", str(out)]
    )
    assert result.exit_code != 0 and "--header-row" in result.output


def test_stations_with_title_row_and_merged_header(tmp_path: Path) -> None:
    book = _merged_workbook(
        tmp_path / "stations.xlsx",
        [["人民广场派出所", 121.4795, 31.2290], ["南京东路派出所", 121.4845, 31.2340]],
        [["名称", "坐标", None], [None, "经度", "纬度"]],
    )
    sites = read_sites(book)
    assert list(sites["name"]) == ["人民广场派出所", "南京东路派出所"]
    assert sites.geometry.x.tolist() == [121.4795, 121.4845]
    csv_path = tmp_path / "stations.csv"
    csv_path.write_text("派出所一览\nname,lon,lat\nA,121.1,31.1\n", encoding="utf-8")
    assert read_sites(csv_path).geometry.y.tolist() == [31.1]


def test_times_beyond_what_a_timestamp_holds_are_rejected_not_a_crash(tmp_path: Path) -> None:
    # placeholders out of pandas' nanosecond range (1677-09-21 .. 2262-04-11) crashed ingest
    rows = _rows(5)
    rows.append("J0100,9999-12-31 23:59:59,盗窃,121.4800,31.2300,a")  # line 7
    rows.append("J0101,1677-01-01 00:00:00,盗窃,121.4800,31.2300,b")  # line 8
    rows.append("J0102,2262年05月01日 00:00:00,盗窃,121.4800,31.2300,c")  # line 9
    rows.append("J0103,0001-01-01 00:00:00,盗窃,121.4800,31.2300,d")  # line 10
    _, rejected, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rows_accepted == 5
    assert report.rejected["future_time"] == 2
    assert report.rejected["implausible_time"] == 2
    assert report.rejected["unparseable_time"] == 0
    by_row = dict(zip(rejected["raw_time"], rejected["reason"], strict=True))
    assert by_row == {
        "9999-12-31 23:59:59": "future_time",
        "1677-01-01 00:00:00": "implausible_time",
        "2262年05月01日 00:00:00": "future_time",
        "0001-01-01 00:00:00": "implausible_time",
    }
    assert set(rejected["field"]) == {"报警时间"}
    fut = report.examples["future_time"]
    assert [e["value"] for e in fut] == ["9999-12-31 23:59:59", "2262年05月01日 00:00:00"]
    assert fut[0]["file"] == "110.csv" and fut[0]["field"] == "报警时间"
    early = report.examples["implausible_time"][0]
    assert early["value"] == "1677-01-01 00:00:00"
    assert early["expected"].startswith(
        "a time after 1970-01-01 00:00 UTC (an earlier time is a placeholder"
    )
    assert report.period == ("2024-03-01T00:00:00+00:00", "2024-03-01T04:00:00+00:00")


def test_an_out_of_range_zone_aware_time_is_rejected(tmp_path: Path) -> None:
    from xunfang.ingest.incidents import _parse_times

    values = pd.Series(["9999-12-31T23:59:59+08:00", "2024-03-01T08:00:00+08:00", "x"])
    _, aware, precision, beyond = _parse_times(values, ["%Y-%m-%dT%H:%M:%S%z"])
    assert list(beyond) == [1, 0, 0]
    assert aware.isna().tolist() == [True, False, True]
    assert aware.iloc[1] == pd.Timestamp("2024-03-01 00:00", tz="UTC")
    assert list(precision) == [None, "second", None]


def test_placeholder_times_before_1970_are_rejected_as_implausible(tmp_path: Path) -> None:
    # a 1900-01-01 row kept made deploy count 6,569 weeks of incidents for one quarter
    rows = _rows(5)
    rows.append("J0100,1900-01-01 00:00:00,盗窃,121.4800,31.2300,a")  # line 7
    rows.append("J0101,1970-01-01 00:00:00,盗窃,121.4800,31.2300,b")  # 1969-12-31 16:00 UTC
    rows.append("J0102,1970-01-01 08:00:01,盗窃,121.4800,31.2300,c")  # 00:00:01 UTC: kept
    _, rejected, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rejected["implausible_time"] == 2
    assert list(rejected["source_row"]) == [7, 8]
    assert report.rows_accepted == 6
    ex = report.examples["implausible_time"][0]
    assert (ex["row"], ex["field"], ex["value"]) == (7, "报警时间", "1900-01-01 00:00:00")
    assert report.period == ("1970-01-01T00:00:01+00:00", "2024-03-01T04:00:00+00:00")
    # a later floor of the caller's
    _, _, late = ingest(
        [_write(tmp_path, rows)], "cn110", now=NOW, earliest=pd.Timestamp("2024-03-01 01:00")
    )
    # 1900, 1970 x2, and 00:00 and 01:00 UTC (the floor itself) of 2024-03-01
    assert late.rejected["implausible_time"] == 5
    assert late.period == ("2024-03-01T02:00:00+00:00", "2024-03-01T04:00:00+00:00")


def test_rows_are_named_by_the_line_the_file_shows(tmp_path: Path) -> None:
    # SYNTHETIC: a title line, a blank line, the header on line 3; an address holding a
    # line break (lines 5-6); a blank line (8); the bad times on lines 7 and 10
    body = [
        "110接警记录导出",
        "",
        HEADER,
        "J1,2024-03-01 08:00:00,盗窃,121.4800,31.2300,a",  # line 4
        'J2,2024-03-01 09:00:00,盗窃,121.4801,31.2300,"南京东路',  # line 5
        '1号"',  # line 6
        "J3,bad,盗窃,121.4802,31.2300,c",  # line 7
        "",  # line 8
        "J4,2024-03-01 10:00:00,盗窃,121.4803,31.2300,d",  # line 9
        "J5,,盗窃,121.4804,31.2300,e",  # line 10
    ]
    path = tmp_path / "110.csv"
    path.write_bytes(("\r\n".join(body) + "\r\n").encode("gb18030"))
    table, rejected, report = ingest([path], "cn110", now=NOW)
    assert table.frame["source_row"].tolist() == [4, 5, 9]
    assert table.frame["address"].iloc[1] == "南京东路  1号"  # CR and LF each a space
    assert rejected["source_row"].tolist() == [7, 10]
    assert [e["row"] for e in report.examples["unparseable_time"]] == [7, 10]
    # the same file with one record per line: lines numbered from the header on
    plain = tmp_path / "plain.csv"
    plain.write_bytes(("\n".join([HEADER, *_rows(3)])).encode("gb18030"))  # no final newline
    t2, _, _ = ingest([plain], "cn110", now=NOW)
    assert t2.frame["source_row"].tolist() == [2, 3, 4]


def test_excel_rows_are_the_sheet_rows(tmp_path: Path) -> None:
    # title on row 1, a two-row header on rows 2-3, data from row 4; an empty row 6
    rows: list[list[object]] = [
        ["J1", "2024-03-01 08:00:00", "盗窃", 121.4801, 31.2301],  # row 4
        ["J2", "bad", "盗窃", 121.4802, 31.2302],  # row 5
        [None, None, None, None, None],  # row 6: empty, skipped
        ["J3", "2024-03-01 10:00:00", "盗窃", None, None],  # row 7
    ]
    header: list[list[object]] = [
        ["接警单编号", "报警时间", "报警类别", "坐标", None],
        [None, None, None, "经度", "纬度"],
    ]
    book = _merged_workbook(tmp_path / "110.xlsx", rows, header)
    table, rejected, report = ingest([book], "cn110", now=NOW)
    assert table.frame["source_row"].tolist() == [4]
    assert dict(zip(rejected["source_row"], rejected["reason"], strict=True)) == {
        5: "unparseable_time",
        7: "missing_coordinates",
    }
    assert report.examples["unparseable_time"][0]["row"] == 5


def test_types_not_in_the_taxonomy_are_given_file_and_row(tmp_path: Path) -> None:
    rows = [r.replace(",盗窃,", ",刑事,") for r in _rows(6)]
    rows[1] = rows[1].replace(",刑事,", ",外星人入侵,")  # line 3
    rows[3] = rows[3].replace(",刑事,", ",穿越时空,")  # line 5
    rows[4] = rows[4].replace(",刑事,", ",外星人入侵,")  # line 6
    _, _, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.unmapped_types == {"外星人入侵": 2, "穿越时空": 1}
    first, second = report.unmapped_examples
    assert (first["file"], first["row"], first["field"], first["value"], first["rows"]) == (
        "110.csv",
        3,
        "报警类别",
        "外星人入侵",
        2,
    )
    assert (second["row"], second["value"], second["rows"]) == (5, "穿越时空", 1)
    assert report.to_dict()["unmapped_examples"][0]["row"] == 3
    out = tmp_path / "out"
    args = ["ingest", str(_write(tmp_path, rows)), "--profile", "cn110", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, *LANG_ZH])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "类别不在分类表中：110.csv 第 3 行，字段 '报警类别'：'外星人入侵'（共 2 行）" in flat


def test_a_wrong_single_byte_encoding_is_warned_of(tmp_path: Path) -> None:
    # SYNTHETIC: a GBK export with pinyin column names, read with --encoding cp1252: every
    # type turns into Latin-1 letters (刑事 -> ÐÌÊÂ) and falls in 'other'
    header = "JJDBH,BJSJ,BJLB,BJXL,JD,WD,SFDZ"
    types = [("刑事", "盗窃"), ("治安", "打架斗殴"), ("交通", "交通事故"), ("求助", "走失")]
    rows = [
        f"J{i:03d},2024-03-01 {8 + i % 10:02d}:00:00,{types[i % 4][0]},{types[i % 4][1]},"
        f"121.48{i % 10},31.230,黄浦区南京东路{i}号"
        for i in range(12)
    ]
    path = tmp_path / "py.csv"
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("gbk"))
    _, _, wrong = ingest([path], "cn110", now=NOW, encoding="cp1252")
    assert "ÐÌÊÂ" in wrong.unmapped_types  # 刑事 as cp1252
    odd = [n for n in wrong.notes if "wrong encoding" in n]
    assert len(odd) == 1 and "36 of 36 text cells" in odd[0] and "read as cp1252" in odd[0]
    assert any("12 of 12 accepted rows (100%) are of no known type" in n for n in wrong.notes)
    assert any("按错误编码解码" in n for n in wrong.notes_zh)
    # detected as GB18030: no warning, the types known
    _, _, right = ingest([path], "cn110", now=NOW)
    assert right.notes == () and right.unmapped_types == {}
    # Western text read in its own code page is no mojibake
    latin = tmp_path / "latin.csv"
    west = [
        f"W{i:03d},2024-03-01 08:00:00,Vol à l'étalage,Crème Brûlée,121.48{i},31.230,Praça {i}"
        for i in range(12)
    ]
    latin.write_bytes(("\r\n".join([header, *west]) + "\r\n").encode("cp1252"))
    _, _, west_report = ingest([latin], "cn110", now=NOW, encoding="cp1252")
    assert west_report.rows_accepted == 12
    assert not any("wrong encoding" in n for n in west_report.notes)


def test_a_stray_row_does_not_stretch_the_period_rates_are_counted_over() -> None:
    from xunfang.ingest.incidents import bulk_span
    from xunfang.plan.decisions import incident_days

    # 13 weeks of daily calls and one row dated 2019: deploy counted weeks over the span
    t = pd.Series(pd.date_range("2025-09-01", periods=92, freq="D", tz="UTC"))
    stray = pd.concat([t, pd.Series([pd.Timestamp("2019-06-01", tz="UTC")])])
    start, end, n_out = bulk_span(stray)
    assert (start, end, n_out) == (t.iloc[0], t.iloc[-1], 1)
    assert incident_days(stray) == 91 == incident_days(t)
    # a wide spread with no gross outlier keeps its whole span (limit: 10 IQR or a year)
    spread = pd.Series(pd.to_datetime(["2024-01-01", "2024-06-01", "2025-01-01"]))
    assert bulk_span(spread) == (spread.iloc[0], spread.iloc[-1], 0)


def test_station_rows_are_named_as_the_sheet_shows_them(tmp_path: Path) -> None:
    # title on row 1, two-row header on rows 2-3, stations on rows 4 and 5 (bad)
    book = _merged_workbook(
        tmp_path / "stations.xlsx",
        [["人民广场派出所", 121.4795, 31.2290], ["南京东路派出所", None, 31.2340]],
        [["名称", "坐标", None], [None, "经度", "纬度"]],
    )
    with pytest.raises(DataFileError, match=r"stations\.xlsx, row 5, field '经度'"):
        read_sites(book)
    good = _merged_workbook(
        tmp_path / "ok.xlsx",
        [["人民广场派出所", 121.4795, 31.2290], ["南京东路派出所", 121.4845, 31.2340]],
        [["名称", "坐标", None], [None, "经度", "纬度"]],
    )
    assert read_sites(good).attrs["source_rows"].tolist() == [4, 5]


def test_excel_serial_dates_in_a_csv_are_read_when_the_whole_column_is_serials(
    tmp_path: Path,
) -> None:
    # a sheet saved as CSV with its date column formatted as a number (synthetic rows):
    # 45350.5 is 2024-02-28 12:00, 45351.25 is 2024-02-29 06:00, 45352 the day 2024-03-01
    # (45370 is 2024-03-19, Excel's own example)
    rows = [
        "J0001,45350.5,盗窃,121.47,31.23,x",
        "J0002,45351.25,盗窃,121.47,31.23,x",
        "J0003,45352,盗窃,121.47,31.23,x",
    ]
    table, rejected, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert len(rejected) == 0
    local = table.frame["occurred_at"].dt.tz_convert("Asia/Shanghai")
    assert [f"{t:%Y-%m-%d %H:%M}" for t in local] == [
        "2024-02-28 12:00",
        "2024-02-29 06:00",
        "2024-03-01 00:00",
    ]
    assert list(table.frame["time_precision"]) == ["second", "second", "day"]
    assert any(
        "3 cell(s) of time column '报警时间' held an Excel serial date" in n for n in report.notes
    )
    # one real date among them: the column is not serials, and the numbers stay unread
    mixed = [*rows, "J0004,2024-03-02 08:00:00,盗窃,121.47,31.23,x"]
    (tmp_path / "m").mkdir()
    table, rejected, _ = ingest([_write(tmp_path / "m", mixed)], "cn110", now=NOW)
    assert len(table) == 1 and list(rejected["reason"]) == ["unparseable_time"] * 3


def test_a_us_city_files_frame_does_not_speak_for_a_chinese_export() -> None:
    """A 110 export read under the default (US) city file, whose ``frame = "wgs84"`` is that
    of its own files, gets the note naming --frame (a tester's GCJ-02 export was read as
    WGS-84 without a word); a Chinese city's stated frame, or --frame, is taken as is."""
    from xunfang.ingest.city import City

    us = City(name="us", boundaries=(), timezone="America/Chicago", frame_stated=True)
    note = us.incident_frame_note("cn110")
    assert note is not None and note.key == "frame_assumed_wgs84"
    assert us.incident_frame_note("chicago") is None  # the city's own kind of file
    cn = City(name="cn", boundaries=(), timezone="Asia/Shanghai", frame_stated=True)
    assert cn.incident_frame_note("cn110") is None
    told = City(name="us", boundaries=(), timezone="America/Chicago", frame_stated=True,
                frame_option=True)  # fmt: skip
    assert told.incident_frame_note("cn110") is None
