"""Step times (派警/签收/出警/到达/反馈时间) of a 110 export, on the SYNTHETIC fixture
tests/fixtures/cn110_kpi_synthetic.csv (7 calls, GBK; its README row says what each holds)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from xunfang.errors import DataFileError
from xunfang.ingest.incidents import ingest, profile_from_toml
from xunfang.ingest.profiles import STEP_COLUMNS, Layout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KPI = FIXTURES / "cn110_kpi_synthetic.csv"
NO_STEPS = FIXTURES / "cn110_synthetic.csv"


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_step_times_are_read_as_utc_and_out_of_order_ones_left_empty() -> None:
    table, rejected, report = ingest([KPI], "cn110")
    assert report.rows_accepted == 7 and len(rejected) == 0  # no call dropped
    f = table.frame.set_index("source_row")  # line 1 is the header: call k is row k + 1
    # call 1: 08:00:40 in Shanghai is 00:00:40 UTC
    assert f.loc[2, "acknowledged_at"] == _utc("2026-03-02 00:00:40")
    assert f.loc[2, "dispatched_at"] == _utc("2026-03-02 00:00:20")
    assert f.loc[2, "en_route_at"] == _utc("2026-03-02 00:01:00")
    assert f.loc[2, "on_scene_at"] == _utc("2026-03-02 00:04:00")
    assert f.loc[2, "cleared_at"] == _utc("2026-03-02 00:24:00")
    # call 4: blank 签收/反馈 stay empty, silently (a blank is no error)
    assert pd.isna(f.loc[5, "acknowledged_at"]) and pd.isna(f.loc[5, "cleared_at"])
    # call 5: 到达 before 报警 -> empty; its 反馈 (after the call) is kept
    assert pd.isna(f.loc[6, "on_scene_at"])
    assert f.loc[6, "cleared_at"] == _utc("2026-03-03 01:25:00")
    # call 6: unreadable 签收 -> empty, the rest kept
    assert pd.isna(f.loc[7, "acknowledged_at"])
    assert f.loc[7, "en_route_at"] == _utc("2026-03-03 14:05:55")
    # call 7: 签收 (23:30:50) before 派警 (23:31:00) -> empty
    assert pd.isna(f.loc[8, "acknowledged_at"])
    assert f.loc[8, "dispatched_at"] == _utc("2026-03-03 15:31:00")
    assert str(f["acknowledged_at"].dtype) == "datetime64[ns, UTC]"
    assert report.step_times["recorded"] == {
        "dispatched_at": 7,
        "acknowledged_at": 4,
        "en_route_at": 7,
        "on_scene_at": 6,
        "cleared_at": 6,
    }
    assert report.step_times["precision"]["acknowledged_at"] == {"second": 4}
    aside = {(a["field"], a["reason"], a["other"]): a for a in report.step_times["set_aside"]}
    assert set(aside) == {
        ("签收时间", "unreadable", None),
        ("签收时间", "before", "派警时间"),
        ("到达时间", "before", "报警时间"),
    }
    assert aside[("到达时间", "before", "报警时间")]["rows"] == 1
    assert aside[("到达时间", "before", "报警时间")]["first_row"] == 6
    assert aside[("签收时间", "unreadable", None)]["value"] == "2026-13-45 25:61:00"
    assert report.step_times["columns"]["on_scene_at"] == ["到达时间"]
    assert report.to_dict()["step_times"] == report.step_times


def test_every_set_aside_step_time_is_named_in_a_note_in_both_languages() -> None:
    _, _, report = ingest([KPI], "cn110")
    notes = [n for n in report.notes if "step time is left empty" in n]
    assert notes == [
        "cn110_kpi_synthetic.csv: 签收时间 in no listed format: 1 rows, e.g. row 7: "
        "'2026-13-45 25:61:00' (the step time is left empty, the call kept)",
        "cn110_kpi_synthetic.csv: 签收时间 before 派警时间: 1 rows, e.g. row 8 (the step "
        "time is left empty, the call kept)",
        "cn110_kpi_synthetic.csv: 到达时间 before 报警时间: 1 rows, e.g. row 6 (the step "
        "time is left empty, the call kept)",
    ]
    assert (
        "cn110_kpi_synthetic.csv：到达时间 早于 报警时间：1 行，例如第 6 行"
        "（该环节时间置空，警情保留）" in report.notes_zh
    )


def test_a_step_time_later_than_the_ingest_is_left_empty() -> None:
    now = pd.Timestamp("2026-03-03 14:10:00", tz="UTC")  # call 6 is 14:05 UTC
    table, _, report = ingest([KPI], "cn110", now=now, future_tolerance=pd.Timedelta(0))
    f = table.frame.set_index("source_row")
    assert pd.isna(f.loc[7, "cleared_at"])  # 22:18:20 local = 14:18:20 UTC > now
    assert f.loc[7, "on_scene_at"] == _utc("2026-03-03 14:08:20")
    future = [a for a in report.step_times["set_aside"] if a["reason"] == "future"]
    assert [(a["field"], a["rows"], a["first_row"]) for a in future] == [("反馈时间", 1, 7)]


def test_an_export_without_step_columns_has_them_all_empty() -> None:
    table, _, report = ingest([NO_STEPS], "cn110", frame="gcj02")
    for col in STEP_COLUMNS:
        assert table.frame[col].isna().all()
    assert report.step_times["set_aside"] == []
    assert set(report.step_times["columns"]) == {"received_at"}


def test_a_toml_mapping_names_step_columns(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'name = "kpi"\n[layout]\ntimezone = "Asia/Shanghai"\ntime = "报警时间"\n'
        'time_formats = ["%Y-%m-%d %H:%M:%S"]\ntype = "报警类别"\nscheme = "cn110"\n'
        '[layout.steps]\non_scene_at = "到达时间"\n'
        '[[layout.coords]]\nkind = "lonlat"\nx = "经度"\ny = "纬度"\n',
        encoding="utf-8",
    )
    table, _, report = ingest([KPI], profile_from_toml(mapping))
    f = table.frame.set_index("source_row")
    assert f.loc[2, "on_scene_at"] == _utc("2026-03-02 00:04:00")
    assert f["acknowledged_at"].isna().all()  # not mapped
    assert pd.isna(f.loc[6, "on_scene_at"])  # still checked against the call
    assert report.step_times["recorded"]["on_scene_at"] == 6


def test_an_unknown_step_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown step 'arrived'"):
        Layout(
            name="x",
            timezone="UTC",
            time="t",
            time_formats=("%Y",),
            type="k",
            coords=({"kind": "lonlat", "x": "a", "y": "b"},),  # type: ignore[arg-type]
            scheme="cn110",
            steps={"arrived": "到达时间"},
        )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[layout]\ntimezone = "UTC"\ntime = "t"\ntime_formats = ["%Y"]\ntype = "k"\n'
        'scheme = "cn110"\n[layout.steps]\narrived = "x"\n'
        '[[layout.coords]]\nkind = "lonlat"\nx = "a"\ny = "b"\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError, match="unknown step 'arrived'"):
        profile_from_toml(mapping)


def test_pinyin_codes_name_the_step_columns_but_not_the_shared_ddsj(tmp_path: Path) -> None:
    codes = "JJDBH,BJSJ,BJLB,JD,WD,BJRXM,BJDH,JQJB,CJDW,PJSJ,QSSJ,出警时间,DCSJ,FKSJ"
    lines = KPI.read_bytes().decode("gbk").split("\r\n")
    src = tmp_path / "pinyin.csv"
    src.write_bytes("\r\n".join([codes, *lines[1:]]).encode("gbk"))
    table, _, report = ingest([src], "cn110")
    assert report.step_times["recorded"] == {
        "dispatched_at": 7,
        "acknowledged_at": 4,
        "en_route_at": 7,
        "on_scene_at": 6,
        "cleared_at": 6,
    }
    assert table.frame["priority"].tolist()[:2] == ["一级", "一级"]
    ddsj = tmp_path / "ddsj.csv"  # DDSJ: 到达时间 or 调度时间? not read
    ddsj.write_bytes("\r\n".join([codes.replace("DCSJ", "DDSJ"), *lines[1:]]).encode("gbk"))
    table, _, report = ingest([ddsj], "cn110")
    assert table.frame["on_scene_at"].isna().all()
    assert "on_scene_at" not in report.step_times["columns"]


def test_each_step_is_checked_only_against_the_steps_its_kpi_needs(tmp_path: Path) -> None:
    # SYNTHETIC rows. Call 1: 出警 (08:00:30) before 签收 (08:00:50) and 到达 (08:02) before
    # 签收 (08:03): all kept, setting off counts as acknowledging. Call 2: 出警 (09:00:10)
    # before 派警 (09:00:20) -> empty; 到达 and 反馈 kept. Call 3: 反馈 (10:03) before 到达
    # (10:05) -> empty.
    head = "接警单编号,报警时间,报警类别,经度,纬度,派警时间,签收时间,出警时间,到达时间,反馈时间"
    rows = [
        "S1,2026-03-02 08:00:00,刑事,121.481,31.233,2026-03-02 08:00:20,"
        "2026-03-02 08:03:00,2026-03-02 08:00:30,2026-03-02 08:02:00,2026-03-02 08:20:00",
        "S2,2026-03-02 09:00:00,刑事,121.482,31.234,2026-03-02 09:00:20,"
        "2026-03-02 09:00:40,2026-03-02 09:00:10,2026-03-02 09:04:00,2026-03-02 09:30:00",
        "S3,2026-03-02 10:00:00,刑事,121.483,31.235,2026-03-02 10:00:20,"
        "2026-03-02 10:00:40,2026-03-02 10:01:00,2026-03-02 10:05:00,2026-03-02 10:03:00",
    ]
    src = tmp_path / "order.csv"
    src.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    table, _, report = ingest([src], "cn110")
    f = table.frame.set_index("source_row")
    assert f.loc[2, "en_route_at"] == _utc("2026-03-02 00:00:30")
    assert f.loc[2, "acknowledged_at"] == _utc("2026-03-02 00:03:00")
    assert f.loc[2, "on_scene_at"] == _utc("2026-03-02 00:02:00")
    assert pd.isna(f.loc[3, "en_route_at"])
    assert f.loc[3, "on_scene_at"] == _utc("2026-03-02 01:04:00")
    assert pd.isna(f.loc[4, "cleared_at"])
    aside = {
        (a["field"], a["other"], a["rows"], a["first_row"]) for a in report.step_times["set_aside"]
    }
    assert aside == {("出警时间", "派警时间", 1, 3), ("反馈时间", "到达时间", 1, 4)}
