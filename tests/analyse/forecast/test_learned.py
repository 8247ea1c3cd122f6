"""The learned forecaster on hand-made (synthetic) event histories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_forecasters import TZ, day, strip, table

from xunfang.analyse.forecast import GradientBoosted, TrainingEvents, make_forecaster
from xunfang.analyse.forecast.learned import (
    CONTEXT_FEATURES,
    EXTRA_FEATURES,
    FEATURES,
    CellContext,
)
from xunfang.analyse.forecast.select import error_text
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError

DAILY = "gbm:horizon_days=1:origin_step_days=1:n_origins=21:min_samples_leaf=2:max_iter=50"
"""A gbm that learns next-day counts at 21 daily origins (the history is two months)."""


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
    model = make_forecaster(DAILY, grid)
    assert isinstance(model, GradientBoosted)
    model.fit(table(_history()), end=end)
    one = model.predict(day("2024-02-01")).risk
    assert one[0] > one[2] > one[1] >= 0.0
    week = model.predict(type(day("2024-02-01")).local("2024-02-01", 0, 24, TZ, days=7)).risk
    np.testing.assert_allclose(week, one * 7.0)
    assert set(model.feature_importance_) == set(FEATURES)
    assert model.feature_importance_["last_year_4w"] == 0.0  # no history a year back
    assert sum(model.feature_importance_.values()) == pytest.approx(1.0)


def test_after_a_gap_the_counts_are_read_at_the_history_end_and_the_day_at_the_window() -> None:
    """December and January observed to 29 Jan 00:00 (a Monday), the window Thursday 1
    Feb: the counts as at 29 Jan (cell 0: 7 in the last 7 days), the day of week and
    dow_share of the Thursday (cell 0: 8 of its 59 events on Thursdays), and the forecast
    made from exactly those features."""
    grid = strip(3)
    start, end = pd.Timestamp("2023-12-01", tz=TZ), pd.Timestamp("2024-01-29", tz=TZ)
    january = [r for r in _history() if r[2] < "2024-01-29"]
    events = TrainingEvents.from_table(table(january), grid, start=start, end=end)
    model = make_forecaster(DAILY.replace("n_origins=21", "n_origins=7"), grid)
    assert isinstance(model, GradientBoosted)
    model.fit_events(events)
    w = day("2024-02-01")
    f = model.features(events, events.end_day, w.start_day)
    names = model.feature_names()
    assert f[0, names.index("rate_7d")] == pytest.approx(1.0)  # not 4 of 7 days
    assert f[0, names.index("day_of_week")] == 3.0  # Thursday (Monday 0)
    assert f[0, names.index("dow_share")] == pytest.approx(8 / 59)
    at_start = model.features(events, w.start_day)
    assert at_start[0, names.index("rate_7d")] == pytest.approx(4 / 7)
    direct = np.zeros(3)
    direct[:] = sum(m.predict(f[:, model.used_features_]) for m in model.models_)
    np.testing.assert_allclose(model.predict(w).risk, direct / len(model.models_))


def _context_events(
    rows: list[tuple[float, float, str]], grid: Grid, start: pd.Timestamp, end: pd.Timestamp
) -> TrainingEvents:
    return TrainingEvents.from_table(table(rows), grid, start=start, end=end)


def test_features_at_a_window_start_exclude_later_events_and_include_earlier_ones() -> None:
    """The required no-peeking test: own events and the type-mix (all types) events."""
    grid = strip(3)
    start, end = pd.Timestamp("2024-01-01", tz=TZ), pd.Timestamp("2024-02-15", tz=TZ)
    base = [r for r in _history() if r[2] >= "2024-01"]
    place = {"dist_station_m": np.array([10.0, 20.0, 30.0])}
    ctx = CellContext(place=place, all_events=_context_events(base, grid, start, end))
    model = GradientBoosted(grid=grid, context=ctx)
    w = day("2024-02-01")
    events = TrainingEvents.from_table(table(base), grid, start=start, end=end)
    f0 = model.features(events, w.start_day)
    names = model.feature_names()
    assert names[-5:] == (*CONTEXT_FEATURES, "dist_station_m")[-5:]
    assert f0[:, names.index("dist_station_m")].tolist() == [10.0, 20.0, 30.0]
    # cell 0: 31 events in January, all of them crime of this type: share 1
    assert f0[0, names.index("type_share_365d")] == pytest.approx(1.0)
    # planted at the window's start and later, in the empty cell 1: nothing changes
    later = [(150.0, 50.0, "2024-02-01 00:00"), (150.0, 50.0, "2024-02-03 12:00")]
    ev_late = TrainingEvents.from_table(table(base + later), grid, start=start, end=end)
    ctx_late = CellContext(place=place, all_events=_context_events(base + later, grid, start, end))
    np.testing.assert_array_equal(
        model.with_params(context=ctx_late).features(ev_late, w.start_day), f0
    )
    # one second before the start: the own-event features of cell 1 change
    before = [(150.0, 50.0, "2024-01-31 23:59")]
    ev_before = TrainingEvents.from_table(table(base + before), grid, start=start, end=end)
    f1 = model.features(ev_before, w.start_day)
    assert f1[1, names.index("rate_7d")] == pytest.approx(1 / 7)
    assert f0[1, names.index("rate_7d")] == 0.0
    # ... and planted only among all types, the type mix changes
    ctx_before = CellContext(
        place=place, all_events=_context_events(base + before, grid, start, end)
    )
    f2 = model.with_params(context=ctx_before).features(events, w.start_day)
    assert f2[1, names.index("all_rate_28d")] == pytest.approx(1 / 28)
    assert f0[1, names.index("all_rate_28d")] == 0.0
    assert f2[1, names.index("type_share_365d")] == 0.0  # none of this type


def test_near_repeat_and_the_stacked_features_match_single_origins() -> None:
    grid = strip(3)
    start, end = pd.Timestamp("2024-01-01", tz=TZ), pd.Timestamp("2024-02-15", tz=TZ)
    january = [r for r in _history() if r[2] >= "2024-01"]
    events = TrainingEvents.from_table(table(january), grid, start=start, end=end)
    model = GradientBoosted(grid=grid)
    names = model.feature_names()
    # one event 2.5 days before the origin in cell 1 of an otherwise empty history
    one = TrainingEvents.from_table(
        table([(150.0, 50.0, "2024-01-29 12:00")]), grid, start=start, end=end
    )
    f = model.features(one, day("2024-02-01").start_day)
    # Gaussian of 1 cell truncated at 2: centre weight 1 / (1 + 2 e^-1/2 + 2 e^-2) in x
    # and in y (one row of cells: only the centre)
    k0 = 1.0 / (1.0 + 2.0 * np.exp(-0.5) + 2.0 * np.exp(-2.0))
    assert f[1, names.index("near_repeat")] == pytest.approx(np.exp(-2.5 / 7.0) * k0 * k0)
    assert f[1, names.index("near_repeat_1d")] == pytest.approx(np.exp(-2.5) * k0 * k0)
    # the features of all training origins at once equal those of each origin alone
    ref = day("2024-02-10").start_day
    offsets = np.array([1, 2, 5, 9])
    stack = model._feature_stack(events, ref, offsets)
    for i, m in enumerate(offsets):
        np.testing.assert_allclose(stack[i], model.features(events, ref - m), rtol=1e-9)


def test_explain_gives_additive_log_rate_contributions() -> None:
    grid = strip(3)
    end = pd.Timestamp("2024-02-01", tz=TZ)
    model = make_forecaster(DAILY, grid)
    assert isinstance(model, GradientBoosted)
    model.fit(table(_history()), end=end)
    w = day("2024-02-01")
    risk = model.predict(w).risk
    ex = model.explain(w, np.array([0, 2]))
    total = ex.groupby("cell")["effect_log"].sum()
    # contributions differ between two cells by exactly their log-risk ratio
    assert total[0] - total[2] == pytest.approx(np.log(risk[0] / risk[2]), rel=1e-6)
    table_ = model.importance_table()
    assert table_["importance"].is_monotonic_decreasing
    with pytest.raises(ValidationError, match="not active cells"):
        model.explain(w, np.array([7]))


def test_bags_average_their_boosters_and_blend_counts_one_is_the_years_rate() -> None:
    grid = strip(3)
    end = pd.Timestamp("2024-02-01", tz=TZ)
    w = day("2024-02-01")
    spec = DAILY.replace("origin_step_days=1", "origin_step_days=2") + ":n_bags=2"
    model = make_forecaster(spec, grid)
    assert isinstance(model, GradientBoosted)
    model.fit(table(_history()), end=end)
    assert len(model.models_) == 2
    x = model.features(model.events_, w.start_day)[:, model.used_features_]
    by_bag = [np.asarray(m.predict(x)) for m in model.models_]
    assert not np.allclose(by_bag[0], by_bag[1])  # origins one day apart, other seeds
    risk = model.predict(w).risk
    np.testing.assert_allclose(risk, (by_bag[0] + by_bag[1]) / 2.0, rtol=1e-12)
    assert sum(model.feature_importance_.values()) == pytest.approx(1.0)
    # blend_counts=1: the trees are ignored, each cell's rate over the history (a year at
    # most) times the window's length. Cell 0: 62 events (every day of December and
    # January); cell 2: 16 (every fourth day of both months); cell 1: none.
    counts = model.with_params(blend_counts=1.0).fit(table(_history()), end=end)
    days = w.start_day - counts.events_.start_day
    np.testing.assert_allclose(counts.predict(w).risk, [62 / days, 0.0, 16 / days])
    half = model.with_params(blend_counts=0.5).fit(table(_history()), end=end)
    np.testing.assert_allclose(
        half.predict(w).risk, 0.5 * risk + 0.5 * np.array([62 / days, 0.0, 16 / days])
    )


def test_type_mix_reads_no_history_before_the_forecast_types_own() -> None:
    """All types' events older than the training period (more history than the model
    was given) change no feature; inside the period they do."""
    grid = strip(3)
    start, end = pd.Timestamp("2024-01-01", tz=TZ), pd.Timestamp("2024-02-15", tz=TZ)
    base = [r for r in _history() if r[2] >= "2024-01"]
    events = TrainingEvents.from_table(table(base), grid, start=start, end=end)
    early = pd.Timestamp("2023-06-01", tz=TZ)
    old = [(150.0, 50.0, "2023-11-20 12:00")]
    model = GradientBoosted(grid=grid)
    names = model.with_params(
        context=CellContext(all_events=_context_events(base, grid, early, end))
    ).feature_names()
    origin = day("2024-02-01").start_day

    def feats(rows: list[tuple[float, float, str]]) -> np.ndarray:
        ctx = CellContext(all_events=_context_events(rows, grid, early, end))
        return model.with_params(context=ctx).features(events, origin)

    np.testing.assert_array_equal(feats(base + old), feats(base))
    inside = feats([*base, (150.0, 50.0, "2024-01-20 12:00")])
    # one event of another type in cell 1 over the 31 days of January (the period)
    assert inside[1, names.index("all_rate_365d")] == pytest.approx(1 / 31)


def test_gbm_objectives_and_extra_features() -> None:
    grid = strip(3)
    end = pd.Timestamp("2024-02-01", tz=TZ)
    with pytest.raises(ValidationError, match="objective must be one of"):
        make_forecaster("gbm:objective=huber", grid).fit(table(_history()), end=end)
    with pytest.raises(ValidationError, match="blend_counts"):
        make_forecaster("gbm:blend_counts=1.5", grid).fit(table(_history()), end=end)
    ranker = make_forecaster(DAILY + ":objective=rank_xendcg:extra_features=true", grid)
    assert isinstance(ranker, GradientBoosted)
    assert ranker.feature_names()[-8:] == EXTRA_FEATURES
    ranker.fit(table(_history()), end=end)
    risk = ranker.predict(day("2024-02-01")).risk
    assert risk[0] > risk[2]  # the busy cell first
    # the ranking scores are put on the scale of the year's counts: 78 events / history
    days = day("2024-02-01").start_day - ranker.events_.start_day
    assert risk.sum() == pytest.approx(78 / days)


def test_every_type_as_the_forecast_type_reads_its_own_counts_as_the_type_mix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the forecast type is every type, the type mix is the type's own counts (read
    once): all_rate_28d = rate_28d, a share of 1 where the cell has events and NaN where
    it has none; the same values as computing them again."""
    from xunfang.analyse.forecast import learned

    grid = strip(3)
    start, end = pd.Timestamp("2024-01-01", tz=TZ), pd.Timestamp("2024-02-15", tz=TZ)
    rows = [r for r in _history() if r[2] >= "2024-01"]
    events = TrainingEvents.from_table(table(rows), grid, start=start, end=end)
    model = GradientBoosted(
        grid=grid, context=CellContext(all_events=_context_events(rows, grid, start, end))
    )
    names = model.feature_names()
    offsets = np.array([0, 3, 10])
    origin = day("2024-02-01").start_day
    f = model._feature_stack(events, origin, offsets)
    # cell 0: 31 events in the 31 days of January before 02-01: 1 a day; cell 2: 8
    np.testing.assert_array_equal(f[0, :, names.index("all_rate_28d")], [1.0, 0.0, 7 / 28])
    np.testing.assert_array_equal(
        f[:, :, names.index("all_rate_28d")], f[:, :, names.index("rate_28d")]
    )
    share = f[0, :, names.index("type_share_365d")]
    assert share[0] == 1.0 and np.isnan(share[1]) and share[2] == 1.0
    monkeypatch.setattr(learned, "_same_counts", lambda a, b: False)
    np.testing.assert_array_equal(model._feature_stack(events, origin, offsets), f)


@pytest.mark.parametrize("extra", [False, True])
def test_the_type_mix_computes_only_what_it_reads(
    monkeypatch: pytest.MonkeyPatch, extra: bool
) -> None:
    """All types' features are computed only for the columns the type mix reads; the
    values are those of the whole computation (another type's event in cell 1)."""
    from xunfang.analyse.forecast import learned

    grid = strip(3)
    start, end = pd.Timestamp("2024-01-01", tz=TZ), pd.Timestamp("2024-02-15", tz=TZ)
    rows = [r for r in _history() if r[2] >= "2024-01"]
    others = [*rows, (150.0, 50.0, "2024-01-20 12:00"), (150.0, 50.0, "2024-01-30 08:00")]
    events = TrainingEvents.from_table(table(rows), grid, start=start, end=end)
    ctx = CellContext(all_events=_context_events(others, grid, start, end))
    model = GradientBoosted(grid=grid, context=ctx, extra_features=extra)
    names = model.feature_names()
    offsets = np.array([0, 3, 10])
    origin = day("2024-02-01").start_day
    f = model._feature_stack(events, origin, offsets)
    # cell 1 at 02-01: 2 events of another type in the last 28 days
    assert f[0, 1, names.index("all_rate_28d")] == pytest.approx(2 / 28)
    assert f[0, 1, names.index("type_share_365d")] == 0.0
    monkeypatch.setattr(learned, "_CONTEXT_READS", None)
    np.testing.assert_array_equal(model._feature_stack(events, origin, offsets), f)


def test_max_rows_subsamples_only_above_the_cap() -> None:
    """60 cells x 21 daily origins = 1,260 training rows, all kept (``zero_rows=none``);
    incidents in cells 0 and 2 as in :func:`_history`."""
    grid = strip(60)
    end = pd.Timestamp("2024-02-01", tz=TZ)
    w = day("2024-02-01")
    full = make_forecaster(DAILY + ":zero_rows=none", grid).fit(table(_history()), end=end)
    assert isinstance(full, GradientBoosted)
    assert full.n_rows_ == 1260
    # a cap at or above the rows changes nothing, bit for bit
    capped = full.with_params(max_rows=1260).fit(table(_history()), end=end)
    assert capped.n_rows_ == 1260
    np.testing.assert_array_equal(capped.predict(w).risk, full.predict(w).risk)
    # a cap of 1,000 keeps each row with probability 1000/1260: binomial(1260, 0.794),
    # mean 1,000, sd 14.4, so 944-1,056 rows in 99.99 % of draws; the busy cell still
    # ranks first
    cut = full.with_params(max_rows=1000).fit(table(_history()), end=end)
    assert 944 <= cut.n_rows_ <= 1056
    risk = cut.predict(w).risk
    assert risk[0] > risk[2] > risk[1]
    # 1e3 in a spec reads as the float 1000.0: a whole number, taken (a tester's 1e3)
    assert full.with_params(max_rows=1000.0).fit(table(_history()), end=end).n_rows_ <= 1260
    for bad in (0, 999, 1.5, True, "abc"):
        with pytest.raises(ValidationError) as err:
            full.with_params(max_rows=bad).fit(table(_history()), end=end)
        assert str(err.value) == (
            f"max_rows must be a whole number of at least 1,000 (or none), got {bad!r}"
        )


def test_a_history_with_no_incident_in_any_target_period_is_a_validation_error() -> None:
    """Two incidents on 1 December, 21 daily origins from 11 January: every target period
    (one day) is empty. LightGBM's Poisson objective stopped the process there; a
    ValidationError lets ``forecast predict`` fall back to naive counts and ``auto`` skip
    the candidate (a new-user test on a district with 2 'service' incidents)."""
    grid = strip(3)
    end = pd.Timestamp("2024-02-01", tz=TZ)
    rows = [(50.0, 50.0, "2023-12-01 10:00"), (250.0, 50.0, "2023-12-01 11:00")]
    with pytest.raises(ValidationError) as err:
        make_forecaster(DAILY, grid).fit(table(rows), end=end)
    assert str(err.value) == (
        "gbm: no incident in the 1-day target periods of its 21 training origins (from "
        "2024-01-11, every 1 days; 2 incident(s) in the history): too few to learn from"
    )
    # in Chinese, as it reaches the note of a group forecast by naive counts instead
    assert error_text(str(err.value), "zh") == (
        "gbm：其 21 个训练起点（自 2024-01-11 起，每 1 天一个）之后 1 天的目标期内均无警情"
        "（历史中共 2 起）：警情太少，无法学习"
    )
