"""签收/出警/到场/反馈 KPIs of a history, worked by hand on the SYNTHETIC 110 export
tests/fixtures/cn110_kpi_synthetic.csv (7 calls; seconds from each call's 报警时间):

====  ====  ====  ====  ====  =====  ==============  ======  ==========
call  派警  签收  出警  到达  反馈    单位             级别    note
====  ====  ====  ====  ====  =====  ==============  ======  ==========
1     20    40    60    240   1440   南京东路派出所  一级
2     30    75    100   360   2160   南京东路派出所  一级
3     10    40    50    300   2700   外滩派出所      二级
4     15    —     90    420   —      外滩派出所      二级    blanks
5     20    35    50    -600  1500   外滩派出所      二级    到达 before 报警 -> empty
6     25    bad   55    200   800    人民广场派出所  (none)  签收 unreadable -> empty
7     60    50    100   280   1280   人民广场派出所  一级    签收 before 派警 -> empty
====  ====  ====  ====  ====  =====  ==============  ======  ==========

签收 (派警 -> 签收, <= 30 s): 20, 45, 30, 15 measured; within 3; mean 110/4 = 27.5;
  p90 nearest rank of 4 = 4th = 45; not recorded 3 (calls 4, 6, 7).
出警 (派警 -> 出警, <= 60 s): 40, 70, 40, 75, 30, 30, 40; within 5; mean 325/7 = 46.429;
  p90 = 7th of 7 = 75.
到场 (报警 -> 到达, <= 300 s): 240, 360, 300, 420, 200, 280; within 4 (300 itself is
  within); mean 1800/6 = 300; p90 = 6th of 6 = 420; not recorded 1 (call 5).
反馈 (到达 -> 反馈, <= 1800 s): 1200, 1800, 2400, 600, 1000; within 4; mean 7000/5 = 1400;
  p90 = 5th of 5 = 2400; not recorded 2 (calls 4, 5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xunfang.analyse.kpi_history import BLANK, kpi_history, nearest_rank, step_durations
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import ingest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STD = {"acknowledge": 30.0, "depart": 60.0, "arrive": 300.0, "feedback": 1800.0}
COLS = ["calls", "measured", "not_recorded", "within", "share_within", "mean_s", "p90_s", "max_s"]


@pytest.fixture(scope="module")
def kpi_table() -> pd.DataFrame:
    table, _, _ = ingest([FIXTURES / "cn110_kpi_synthetic.csv"], "cn110")
    return kpi_history(table.frame, STD, table.timezone).table


def _row(t: pd.DataFrame, dim: str, group: str, step: str) -> list[object]:
    sub = t[(t["dimension"] == dim) & (t["group"] == group) & (t["step"] == step)]
    assert len(sub) == 1
    return [None if pd.isna(v) else v for v in sub[COLS].iloc[0].tolist()]


def test_overall_kpis_match_the_hand_worked_values(kpi_table: pd.DataFrame) -> None:
    t = kpi_table
    assert _row(t, "overall", "all", "acknowledge") == [7, 4, 3, 3, 0.75, 27.5, 45.0, 45.0]
    assert _row(t, "overall", "all", "depart") == [7, 7, 0, 5, 0.7143, 46.429, 75.0, 75.0]
    assert _row(t, "overall", "all", "arrive") == [7, 6, 1, 4, 0.6667, 300.0, 420.0, 420.0]
    assert _row(t, "overall", "all", "feedback") == [7, 5, 2, 4, 0.8, 1400.0, 2400.0, 2400.0]
    assert (t["measured"] + t["not_recorded"] + t["too_long"] == t["calls"]).all()
    assert (t["too_long"] == 0).all()


def test_kpis_by_unit_priority_type_and_hour(kpi_table: pd.DataFrame) -> None:
    t = kpi_table
    # 到场 by handling unit: 南京东路 240, 360; 外滩 300, 420 (call 5 not recorded);
    # 人民广场 200, 280
    assert _row(t, "unit", "南京东路派出所", "arrive") == [2, 2, 0, 1, 0.5, 300.0, 360.0, 360.0]
    assert _row(t, "unit", "外滩派出所", "arrive") == [3, 2, 1, 1, 0.5, 360.0, 420.0, 420.0]
    assert _row(t, "unit", "人民广场派出所", "arrive") == [2, 2, 0, 2, 1.0, 240.0, 280.0, 280.0]
    # 签收 by priority: 一级 = calls 1, 2, 7 (20, 45; call 7 set aside); call 6 has none
    assert _row(t, "priority", "一级", "acknowledge") == [3, 2, 1, 1, 0.5, 32.5, 45.0, 45.0]
    assert _row(t, "priority", "二级", "acknowledge") == [3, 2, 1, 2, 1.0, 22.5, 30.0, 30.0]
    assert _row(t, "priority", BLANK, "acknowledge") == [1, 0, 1, 0, None, None, None, None]
    # 交通 = traffic: calls 6 and 7, 反馈 600 and 1000
    assert _row(t, "type_group", "traffic", "feedback") == [2, 2, 0, 2, 1.0, 800.0, 1000.0, 1000.0]
    # hour of the call, Shanghai time: calls 1 and 2 at 08h; call 7 at 23h
    assert _row(t, "hour", "8", "arrive") == [2, 2, 0, 1, 0.5, 300.0, 360.0, 360.0]
    assert _row(t, "hour", "23", "depart") == [1, 1, 0, 1, 1.0, 40.0, 40.0, 40.0]
    assert list(dict.fromkeys(t["dimension"])) == [
        "overall",
        "type_group",
        "priority",
        "unit",
        "hour",
    ]
    assert list(dict.fromkeys(t.loc[t["dimension"] == "hour", "group"])) == [
        "8",
        "9",
        "14",
        "22",
        "23",
    ]


def test_a_history_without_step_times_is_not_recorded_never_within() -> None:
    table, _, _ = ingest([FIXTURES / "cn110_synthetic.csv"], "cn110", frame="gcj02")
    k = kpi_history(table.frame, STD, table.timezone)
    overall = k.table[k.table["dimension"] == "overall"]
    assert overall["calls"].tolist() == [6, 6, 6, 6]
    assert overall["not_recorded"].tolist() == [6, 6, 6, 6]
    assert overall["within"].tolist() == [0, 0, 0, 0]
    assert overall["share_within"].isna().all()
    assert k.recorded == {"acknowledge": 0, "depart": 0, "arrive": 0, "feedback": 0}
    assert not k.has_priority and k.unit_column == "unit"  # 管辖单位


def test_a_table_ingested_before_step_times_counts_them_not_recorded() -> None:
    frame = pd.DataFrame(
        {"occurred_at": pd.to_datetime(["2026-03-02 00:00:00"], utc=True), "type_group": ["x"]}
    )
    d = step_durations(frame)
    assert np.isnan(d["arrive"].to_numpy()).all()
    k = kpi_history(frame, STD, "Asia/Shanghai")
    assert _row(k.table, "overall", "all", "arrive") == [1, 0, 1, 0, None, None, None, None]


def test_nearest_rank_p90() -> None:
    assert nearest_rank(np.arange(1.0, 11.0)) == 9.0
    assert nearest_rank(np.array([15.0, 20.0, 30.0, 45.0])) == 45.0
    assert nearest_rank(np.array([5.0])) == 5.0
    assert nearest_rank(np.array([])) is None


def test_a_missing_standard_is_refused() -> None:
    frame = pd.DataFrame({"occurred_at": pd.to_datetime([], utc=True)})
    with pytest.raises(ValidationError, match="feedback must be a positive number"):
        kpi_history(frame, {**STD, "feedback": 0.0}, "UTC")


def test_priorities_sort_by_their_number() -> None:
    frame = pd.DataFrame(
        {
            "occurred_at": pd.to_datetime(["2026-03-02 00:00:00"] * 5, utc=True),
            "priority": ["三级", "一级", "二级", "", "其他"],
        }
    )
    t = kpi_history(frame, STD, "UTC").table
    order = list(dict.fromkeys(t.loc[t["dimension"] == "priority", "group"]))
    assert order == ["一级", "二级", "三级", "其他", BLANK]


def test_a_duration_longer_than_the_cap_is_counted_apart_not_measured() -> None:
    table, _, _ = ingest([FIXTURES / "cn110_kpi_synthetic.csv"], "cn110")
    frame = table.frame.copy()
    # call 1 (row 2): 反馈 25 h after 到达 -> too long; the other 反馈 durations are
    # 1800, 2400, 600, 1000: within 3, mean 5800 / 4 = 1450, p90 = 4th of 4 = 2400
    first = frame.index[frame["source_row"] == 2][0]
    frame.loc[first, "cleared_at"] = frame.loc[first, "on_scene_at"] + pd.Timedelta(hours=25)
    kpi = kpi_history(frame, STD, table.timezone)
    row = _row(kpi.table, "overall", "all", "feedback")
    assert row == [7, 4, 2, 3, 0.75, 1450.0, 2400.0, 2400.0]
    sub = kpi.table[(kpi.table["dimension"] == "overall") & (kpi.table["step"] == "feedback")]
    assert sub["too_long"].tolist() == [1]
    assert kpi.too_long == {
        "feedback": {
            "calls": 1,
            "file": "cn110_kpi_synthetic.csv",
            "row": 2,
            "seconds": 90_000.0,
        }
    }
    # exactly 24 h is still a measurement (the cap itself is included)
    frame.loc[first, "cleared_at"] = frame.loc[first, "on_scene_at"] + pd.Timedelta(hours=24)
    assert kpi_history(frame, STD, table.timezone).too_long == {}
