"""The cn110 profile on a synthetic 110 export: field names, codes, times, masking, GCJ-02."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.errors import DataFileError
from xunfang.ingest.coords import wgs84_to_gcj02
from xunfang.ingest.incidents import ingest, mask_name, mask_phone, profile_from_toml
from xunfang.ingest.taxonomy import load_taxonomy
from xunfang.serve.cli import app

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cn110_synthetic.csv"
# the WGS-84 points the synthetic fixture was made from (tests/fixtures/README.md)
WGS = {
    1: (121.4800, 31.2300),
    2: (121.4850, 31.2320),
    3: (121.4900, 31.2280),
    4: (121.4750, 31.2250),
    7: (121.4870, 31.2270),
    8: (121.4780, 31.2330),
}
PINYIN = "JJDBH,BJSJ,BJLB,BJLX,BJXL,JD,WD,SFDZ,BJRXM,BJDH,BJNR,GXDWMC"


def test_cn110_reads_the_chinese_export_as_it_comes() -> None:
    table, rejected, report = ingest([FIXTURE], "cn110", frame="gcj02")
    f = table.frame.set_index(table.frame["source_row"] - 1)  # data row: line 1 is the header
    assert report.files[0]["encoding"] == "gb18030"
    assert report.timezone == "Asia/Shanghai"
    assert report.rows_read == 8
    assert report.rows_accepted == 6
    assert report.rejected["missing_coordinates"] == 1
    assert report.rejected["unparseable_time"] == 1
    assert list(rejected["source_row"]) == [6, 7]  # the file's lines (header: line 1)
    assert list(rejected["field"]) == ["经度/纬度", "报警时间"]
    # GCJ-02 (7 decimals, ~1 cm) back to the WGS-84 points: within 1e-6 degree (~0.1 m)
    for row, (lon, lat) in WGS.items():
        assert f.loc[row, "lon"] == pytest.approx(lon, abs=1e-6)
        assert f.loc[row, "lat"] == pytest.approx(lat, abs=1e-6)
    # 05:45 China Standard Time (UTC+8, no daylight saving) = 21:45 UTC the day before
    assert f.loc[1, "occurred_at"] == pd.Timestamp("2024-03-15 21:45", tz="UTC")
    assert f.loc[2, "occurred_at"] == pd.Timestamp("2024-03-15 21:45", tz="UTC")
    assert f.loc[3, "occurred_at"] == pd.Timestamp("2024-03-17 15:15", tz="UTC")
    # precision per row, from the layout that read it
    assert dict(f["time_precision"]) == {
        1: "second",
        2: "minute",
        3: "second",
        4: "second",
        7: "second",
        8: "minute",
    }
    assert report.time_precision == {"second": 4, "minute": 2}
    # names by rule, codes by family: 盗窃电动车 -> vehicle, 200000 治安, 机动车...事故
    # traffic, 410000 火灾/救援, 900000 举报/投诉, 510000 群众求助
    assert dict(f["type_group"]) == {
        1: "vehicle",
        2: "disorder",
        3: "traffic",
        4: "service",
        7: "other",
        8: "service",
    }
    assert report.unmapped_types == {}


def test_caller_name_and_phone_only_masked_and_free_text_not_read(tmp_path: Path) -> None:
    table, _, report = ingest([FIXTURE], "cn110", frame="gcj02")
    f = table.frame.set_index(table.frame["source_row"] - 1)  # data row: line 1 is the header
    assert f.loc[1, "caller_name"] == "张*"
    assert f.loc[1, "caller_phone"] == "138****8000"
    assert f.loc[3, "caller_name"] == "欧*"
    assert f.loc[3, "caller_phone"] == "021****1234"
    assert f.loc[7, "caller_name"] == "孙*"
    assert f.loc[1, "address"] == "黄浦区南京东路100号"
    assert f.loc[1, "unit"] == "南京东路派出所"
    assert "content" not in table.frame.columns
    assert report.masked_columns == ("caller_name", "caller_phone")
    assert report.notes == (
        "cn110_synthetic.csv: column(s) 报警内容 recognised and not read: free text often "
        "names the caller",
    )
    assert report.notes_zh == (
        "cn110_synthetic.csv: 已识别但不读取的列：报警内容（自由文本常含报警人姓名）",
    )
    # nothing written anywhere holds the full name or number
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        app, ["ingest", str(FIXTURE), "--profile", "cn110", "--frame", "gcj02", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    blobs = [
        (out / "rejected.csv").read_text("utf-8"),
        (out / "ingest_report.json").read_text("utf-8"),
        pd.read_parquet(out / "incidents.parquet").to_csv(),
        result.output,
    ]
    for blob in blobs:
        for secret in ("张三", "13812348000", "欧阳娜娜", "6432-1234", "赵六", "13998761234"):
            assert secret not in blob


def test_mask_functions_by_hand() -> None:
    names = pd.Series(["张三", "欧阳娜娜", " 李 ", None, ""])
    assert mask_name(names).tolist()[:3] == ["张*", "欧*", "李*"]
    assert mask_name(names).isna().tolist()[3:] == [True, True]
    phones = pd.Series(["13812348000", "+86 138 1234 8000", "021-6432-1234", "110", None])
    assert mask_phone(phones).tolist()[:4] == ["138****8000", "138****8000", "021****1234", "***"]
    assert pd.isna(mask_phone(phones).iloc[4])


def test_pinyin_codes_read_the_same(tmp_path: Path) -> None:
    text = FIXTURE.read_bytes().decode("gb18030").split("\r\n", 1)[1]
    path = tmp_path / "pinyin.csv"
    path.write_bytes((PINYIN + "\r\n" + text).encode("gb18030"))
    ref, _, _ = ingest([FIXTURE], "cn110", frame="gcj02")
    table, _, report = ingest([path], "cn110", frame="gcj02")
    assert report.files[0]["columns"]["BJSJ"] == "time"
    pd.testing.assert_series_equal(
        table.frame["type_group"], ref.frame["type_group"], check_names=False
    )
    np.testing.assert_array_equal(table.frame["lon"], ref.frame["lon"])
    assert table.frame["caller_phone"].iloc[0] == "138****8000"


def test_without_frame_the_positions_are_taken_as_wgs84() -> None:
    table, _, _ = ingest([FIXTURE], "cn110")
    g_lon, g_lat = wgs84_to_gcj02(*WGS[1])
    assert table.frame["lon"].iloc[0] == pytest.approx(float(g_lon), abs=1e-7)
    assert table.frame["lat"].iloc[0] == pytest.approx(float(g_lat), abs=1e-7)


def test_category_code_families_map_to_groups() -> None:
    tax = load_taxonomy()
    codes = ["110100", "200000", "310000", "400000", "500000", "600000", "700000"]
    codes += ["800000", "900000", "012345", "1000000"]
    blank = pd.Series([""] * len(codes))
    groups, unmapped = tax.classify("cn110", pd.Series(codes), blank, blank)
    assert groups.tolist() == [
        "property",  # 1xxxxx 刑事
        "disorder",  # 2xxxxx 治安
        "traffic",  # 3xxxxx 交通
        "service",  # 4xxxxx 火灾/救援
        "service",  # 5xxxxx 群众求助
        "service",  # 6xxxxx 社会联动
        "disorder",  # 7xxxxx 群体事件
        "service",  # 8xxxxx 灾害事故
        "other",  # 9xxxxx 举报/投诉
        "other",  # not a code: a leading zero
        "other",  # not a code: seven digits
    ]
    assert unmapped.tolist() == [False] * 9 + [True, True]
    # a subtype rule still wins over the family: a code for 刑事 with 盗窃电动车 is vehicle
    g, _ = tax.classify("cn110", pd.Series(["110000"]), pd.Series(["盗窃电动车"]), pd.Series([""]))
    assert g.tolist() == ["vehicle"]


STAPLE_CATEGORIES = {
    "盗窃": "property",
    "扒窃": "property",
    "入室盗窃": "property",
    "诈骗": "property",
    "电信诈骗": "property",
    "电信网络诈骗": "property",
    "敲诈勒索": "property",
    "故意毁坏财物": "property",
    "盗窃电动车": "vehicle",
    "盗窃电动自行车": "vehicle",
    "盗窃机动车": "vehicle",
    "盗窃车内财物": "vehicle",
    "殴打他人": "violent",
    "故意伤害": "violent",
    "抢劫": "violent",
    "抢夺": "violent",
    "打架斗殴": "disorder",
    "聚众斗殴": "disorder",
    "寻衅滋事": "disorder",
    "噪音扰民": "disorder",
    "赌博": "disorder",
    "吸毒": "disorder",
    "卖淫嫖娼": "disorder",
    "走失": "service",
    "人员走失": "service",
    "求助": "service",
    "邻里纠纷": "service",
    "家庭纠纷": "service",
    "交通拥堵": "traffic",
}


def test_staple_110_categories_map_as_category_or_as_detailed_class() -> None:
    # a tester's export put 打架斗殴 in 报警类别 (no 报警细类): its 15 rows were 'other'.
    # Each staple class maps to the same group in the category column as in the
    # detailed-class column (where the subtype rules read it).
    tax = load_taxonomy()
    words = pd.Series(list(STAPLE_CATEGORIES))
    blank = pd.Series([""] * len(words))
    as_type, unmapped = tax.classify("cn110", words, blank, blank)
    as_subtype, _ = tax.classify("cn110", blank, words, blank)
    assert dict(zip(words, as_type, strict=True)) == STAPLE_CATEGORIES
    assert dict(zip(words, as_subtype, strict=True)) == STAPLE_CATEGORIES
    assert not unmapped.any()


def test_a_category_column_of_detailed_classes_is_not_other(tmp_path: Path) -> None:
    # SYNTHETIC: 报警类别 holds the detailed class, as the tester's export did
    path = tmp_path / "110.csv"
    kinds = ["打架斗殴", "殴打他人", "扒窃", "盗窃电动车", "噪音扰民", "走失"]
    rows = [f"J{i},2024-03-01 0{i}:00:00,{k},121.48{i},31.23{i}" for i, k in enumerate(kinds)]
    path.write_bytes("\n".join(["接警单编号,报警时间,报警类别,经度,纬度", *rows]).encode("gbk"))
    table, _, report = ingest([path], "cn110")
    assert table.frame["type_group"].tolist() == [
        "disorder",
        "violent",
        "property",
        "vehicle",
        "disorder",
        "service",
    ]
    assert report.unmapped_types == {}
    assert report.by_type_group == {
        "disorder": 2,
        "violent": 1,
        "property": 1,
        "vehicle": 1,
        "service": 1,
    }


@pytest.mark.parametrize(
    ("cell", "utc", "precision"),
    [
        # a tester's 110 export: 年月日 with hours and minutes was unparseable_time
        ("2026年9月5日 08:03", "2026-09-05 00:03:00", "minute"),
        ("2026年09月05日 08:03:07", "2026-09-05 00:03:07", "second"),
        ("2026年9月5日 8时3分7秒", "2026-09-05 00:03:07", "second"),
        ("2026年9月5日 08时03分", "2026-09-05 00:03:00", "minute"),
        ("2026年9月5日", "2026-09-04 16:00:00", "day"),
        ("2026/9/5 08:03", "2026-09-05 00:03:00", "minute"),
        ("2026/09/05 08:03:07", "2026-09-05 00:03:07", "second"),
    ],
)
def test_chinese_date_layouts_are_read(tmp_path: Path, cell: str, utc: str, precision: str) -> None:
    # SYNTHETIC one-row export; Asia/Shanghai is UTC+8 (no daylight saving)
    path = tmp_path / "110.csv"
    path.write_text(
        f"接警单编号,报警时间,报警类别,经度,纬度\nJ1,{cell},治安,121.48,31.23\n", encoding="utf-8"
    )
    table, rejected, _ = ingest([path], "cn110", now=pd.Timestamp("2027-01-01", tz="UTC"))
    assert rejected.empty
    assert table.frame["occurred_at"].iloc[0] == pd.Timestamp(utc, tz="UTC")
    assert table.frame["time_precision"].iloc[0] == precision


def test_missing_time_column_names_the_accepted_names(tmp_path: Path) -> None:
    path = tmp_path / "no_time.csv"
    path.write_text("接警单编号,报警类别,经度,纬度\nA,刑事,121.48,31.23\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"no_time\.csv, field 'time': .*报警时间/BJSJ"):
        ingest([path], "cn110")


def test_expected_texts_in_chinese() -> None:
    from xunfang.ingest.messages import expected_text

    assert expected_text("a position inside 东片,西片", "zh") == "位于 东片,西片 内的位置"
    assert (
        expected_text("a time not after 2026-12-03T00:00:00+00:00 (UTC)", "zh")
        == "不晚于 2026-12-03T00:00:00+00:00（UTC）的时间"
    )
    assert expected_text("an id not used by an earlier row", "zh") == "前面的行未使用过的编号"
    assert expected_text("numbers in EPSG:3435", "zh") == "EPSG:3435 中的数值"
    assert expected_text("%Y-%m-%d | %Y/%m/%d", "zh") == "以下时间格式之一：%Y-%m-%d | %Y/%m/%d"
    # the fallbacks without an area name, and a frame with a hyphen, are Chinese too
    assert expected_text("a position inside the area", "zh") == "位于区域内的位置"
    assert (
        expected_text("a position inside -87.94..-87.52 E, 41.64..42.02 N", "zh")
        == "东经 -87.94..-87.52、北纬 41.64..42.02 范围内的位置"
    )
    assert (
        expected_text("degrees (WGS-84), lon -180..180, lat -90..90", "zh")
        == "经纬度（WGS-84），经度 -180..180，纬度 -90..90"
    )
    assert expected_text("a time not after now (UTC)", "zh") == "不晚于当前时间（UTC）的时间"
    assert expected_text("a position inside 东片", "en") == "a position inside 东片"


def test_lang_zh_summary_and_reasons(tmp_path: Path) -> None:
    out = tmp_path / "zh"
    result = CliRunner().invoke(
        app,
        [
            *("ingest", str(FIXTURE), "--profile", "cn110", "--frame", "gcj02"),
            *("--lang", "zh", "--out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "导入报告" in result.output
    assert "缺少坐标" in result.output
    assert "时间格式无法识别" in result.output
    assert "6 条警情" in result.output
    # the masked columns and what a rejected field should hold, in Chinese too
    flat = "".join(result.output.split())  # the terminal wraps long lines
    assert "仅保留脱敏值：报警人姓名、联系电话" in flat
    assert "拒绝：缺少坐标" in flat and "时间精度：秒" in flat
    assert "应为经纬度（gcj02），经度-180..180，纬度-90..90" in flat
    assert "caller_phone" not in flat and "degrees" not in flat
    rej = pd.read_csv(out / "rejected.csv")
    assert rej["reason_text"].tolist() == ["缺少坐标", "时间格式无法识别"]
    report = json.loads((out / "ingest_report.json").read_text("utf-8"))
    assert report["rejected_examples"]["unparseable_time"][0]["value"] == "昨天晚上"


def test_a_mapping_can_mask_its_own_personal_columns(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        """
name = "city-110"
[layout]
timezone = "Asia/Shanghai"
time = "t"
time_formats = ["%Y-%m-%d %H:%M"]
type = "k"
scheme = "cn110"
extra = { caller = "who", phone = "tel" }
mask = { caller = "name", phone = "phone" }
[[layout.coords]]
kind = "lonlat"
x = "x"
y = "y"
""",
        encoding="utf-8",
    )
    path = tmp_path / "a.csv"
    path.write_text("t,k,x,y,who,tel\n2024-03-16 05:45,刑事,121.47,31.23,司马光,13912345678\n")
    table, _, report = ingest([path], profile_from_toml(mapping))
    assert table.frame[["caller", "phone"]].values.tolist() == [["司*", "139****5678"]]
    assert report.masked_columns == ("caller", "phone")


def test_encoding_errors_and_the_zero_zero_example_in_chinese() -> None:
    from xunfang.ingest.messages import expected_text
    from xunfang.serve._common import error_text

    guess = (
        "x.csv, row 2: is not UTF-8 and line 2 is neither UTF-8 nor GB18030: the bytes do "
        "not decide its encoding (a guess from its bytes: mac_latin2). Pass it with "
        "--encoding (e.g. --encoding gb18030 for a Chinese export, --encoding cp1252 for a "
        "Western European one) or the mapping's encoding key"
    )
    assert error_text(guess, "zh") == (
        "x.csv 第 2 行：不是 UTF-8 编码，且第 2 行既不是 UTF-8 也不是 GB18030：无法从字节判断"
        "其编码（由字节猜测：mac_latin2）。请用 --encoding 指定（如中文导出文件用 --encoding "
        "gb18030，西欧文字用 --encoding cp1252）或在映射文件中写 encoding"
    )
    share = guess.replace(
        "line 2 is neither UTF-8 nor GB18030",
        "read as GB18030 only 3 of its 10 non-ASCII characters are Chinese",
    ).replace(" (a guess from its bytes: mac_latin2)", "")
    assert "10 个非 ASCII 字符中只有 3 个是中文：无法从字节判断其编码。" in error_text(share, "zh")
    invalid = (
        "x.csv, row 2: bytes that are not valid utf-8; pass the file's encoding with "
        "--encoding or the mapping's encoding key (e.g. gb18030 for Chinese exports)"
    )
    assert error_text(invalid, "zh").startswith("x.csv 第 2 行：含有不是有效 utf-8 编码的字节；")
    zero = (
        "a position other than 0, 0 (degrees (wgs84), lon -180..180, lat -90..90): 0, 0 is "
        "read as no position, the placeholder many exports write"
    )
    assert expected_text(zero, "zh") == (
        "0, 0 以外的位置（经纬度（wgs84），经度 -180..180，纬度 -90..90）：0, 0 视为没有位置，"
        "是许多导出文件写入的占位值"
    )
    late = (
        "a time after 1970-01-01 00:00 UTC (an earlier time is a placeholder such as "
        "1900-01-01, not when the incident happened)"
    )
    assert expected_text(late, "zh").startswith("晚于 1970-01-01 00:00（UTC）的时间")
    none = (
        "bad.csv: no usable rows: every row was rejected: 12 rows: time in no listed format "
        "in field 报警时间 (rows 2-13); 1 row: no coordinates in field 经度/纬度 (row 14); e.g. "
        "row 2 field '报警时间' = '16.03.2024 05:45', expected %Y-%m-%d"
    )
    assert error_text(none, "zh") == (
        "bad.csv：没有可用的行：每一行都被拒绝：12 行时间格式无法识别（字段 报警时间，第 2-13 "
        "行）；1 行缺少坐标（字段 经度/纬度，第 14 行）；例：第 2 行字段 '报警时间' = "
        "'16.03.2024 05:45'，应为 以下时间格式之一：%Y-%m-%d"
    )
    assert error_text(none, "en") == none
    # rows of several files, a run list cut after ten runs, a reason with its own brackets
    several = (
        "a.csv, b.csv: no usable rows: every row was rejected: 14 rows: no coordinates in "
        "field lon/lat (a.csv rows 2-5, 7 and 3 more, b.csv row 9); 3 rows: more or fewer "
        "fields than the header (row not read) (b.csv rows 2, 4, 6)"
    )
    assert error_text(several, "zh") == (
        "a.csv, b.csv：没有可用的行：每一行都被拒绝：14 行缺少坐标（字段 lon/lat，a.csv 第 "
        "2-5, 7 行 及另外 3 行，b.csv 第 9 行）；3 行字段数与表头不一致（该行未读取）"
        "（b.csv 第 2, 4, 6 行）"
    )


def test_a_second_name_of_the_same_field_is_named_as_not_read(tmp_path: Path) -> None:
    """SYNTHETIC 2-call export with both 到达时间 and 到场时间 (different values): 到达时间 is
    read (the first accepted name) and 到场时间 is named as not read, in English and Chinese
    (a tester's export lost 到场时间 without a word)."""
    src = tmp_path / "two_arrivals.csv"
    src.write_text(
        "接警单编号,报警时间,报警类别,经度,纬度,派警时间,到达时间,到场时间\n"
        "A1,2024-03-16 05:45:00,刑事,121.4845,31.2280,2024-03-16 05:46:00,"
        "2024-03-16 05:50:00,2024-03-16 05:55:00\n"
        "A2,2024-03-16 06:00:00,刑事,121.4894,31.2300,2024-03-16 06:01:00,"
        "2024-03-16 06:04:00,2024-03-16 06:09:00\n",
        encoding="gb18030",
    )
    table, _, report = ingest([src], "cn110", frame="gcj02")
    arrived = table.frame.sort_values("source_row")["on_scene_at"].dt.strftime("%H:%M")
    assert arrived.tolist() == ["21:50", "22:04"]  # 到达时间 in UTC (+08:00 local)
    assert (
        "two_arrivals.csv: column(s) 到场时间 not read: they name the same field as 到达时间, "
        "which was read (rename or remove the one you do not want, or name it in a --mapping "
        "file)"
    ) in report.notes
    assert (
        "two_arrivals.csv: 未读取的列：到场时间：与已读取的 到达时间 是同一字段"
        "（请重命名或删除不要的一列，或在 --mapping 文件中指定）"
    ) in report.notes_zh


def test_an_empty_type_is_counted_among_the_unmapped(tmp_path: Path) -> None:
    # SYNTHETIC: two rows with the category left empty (kept as 'other', and said so)
    path = tmp_path / "110.csv"
    rows = [
        "J1,2024-03-01 01:00:00,扒窃,121.481,31.231",
        "J2,2024-03-01 02:00:00,,121.482,31.232",
        "J3,2024-03-01 03:00:00, ,121.483,31.233",
    ]
    path.write_bytes("\n".join(["接警单编号,报警时间,报警类别,经度,纬度", *rows]).encode("gbk"))
    table, _, report = ingest([path], "cn110")
    assert table.frame["type_group"].tolist() == ["property", "other", "other"]
    assert report.unmapped_types == {"(empty/空)": 2}
