"""`xunfang deploy`'s deployment.csv feeds the simulation's third scenario."""

from __future__ import annotations

import pandas as pd
import pytest

from xunfang.simulate.units import from_planner_table

ROWS = [
    # officer, unit, post_kind, start, end
    ("o1", "V1", "mobile", "Mon 08:00", "Mon 10:00"),
    ("o2", "V1", "mobile", "Mon 08:00", "Mon 10:00"),  # same crew: one car
    ("o3", "", "foot", "Sun 22:00", "Mon 00:00"),  # wraps over the week's end
    ("o4", "", "rule", "Fri 14:00", "Fri 16:00"),
    ("o5", "", "booth", "Mon 08:00", "Mon 10:00"),  # already in the booth scenario
    ("o6", "", "reserve", "Mon 08:00", "Mon 10:00"),
    ("o7", "", "relief", "Mon 08:00", "Mon 10:00"),
]


def test_planner_rows_become_units() -> None:
    frame = pd.DataFrame(ROWS, columns=["officer", "unit", "post_kind", "start", "end"])
    frame["lon"], frame["lat"] = "-87.63", "41.88"
    out = from_planner_table(frame)
    assert out[
        ["unit_id", "kind", "block_start_hour_of_week", "block_end_hour_of_week", "mode"]
    ].values.tolist() == [
        ["V:V1", "patrol", "8", "10", "car"],
        ["O:o3:foot", "patrol", "166", "0", "foot"],
        ["O:o4:rule", "booth", "110", "112", "foot"],
    ]


def test_bad_time_is_refused() -> None:
    frame = pd.DataFrame(
        [("o1", "V1", "mobile", "Monday 8am", "Mon 10:00")],
        columns=["officer", "unit", "post_kind", "start", "end"],
    )
    frame["lon"], frame["lat"] = "-87.63", "41.88"
    with pytest.raises(ValueError, match="not like 'Mon 08:00'"):
        from_planner_table(frame)
