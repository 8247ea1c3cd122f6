"""Grid and where/when counts on a hand-worked fixture."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import CRS

from xunfang.analyse.grid import Grid
from xunfang.analyse.hotspots import shortest_window, summarise_hotspots, where_when
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable

UTM = CRS.from_epsg(32616)
TZ = "America/Chicago"


def _table(rows: list[tuple[float, float, str, str, str]]) -> IncidentTable:
    """rows: (x_m, y_m, type_group, local time, precision)."""
    local = pd.to_datetime([r[3] for r in rows]).tz_localize(TZ)
    frame = pd.DataFrame(
        {
            "incident_id": [str(i) for i in range(len(rows))],
            "occurred_at": local.tz_convert("UTC"),
            "time_precision": [r[4] for r in rows],
            "type_group": [r[2] for r in rows],
            "x_m": [r[0] for r in rows],
            "y_m": [r[1] for r in rows],
        }
    )
    return IncidentTable(frame, UTM, TZ)


def test_grid_cell_numbering() -> None:
    grid = Grid.from_bounds((0.0, 0.0, 299.0, 199.0), 100.0, UTM)
    assert (grid.nx, grid.ny, grid.n_cells) == (3, 2, 6)
    cells = grid.cell_of(np.array([[50, 50], [150, 50], [250, 150], [-1, 0], [np.nan, np.nan]]))
    assert cells.tolist() == [0, 1, 5, -1, -1]
    np.testing.assert_allclose(grid.centres(np.array([4])), [[150.0, 150.0]])


def test_grid_refuses_degrees_and_zero_area() -> None:
    with pytest.raises(ValidationError, match="geographic CRS"):
        Grid.from_bounds((0, 0, 1, 1), 100.0, "EPSG:4326")
    with pytest.raises(ValidationError, match="zero area"):
        Grid.from_bounds((5, 5, 5, 9), 100.0, UTM)


# 2024-01-01 is a Monday (weekday 0)
ROWS = [
    (50, 50, "vehicle", "2024-01-01 23:00", "minute"),  # A cell 0, Mon 23h -> hour of week 23
    (60, 40, "vehicle", "2024-01-02 01:00", "minute"),  # B cell 0, Tue 01h -> 25
    (50, 60, "vehicle", "2024-01-06 23:30", "minute"),  # C cell 0, Sat 23h -> 143
    (150, 150, "property", "2024-01-03 12:00", "minute"),  # D cell 4, Wed 12h -> 60
    (250, 150, "property", "2024-01-04 00:00", "day"),  # E cell 5, date only
    (500, 500, "property", "2024-01-04 10:00", "minute"),  # F outside the grid
]


def test_where_when_counts_by_hand() -> None:
    grid = Grid.from_bounds((0.0, 0.0, 299.0, 199.0), 100.0, UTM)
    ww = where_when(_table(ROWS), grid)
    assert ww.n_outside_grid == 1
    assert ww.n_date_only == 1
    assert ww.groups == ("vehicle", "property")
    assert ww.cell_counts.loc[0].to_dict() == {"vehicle": 3, "property": 0, "all": 3}
    assert ww.cell_counts.loc[4].to_dict() == {"vehicle": 0, "property": 1, "all": 1}
    assert ww.cell_counts.loc[5].to_dict() == {"vehicle": 0, "property": 1, "all": 1}
    veh = ww.hour_of_week[ww.group_index("vehicle")]
    assert np.flatnonzero(veh).tolist() == [23, 25, 143]
    assert ww.hour_of_day("vehicle")[[1, 23]].tolist() == [1, 2]
    assert ww.weekday("all").tolist() == [1, 1, 1, 0, 0, 1, 0]  # E has no hour: not counted
    assert len(ww.cell_hours) == 4


def test_shortest_window_wraps_midnight() -> None:
    hours = np.zeros(24)
    hours[[22, 23, 0, 1, 2, 12]] = [12, 10, 10, 10, 10, 5]
    # 57 in all, half is 28.5; no two hours reach it (best 22), three do: 22:00-01:00
    # holds 32, more than 23:00-02:00 or 00:00-03:00 (30 each)
    assert shortest_window(hours, 0.5) == (22, 25, pytest.approx(32 / 57))
    assert shortest_window(np.zeros(24)) == (0, 24, 0.0)


def test_hotspot_summary_and_sentence() -> None:
    grid = Grid.from_bounds((0.0, 0.0, 299.0, 199.0), 100.0, UTM)
    ww = where_when(_table(ROWS), grid)
    (veh,) = summarise_hotspots(ww, n_cells=1, groups=["vehicle"], min_incidents=3)
    assert veh.cells.tolist() == [0]
    assert veh.incident_share == 1.0
    assert veh.area_share == pytest.approx(1 / 6)
    # hours 23, 1, 23: one hour (23:00-24:00) holds 2 of 3 >= half
    assert veh.window == (23, 24)
    assert veh.window_share == pytest.approx(2 / 3)
    assert veh.peak_days == (0, 1)
    assert veh.sentence("vehicle-related") == (
        "Vehicle-related incidents concentrate in these 1 cells (16.7% of the area's grid "
        "cells, 100.0% of the group's 3): 67% of them between 23:00 and 00:00; busiest on "
        "Monday and Tuesday."
    )
    assert veh.sentence("涉车", "zh").startswith("涉车警情集中在这1个网格")
    assert summarise_hotspots(ww, n_cells=1, groups=["vehicle"], min_incidents=4) == []


def test_kde_keeps_mass_and_centre_value() -> None:
    grid = Grid.from_bounds((0.0, 0.0, 2099.0, 2099.0), 100.0, UTM)  # 21 x 21 cells
    ww = where_when(_table([(1050, 1050, "vehicle", "2024-01-01 10:00", "minute")]), grid)
    dens = ww.kde("vehicle", bandwidth_m=100.0)  # sigma = 1 cell
    assert dens.sum() * grid.cell_area_km2 == pytest.approx(1.0, abs=1e-12)
    x = np.arange(-4, 5)
    w0 = 1.0 / np.exp(-(x**2) / 2).sum()  # discrete Gaussian weight at the centre, 1-D
    assert dens.max() == pytest.approx(w0**2 / grid.cell_area_km2)
    with pytest.raises(ValidationError, match="bandwidth_m must be positive"):
        ww.kde("vehicle", bandwidth_m=0)
