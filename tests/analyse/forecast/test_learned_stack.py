"""The stacked ensemble on hand-made (synthetic) surfaces and event histories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_forecasters import TZ, day, strip, table
from test_learned import _history

from xunfang.analyse.forecast import NaiveCounts, StackedEnsemble, make_forecaster
from xunfang.analyse.forecast.stack import poisson_nonnegative_weights
from xunfang.errors import ValidationError


def test_poisson_weights_recover_a_known_non_negative_mix() -> None:
    rng = np.random.default_rng(1)
    s = rng.random((400, 3))
    counts = s @ np.array([2.0, 0.0, 0.5])  # the expected counts themselves: the MLE is exact
    w = poisson_nonnegative_weights(s, counts, n_iter=5000)
    np.testing.assert_allclose(w, [2.0, 0.0, 0.5], atol=2e-3)
    assert (w >= 0).all()
    # a surface that is zero everywhere gets weight 0
    z = np.column_stack([s[:, 0], np.zeros(400)])
    assert poisson_nonnegative_weights(z, s[:, 0]).tolist() == pytest.approx([1.0, 0.0])
    with pytest.raises(ValidationError, match="non-negative"):
        poisson_nonnegative_weights(-s, counts)


def test_stack_weights_the_base_that_forecast_the_past() -> None:
    """Cell 0 is busy every day, cell 2 every fourth day: the 7-day counts miss cell 2 on
    some days, so the year's counts (which never do) carry the weight."""
    grid = strip(3)
    end = pd.Timestamp("2024-02-01", tz=TZ)
    bases = (NaiveCounts(grid=grid, period_days=2.0), NaiveCounts(grid=grid, period_days=None))
    model = StackedEnsemble(grid=grid, bases=bases, n_origins=20, origin_step_days=1.0)
    model.fit(table(_history()), end=end)
    assert model.weights_[1] > 0.9 and model.weights_[0] < 0.1
    risk = model.predict(day("2024-02-01")).risk
    assert risk[0] > risk[2] > risk[1] == 0.0
    # the forecast is the weighted sum of the bases refitted on all the history
    yearly = NaiveCounts(grid=grid, period_days=None).fit(table(_history()), end=end)
    short = NaiveCounts(grid=grid, period_days=2.0).fit(table(_history()), end=end)
    np.testing.assert_allclose(
        risk,
        model.weights_[0] * short.predict(day("2024-02-01")).risk
        + model.weights_[1] * yearly.predict(day("2024-02-01")).risk,
    )
    assert make_forecaster("stack", grid).describe().startswith("stack(bases=[default]")
