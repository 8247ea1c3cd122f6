"""The grid self-exciting point process: vectorised sums, EM parameter recovery, forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import CRS

from xunfang.analyse.forecast import (
    GridETAS,
    TrainingEvents,
    Window,
    simulate_grid_etas,
    simulate_sepp,
)
from xunfang.analyse.forecast._base import from_days
from xunfang.analyse.forecast.sepp import decay_sums
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable

UTM = CRS.from_epsg(32616)
PER_CELL = {"background_k_neighbours": None, "background_bandwidth_m": 0.0}
"""One free background rate per cell, as the simulations draw them."""
CELL = {"trigger_bandwidth_m": 0.0, **PER_CELL}
"""The same-cell grid model of Mohler et al. (2015), the old default."""
T0 = pd.Timestamp("2010-01-01", tz="UTC")


def _table(
    grid: Grid, cell: np.ndarray, t_day: np.ndarray, xy: np.ndarray | None = None
) -> IncidentTable:
    xy = grid.centres(cell) if xy is None else xy
    frame = pd.DataFrame(
        {
            "occurred_at": T0 + pd.to_timedelta(t_day, unit="D"),
            "time_precision": "minute",
            "x_m": xy[:, 0],
            "y_m": xy[:, 1],
        }
    )
    return IncidentTable(frame, UTM, "UTC")


def test_decay_sums_match_the_pairwise_definition() -> None:
    rng = np.random.default_rng(3)
    group = np.sort(rng.integers(0, 6, 80))
    s = np.concatenate([np.sort(rng.uniform(0, 300, int((group == g).sum()))) for g in range(6)])
    a, b = decay_sums(s, group, 0.3)
    same = (group[:, None] == group[None, :]) & (np.arange(80)[:, None] > np.arange(80)[None, :])
    delta = s[:, None] - s[None, :]
    kern = np.where(same, np.exp(-0.3 * np.where(same, delta, 0.0)), 0.0)
    np.testing.assert_allclose(a, kern.sum(axis=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        b, (kern * np.where(same, delta, 0.0)).sum(axis=1), rtol=1e-7, atol=1e-9
    )
    # the first event of each group has nothing before it
    first = np.r_[True, group[1:] != group[:-1]]
    assert (a[first] == 0).all()


@pytest.mark.parametrize("seed", [7, 11])
def test_em_recovers_the_simulated_parameters(seed: int) -> None:
    """100 cells with background rates 0.02-0.1 per day, theta = 0.4 offspring per
    event, mean delay 1/omega = 2 days, 2000 days (about 20,000 events).

    Tolerances: theta within 0.04, omega within 10 %, the total background rate within
    5 %, and per-cell background rates correlated above 0.9 with the truth."""
    rng = np.random.default_rng(seed)
    grid = Grid.from_bounds((0.0, 0.0, 999.0, 999.0), 100.0, UTM)
    mu = rng.uniform(0.02, 0.1, grid.n_cells)
    cell, t = simulate_grid_etas(mu, 0.4, 0.5, 2000.0, rng)
    assert 15_000 < len(t) < 25_000
    m = GridETAS(grid=grid, tol=1e-6, max_iter=600, **CELL).fit(
        _table(grid, cell, t), start=T0, end=T0 + pd.Timedelta(days=2000)
    )
    assert m.trace_.converged
    assert m.theta_ == pytest.approx(0.4, abs=0.04)
    assert m.omega_ == pytest.approx(0.5, rel=0.10)
    assert m.mu_.sum() == pytest.approx(mu.sum(), rel=0.05)
    assert np.corrcoef(m.mu_, mu)[0, 1] > 0.9


@pytest.mark.parametrize("seed", [1, 2])
def test_space_time_em_recovers_strength_delays_and_bandwidths(seed: int) -> None:
    """Events simulated by the space-time model itself (:func:`simulate_sepp`): a 6 x 6
    km square of 500 m cells, background 0.5 events/day in all (rates 0.5-1.5 x the
    mean), 5000 days (about 4,200 events); a fast component (0.1 offspring, mean delay
    0.1 day = 2.4 h, 20 m) and a slow one (0.3 offspring, 7 days, 100 m).

    Tolerances: total strength 0.4 +- 0.04 (offspring that land outside the square are
    lost, a 1-2 % bias down), each component's strength +- 0.03, slow mean delay
    within 15 %, fast within 20 %, bandwidths within 10 %, total background within
    10 %. The same-cell one-exponential model (the old default) fails them: on these
    events it finds a strength of about 0.29 and one mean delay of about 3 days."""
    rng = np.random.default_rng(seed)
    grid = Grid.from_bounds((0.0, 0.0, 5999.0, 5999.0), 500.0, UTM)
    mu = rng.uniform(0.5, 1.5, grid.n_cells) * 0.5 / grid.n_cells
    cell, t, xy = simulate_sepp(mu, grid, [0.1, 0.3], [10.0, 1 / 7], [20.0, 100.0], 5000.0, rng)
    assert 3_500 < len(t) < 5_000
    table = _table(grid, cell, t, xy)
    end = T0 + pd.Timedelta(days=5000)
    m = GridETAS(
        grid=grid,
        tol=1e-5,
        trigger_radius_m=500.0,
        trigger_max_days=60.0,
        trigger_min_m=10.0,
        fast_decay_days=0.25,
        **PER_CELL,
    ).fit(table, start=T0, end=end)
    assert m.trace_.converged
    (th_f, delay_f, sg_f), (th_s, delay_s, sg_s) = m.components_
    assert m.theta_ == pytest.approx(0.4, abs=0.04)
    assert th_f == pytest.approx(0.1, abs=0.03)
    assert th_s == pytest.approx(0.3, abs=0.03)
    assert delay_f == pytest.approx(0.1, rel=0.2)
    assert delay_s == pytest.approx(7.0, rel=0.15)
    assert 1 / m.omega_ == pytest.approx(delay_s)
    assert sg_f == pytest.approx(20.0, rel=0.1)
    assert sg_s == pytest.approx(100.0, rel=0.1)
    assert m.mu_.sum() == pytest.approx(mu.sum(), rel=0.1)
    old = GridETAS(grid=grid, tol=1e-5, **CELL).fit(table, start=T0, end=end)
    assert abs(old.theta_ - 0.4) > 0.04
    assert abs(1 / old.omega_ - 7.0) > 0.15 * 7.0


def test_space_time_forecast_spreads_to_neighbouring_cells() -> None:
    """With parameters set by hand, one event 2 days before the window at the centre of
    the middle cell of a 3 x 3 grid of 100 m cells: the day's triggered count is
    theta (exp(-2/7) - exp(-3/7)) = 0.3 * 0.0999 = 0.02997 in all, spread by the
    Gaussian of 100 m: the middle cell gets P(|X| < 50)^2 = 0.3829^2 = 0.1466 of it,
    each side cell 0.3829 * 0.2417 and each corner 0.2417^2 (0.2417 = P(50 < X < 150)
    = Phi(1.5) - Phi(0.5); what falls outside the grid is lost), the background 0.01
    per cell on top."""
    grid = Grid.from_bounds((0.0, 0.0, 299.0, 299.0), 100.0, UTM)
    m = GridETAS(grid=grid, fast_decay_days=None).fit(
        _table(grid, np.array([4]), np.array([8.0])), start=T0, end=T0 + pd.Timedelta(days=10)
    )
    m.mu_ = np.full(9, 0.01)
    m.components_ = np.array([[0.3, 7.0, 100.0]])
    m.trigger_max_days_ = 90.0
    risk = m.predict(Window(T0 + pd.Timedelta(days=10), T0 + pd.Timedelta(days=11))).risk
    total = 0.3 * (np.exp(-2 / 7) - np.exp(-3 / 7))
    inner, side = 0.38292, 0.24173  # P(|X| < 0.5 sd), P(0.5 < X < 1.5 sd)
    expect = 0.01 + total * np.outer([side, inner, side], [side, inner, side]).ravel()
    np.testing.assert_allclose(risk, expect, rtol=0.02)


def test_forecast_is_background_plus_decayed_triggering() -> None:
    """With parameters set by hand the day's expected count in a cell is
    mu * 1 + theta * (1 - exp(-omega)) * sum_i exp(-omega * age_i)."""
    grid = Grid.from_bounds((0.0, 0.0, 199.0, 99.0), 100.0, UTM)
    table = _table(grid, np.array([0, 0, 1]), np.array([1.0, 9.0, 5.0]))
    m = GridETAS(grid=grid, **CELL).fit(table, start=T0, end=T0 + pd.Timedelta(days=10))
    m.mu_ = np.array([0.1, 0.2])
    m.theta_, m.omega_ = 0.5, 0.25
    w = Window(T0 + pd.Timedelta(days=10), T0 + pd.Timedelta(days=11))
    risk = m.predict(w).risk
    carry0 = np.exp(-0.25 * 9.0) + np.exp(-0.25 * 1.0)
    carry1 = np.exp(-0.25 * 5.0)
    factor = 0.5 * (1.0 - np.exp(-0.25))
    np.testing.assert_allclose(risk, [0.1 + factor * carry0, 0.2 + factor * carry1])


def test_recent_event_raises_its_cell_risk() -> None:
    """Repeat victimisation: fitted on a self-exciting history, one extra event
    yesterday raises tomorrow's risk of its cell more than of any other cell."""
    rng = np.random.default_rng(5)
    grid = Grid.from_bounds((0.0, 0.0, 499.0, 499.0), 100.0, UTM)
    cell, t = simulate_grid_etas(np.full(grid.n_cells, 0.05), 0.5, 0.3, 600.0, rng)
    end = T0 + pd.Timedelta(days=601)
    base = GridETAS(grid=grid, **CELL).fit(_table(grid, cell, t), start=T0, end=end)
    cell2 = np.r_[cell, 12]
    t2 = np.r_[t, 600.0]
    more = GridETAS(grid=grid, **CELL).fit(_table(grid, cell2, t2), start=T0, end=end)
    w = Window(end, end + pd.Timedelta(days=1))
    gain = more.predict(w).risk - base.predict(w).risk
    assert more.theta_ > 0.3
    assert gain.argmax() == 12
    assert gain[12] > 0.1


def test_bad_parameters_and_simulation_inputs() -> None:
    grid = Grid.from_bounds((0.0, 0.0, 199.0, 99.0), 100.0, UTM)
    table = _table(grid, np.array([0]), np.array([1.0]))
    with pytest.raises(ValidationError, match="initial_theta"):
        GridETAS(grid=grid, initial_theta=1.5).fit(table)
    with pytest.raises(ValidationError, match="background_k_neighbours needs"):
        GridETAS(grid=grid, background_k_neighbours=5, background_bandwidth_m=0).fit(table)
    with pytest.raises(ValidationError, match="stable process"):
        simulate_grid_etas(np.ones(2), 1.2, 1.0, 10.0, np.random.default_rng(0))


@pytest.mark.parametrize("kind", ["cell", "space-time"])
@pytest.mark.parametrize("seed", [2, 3])
def test_warm_started_em_stops_within_its_tolerance_of_the_same_fixed_point(
    kind: str, seed: int
) -> None:
    """A refit on the history shifted by one day, warm-started from the fit before it
    (as ``auto`` and the rolling evaluation refit), against a cold fit and a reference
    run to ``tol=1e-9``: both stop within the tolerance (1e-3, relative) of the
    reference in every component's strength, delay and bandwidth and in the total
    background rate, and the warm start takes fewer EM steps (simulated events: the
    same-cell model on 100 cells over 400 days, about 3,600 events; the space-time
    model on 144 cells over 2000 days, about 1,700 events)."""
    rng = np.random.default_rng(seed)
    if kind == "cell":
        grid = Grid.from_bounds((0.0, 0.0, 999.0, 999.0), 100.0, UTM)
        mu = rng.uniform(0.02, 0.1, grid.n_cells)
        cell, t = simulate_grid_etas(mu, 0.4, 0.5, 400.0, rng)
        table, days = _table(grid, cell, t), 400.0
        params: dict[str, float] = {"trigger_bandwidth_m": 0.0}
    else:
        grid = Grid.from_bounds((0.0, 0.0, 5999.0, 5999.0), 500.0, UTM)
        mu = rng.uniform(0.5, 1.5, grid.n_cells) * 0.5 / grid.n_cells
        cell, t, xy = simulate_sepp(mu, grid, [0.1, 0.3], [10.0, 1 / 7], [20.0, 100.0], 2000.0, rng)
        table, days = _table(grid, cell, t, xy), 2000.0
        params = {"trigger_radius_m": 500.0, "trigger_max_days": 60.0, "trigger_min_m": 10.0}
    ev = TrainingEvents.from_table(table, grid)
    s0 = ev.start_day
    before, shifted = ev.between(s0, s0 + days - 31), ev.between(s0 + 1, s0 + days - 30)
    warm = GridETAS(grid=grid, warm_start=True, **params).fit_events(before)
    warm.fit_events(shifted)
    cold = GridETAS(grid=grid, **params).fit_events(shifted)
    ref = GridETAS(grid=grid, tol=1e-9, max_iter=5000, **params).fit_events(shifted)
    assert warm.tol == cold.tol == 1e-3
    assert ref.trace_.converged and warm.trace_.converged and cold.trace_.converged

    def values(m: GridETAS) -> np.ndarray:
        return np.r_[m.components_[:, :2].ravel(), m.components_[:, 2], m.mu_.sum()]

    for m in (warm, cold):
        ok = values(ref) > 0  # the same-cell model has no bandwidth
        rel = np.abs(values(m) - values(ref))[ok] / values(ref)[ok]
        assert rel.max() <= 1e-3
        assert rel.max() > 0  # not the reference itself: the test could fail
    assert warm.trace_.iterations < cold.trace_.iterations
    w = Window(from_days(shifted.end_day), from_days(shifted.end_day + 1.0))
    np.testing.assert_allclose(warm.predict(w).risk, cold.predict(w).risk, rtol=3e-3, atol=0)


def test_both_models_on_one_history_search_the_neighbours_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The space-time and the same-cell model fitted on the same events (as ``auto``
    scores them on each validation window) share the adaptive bandwidths: one search,
    and the same fits as with a search each."""
    from xunfang.analyse.forecast import sepp

    grid = Grid.from_bounds((0.0, 0.0, 499.0, 499.0), 100.0, UTM)
    rng = np.random.default_rng(8)
    cells = rng.choice(np.arange(25), 60)
    events = _table(grid, cells, np.sort(rng.uniform(0, 40, 60)))
    end = T0 + pd.Timedelta(days=41)
    searches = []
    real = sepp.knn_bandwidths

    def counted(*args: object) -> np.ndarray:
        searches.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sepp, "knn_bandwidths", counted)
    sepp._KNN_KEPT.clear()
    st = GridETAS(grid=grid).fit(events, start=T0, end=end)
    cell = GridETAS(grid=grid, trigger_bandwidth_m=0.0).fit(events, start=T0, end=end)
    assert len(searches) == 1
    sepp._KNN_KEPT.clear()  # a search each
    st2 = GridETAS(grid=grid).fit(events, start=T0, end=end)
    sepp._KNN_KEPT.clear()
    cell2 = GridETAS(grid=grid, trigger_bandwidth_m=0.0).fit(events, start=T0, end=end)
    assert len(searches) == 3
    for a, b in ((st, st2), (cell, cell2)):
        np.testing.assert_array_equal(a.mu_, b.mu_)
        np.testing.assert_array_equal(a.components_, b.components_)
