"""Incident ingest: profiles, date formats, rejection reasons and clear errors."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xunfang.errors import DataFileError
from xunfang.ingest.coords import wgs84_to_gcj02
from xunfang.ingest.incidents import (
    CHICAGO,
    PORTLAND,
    ingest,
    profile_from_toml,
    read_incident_table,
    write_outputs,
)
from xunfang.ingest.messages import expected_text, reason_text
from xunfang.ingest.taxonomy import load_taxonomy

MONTHLY_HEADER = (
    "ID,Case Number,Date,Block,IUCR,Primary Type,Description,Location Description,Arrest,"
    "Domestic,Beat,District,Ward,Community Area,FBI Code,X Coordinate,Y Coordinate,Updated On,"
    "Latitude,Longitude"
)


def _row(
    id_: str, date: str, ptype: str, desc: str, premise: str, x: str, y: str, lat: str, lon: str
) -> str:
    return (
        f"{id_},HY1,{date},019XX W DEVON AVE,1130,{ptype},{desc},{premise},false,false,"
        f"2412,024,50,2,11,{x},{y},02/10/2018 03:50:01 PM,{lat},{lon}"
    )


@pytest.fixture
def monthly_file(tmp_path: Path) -> Path:
    rows = [
        # 1 good (x/y in EPSG:3435 feet), 00:01 CST = 06:01 UTC
        _row(
            "1",
            "01/01/2014 12:01:00 AM",
            "THEFT",
            "$500 AND UNDER",
            "STREET",
            "1162147",
            "1942512",
            "41.997920408",
            "-87.6788725",
        ),
        # 2 no coordinates at all
        _row("2", "01/01/2014 01:00:00 PM", "THEFT", "$500 AND UNDER", "STREET", "", "", "", ""),
        # 3 impossible date
        _row(
            "3",
            "13/45/2014 09:00:00 PM",
            "BATTERY",
            "SIMPLE",
            "STREET",
            "1162147",
            "1942512",
            "41.997920408",
            "-87.6788725",
        ),
        # 4 bad geocode far outside Chicago (only lat/lon)
        _row(
            "4",
            "01/02/2014 10:00:00 AM",
            "THEFT",
            "OVER $500",
            "STREET",
            "",
            "",
            "36.619446",
            "-91.686566",
        ),
        # 5 duplicate of 1
        _row(
            "1",
            "01/01/2014 12:01:00 AM",
            "THEFT",
            "$500 AND UNDER",
            "STREET",
            "1162147",
            "1942512",
            "41.997920408",
            "-87.6788725",
        ),
        # 6 text where a number belongs
        _row("6", "01/03/2014 10:00:00 AM", "THEFT", "OVER $500", "STREET", "abc", "def", "", ""),
        # 7 good: theft from a parked car -> vehicle-related; 2 PM CST = 20:00 UTC
        _row(
            "7",
            "01/03/2014 02:00:00 PM",
            "THEFT",
            "$500 AND UNDER",
            "VEHICLE NON-COMMERCIAL",
            "1150818",
            "1907995",
            "41.903433214",
            "-87.721454621",
        ),
    ]
    path = tmp_path / "monthly.csv"
    path.write_text(MONTHLY_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_rejection_reasons_are_counted_and_kept(monthly_file: Path, tmp_path: Path) -> None:
    table, rejected, report = ingest([monthly_file], "chicago")
    assert report.rows_read == 7
    assert report.rows_accepted == 2
    assert report.rejected == {
        "field_count": 0,
        "undecodable": 0,
        "missing_coordinates": 1,
        "invalid_coordinates": 1,
        "swapped_coordinates": 0,
        "unparseable_time": 1,
        "implausible_time": 0,
        "future_time": 0,
        "outside_area": 1,
        "duplicate_id": 1,
        "duplicate_id_conflict": 0,
    }
    # the file's lines: the header is line 1, the first data row line 2
    assert dict(zip(rejected["source_row"], rejected["reason"], strict=True)) == {
        3: "missing_coordinates",
        4: "unparseable_time",
        5: "outside_area",
        6: "duplicate_id",
        7: "invalid_coordinates",
    }
    f = table.frame
    assert list(f["incident_id"]) == ["1", "7"]
    assert list(f["type_group"]) == ["property", "vehicle"]
    assert f["occurred_at"].iloc[0] == pd.Timestamp("2014-01-01 06:01", tz="UTC")
    assert f["occurred_at"].iloc[1] == pd.Timestamp("2014-01-03 20:00", tz="UTC")
    # State Plane x/y (US ft) and the file's lat/lon agree to within the block-level rounding
    assert f["lat"].iloc[0] == pytest.approx(41.997920408, abs=2e-5)
    assert f["lon"].iloc[0] == pytest.approx(-87.6788725, abs=2e-5)
    assert table.crs.to_epsg() == 32616
    paths = write_outputs(tmp_path / "out", table, rejected, report)
    saved = json.loads(paths["report"].read_text())
    assert saved["rows_rejected"] == 5
    assert len(pd.read_csv(paths["rejected"])) == 5
    back = read_incident_table(paths["incidents"])
    assert back.crs == table.crs and back.timezone == "America/Chicago"
    assert list(back.frame["incident_id"]) == ["1", "7"]


@pytest.mark.realdata
def test_september_2014_three_date_formats(data_dir: Path) -> None:
    path = data_dir / "chicago/incidents/Crimes_September_2014.csv"
    table, _, report = ingest([path], CHICAGO)
    assert report.files[0]["layout"] == "chicago-sept2014"
    assert report.rows_read == 22334
    assert report.rejected["missing_coordinates"] == 775
    assert report.rejected["unparseable_time"] == 0
    f = table.frame.set_index("incident_id")
    # "09/24/2014 09:36:00 PM" (MM/DD/YYYY 12-hour): 21:36 CDT = 02:36 UTC next day
    assert f.loc["9793048", "occurred_at"] == pd.Timestamp("2014-09-25 02:36", tz="UTC")
    # "2014/06/09 17:00:00" (YYYY/DD/MM): 6 September, 17:00 CDT
    assert f.loc["9768729", "occurred_at"] == pd.Timestamp("2014-09-06 22:00", tz="UTC")
    # "2014/12/09" (YYYY/DD/MM, no time): 12 September, midnight CDT, day precision
    assert f.loc["9782530", "occurred_at"] == pd.Timestamp("2014-09-12 05:00", tz="UTC")
    assert f.loc["9782530", "time_precision"] == "day"
    assert f.loc["9793048", "time_precision"] == "minute"
    local = table.local_time()
    assert local.min() >= pd.Timestamp("2014-09-01", tz="America/Chicago")
    assert local.max() <= pd.Timestamp("2014-09-30", tz="America/Chicago")


@pytest.mark.realdata
def test_monthly_files_counts(data_dir: Path) -> None:
    files = sorted(glob.glob(str(data_dir / "chicago/incidents_2014_2015/*.csv.gz")))
    assert len(files) == 18
    _table, _, report = ingest(files, "chicago")
    assert report.rows_read == 402449
    assert report.rejected["missing_coordinates"] == 3656
    assert report.rejected["outside_area"] == 5  # the bad geocodes SOURCE.txt mentions
    assert report.rows_accepted == 402449 - 3656 - 5
    assert report.unmapped_types == {}


@pytest.mark.realdata
def test_portland_profile(data_dir: Path) -> None:
    files = sorted(glob.glob(str(data_dir / "portland-nij/*.csv")))
    table, _, report = ingest(files, PORTLAND)
    assert report.rows_read == 19375 + 18443
    assert report.rows_accepted == 37818
    assert set(table.frame["time_precision"]) == {"day"}
    # 01/08/2016 (DD/MM/YYYY) is 1 August, midnight PDT
    assert table.local_time().min() == pd.Timestamp("2016-08-01", tz="America/Los_Angeles")
    assert table.frame["lat"].between(45.3, 45.8).all()


@pytest.mark.realdata
def test_wrong_crs_is_refused(data_dir: Path) -> None:
    layout = PORTLAND.layouts[0]
    wrong = layout.model_copy(
        update={"coords": (layout.coords[0].model_copy(update={"crs": "EPSG:3435"}),)}
    )
    profile = PORTLAND.model_copy(update={"layouts": (wrong,)})
    with pytest.raises(DataFileError, match=r"EPSG:3435.*is the CRS right"):
        ingest([data_dir / "portland-nij/NIJ2016_SEP01_SEP30.csv"], profile)


def test_missing_column_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(MONTHLY_HEADER.replace("Primary Type", "Kind") + "\n1,2,3\n")
    with pytest.raises(DataFileError, match=r"bad\.csv.*field 'Primary Type'.*missing column"):
        ingest([path], "chicago")


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataFileError, match=r"empty\.csv: file is empty"):
        ingest([empty], "chicago")
    header_only = tmp_path / "header.csv"
    header_only.write_text(MONTHLY_HEADER + "\n")
    with pytest.raises(DataFileError, match="no data rows"):
        ingest([header_only], "chicago")


CN_MAPPING = """
name = "cn-110"
[layout]
timezone = "Asia/Shanghai"
id = "警情编号"
time = "报警时间"
time_formats = ["%Y-%m-%d %H:%M:%S"]
type = "警情类别"
subtype = "警情细类"
scheme = "cn110"
bbox = [121.0, 30.9, 121.9, 31.5]
[[layout.coords]]
kind = "lonlat"
x = "经度"
y = "纬度"
frame = "gcj02"
"""


def _cn_rows(n: int = 40) -> tuple[str, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    lon = 121.40 + rng.random(n) * 0.1
    lat = 31.20 + rng.random(n) * 0.05
    glon, glat = wgs84_to_gcj02(lon, lat)
    kinds = [
        ("刑事", "盗窃车内财物"),
        ("纠纷", "邻里纠纷"),
        ("交通", "交通事故"),
        ("求助", "老人走失"),
        ("治安", "打架斗殴"),
    ]
    lines = ["警情编号,报警时间,警情类别,警情细类,经度,纬度"]
    for i in range(n):
        t, s = kinds[i % len(kinds)]
        lines.append(
            f"J{i:04d},2024-05-0{1 + i % 7} 2{i % 4}:15:00,{t},{s},{glon[i]:.8f},{glat[i]:.8f}"
        )
    return "\n".join(lines) + "\n", lon, lat


def test_generic_gcj02_gbk_file(tmp_path: Path) -> None:
    mapping = tmp_path / "cn.toml"
    mapping.write_text(CN_MAPPING, encoding="utf-8")
    text, lon, lat = _cn_rows()
    path = tmp_path / "110.csv"
    path.write_bytes(text.encode("gbk"))
    profile = profile_from_toml(mapping)
    table, _, report = ingest([path], profile)
    assert report.files[0]["encoding"].lower().replace("_", "") in {"gb18030", "gbk", "gb2312"}
    assert report.rows_accepted == 40
    f = table.frame
    # GCJ-02 -> WGS-84 round trip below 1 m: 1e-5 degree is ~1 m, ask for 100x better
    np.testing.assert_allclose(f["lon"], lon, atol=1e-7)
    np.testing.assert_allclose(f["lat"], lat, atol=1e-7)
    assert list(f["type_group"][:5]) == ["vehicle", "service", "traffic", "service", "disorder"]
    # 2024-05-01 20:15 China Standard Time is 12:15 UTC
    assert f["occurred_at"].iloc[0] == pd.Timestamp("2024-05-01 12:15", tz="UTC")
    assert table.crs.to_epsg() == 32651


def test_wrong_encoding_names_the_row(tmp_path: Path) -> None:
    mapping = tmp_path / "cn.toml"
    mapping.write_text(CN_MAPPING, encoding="utf-8")
    text, _, _ = _cn_rows()
    path = tmp_path / "110.csv"
    header, body = text.split("\n", 1)
    path.write_bytes((header + "\n").encode("utf-8") + body.encode("gbk"))
    # line 2, the first line in GBK (the header, line 1, is UTF-8)
    with pytest.raises(DataFileError, match=r"row 2: .*not valid utf-8.*--encoding"):
        ingest([path], profile_from_toml(mapping), encoding="utf-8")


def test_swapped_lat_lon_is_detected(tmp_path: Path) -> None:
    mapping = tmp_path / "cn.toml"
    mapping.write_text(
        CN_MAPPING.replace('x = "经度"\ny = "纬度"', 'x = "纬度"\ny = "经度"'), encoding="utf-8"
    )
    text, _, _ = _cn_rows()
    path = tmp_path / "110.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"field '纬度'.*look swapped"):
        ingest([path], profile_from_toml(mapping))


def test_a_zero_zero_position_is_named_a_placeholder(monthly_file: Path) -> None:
    # line 9 (data row 8): X/Y 0, 0 and no lon/lat: no position; the example says why
    zero = _row("8", "01/04/2014 10:00:00 AM", "THEFT", "OVER $500", "STREET", "0", "0", "", "")
    with monthly_file.open("a", encoding="utf-8") as f:
        f.write(zero + "\n")
    _, _, report = ingest([monthly_file], "chicago")
    assert report.rejected["missing_coordinates"] == 2
    example = next(e for e in report.examples["missing_coordinates"] if e["row"] == 9)
    assert example["value"] == "0, 0"
    assert example["expected"].startswith("a position other than 0, 0 (")
    assert example["expected"].endswith(
        "0, 0 is read as no position, the placeholder many exports write"
    )
    blank = next(e for e in report.examples["missing_coordinates"] if e["row"] == 3)
    assert "0, 0" not in blank["expected"]


def test_a_row_with_swapped_lat_lon_is_named_swapped(monthly_file: Path) -> None:
    # row 8: lon 41.99, lat -87.68 is a valid position far from Chicago; swapped it is row 1's
    swapped = _row(
        "8", "01/04/2014 10:00:00 AM", "THEFT", "OVER $500", "STREET", "", "", "-87.6788725",
        "41.997920408",
    )  # fmt: skip
    # row 9: out of range both ways (not a swap)
    wild = _row("9", "01/04/2014 11:00:00 AM", "THEFT", "OVER $500", "STREET", "", "", "95", "200")
    with monthly_file.open("a", encoding="utf-8") as f:
        f.write(swapped + "\n" + wild + "\n")
    _, rejected, report = ingest([monthly_file], "chicago")
    assert report.rejected["swapped_coordinates"] == 1
    assert report.rejected["invalid_coordinates"] == 2
    reasons = dict(zip(rejected["source_row"], rejected["reason"], strict=True))
    # data rows 8 and 9 are the file's lines 9 and 10 (the header is line 1)
    assert (reasons[9], reasons[10]) == ("swapped_coordinates", "invalid_coordinates")
    (example,) = report.examples["swapped_coordinates"]
    assert example["row"] == 9
    assert (example["field"], example["value"]) == (
        "Longitude/Latitude",
        "41.997920408, -87.6788725",
    )
    assert (
        "look swapped (-87.6788725, 41.997920408 would be a valid position)"
        in (example["expected"])
    )
    assert "两列疑似填反" in expected_text(example["expected"], "zh")
    assert reason_text("swapped_coordinates", "zh") == "经度和纬度疑似填反"


def test_one_row_with_swapped_lon_lat_out_of_range_is_named_swapped(tmp_path: Path) -> None:
    mapping = tmp_path / "cn.toml"
    mapping.write_text(CN_MAPPING, encoding="utf-8")
    text, _, _ = _cn_rows()
    # one more row: 纬度 121.45 is no latitude; swapped (121.45 E, 31.22 N) it is Shanghai
    text += "J9999,2024-05-01 20:15:00,刑事,盗窃,31.22,121.45\n"
    path = tmp_path / "110.csv"
    path.write_text(text, encoding="utf-8")
    _, rejected, report = ingest([path], profile_from_toml(mapping))
    assert report.rows_accepted == 40 and report.rejected["swapped_coordinates"] == 1
    assert rejected["source_row"].tolist() == [42]  # data row 41, after the header line
    (example,) = report.examples["swapped_coordinates"]
    assert (example["field"], example["value"]) == ("经度/纬度", "31.22, 121.45")
    assert example["expected"] == (
        "经度/纬度 in that order: the two columns look swapped "
        "(121.45, 31.22 would be a valid position)"
    )


def test_bad_mapping_names_the_field(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(CN_MAPPING.replace('time = "报警时间"\n', ""), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"field 'layout\.time'"):
        profile_from_toml(mapping)


def test_taxonomy_rules_before_types() -> None:
    tax = load_taxonomy()
    t = pd.Series(["THEFT", "THEFT", "CRIMINAL DAMAGE", "CRIMINAL DAMAGE", "NEW CRIME"])
    s = pd.Series(["OVER $500", "OVER $500", "TO VEHICLE", "TO PROPERTY", "X"])
    p = pd.Series(["STREET", "VEHICLE NON-COMMERCIAL", "STREET", "STREET", "STREET"])
    groups, unmapped = tax.classify("chicago", t, s, p)
    assert list(groups) == ["property", "vehicle", "vehicle", "property", "other"]
    assert list(unmapped) == [False, False, False, False, True]
    assert tax.label("vehicle", "zh") == "涉车"


@pytest.mark.realdata
def test_area_filter_rejects_outside_rows_without_a_crs_error(data_dir: Path) -> None:
    from xunfang.ingest.areas import load_study_area

    area = load_study_area(data_dir / "chicago/boundaries", "district:1")
    path = data_dir / "chicago/incidents_2014_2015/chicago_crimes_2014-01.csv.gz"
    table, _, report = ingest([path], "chicago", area=area.polygon_wgs84, area_name="district:1")
    assert report.rows_read == 19966
    # the source's own district field agrees with the point-in-polygon test to within 1 %
    by_field = (table.frame["district"] == "001").mean()
    assert by_field > 0.99
    assert (
        report.rejected["outside_area"]
        == report.rows_read - report.rows_accepted - (report.rejected["missing_coordinates"])
    )


def test_truncated_gzip_and_directory(monthly_file: Path, tmp_path: Path) -> None:
    import gzip

    data = gzip.compress(monthly_file.read_bytes() * 200)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=r"cut\.csv\.gz: the compressed file is truncated"):
        ingest([cut], "chicago")
    # a folder is read as its incident files (here the truncated one), not refused
    with pytest.raises(DataFileError, match=r"cut\.csv\.gz: the compressed file is truncated"):
        ingest([tmp_path], "chicago")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "scene.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(DataFileError, match=r"photos: is a folder with no incident files"):
        ingest([photos], "chicago")


def test_unknown_timezone_and_crs_in_a_mapping(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(CN_MAPPING.replace("Asia/Shanghai", "Asia/Shanghia"), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"field 'layout\.timezone'.*unknown time zone"):
        profile_from_toml(mapping)
    xy = CN_MAPPING.replace('kind = "lonlat"', 'kind = "xy"\ncrs = "EPSG:99999"')
    mapping.write_text(xy, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"unknown CRS 'EPSG:99999'"):
        profile_from_toml(mapping)


@pytest.mark.realdata
def test_missing_column_names_the_closest_layout(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "chicago/incidents/Crimes_September_2014.csv"
    frame = pd.read_csv(src, dtype=str, nrows=20).drop(columns=["Latitude"])
    path = tmp_path / "sept.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataFileError, match=r"missing column 'Latitude'.*layout chicago-sept2014"):
        ingest([path], "chicago")


def test_clock_change_times_by_hand() -> None:
    from xunfang.ingest.incidents import _localize

    naive = pd.Series(pd.to_datetime(["2014-11-02 01:30", "2014-03-09 02:30", "2014-07-01 12:00"]))
    utc, n_odd = _localize(naive, "America/Chicago")
    # 01:30 on 2 Nov happens twice: the daylight-saving reading (CDT, UTC-5) is taken;
    # 02:30 on 9 Mar does not exist: shifted forward to 03:00 CDT; noon in July is CDT
    assert list(utc) == [
        pd.Timestamp("2014-11-02 06:30", tz="UTC"),
        pd.Timestamp("2014-03-09 08:00", tz="UTC"),
        pd.Timestamp("2014-07-01 17:00", tz="UTC"),
    ]
    assert n_odd == 2
