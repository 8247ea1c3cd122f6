"""Ingest checks found by a new-user test: future times, conflicting duplicate ids,
control characters in text, outliers in time. Fixtures are synthetic, written here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xunfang.ingest.incidents import ingest

HEADER = "接警单编号,报警时间,报警类别,经度,纬度,事发地址"
NOW = pd.Timestamp("2024-03-10 12:00", tz="UTC")


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
    # local Asia/Shanghai: 2024-03-11 19:59 = 11:59 UTC, 1 min inside now + 1 day
    rows.append("J0100,2024-03-11 19:59:00,盗窃,121.4800,31.2300,a")
    # 2024-03-11 20:01 local = 12:01 UTC, 1 min past now + 1 day
    rows.append("J0101,2024-03-11 20:01:00,盗窃,121.4800,31.2300,b")
    rows.append("J0102,2099-12-31 10:00:00,盗窃,121.4800,31.2300,c")
    table, rejected, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rejected["future_time"] == 2
    assert report.rows_accepted == 6
    fut = rejected[rejected["reason"] == "future_time"]
    assert list(fut["source_row"]) == [7, 8]
    assert set(fut["field"]) == {"报警时间"}
    assert report.examples["future_time"][0]["value"] == "2024-03-11 20:01:00"
    assert report.period == ("2024-03-01T00:00:00+00:00", "2024-03-11T11:59:00+00:00")
    # a wider tolerance keeps the 20:01 row
    _, _, wide = ingest(
        [_write(tmp_path, rows)], "cn110", now=NOW, future_tolerance=pd.Timedelta(days=2)
    )
    assert wide.rejected["future_time"] == 1


def test_a_lone_row_years_apart_is_named_in_a_note(tmp_path: Path) -> None:
    rows = [*_rows(20), "J0999,2019-03-01 08:00:00,盗窃,121.4800,31.2300,x"]
    _, _, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rows_accepted == 21
    assert len(report.notes) == 1 and "1 accepted row(s)" in report.notes[0]
    assert "row 21" in report.notes[0] and "365 days" in report.notes[0]
    assert "条已接受的行" in report.notes_zh[0]
    _, _, clean = ingest([_write(tmp_path, _rows(20))], "cn110", now=NOW)
    assert clean.notes == ()


def test_duplicate_ids_exact_repeat_and_conflict_differ(tmp_path: Path) -> None:
    rows = _rows(3)
    rows.append(rows[0])  # exact repeat of row 1
    rows.append(rows[1].replace("08:00:00", "09:00:00").replace("09:00:00,盗窃", "23:00:00,盗窃"))
    rows.append(rows[2].replace("31.2300", "31.2400"))  # same id and time, other place
    _, rejected, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert report.rejected["duplicate_id"] == 1
    assert report.rejected["duplicate_id_conflict"] == 2
    assert dict(zip(rejected["source_row"], rejected["reason"], strict=True)) == {
        4: "duplicate_id",
        5: "duplicate_id_conflict",
        6: "duplicate_id_conflict",
    }
    assert set(rejected["field"]) == {"接警单编号"}


def test_control_and_bidi_characters_are_cleaned_and_counted(tmp_path: Path) -> None:
    rows = _rows(3)
    # (a NUL near the start makes the file look binary, so \x1b stands in for it here)
    rows[0] = rows[0].replace("南京东路0号", "南京\x07东路\x1b0号")
    rows[1] = rows[1].replace("南京东路1号", "abc\u202egnp.exe\u2066x\u2069")
    rows[2] = rows[2].replace("南京东路2号", "南京\t东路")
    table, _, report = ingest([_write(tmp_path, rows)], "cn110", now=NOW)
    assert list(table.frame["address"]) == ["南京东路0号", "abcgnp.exex", "南京 东路"]
    assert report.cleaned_text == {"address": 3}
    assert report.to_dict()["cleaned_text"] == {"address": 3}
