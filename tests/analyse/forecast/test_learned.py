"""The learned forecaster on hand-made (synthetic) event histories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_forecasters import TZ, day, strip, table

from xunfang.analyse.forecast import GradientBoosted, TrainingEvents, make_forecaster
from xunfang.analyse.forecast.learned import FEATURES


def _history() -> list[tuple[float, float, str]]:
    """Cell 0 of a 3-cell strip: one incident every day of December 2023 and January 2024
    at 10:00; cell 2: one every fourth day of January (the 1st, 5th, ...) and of
    December; cell 1: none (synthetic)."""
    rows = [
        (50.0, 50.0, f"{m}-{d:02d} 10:00") for m in ("2023-12", "2024-01") for d in range(1, 32)
    ]
    rows += [
        (250.0, 50.0, f"{m}-{d:02d} 15:00") for m in ("2023-12", "2024-01") for d in range(1, 32, 4)
    ]
    return rows


def test_features_are_worked_out_by_hand_and_read_nothing_at_or_after_the_origin() -> None:
    grid = strip(3)
    start, end = pd.Timestamp("2024-01-01", tz=TZ), pd.Timestamp("2024-02-01", tz=TZ)
    january = [r for r in _history() if r[2] >= "2024-01"]
    events = TrainingEvents.from_table(table(january), grid, start=start, end=end)
    model = GradientBoosted(grid=grid)
    origin = day("2024-01-29").start_day  # 28 days of history before it
    f = model.features(events, origin)
    col = {name: i for i, name in enumerate(FEATURES)}
    # cell 0: 7 events in the last 7 days, 28 in the last 28; the history is 28 days
    # long, so the 91- and 365-day rates are divided by 28 days too
    assert f[0, col["rate_7d"]] == pytest.approx(1.0)
    assert f[0, col["rate_28d"]] == pytest.approx(1.0)
    assert f[0, col["rate_365d"]] == pytest.approx(1.0)
    # cell 2: days 1, 5, ..., 25 before the 29th: 7 events in 28 days, 1 in the last 7
    assert f[2, col["rate_28d"]] == pytest.approx(7 / 28)
    assert f[2, col["rate_7d"]] == pytest.approx(1 / 7)
    assert f[1, col["rate_28d"]] == 0.0
    assert np.isnan(f[:, col["last_year_4w"]]).all()  # no history a year back
    assert f[:, col["x_cell"]].tolist() == [0.0, 1.0, 2.0]
    # an event planted at the origin and after it changes no feature
    planted = table(
        [*january, (150.0, 50.0, "2024-01-29 00:00"), (150.0, 50.0, "2024-01-30 12:00")]
    )
    events2 = TrainingEvents.from_table(planted, grid, start=start, end=end)
    np.testing.assert_array_equal(model.features(events2, origin), model.features(events, origin))


def test_gbm_ranks_the_busy_cell_first_and_scales_to_the_window() -> None:
    grid = strip(3)
    end = pd.Timestamp("2024-02-01", tz=TZ)
    model = make_forecaster("gbm:n_origins=21:min_samples_leaf=2:max_iter=50", grid)
    assert isinstance(model, GradientBoosted)
    model.fit(table(_history()), end=end)
    one = model.predict(day("2024-02-01")).risk
    assert one[0] > one[2] > one[1] >= 0.0
    week = model.predict(type(day("2024-02-01")).local("2024-02-01", 0, 24, TZ, days=7)).risk
    np.testing.assert_allclose(week, one * 7.0)
    assert set(model.feature_importance_) == set(FEATURES)
    assert model.feature_importance_["last_year_4w"] == 0.0  # no history a year back
    assert sum(model.feature_importance_.values()) == pytest.approx(1.0)
