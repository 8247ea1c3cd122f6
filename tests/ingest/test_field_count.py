"""A CSV row with more or fewer fields than its header is rejected, never shifted, padded or
cut (an unquoted comma in 事发地址 moved the caller's free text into ``unit``).

Every file here is synthetic: made-up calls in the layout of a 110 export (after the
tester's files in try5), no real person's name, phone or words.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.errors import DataFileError
from xunfang.ingest.incidents import ingest, write_outputs
from xunfang.ingest.messages import reason_text
from xunfang.ingest.sites import read_sites
from xunfang.serve.cli import app

HEADER = (
    "接警单编号,报警时间,报警类别,报警类型,报警细类,经度,纬度,事发地址,报警人,联系电话,"
    "报警内容,管辖单位"
)
SECRET = "报警人陈小明称其母亲走失 身份证310101195001011234"  # synthetic free text, never read
ROWS = [
    # line 2: 12 fields, as the header
    "S001,2024-03-16 05:45:00,刑事,盗窃,盗窃电动车,121.4845020,31.2280400,黄浦区南京东路100号,"
    "张三,13812348000,报警人称电动车被盗,南京东路派出所",
    # line 3: an unquoted comma in the address: 13 fields, every later cell one to the right
    f"S002,2024-03-16 06:45:00,求助,人员走失,,121.4845020,31.2280400,黄浦区南京东路100号,3号楼,"
    f"陈小明,13912345678,{SECRET},南京东路派出所",
    # line 4: the comma quoted: 12 fields
    'S003,2024-03-16 07:45:00,求助,人员走失,,121.4845020,31.2280400,"黄浦区福州路1号,2号楼",'
    "李四,13912340000,走失,外滩派出所",
    # line 5: cut short after the position: 7 fields
    "S004,2024-03-16 08:45:00,治安,,,121.48,31.23",
    # line 6: two extra cells at the end: 14 fields
    "S005,2024-03-16 09:45:00,治安,,,121.4800000,31.2300000,多列,吴十,13200006666,多列,"
    "人民广场派出所,额外1,额外2",
]


def _write(path: Path, rows: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))
    return path


def test_rows_of_another_field_count_are_rejected_naming_line_and_counts(tmp_path: Path) -> None:
    table, rejected, report = ingest([_write(tmp_path / "a.csv", ROWS)], "cn110", frame="gcj02")
    assert report.rows_read == 5
    assert report.rows_accepted == 2
    assert report.rejected["field_count"] == 3
    assert list(table.frame["incident_id"]) == ["S001", "S003"]
    assert list(table.frame["unit"]) == ["南京东路派出所", "外滩派出所"]
    assert list(table.frame["address"]) == ["黄浦区南京东路100号", "黄浦区福州路1号,2号楼"]
    assert list(rejected["reason"]) == ["field_count"] * 3
    assert list(rejected["source_row"]) == [3, 5, 6]
    assert list(rejected["row_fields"]) == [13, 7, 14]
    assert list(rejected["header_fields"]) == [12, 12, 12]
    assert list(rejected["field"]) == ["(field count)"] * 3
    # nothing of a rejected row is kept: its id is its file and line
    assert list(rejected["incident_id"]) == ["a.csv:3", "a.csv:5", "a.csv:6"]
    assert (
        rejected[["address", "caller_name", "caller_phone", "unit", "raw_time"]]
        .isna()
        .all(axis=None)
    )
    example = report.examples["field_count"][0]
    assert (example["row"], example["value"]) == (3, "13")
    assert example["expected"].startswith("12 fields, as many as the header")


def test_the_free_text_reaches_no_output_file(tmp_path: Path) -> None:
    table, rejected, report = ingest([_write(tmp_path / "a.csv", ROWS)], "cn110", frame="gcj02")
    paths = write_outputs(tmp_path / "out", table, rejected, report, lang="zh")
    parquet = pd.read_parquet(paths["incidents"])
    assert not parquet.astype(str).apply(lambda c: c.str.contains("陈小明|额外")).any(axis=None)
    for key in ("rejected", "report"):
        body = paths[key].read_text(encoding="utf-8-sig")
        for secret in ("陈小明", "310101195001011234", "13912345678", "额外1", "3号楼"):
            assert secret not in body
    # the accepted rows' caller columns are masked in the parquet as before
    assert list(parquet["caller_name"]) == ["张*", "李*"]


def test_a_shifted_first_data_row_is_rejected_too(tmp_path: Path) -> None:
    # pandas reads a first row one field longer than the names as an index column
    path = _write(tmp_path / "first.csv", [ROWS[1], ROWS[0]])
    table, rejected, _ = ingest([path], "cn110", frame="gcj02")
    assert list(table.frame["incident_id"]) == ["S001"]
    assert list(rejected["source_row"]) == [2]
    assert list(rejected["row_fields"]) == [13]


def test_lines_are_counted_across_a_quoted_line_break(tmp_path: Path) -> None:
    multi = (
        "S006,2024-03-16 10:45:00,求助,,,121.4810000,31.2310000,地址,郑一,13100007777,"
        '"多行\r\n内容",人民广场派出所'
    )
    path = _write(tmp_path / "gb.csv", [multi, ROWS[4], ROWS[0]], encoding="gb18030")
    table, rejected, report = ingest([path], "cn110", frame="gcj02")
    assert report.files[0]["encoding"] == "gb18030"
    assert list(table.frame["incident_id"]) == ["S006", "S001"]
    assert list(table.frame["source_row"]) == [2, 5]  # the quoted break takes lines 2-3
    assert list(rejected["source_row"]) == [4]
    assert list(rejected["row_fields"]) == [14]


def test_reason_text_gives_both_counts_in_english_and_chinese() -> None:
    assert reason_text("field_count", "en", row_fields=13, header_fields=12).startswith(
        "13 fields where the header has 12 (row not read"
    )
    assert reason_text("field_count", "zh", row_fields=13, header_fields=12).startswith(
        "该行有 13 个字段，表头有 12 个（该行未读取"
    )
    assert reason_text("field_count", "zh") == "字段数与表头不一致（该行未读取）"
    assert reason_text("missing_coordinates", "en", row_fields=pd.NA) == "no coordinates"


def test_cli_counts_the_rows_in_rejected_csv_and_the_summary(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", ROWS)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(path),
            "--profile",
            "cn110",
            "--frame",
            "gcj02",
            "--out",
            str(out),
            "--lang",
            "zh",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "拒绝：字段数与表头不一致（该行未读取）" in result.output
    assert "a.csv 第 3 行，字段 '（字段数）'：'13'；应为 12 个字段，与表头相同" in result.output
    rej = pd.read_csv(out / "rejected.csv", encoding="utf-8-sig", dtype=str)
    assert rej["reason_text"].iloc[0].startswith("该行有 13 个字段，表头有 12 个")
    assert list(rej["source_row"]) == ["3", "5", "6"]


def test_site_csv_with_a_row_of_another_field_count_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("name,lon,lat\nA,121.48,31.23\nB 1,2,121.49,31.24\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="a row has 4 fields where the header has 3") as err:
        read_sites(path)
    assert err.value.row == 3
