"""Hit rate, PAI and PEI on hand-worked grids (ties included), and the rolling origin.

Tie rule under test: cells tied with the risk at the cut-off are chosen at random and
the metrics are the expected value over that choice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import CRS

from xunfang.analyse.evaluate import (
    coverage_cells,
    default_start,
    hit_counts,
    hit_rate,
    pai,
    pei,
    rolling_origin,
    select_types,
    summarise,
)
from xunfang.analyse.forecast import NaiveCounts, rolling_windows
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable

UTM = CRS.from_epsg(32616)
TZ = "America/Chicago"

# 10 cells. Risk and the incidents of the test window per cell:
#   cell   0  1  2  3  4  5  6  7  8  9
RISK = np.array([9, 7, 7, 7, 5, 0, 0, 0, 0, 0], dtype=float)
COUNTS = np.array([1, 2, 0, 1, 3, 0, 1, 0, 0, 2], dtype=float)  # 10 incidents


def test_coverage_is_the_floor_of_the_share() -> None:
    assert coverage_cells(59_360, 0.01) == 593
    assert coverage_cells(59_360, 0.05) == 2968
    assert coverage_cells(59_360, 0.20) == 11872
    assert coverage_cells(10, 0.2) == 2
    assert coverage_cells(10, 0.05) == 0


def test_hit_rate_without_ties() -> None:
    # 10 % of 10 cells = cell 0 alone, which holds 1 of 10 incidents
    assert hit_rate(RISK, COUNTS, 0.1) == pytest.approx(0.1)
    # 50 %: cells 0-4 hold 1 + 2 + 0 + 1 + 3 = 7 incidents
    assert hit_rate(RISK, COUNTS, 0.5) == pytest.approx(0.7)


def test_hit_rate_with_ties_is_the_expected_value() -> None:
    # 20 % = 2 cells: cell 0 (1 incident) plus one of the three cells tied at 7
    # (cells 1, 2, 3 hold 2 + 0 + 1 = 3 incidents): expected 1 + 1/3 * 3 = 2 -> 0.2
    assert hit_rate(RISK, COUNTS, 0.2) == pytest.approx(0.2)
    # 30 % = 3 cells: 1 + 2/3 * 3 = 3 -> 0.3
    assert hit_rate(RISK, COUNTS, 0.3) == pytest.approx(0.3)
    # 70 % = 7 cells: cells 0-4 (7 incidents) + 2 of the 5 zero-risk cells, which hold
    # 1 + 2 = 3 incidents: 7 + 2/5 * 3 = 8.2 -> 0.82
    assert hit_rate(RISK, COUNTS, 0.7) == pytest.approx(0.82)


def test_pai_and_pei_hand_worked() -> None:
    # 20 %: hit rate 0.2 over 0.2 of the area -> PAI 1.0; the best 2 cells hold 3 + 2 = 5
    assert pai(RISK, COUNTS, 0.2) == pytest.approx(1.0)
    assert pei(RISK, COUNTS, 0.2) == pytest.approx(2.0 / 5.0)
    # 10 %: 0.1 / 0.1 = 1.0; best single cell holds 3
    assert pai(RISK, COUNTS, 0.1) == pytest.approx(1.0)
    assert pei(RISK, COUNTS, 0.1) == pytest.approx(1.0 / 3.0)
    # 50 %: 0.7 / 0.5 = 1.4; best 5 cells: 3 + 2 + 2 + 1 + 1 = 9
    assert pai(RISK, COUNTS, 0.5) == pytest.approx(1.4)
    assert pei(RISK, COUNTS, 0.5) == pytest.approx(7.0 / 9.0)


def test_mask_restricts_cells_and_incidents() -> None:
    mask = np.ones(10, dtype=bool)
    mask[[0, 9]] = False  # 8 active cells, 7 incidents inside
    hc = hit_counts(RISK, COUNTS, (0.25,), mask=mask)
    # 25 % of 8 = 2 cells among the tied 7s (cells 1-3 hold 3): expected 2/3 * 3 = 2
    assert hc.k_cells.tolist() == [2]
    assert hc.total == 7
    assert hc.hits[0] == pytest.approx(2.0)
    assert hc.pai[0] == pytest.approx((2 / 7) / 0.25)


def test_all_tied_risk_scores_the_area_share() -> None:
    flat = np.zeros(10)
    assert hit_rate(flat, COUNTS, 0.3) == pytest.approx(0.3)
    assert pai(flat, COUNTS, 0.3) == pytest.approx(1.0)


def test_no_incident_gives_nan_not_zero() -> None:
    assert np.isnan(hit_rate(RISK, np.zeros(10), 0.2))
    assert np.isnan(pei(RISK, np.zeros(10), 0.2))


def test_metric_input_errors() -> None:
    with pytest.raises(ValidationError, match="equal 1-d shapes"):
        hit_counts(RISK, COUNTS[:5])
    with pytest.raises(ValidationError, match="NaN"):
        hit_counts(np.full(10, np.nan), COUNTS)
    with pytest.raises(ValidationError, match=r"in \(0, 1\]"):
        coverage_cells(10, 0.0)
    with pytest.raises(ValidationError, match="zero area"):
        hit_counts(RISK, COUNTS, mask=np.zeros(10, dtype=bool))


def _table(rows: list[tuple[float, float, str, str]]) -> IncidentTable:
    """rows: (x_m, y_m, local time, type)."""
    local = pd.to_datetime([r[2] for r in rows]).tz_localize(TZ)
    frame = pd.DataFrame(
        {
            "incident_id": [str(i) for i in range(len(rows))],
            "occurred_at": local.tz_convert("UTC"),
            "time_precision": "minute",
            "type_group": ["property" if r[3] == "BURGLARY" else "violent" for r in rows],
            "type": [r[3] for r in rows],
            "x_m": [r[0] for r in rows],
            "y_m": [r[1] for r in rows],
        }
    )
    return IncidentTable(frame, UTM, TZ)


# a 4 x 1 grid of 100 m cells; training days 1-3, test days 4 and 5
ROWS = [
    (50, 50, "2024-01-01 10:00", "BURGLARY"),
    (50, 50, "2024-01-02 10:00", "BURGLARY"),
    (150, 50, "2024-01-03 10:00", "BATTERY"),
    (50, 50, "2024-01-04 09:00", "BURGLARY"),  # day 4: cell 0 and cell 3
    (350, 50, "2024-01-04 12:00", "BATTERY"),
    (150, 50, "2024-01-05 09:00", "BATTERY"),  # day 5: cell 1
]


def test_rolling_origin_trains_on_the_past_only() -> None:
    table = _table(ROWS)
    grid = Grid.from_bounds((0, 0, 399, 99), 100.0, UTM)
    windows = rolling_windows("2024-01-04", 2, "day", TZ)
    ev = rolling_origin(
        table,
        grid,
        {"naive": NaiveCounts(grid=grid, period_days=None)},
        windows,
        lookback_days=None,
        fractions=(0.25,),
    )
    rows = ev.rows.set_index("window")
    # day 4: training counts cell 0 = 2, cell 1 = 1 -> flags cell 0; 1 of 2 incidents
    assert rows.loc["2024-01-04 day", "hit_rate"] == pytest.approx(0.5)
    assert rows.loc["2024-01-04 day", "n_train"] == 3
    # day 5: training now includes day 4 (cell 0 = 3) -> flags cell 0; day 5 is in cell 1
    assert rows.loc["2024-01-05 day", "hit_rate"] == pytest.approx(0.0)
    assert rows.loc["2024-01-05 day", "pei"] == pytest.approx(0.0)
    s = summarise(ev.rows)
    assert s["hit_rate_mean"].iloc[0] == pytest.approx(0.25)
    assert s["hit_rate_q25"].iloc[0] == pytest.approx(0.125)
    assert s["hit_rate_q75"].iloc[0] == pytest.approx(0.375)


def test_rolling_origin_refuses_a_window_before_the_data() -> None:
    table = _table(ROWS)
    grid = Grid.from_bounds((0, 0, 399, 99), 100.0, UTM)
    with pytest.raises(ValidationError, match="with no incident before it"):
        rolling_origin(
            table,
            grid,
            {"naive": NaiveCounts(grid=grid)},
            rolling_windows("2023-12-30", 1, "day", TZ),
        )
    # the first incident's day at 00:00 local, the incident at midnight (known only to the
    # day): nothing before it. It used to pass (the check was on the UTC day) and fail in
    # the fit with "no incident between" two UTC times six hours apart
    dated = _table([(50, 50, "2024-01-01 00:00", "BURGLARY"), *ROWS[1:]])
    with pytest.raises(ValidationError) as err:
        rolling_origin(
            dated,
            grid,
            {"naive": NaiveCounts(grid=grid)},
            rolling_windows("2024-01-01", 2, "day", TZ),
        )
    assert str(err.value) == (
        "a test window starts at 2024-01-01 00:00, with no incident before it (first incident "
        "2024-01-01 00:00, local time): choose a later --start"
    )
    with pytest.raises(ValidationError, match="no test windows"):
        rolling_origin(table, grid, {"naive": NaiveCounts(grid=grid)}, [])


def test_type_filter_by_group_or_type() -> None:
    table = _table(ROWS)
    assert len(select_types(table, ["BURGLARY"])) == 3
    assert len(select_types(table, ["burglary"])) == 3
    assert len(select_types(table, ["violent"])) == 3
    with pytest.raises(ValidationError, match="match no type group"):
        select_types(table, ["ARSON"])


def test_default_start_takes_the_last_whole_windows() -> None:
    table = _table(ROWS)  # last incident 2024-01-05 09:00 local: the 5th is not complete
    assert default_start(table, "day", 2) == "2024-01-03"
    assert default_start(table, "night", 1) == "2024-01-03"
    # known only to the day (stored at local midnight, as Portland's calls): the last day
    # is in the data whole, so the last 2 days are the 4th and 5th (a new-user test found
    # evaluate leaving out the last day and the last week's by one day)
    dated = _table(ROWS)
    dated.frame["occurred_at"] = dated.frame["occurred_at"].dt.tz_convert(TZ).dt.normalize()
    dated.frame["time_precision"] = "day"
    assert default_start(dated, "day", 2) == "2024-01-04"
    assert default_start(dated, "week", 1) == "2023-12-30"
    # timed: 10 a day for 28 days, then 8 on the last day by 20:00 (a police district's
    # complete last day) -> the last day counts; 4 by noon (an export cut then) -> not
    days = pd.date_range("2024-02-01", periods=28, freq="D")
    full = [(50, 50, f"{d:%Y-%m-%d} {h:02d}:00", "BURGLARY") for d in days for h in range(8, 18)]
    late = [(50, 50, f"2024-02-29 {h:02d}:00", "BURGLARY") for h in range(13, 21)]
    assert default_start(_table(full + late), "day", 1) == "2024-02-29"
    noon = [(50, 50, f"2024-02-29 {h:02d}:00", "BURGLARY") for h in range(8, 12)]
    assert default_start(_table(full + noon), "day", 1) == "2024-02-28"


def test_a_bad_start_date_is_a_clear_error() -> None:
    from xunfang.analyse.forecast import rolling_windows
    from xunfang.errors import ValidationError as XValidationError

    for bad in ("2015-13-01", "abc"):
        with pytest.raises(XValidationError, match="--start must be a date like 2015-06-01"):
            rolling_windows(bad, 2, "night", "America/Chicago")


def test_incidents_in_the_area_are_those_in_its_cells() -> None:
    """An L-shaped area of three 100 m cells in a 2 x 2 grid (the top-right cell not in it):
    by hand, the points at (50, 50), (150, 50) and (50, 150) are in, (150, 150) is in the
    rectangle but not the area, (250, 50) is outside the rectangle."""
    import shapely

    from xunfang.analyse.evaluate import _n_in_area

    ell = shapely.Polygon([(0, 0), (200, 0), (200, 100), (100, 100), (100, 200), (0, 200)])
    grid = Grid.from_polygon(ell.buffer(-1), 100.0, UTM)
    assert grid.n_active == 3
    t = "2024-01-01 10:00"
    pts = [(50, 50), (150, 50), (50, 150), (150, 150), (250, 50)]
    table = _table([(x, y, t, "BURGLARY") for x, y in pts])
    assert _n_in_area(table, grid) == 3


def test_a_grid_of_too_many_cells_is_refused_with_the_cell_size_that_fits() -> None:
    from xunfang.analyse.evaluate import MAX_GRID_CELLS, check_grid_size

    # 30 x 37.5 km: 5 m cells are 6,000 x 7,500 = 45 million; 34 m: 883 x 1,103 =
    # 973,949, under the million allowed (33 m: 910 x 1,137 = 1,034,670)
    bounds = (0.0, 0.0, 30_000.0, 37_500.0)
    check_grid_size(bounds, 34.0)
    with pytest.raises(ValidationError) as err:
        check_grid_size(bounds, 5.0)
    assert str(err.value) == (
        "--cell-m 5 over the study area (30.0 x 37.5 km) makes 45,000,000 cells, more than "
        f"{MAX_GRID_CELLS:,}: give --cell-m 34 or more"
    )
    from xunfang.serve._common import error_text

    assert error_text(str(err.value), "zh") == (
        "--cell-m 5 在研究区（30.0 x 37.5 公里）上会产生 45,000,000 个网格，超过 1,000,000 个："
        "请用 --cell-m 34 或更大"
    )


def test_date_only_incidents_left_out_of_part_day_windows_are_counted_once() -> None:
    """Day 4 has two incidents known only to the day (stored at its local midnight) and
    one at 09:00; day 5 one of each. 08-16 windows on days 4 and 5 score the timed ones
    and count 2 and 1 date-only ones left out (they counted 0: a new-user test); night
    windows count those stored in them, each day's once."""
    from xunfang.analyse.evaluate import ScoringEvents

    rows = [
        (50, 50, "2024-01-04 00:00", "BURGLARY"),
        (50, 50, "2024-01-04 00:00", "BURGLARY"),
        (150, 50, "2024-01-04 09:00", "BURGLARY"),
        (50, 50, "2024-01-05 00:00", "BURGLARY"),
        (250, 50, "2024-01-05 12:00", "BURGLARY"),
    ]
    table = _table(rows)
    table.frame["time_precision"] = ["day", "day", "minute", "day", "minute"]
    grid = Grid.from_bounds((0, 0, 399, 99), 100.0, UTM)
    ev = ScoringEvents.from_table(table, grid)
    shift = [ev.in_window(w, TZ) for w in rolling_windows("2024-01-04", 2, "08-16", TZ)]
    assert [(c.tolist(), n_out, n_date) for c, n_out, n_date in shift] == [
        ([1], 0, 2),
        ([2], 0, 1),
    ]
    nights = [ev.in_window(w, TZ) for w in rolling_windows("2024-01-03", 2, "night", TZ)]
    assert [n_date for _c, _o, n_date in nights] == [2, 1]  # 3-4 Jan holds 4 Jan 00:00
