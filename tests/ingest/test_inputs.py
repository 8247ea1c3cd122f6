"""Input that analysts really send: encodings, Excel, vector files, CSV quirks, zone-suffixed
and epoch times, duplicate headers, files that are not tables, piles, all rows rejected.

Every file here is synthetic, written by the test itself.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point
from typer.testing import CliRunner

from xunfang.errors import DataFileError
from xunfang.ingest.incidents import NoUsableRowsError, ingest, profile_from_toml
from xunfang.serve.cli import app

MAPPING = """
name = "test-110"
[layout]
timezone = "Asia/Shanghai"
id = "id"
time = "time"
time_formats = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "epoch_ms", "epoch_s"]
type = "type"
subtype = "subtype"
scheme = "cn110"
bbox = [121.0, 30.9, 121.9, 31.5]
[[layout.coords]]
kind = "lonlat"
x = "lon"
y = "lat"
"""
CN_HEADER = "接警单编号,报警时间,报警类别,报警细类,经度,纬度"


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def _rows(n: int, lon0: float = 121.45, lat0: float = 31.22) -> list[tuple[str, ...]]:
    return [
        (
            f"A{i}",
            f"2024-05-01 10:{i % 60:02d}:00",
            "刑事",
            "盗窃",
            f"{lon0 + i * 1e-4:.6f}",
            f"{lat0 + i * 1e-4:.6f}",
        )
        for i in range(n)
    ]


# --------------------------------------------------------------------------- encodings
def test_gbk_file_with_ascii_header_is_not_read_as_another_code_page(
    tmp_path: Path, mapping: Path
) -> None:
    # Regression: this 200-row GBK file with an ASCII header and one- or two-character
    # Chinese cells was decoded by charset-normalizer's best guess (mac_iceland here, cp1251
    # for similar files: Cyrillic) and every row was accepted with garbled types.
    lines = ["id,time,type,subtype,lon,lat"]
    for i in range(200):
        lines.append(
            f"J{i},2024-05-01 10:{i % 60:02d}:00,{'汇助'[i % 2]},{'助汇'[i % 2]},"
            f"{121.4 + i * 1e-4:.6f},{31.2 + i * 1e-4:.6f}"
        )
    path = tmp_path / "gbk200.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    table, _, report = ingest([path], profile_from_toml(mapping))
    assert report.files[0]["encoding"] == "gb18030"
    assert report.rows_accepted == 200
    assert table.frame["type"].iloc[:2].tolist() == ["汇", "助"]


def test_bytes_that_do_not_decide_the_encoding_are_refused(tmp_path: Path, mapping: Path) -> None:
    # Russian in cp1251: not UTF-8, not GB18030: refused, naming --encoding and the row
    lines = ["id,time,type,subtype,lon,lat", "A1,2024-05-01 10:00:00,кража,кража,121.45,31.22"]
    path = tmp_path / "cp1251.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1251"))
    # row 2: the file's line 2 (the header, line 1, is ASCII)
    with pytest.raises(DataFileError, match=r"cp1251\.csv, row 2: is not UTF-8 .*--encoding"):
        ingest([path], profile_from_toml(mapping))
    # Latin-1 bytes that happen to be valid GB18030 but not Chinese text: refused too
    lines[1] = "A1,2024-05-01 10:00:00,Café Crème,Ünterführung,121.45,31.22"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    with pytest.raises(DataFileError, match=r"bytes do not decide its encoding.*--encoding"):
        ingest([path], profile_from_toml(mapping))
    # ... and read as asked
    _, _, report = ingest([path], profile_from_toml(mapping), encoding="latin-1")
    assert report.rows_accepted == 1


# --------------------------------------------------------------------------- CSV quirks
def test_bom_crlf_spaces_in_header_and_decimal_commas(tmp_path: Path) -> None:
    header = " 接警单编号 ; 报警时间 ;报警类别; 报警细类 ;经度;纬度"
    rows = [
        "A1;2024-05-01 10:00:00;刑事;盗窃;121,47;31,23",
        "A2;2024-05-01 11:00:00;交通;交通事故;121.48;31.24",
        "A3;2024-05-01 12:00:00;交通;交通事故;121,4x;31,25",
    ]
    path = tmp_path / "semi.csv"
    path.write_bytes("\ufeff".encode() + ("\r\n".join([header, *rows]) + "\r\n").encode())
    table, rejected, report = ingest([path], "cn110")
    assert report.files[0]["encoding"] == "utf-8-sig"
    assert report.rows_accepted == 2
    assert table.frame["lon"].tolist() == [121.47, 121.48]
    assert table.frame["lat"].tolist() == [31.23, 31.24]
    assert table.frame["incident_id"].tolist() == ["A1", "A2"]
    assert rejected[["reason", "field", "source_row", "raw_x"]].values.tolist() == [
        ["invalid_coordinates", "经度/纬度", 4, "121,4x"]  # line 4: the header is line 1
    ]


def test_duplicate_header_names_are_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(
        "接警单编号,报警时间,报警类别,经度,纬度,报警时间\n"
        "A1,2024-05-01 10:00:00,刑事,121.47,31.23,x\n",
        encoding="utf-8",
    )
    with pytest.raises(
        DataFileError,
        match=r"dup\.csv, row 1, field '报警时间': two columns are named '报警时间': "
        r"column 2 and column 6",
    ):
        ingest([path], "cn110")


def test_times_with_zone_suffix_and_epoch(tmp_path: Path, mapping: Path) -> None:
    times = [
        "2024-03-16T05:45:00Z",  # UTC
        "2024-03-16T05:45:00+08:00",  # China time: 21:45 UTC the day before
        "1710539100",  # epoch seconds: 2024-03-15 21:45:00 UTC
        "1710539100000",  # epoch milliseconds: the same instant
        "2024-03-16 05:45:00",  # local (Asia/Shanghai)
    ]
    lines = ["id,time,type,subtype,lon,lat"]
    lines += [f"T{i},{t},刑事,盗窃,121.45,31.22" for i, t in enumerate(times)]
    path = tmp_path / "zones.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table, _, _ = ingest([path], profile_from_toml(mapping))
    got = table.frame["occurred_at"].tolist()
    assert got[0] == pd.Timestamp("2024-03-16 05:45", tz="UTC")
    assert got[1:] == [pd.Timestamp("2024-03-15 21:45", tz="UTC")] * 4
    assert table.frame["time_precision"].tolist() == ["second"] * 5


def test_mixed_time_layouts_read_when_listed_with_precision(tmp_path: Path) -> None:
    lines = [CN_HEADER]
    times = ["2024-03-16 05:45:00", "2024/3/16 5:45", "2024-03-16", "2024/03/16 05:45:07"]
    lines += [f"M{i},{t},刑事,盗窃,121.45,31.22" for i, t in enumerate(times)]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table, _, report = ingest([path], "cn110")
    assert table.frame["time_precision"].tolist() == ["second", "minute", "day", "second"]
    assert table.frame["occurred_at"].tolist() == [
        pd.Timestamp("2024-03-15 21:45", tz="UTC"),
        pd.Timestamp("2024-03-15 21:45", tz="UTC"),
        pd.Timestamp("2024-03-15 16:00", tz="UTC"),  # local midnight
        pd.Timestamp("2024-03-15 21:45:07", tz="UTC"),
    ]
    assert report.time_precision == {"second": 2, "minute": 1, "day": 1}


# --------------------------------------------------------------------------- other formats
def test_excel_sheet_by_name_or_first(tmp_path: Path) -> None:
    path = tmp_path / "110.xlsx"
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "说明"
    first.append(["这是说明页"])
    sheet = book.create_sheet("警情")
    sheet.append(CN_HEADER.split(","))
    sheet.append(["X1", pd.Timestamp("2024-03-16 05:45:00").to_pydatetime(), "刑事", "盗窃"])
    sheet["E2"], sheet["F2"] = 121.47, 31.23
    sheet.append(["X2", "2024/3/16 5:45", "交通", "交通事故", 121.48, 31.24])
    book.save(path)
    table, _, report = ingest([path], "cn110", sheet="警情")
    assert report.files[0]["kind"] == "xlsx"
    assert table.frame["incident_id"].tolist() == ["X1", "X2"]
    assert table.frame["lon"].tolist() == [121.47, 121.48]
    assert table.frame["occurred_at"].tolist() == [pd.Timestamp("2024-03-15 21:45", tz="UTC")] * 2
    assert table.frame["time_precision"].tolist() == ["second", "minute"]
    with pytest.raises(DataFileError, match=r"110\.xlsx, field 'sheet': no sheet named '案件'"):
        ingest([path], "cn110", sheet="案件")
    # the first sheet (说明) has no time column: the message names what it looked for
    with pytest.raises(DataFileError, match=r"no time column"):
        ingest([path], "cn110")


def _with_exact_numbers(path: Path, cells: dict[str, str]) -> None:
    """SYNTHETIC: rewrite numeric cells of the first sheet to exact digits, as a database
    export writes them (openpyxl itself writes an 18-digit int as 3.1010120250901e+17)."""
    import re

    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, digits in cells.items():
        xml, n = re.subn(rf'(<c r="{ref}" t="n"><v>)[^<]*(</v>)', rf"\g<1>{digits}\g<2>", xml)
        assert n == 1, ref
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def test_excel_numeric_ids_and_phones_stay_exact(tmp_path: Path) -> None:
    # 18-digit 接警单编号 stored as numbers: openpyxl gives ints, read in full digits; a
    # float of 18 digits (Excel keeps 15) lost its last ones and is said to have
    path = tmp_path / "110.xlsx"
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append([*CN_HEADER.split(","), "联系电话"])
    for i in range(3):  # sheet rows 2, 3, 4
        ws.append([i, f"2024-03-16 05:4{i}:00", "刑事", "盗窃", 121.47, 31.23, 13812348000 + i])
    ws.append([3.101012025e17, "2024-03-16 06:00:00", "刑事", "盗窃", 121.47, 31.23, None])
    ws.append([3.101012025e17, "2024-03-16 07:00:00", "刑事", "盗窃", 121.48, 31.23, None])
    ws.append([1234.0, "2024-03-16 08:00:00", "刑事", "盗窃", 121.48, 31.23, 1.3812348e10])
    book.save(path)
    _with_exact_numbers(path, {f"A{r}": f"31010120250901000{r - 1}" for r in (2, 3, 4)})
    table, rejected, report = ingest([path], "cn110")
    f = table.frame
    assert f["incident_id"].tolist() == [
        "310101202509010001",
        "310101202509010002",
        "310101202509010003",
        "110.xlsx:5",  # its id lost digits: file and sheet row stand in, no duplicate
        "110.xlsx:6",
        "1234",
    ]
    assert report.rejected["duplicate_id_conflict"] == 0 and len(rejected) == 0
    # masked, but from the exact number: 138****8000, 138****8001, ...
    assert f["caller_phone"].tolist()[:3] == ["138****8000", "138****8001", "138****8002"]
    assert f["caller_phone"].iloc[5] == "138****8000"
    lost = [n for n in report.notes if "15 significant digits" in n]
    assert len(lost) == 1
    assert "2 cell(s) of column '接警单编号'" in lost[0] and "row(s) 5, 6" in lost[0]
    assert "310101202500000000" in lost[0]
    assert any("2 id(s) of column '接警单编号' lost" in n for n in report.notes)
    assert any("15 位有效数字" in n for n in report.notes_zh)


def _points(crs: str) -> gpd.GeoDataFrame:
    # pinyin-initial field names: a Shapefile's DBF holds at most 10 bytes per name
    pts = gpd.GeoDataFrame(
        {"JJDBH": ["V1", "V2"], "BJSJ": ["2024-03-16 05:45:00"] * 2, "BJLB": ["刑事", "交通"]},
        geometry=[Point(121.47, 31.23), Point(121.48, 31.24)],
        crs="EPSG:4326",
    )
    return pts.to_crs(crs)


@pytest.mark.parametrize(
    ("name", "driver", "crs"),
    [
        ("pts.geojson", "GeoJSON", "EPSG:4326"),
        ("pts.gpkg", "GPKG", "EPSG:32651"),
        ("pts.shp", "ESRI Shapefile", "EPSG:3857"),
    ],
)
def test_vector_point_files(tmp_path: Path, name: str, driver: str, crs: str) -> None:
    path = tmp_path / name
    _points(crs).to_file(path, driver=driver)
    table, _, report = ingest([path], "cn110")
    assert report.files[0]["kind"] == "vector"
    np.testing.assert_allclose(table.frame["lon"], [121.47, 121.48], atol=1e-9)
    np.testing.assert_allclose(table.frame["lat"], [31.23, 31.24], atol=1e-9)
    assert table.frame["type_group"].tolist() == ["property", "traffic"]


def test_zipped_shapefile_and_gcj02_geometry(tmp_path: Path) -> None:
    shp = tmp_path / "shp"
    shp.mkdir()
    _points("EPSG:4326").to_file(shp / "pts.shp")
    zpath = tmp_path / "pts.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp.iterdir():
            zf.write(f, f.name)
    table, _, _ = ingest([zpath], "cn110", frame="gcj02")
    # lon/lat geometry taken as GCJ-02 and moved back to WGS-84 (a few hundred metres)
    assert 0.003 < 121.47 - table.frame["lon"].iloc[0] < 0.006


@pytest.mark.parametrize(
    ("name", "content", "what"),
    [
        ("report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
        ("scan.png", b"\x89PNG\r\n\x1a\n\x00\x00", "an image"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "an old Office file"),
    ],
)
def test_not_a_table_says_what_is_read(
    tmp_path: Path, name: str, content: bytes, what: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=rf"{name}: is {what}.*reads CSV/TXT.*\.xlsx"):
        ingest([path], "cn110")


def test_docx_and_zip_of_something_else(tmp_path: Path) -> None:
    docx = tmp_path / "notes.docx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(DataFileError, match=r"notes\.docx: is a Word document.*GeoPackage"):
        ingest([docx], "cn110")
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("a.jpg", b"\xff\xd8\xff")
    with pytest.raises(DataFileError, match=r"photos\.zip: is a zip archive of a\.jpg"):
        ingest([other], "cn110")


# --------------------------------------------------------------------------- piles
def test_rows_piled_on_one_point_are_flagged(tmp_path: Path) -> None:
    # 100 rows: 25 on the station's exact point (> max(20, 1 % of 100) = 20), 75 spread
    rows = _rows(75)
    rows += [(f"P{i}", "2024-05-01 10:00:00", "刑事", "盗窃", "121.5", "31.25") for i in range(25)]
    path = tmp_path / "pile.csv"
    path.write_text("\n".join([CN_HEADER, *(",".join(r) for r in rows)]) + "\n", "utf-8")
    table, _, report = ingest([path], "cn110")
    assert report.piled_points == ({"lon": 121.5, "lat": 31.25, "rows": 25, "share": 0.25},)
    assert int(table.frame["piled"].sum()) == 25
    assert table.frame.loc[table.frame["piled"], "incident_id"].str.startswith("P").all()
    kept, _, rep2 = ingest([path], "cn110", keep_piled=True)
    assert not kept.frame["piled"].any()
    assert rep2.piled_points == report.piled_points
    # 20 on one point is not more than 20: no pile
    path.write_text("\n".join([CN_HEADER, *(",".join(r) for r in rows[:95])]) + "\n", "utf-8")
    _, _, rep3 = ingest([path], "cn110")
    assert rep3.piled_points == ()


# --------------------------------------------------------------------------- all rejected
def test_every_row_rejected_is_said_in_words_in_the_language_chosen(tmp_path: Path) -> None:
    # found by a new-user test: the error printed a Python dict of reason codes. Synthetic
    # GB18030 export: rows 2-13 (the file's lines) with a day-first time, row 14 no position
    path = tmp_path / "bad.csv"
    rows = [f"B{i},16.03.2024 05:{i:02d},刑事,盗窃,121.47,31.23" for i in range(12)]
    rows.append("B99,2024-03-16 05:45:00,刑事,盗窃,,")
    path.write_bytes(("\n".join([CN_HEADER, *rows]) + "\n").encode("gb18030"))
    # plan reads the raw file (ingest itself prints its report table and rejected.csv)
    boundary = Path(__file__).parents[2] / "examples" / "shanghai" / "boundary_gcj02.geojson"
    argv = ["plan", "--boundary", str(boundary), "--area", "boundary:西片", "--frame", "gcj02"]
    argv += ["--incidents", str(path)]
    argv += ["--profile", "cn110", "--out", str(tmp_path / "o")]
    en = CliRunner().invoke(app, argv, env={"COLUMNS": "300"})
    assert en.exit_code == 2
    assert (
        f"error: {path}: no usable rows: every row was rejected: 12 rows: time in no listed "
        "format in field 报警时间 (rows 2-13); 1 row: no coordinates in field 经度/纬度 (row "
        "14); e.g. row 2 field '报警时间' = '16.03.2024 05:00', expected"
    ) in " ".join(en.output.split())
    assert "{" not in en.output  # no dict of codes
    zh = CliRunner().invoke(app, [*argv, "--lang", "zh"], env={"COLUMNS": "300"})
    assert zh.exit_code == 2
    assert (
        f"错误：{path}：没有可用的行：每一行都被拒绝：12 行时间格式无法识别（字段 报警时间，"
        "第 2-13 行）；1 行缺少坐标（字段 经度/纬度，第 14 行）；例：第 2 行字段 '报警时间' = "
        "'16.03.2024 05:00'，应为"
    ) in "".join(zh.output.split("\n"))


def test_every_row_rejected_still_writes_rejected_csv(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        CN_HEADER
        + "\nB1,16.03.2024 05:45,刑事,盗窃,121.47,31.23\nB2,2024-03-16 05:45:00,刑事,盗窃,,\n",
        encoding="utf-8",
    )
    with pytest.raises(
        NoUsableRowsError,
        match=r"no usable rows.*row 2 field '报警时间' = '16\.03\.2024 05:45', expected %Y-%m-%d",
    ):
        ingest([path], "cn110")
    out = tmp_path / "out"
    (out).mkdir()
    (out / "incidents.parquet").write_bytes(b"stale")
    result = CliRunner().invoke(app, ["ingest", str(path), "--profile", "cn110", "--out", str(out)])
    assert result.exit_code == 2
    assert "no usable rows" in result.output
    assert not (out / "incidents.parquet").exists()
    rej = pd.read_csv(out / "rejected.csv")
    assert rej[["reason", "field", "source_row"]].values.tolist() == [
        ["unparseable_time", "报警时间", 2],  # the file's lines: the header is line 1
        ["missing_coordinates", "经度/纬度", 3],
    ]
    report = json.loads((out / "ingest_report.json").read_text("utf-8"))
    example = report["rejected_examples"]["unparseable_time"][0]
    assert example["value"] == "16.03.2024 05:45"
    assert example["row"] == 2
    assert "%Y-%m-%d %H:%M:%S" in example["expected"]
    assert report["rows_accepted"] == 0


def test_piled_rows_are_left_out_of_hotspot_counts(tmp_path: Path) -> None:
    from xunfang.analyse.grid import Grid
    from xunfang.analyse.hotspots import where_when

    rows = _rows(75)
    rows += [(f"P{i}", "2024-05-01 10:00:00", "刑事", "盗窃", "121.5", "31.25") for i in range(25)]
    path = tmp_path / "pile.csv"
    path.write_text("\n".join([CN_HEADER, *(",".join(r) for r in rows)]) + "\n", "utf-8")
    for keep, expected in ((False, 75), (True, 100)):
        table, _, _ = ingest([path], "cn110", keep_piled=keep)
        xy = table.xy
        grid = Grid.from_bounds((*(xy.min(axis=0) - 10), *(xy.max(axis=0) + 10)), 150.0, table.crs)
        ww = where_when(table, grid)
        assert int(ww.cell_counts["all"].sum()) == expected
        assert ww.n_piled == 100 - expected
        assert ww.n_outside_grid == 0


def test_utf8_rows_in_a_gbk_export_are_read_as_utf8_and_named(
    tmp_path: Path, mapping: Path
) -> None:
    # Synthetic: a GBK export in which rows 3 and 5 were pasted in as UTF-8. Read as GBK
    # they would decode to other characters (UTF-8 Chinese is often valid GB18030) or
    # refuse the whole file; each line is read in its own encoding and the report names them.
    rows = [
        ("A1", "盗窃", "扒窃"),
        ("A2", "纠纷", "邻里纠纷"),
        ("A3", "交通", "交通事故"),
        ("A4", "盗窃", "入室盗窃"),
        ("A5", "求助", "走失"),
    ]
    lines = [b"id,time,type,subtype,lon,lat"]
    for i, (rid, typ, sub) in enumerate(rows):
        text = f"{rid},2024-05-01 10:0{i}:00,{typ},{sub},121.4{i},31.2{i}"
        lines.append(text.encode("utf-8" if rid in ("A3", "A5") else "gbk"))
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    table, _, report = ingest([path], profile_from_toml(mapping))
    assert report.files[0]["encoding"] == "gb18030"
    assert report.rows_accepted == 5
    assert table.frame["type"].tolist() == ["盗窃", "纠纷", "交通", "盗窃", "求助"]
    assert table.frame["subtype"].tolist() == ["扒窃", "邻里纠纷", "交通事故", "入室盗窃", "走失"]
    assert any("line(s) 4, 6 are UTF-8 in a GB18030 file" in n for n in report.notes)
    # a line valid in neither encoding still refuses the file, naming that line
    lines[2] = b"A2,2024-05-01 10:01:00,\xff\xfe,x,121.41,31.21"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataFileError, match=r"mixed\.csv, row 3: .*line 3 is neither UTF-8 nor GB"):
        ingest([path], profile_from_toml(mapping))
    with pytest.raises(DataFileError, match=r"row 3: line 3 is valid neither as gb18030 nor"):
        ingest([path], profile_from_toml(mapping), encoding="gb18030")


def _cn_lines(n: int) -> list[str]:
    types = ("打架斗殴", "盗窃", "求助")
    return [
        f"J{i:03d},2024-05-01 10:{i:02d}:00,治安,{types[i % 3]},121.45{i:02d},31.22{i:02d}"
        for i in range(n)
    ]


def test_gb18030_rows_in_a_utf8_export_are_read_as_gb18030_and_named(tmp_path: Path) -> None:
    # Synthetic: a tester's UTF-8 export (Chinese header) whose lines 32 on were GB18030
    # (pasted in from another system). It was refused: "第 1 行：表头不是有效的 gb18030
    # 编码", since the GB lines made the whole file GB18030. Now the file is UTF-8 (most
    # of its non-ASCII lines are), its GB18030 lines are read as such and named, as the
    # UTF-8 lines of a GB18030 file are.
    rows = _cn_lines(34)
    lines = [CN_HEADER, *rows]
    path = tmp_path / "u8.csv"
    path.write_bytes(
        b"\n".join(ln.encode("utf-8" if k < 31 else "gb18030") for k, ln in enumerate(lines))
        + b"\n"
    )
    table, _, report = ingest([path], "cn110")
    assert report.files[0]["encoding"] == "utf-8-sig"
    assert report.rows_accepted == 34
    assert table.frame["subtype"].tolist() == [r.split(",")[3] for r in rows]
    assert table.frame["source_row"].tolist()[-1] == 35
    assert any("line(s) 32, 33, 34, 35 are GB18030 in a UTF-8 file" in n for n in report.notes)
    assert any("UTF-8 文件中第 32, 33, 34, 35 行为 GB18030 编码" in n for n in report.notes_zh)
    # the GB18030 lines past the first MiB too (the file is told UTF-8 by that MiB alone)
    pad = [f"P{i:06d},2024-05-01 09:00:00,治安,盗窃,121.4500,31.2200" for i in range(24_000)]
    big = tmp_path / "big.csv"
    body = "\n".join([CN_HEADER, *pad, *rows[:2]]).encode("utf-8")
    big.write_bytes(body + b"\n" + rows[2].encode("gb18030") + b"\n")
    assert len(body) > (1 << 20)
    table, _, report = ingest([big], "cn110")
    assert report.files[0]["encoding"] == "utf-8-sig"
    assert table.frame["subtype"].iloc[-1] == "求助"
    assert any(f"line(s) {len(pad) + 4} are GB18030" in n for n in report.notes)
    # a line valid in neither still refuses the file, naming that line
    bad = [*lines[:33], "J900,2024-05-01 11:00:00,治安,\udcff\udcfe,121.45,31.22"]
    path.write_bytes(
        b"\n".join(
            ln.encode("utf-8" if k < 31 else "gb18030", errors="surrogateescape")
            for k, ln in enumerate(bad)
        )
        + b"\n"
    )
    with pytest.raises(DataFileError, match=r"u8\.csv, row 34: .*line 34 is neither UTF-8 nor GB"):
        ingest([path], "cn110")
    # ... or, with --bad-bytes reject-row, only that row: the GB18030 lines are read
    table, rejected, report = ingest([path], "cn110", bad_bytes="reject-row")
    assert report.files[0]["encoding"] == "utf-8-sig"
    assert table.frame["source_row"].tolist()[-2:] == [32, 33]
    assert table.frame["subtype"].tolist()[-2:] == ["打架斗殴", "盗窃"]  # J030, J031
    assert rejected[["source_row", "reason"]].values.tolist() == [[34, "undecodable"]]
    assert any("line(s) 32, 33 are GB18030 in a UTF-8 file" in n for n in report.notes)


def test_a_utf8_header_on_a_gb18030_export_is_read(tmp_path: Path) -> None:
    # Synthetic: the header typed in UTF-8, every row GB18030: the file is GB18030 and its
    # header line is read as UTF-8, by the rule of its other lines (was: "header is not
    # valid gb18030")
    rows = _cn_lines(3)
    path = tmp_path / "gb.csv"
    path.write_bytes(CN_HEADER.encode("utf-8") + b"\n" + "\n".join(rows).encode("gb18030") + b"\n")
    table, _, report = ingest([path], "cn110")
    assert report.files[0]["encoding"] == "gb18030"
    assert table.frame["subtype"].tolist() == ["打架斗殴", "盗窃", "求助"]
    assert any("line(s) 1 are UTF-8 in a GB18030 file" in n for n in report.notes)


@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_told_by_its_zero_bytes(
    tmp_path: Path, mapping: Path, enc: str
) -> None:
    # Synthetic: Excel's "Unicode text" export without a byte-order mark (was refused).
    lines = ["id,time,type,subtype,lon,lat"] + [
        f"A{i},2024-05-01 10:0{i}:00,盗窃,扒窃,121.4{i},31.2{i}" for i in range(3)
    ]
    path = tmp_path / "u16.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(enc))
    table, _, report = ingest([path], profile_from_toml(mapping))
    assert report.files[0]["encoding"] == enc
    assert report.rows_accepted == 3
    assert table.frame["subtype"].tolist() == ["扒窃"] * 3


def test_an_encoding_asked_for_that_does_not_fit_is_an_error_not_a_traceback(
    tmp_path: Path, mapping: Path
) -> None:
    # Synthetic: a BOM-less UTF-16LE file read with --encoding utf-16 (the byte order is told
    # by its zero bytes), an unknown encoding, and UTF-16 asked for on a UTF-8 file.
    lines = ["id,time,type,subtype,lon,lat", "A1,2024-05-01 10:00:00,盗窃,扒窃,121.41,31.21"]
    path = tmp_path / "u16.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-16-le"))
    _, _, report = ingest([path], profile_from_toml(mapping), encoding="utf-16")
    assert report.files[0]["encoding"] == "utf-16-le" and report.rows_accepted == 1
    with pytest.raises(DataFileError, match=r"unknown encoding 'klingon'"):
        ingest([path], profile_from_toml(mapping), encoding="klingon")
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    with pytest.raises(DataFileError, match=r"is not UTF-16 .*check --encoding"):
        ingest([path], profile_from_toml(mapping), encoding="utf-16")


def test_a_damaged_or_fake_xlsx_is_named_so(tmp_path: Path) -> None:
    good = tmp_path / "good.xlsx"
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(CN_HEADER.split(","))
    book.save(good)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[:2000])  # a download cut short: the zip's end is lost
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"not a zip at all")  # was read as a CSV whose header is this line
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "nobook.xlsx", "w") as zf:
        zf.writestr("readme.txt", "x")
    for path, why in [
        (cut, r"a cut or broken zip archive"),
        (fake, r"not a zip archive, as every \.xlsx is; a CSV needs \.csv"),
        (empty, r"empty"),
        (tmp_path / "nobook.xlsx", r"a zip archive without a workbook inside"),
    ]:
        with pytest.raises(
            DataFileError,
            match=rf"{path.name}: the \.xlsx file is damaged or not an Excel file \({why}",
        ):
            ingest([path], "cn110")
    out = tmp_path / "o"
    result = CliRunner().invoke(
        app, ["ingest", str(fake), "--profile", "cn110", "--out", str(out), "--lang", "zh"]
    )
    assert result.exit_code == 2
    flat = "".join(result.output.split())
    assert "该.xlsx文件已损坏或不是Excel文件（不是zip压缩包" in flat
