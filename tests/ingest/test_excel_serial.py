"""Excel serial dates in an .xlsx time column (a date cell formatted as a number) are read
as dates; numbers in a CSV are not. Synthetic workbooks of made-up 110 calls."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils.datetime import MAC_EPOCH

from xunfang.ingest.incidents import ingest
from xunfang.ingest.readers import _excel_serial

HEADER = ["接警单编号", "报警时间", "报警类别", "报警类型", "经度", "纬度"]


def _book(path: Path, times: list[object], epoch: dt.datetime | None = None) -> Path:
    book = openpyxl.Workbook()
    if epoch is not None:
        book.epoch = epoch
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for k, when in enumerate(times):
        sheet.append([f"X{k}", when, "刑事", "盗窃", 121.48 + k / 1000, 31.23])
    book.save(path)
    return path


def test_serial_numbers_in_the_time_column_are_read_as_dates(tmp_path: Path) -> None:
    times = [
        dt.datetime(2024, 3, 16, 5, 45),  # a date cell, as before
        45370.5,  # 1900 system: 2024-03-19 12:00 (day 45370 counts Excel's 1900-02-29)
        45371,  # a whole number: the date alone, 2024-03-20
        20240316,  # no serial (past 9999-12-31): the layout's %Y%m%d reads it
    ]
    table, rejected, report = ingest([_book(tmp_path / "a.xlsx", times)], "cn110")
    assert rejected.empty
    f = table.frame.set_index("incident_id")
    # Shanghai local (UTC+8) to UTC
    assert f.loc["X0", "occurred_at"] == pd.Timestamp("2024-03-15 21:45", tz="UTC")
    assert f.loc["X1", "occurred_at"] == pd.Timestamp("2024-03-19 04:00", tz="UTC")
    assert f.loc["X2", "occurred_at"] == pd.Timestamp("2024-03-19 16:00", tz="UTC")
    assert f.loc["X3", "occurred_at"] == pd.Timestamp("2024-03-15 16:00", tz="UTC")
    assert list(f["time_precision"]) == ["second", "second", "day", "day"]
    note = next(n for n in report.notes if "Excel serial date" in n)
    assert note.startswith("a.xlsx: 2 cell(s) of time column '报警时间'")
    assert "row(s) 3, 4" in note
    assert any("Excel 日期序列号" in n for n in report.notes_zh)


def test_the_1904_date_system(tmp_path: Path) -> None:
    # 1904 system: day 0 = 1904-01-01, so 2024-03-19 is 45370 - 1462 = 43908
    table, _, _ = ingest([_book(tmp_path / "mac.xlsx", [43908.5], MAC_EPOCH)], "cn110")
    assert table.frame["occurred_at"].iloc[0] == pd.Timestamp("2024-03-19 04:00", tz="UTC")
    assert _excel_serial(43908.25, MAC_EPOCH) == "2024-03-19 06:00:00"


def test_numbers_in_a_csv_time_column_stay_unparseable(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    rows = ["X0,45370.5,刑事,盗窃,121.48,31.23", "X1,2024-03-16 05:45:00,刑事,盗窃,121.481,31.23"]
    path.write_text("\n".join([",".join(HEADER), *rows]) + "\n", encoding="utf-8")
    table, rejected, _ = ingest([path], "cn110")
    assert list(table.frame["incident_id"]) == ["X1"]
    assert list(zip(rejected["reason"], rejected["raw_time"], strict=True)) == [
        ("unparseable_time", "45370.5")
    ]


def test_what_is_no_serial_date() -> None:
    assert _excel_serial(True, None) is None  # a boolean cell
    assert _excel_serial("45370.5", None) is None  # text is the layout's to read
    assert _excel_serial(0.5, None) is None  # before 1900-01-01
    assert _excel_serial(1_710_556_800, None) is None  # a Unix time
    assert _excel_serial(1, None) == "1900-01-01"
    assert _excel_serial(45370.999999, None) == "2024-03-20 00:00:00"  # to the second


def test_serial_numbers_in_the_step_columns_are_read_like_the_call_time(tmp_path: Path) -> None:
    # SYNTHETIC call: 报警 2024-03-19 12:00 (45370.5); 派警 +30 s, 到达 +5 min as serials
    # (one day = 86,400 s, so 30 s = 30 / 86400 of a day); 反馈 a date cell
    path = tmp_path / "steps.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([*HEADER, "派警时间", "到达时间", "反馈时间"])
    sheet.append(
        [
            "S0",
            45370.5,
            "刑事",
            "盗窃",
            121.48,
            31.23,
            45370.5 + 30 / 86400,
            45370.5 + 300 / 86400,
            dt.datetime(2024, 3, 19, 12, 30),
        ]
    )
    book.save(path)
    table, rejected, report = ingest([path], "cn110")
    assert rejected.empty
    row = table.frame.iloc[0]
    assert row["dispatched_at"] == pd.Timestamp("2024-03-19 04:00:30", tz="UTC")
    assert row["on_scene_at"] == pd.Timestamp("2024-03-19 04:05:00", tz="UTC")
    assert row["cleared_at"] == pd.Timestamp("2024-03-19 04:30:00", tz="UTC")
    assert report.step_times["set_aside"] == []
    assert any("time column '派警时间'" in n for n in report.notes)
