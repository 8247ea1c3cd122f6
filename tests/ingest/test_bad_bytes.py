"""Bytes not valid in a CSV's encoding: by default the file is refused naming the line;
``bad_bytes="reject-row"`` (``--bad-bytes reject-row``) rejects only the rows holding them.

Every file here is synthetic: made-up calls in the layout of a 110 export.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.errors import DataFileError
from xunfang.ingest.incidents import ingest
from xunfang.ingest.readers import BAD_BYTES_HINT
from xunfang.serve.cli import app

HEADER = "接警单编号,报警时间,报警类别,报警类型,经度,纬度,事发地址"
BAD = b"\x81\x20\xff\xfe"  # no GB18030 (nor UTF-8) character


def _row(n: int, address: str = "黄浦区南京东路100号") -> str:
    return f"S{n:03d},2024-03-16 0{n}:45:00,刑事,盗窃,121.48{n},31.23{n},{address}"


def _gb_file(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\r\n".join([HEADER.encode("gb18030"), *lines]) + b"\r\n")
    return path


def _bad_row(n: int) -> bytes:
    return _row(n, "BAD").encode("gb18030").replace(b"BAD", BAD)


def test_one_bad_byte_refuses_the_file_by_default_naming_the_line_and_the_way_through(
    tmp_path: Path,
) -> None:
    path = _gb_file(tmp_path / "a.csv", [_row(1).encode("gb18030"), _bad_row(2)])
    with pytest.raises(DataFileError, match="line 3 is neither UTF-8 nor GB18030") as err:
        ingest([path], "cn110")
    assert err.value.row == 3
    assert str(err.value).endswith(BAD_BYTES_HINT)
    with pytest.raises(DataFileError, match="bytes that are not valid gb18030") as err:
        ingest([path], "cn110", encoding="gb18030")
    assert err.value.row == 3 and str(err.value).endswith(BAD_BYTES_HINT)


@pytest.mark.parametrize("encoding", [None, "gb18030"])
def test_reject_row_rejects_only_the_rows_with_bad_bytes(
    tmp_path: Path, encoding: str | None
) -> None:
    lines = [_row(1).encode("gb18030"), _bad_row(2), _row(3).encode("gb18030")]
    path = _gb_file(tmp_path / "a.csv", lines)
    table, rejected, report = ingest([path], "cn110", encoding=encoding, bad_bytes="reject-row")
    assert report.files[0]["encoding"] == "gb18030"
    assert (report.rows_read, report.rows_accepted, report.rejected["undecodable"]) == (3, 2, 1)
    assert list(table.frame["incident_id"]) == ["S001", "S003"]
    assert list(table.frame["address"]) == ["黄浦区南京东路100号"] * 2
    assert list(
        zip(rejected["reason"], rejected["source_row"], rejected["field"], strict=True)
    ) == [("undecodable", 3, "(encoding)")]
    assert rejected["raw_time"].isna().all()  # nothing of the row is kept
    assert report.examples["undecodable"][0]["row"] == 3


def test_reject_row_in_a_utf8_file_and_in_a_mixed_gb_file(tmp_path: Path) -> None:
    utf8 = tmp_path / "u.csv"
    utf8.write_bytes(
        "\n".join([HEADER, _row(1), "X", _row(3)]).encode("utf-8").replace(b"\nX", b"\n\xff")
        + b"\n"
    )
    # the stray line holds one field where the header has seven: undecodable comes first
    _, rejected, report = ingest([utf8], "cn110", bad_bytes="reject-row")
    assert report.files[0]["encoding"] == "utf-8-sig"
    assert list(zip(rejected["reason"], rejected["source_row"], strict=True)) == [
        ("undecodable", 3)
    ]
    # GB18030 with a line pasted in as UTF-8 (read as UTF-8) and a line of bad bytes
    lines = [_row(1).encode("gb18030"), _row(2).encode("utf-8"), _bad_row(3)]
    table, rejected, report = ingest(
        [_gb_file(tmp_path / "m.csv", lines)], "cn110", bad_bytes="reject-row"
    )
    assert list(table.frame["address"]) == ["黄浦区南京东路100号"] * 2
    assert list(rejected["source_row"]) == [4]
    assert any("line(s) 3 are UTF-8" in n for n in report.notes)


def test_a_bad_byte_inside_a_quoted_line_break_rejects_its_record(tmp_path: Path) -> None:
    quoted = 'S002,2024-03-16 02:45:00,刑事,盗窃,121.482,31.232,"南京东路\r\nBAD"'
    lines = [_row(1).encode("gb18030"), quoted.encode("gb18030").replace(b"BAD", BAD)]
    lines.append(_row(3).encode("gb18030"))
    table, rejected, _ = ingest(
        [_gb_file(tmp_path / "q.csv", lines)], "cn110", bad_bytes="reject-row"
    )
    assert list(table.frame["source_row"]) == [2, 5]  # the record on lines 3-4 is out
    assert list(zip(rejected["reason"], rejected["source_row"], strict=True)) == [
        ("undecodable", 3)
    ]


def test_cli_bad_bytes_in_both_languages(tmp_path: Path) -> None:
    path = _gb_file(tmp_path / "a.csv", [_row(1).encode("gb18030"), _bad_row(2)])
    out = tmp_path / "out"
    base = ["ingest", str(path), "--profile", "cn110", "--out", str(out), "--lang", "zh"]
    refused = CliRunner().invoke(app, base, env={"COLUMNS": "300"})
    assert refused.exit_code == 2
    assert "或用 --bad-bytes reject-row 只拒绝含有这类字节的行" in refused.output
    assert "第 3 行既不是 UTF-8 也不是 GB18030" in refused.output
    wrong = CliRunner().invoke(app, [*base, "--bad-bytes", "skip"])
    assert wrong.exit_code == 2 and "--bad-bytes 只能取 refuse, reject-row" in wrong.output
    done = CliRunner().invoke(app, [*base, "--bad-bytes", "reject-row"], env={"COLUMNS": "300"})
    assert done.exit_code == 0, done.output
    assert "拒绝：含有不符合文件编码的字节（该行未读取）" in done.output
    rej = pd.read_csv(out / "rejected.csv", encoding="utf-8-sig", dtype=str)
    assert list(zip(rej["reason_text"], rej["source_row"], strict=True)) == [
        ("含有不符合文件编码的字节（该行未读取）", "3")
    ]


def test_rejected_csv_columns_as_the_readme_says(tmp_path: Path) -> None:
    """rejected.csv (README, "Output in --out"): the columns read, masked, and the raw time
    and position cells; no 报警内容 column and no raw line; an undecodable row is named by
    FILE:LINE, its id bytes though readable."""
    header = HEADER + ",报警内容,报警人,联系电话"
    tail = ",报警人张三称被盗,张三,13812348000"
    lines = [
        (_row(1) + tail).encode("gb18030"),
        (_row(2, "BAD") + tail).encode("gb18030").replace(b"BAD", BAD),
        (_row(3).replace("2024-03-16", "someday") + tail).encode("gb18030"),
    ]
    path = tmp_path / "a.csv"
    path.write_bytes(b"\r\n".join([header.encode("gb18030"), *lines]) + b"\r\n")
    res = CliRunner().invoke(
        app,
        ["ingest", str(path), "--profile", "cn110", "--bad-bytes", "reject-row",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rej = pd.read_csv(tmp_path / "out" / "rejected.csv", dtype=str, keep_default_na=False)
    assert "报警内容" not in rej.columns and "raw_line" not in rej.columns
    assert {"raw_time", "raw_x", "raw_y", "source_file", "source_row"} <= set(rej.columns)
    rows = rej.set_index("reason")
    assert rows.loc["undecodable", "incident_id"] == "a.csv:3"  # S002's bytes were readable
    assert rows.loc["undecodable", "raw_time"] == ""
    bad_time = rows.loc["unparseable_time"]
    assert (bad_time["incident_id"], bad_time["raw_time"]) == ("S003", "someday 03:45:00")
    assert (bad_time["raw_x"], bad_time["raw_y"]) == ("121.483", "31.233")
    assert (bad_time["caller_name"], bad_time["caller_phone"]) == ("张*", "138****8000")


def test_zh_rejected_csv_names_the_unread_fields_in_chinese(tmp_path: Path) -> None:
    """An undecodable row blames "(encoding)", a short row "(field count)": in Chinese under
    --lang zh (SYNTHETIC rows as above)."""
    lines = [_row(1).encode("gb18030"), _bad_row(2), (_row(3) + ",多余").encode("gb18030")]
    path = _gb_file(tmp_path / "a.csv", lines)
    for lang, want in (("zh", ["（编码）", "（字段数）"]), ("en", ["(encoding)", "(field count)"])):
        res = CliRunner().invoke(
            app,
            ["ingest", str(path), "--profile", "cn110", "--bad-bytes", "reject-row",
             "--lang", lang, "--out", str(tmp_path / lang)],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        rej = pd.read_csv(tmp_path / lang / "rejected.csv", dtype=str, keep_default_na=False)
        assert rej.sort_values("source_row")["field"].tolist() == want
        # the terminal's example line too (it said 字段 '(field count)' under zh)
        example = " ".join(res.output.split())
        assert ("字段 '（编码）'" if lang == "zh" else "field '(encoding)'") in example
        assert ("(field count)" in example) == (lang == "en")
