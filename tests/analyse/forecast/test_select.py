"""Automatic selection (method ``auto``): the one-standard-error rule on hand-made
scores, a selection that never reads the forecast window (synthetic incidents), the reuse
of scores across days, and one selection per type group."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from pyproj import CRS

from xunfang.analyse.evaluate import (
    FRACTIONS,
    Evaluation,
    hit_counts,
    paired_tests,
    rolling_origin,
    select_types,
    wilcoxon_min_windows,
    with_warm_start,
)
from xunfang.analyse.forecast import (
    TrainingEvents,
    Window,
    forecast_demand_weights,
    make_forecaster,
)
from xunfang.analyse.forecast.groups import PerGroup
from xunfang.analyse.forecast.select import (
    AutoSelect,
    Selection,
    note_text,
    one_se_choice,
    validation_windows,
)
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable
from xunfang.serve.forecast_report import verdict_text

UTM = CRS.from_epsg(32616)
TZ = "America/Chicago"
CANDS = ("naive:period_days=365", "naive:period_days=14", "kde:bandwidth_m=150:window_days=365")


# ----------------------------------------------------------------------------- reasons
def test_the_reason_reads_the_table_in_english_and_in_chinese() -> None:
    table = pd.DataFrame(
        {
            "candidate": ["naive:period_days=365", "kde:bandwidth_m=150"],
            "windows": [6, 6],
            "score_mean": [0.2512, 0.2601],
            "se_diff": [0.0123, 0.0],
        }
    )
    notes = [
        "time budget 60 s reached: 4 validation windows scored (212 incidents)",
        "gbm left out: history too short",
    ]
    sel = Selection(
        "2015-04-25", table["candidate"][0], table["candidate"][1], table, pd.DataFrame(), [], notes
    )
    assert sel.reason() == (
        "naive:period_days=365: mean validation score 0.251 over 6 windows with incidents, "
        "within one standard error (0.012) of the best, kde:bandwidth_m=150 (0.260), and "
        "simpler; time budget 60 s reached: 4 validation windows scored (212 incidents); "
        "gbm left out: history too short"
    )
    assert sel.reason("zh") == (
        "naive:period_days=365：在 6 个有警情的验证时段上平均得分 0.251，与最佳方法 "
        "kde:bandwidth_m=150（0.260）相差在一个标准误（0.012）之内，且更简单；"
        "已到时间预算 60 秒：已评分 4 个验证时段（212 起警情）；"
        "gbm 未参与选择：history too short"
    )
    skipped = (
        "sepp skipped: 3.20 s on the first validation window, so 6 windows and the final fit "
        "would take about 75 s, past the budget of 60 s"
    )
    assert note_text(skipped, "zh") == (
        "sepp 已跳过：第一个验证时段用时 3.20 秒，6 个时段加最终拟合约需 75 秒，超过预算 60 秒"
    )
    assert note_text(skipped) == skipped and note_text("other note", "zh") == "other note"
    # the simplest within one SE (naive) is not the preferred gbm, chosen for scoring higher
    table3 = pd.DataFrame(
        {
            "candidate": ["naive:period_days=365", "kde:bandwidth_m=150", "gbm"],
            "windows": [6, 6, 6],
            "score_mean": [0.2512, 0.2601, 0.2544],
            "se_diff": [0.0123, 0.0, 0.0150],
            "within_1se": [True, True, True],
        }
    )
    preferred = Selection(
        "2015-04-25", "gbm", table3["candidate"][1], table3, pd.DataFrame(), [], preferred="gbm"
    )
    assert preferred.reason() == (
        "gbm: mean validation score 0.254 over 6 windows with incidents, within one standard "
        "error (0.015) of the best, kde:bandwidth_m=150 (0.260), and the preferred setting, "
        "scoring no lower than the simpler naive:period_days=365 (0.251, the choice without a "
        "preference)"
    )
    # the preferred gbm not chosen: the reason says why (within one SE but lower)
    passed_over = Selection(
        "2015-04-25",
        table3["candidate"][0],
        table3["candidate"][1],
        table3.assign(score_mean=[0.2512, 0.2601, 0.2400]),
        pd.DataFrame(),
        [],
        preferred="gbm",
    )
    assert passed_over.reason().endswith(
        "and simpler (the preferred gbm scored 0.240, within its standard error (0.015) of "
        "the best but below this choice)"
    )
    assert passed_over.reason("zh").endswith(
        "（优先方法 gbm 得分 0.240，与最佳相差在其一个标准误（0.015）之内，但低于所选方法）"
    )
    # the incidents behind the scores, counted once per window (2 + 3 + 4, each window
    # scored for every candidate)
    scores3 = pd.DataFrame(
        {
            "candidate": [c for c in table3["candidate"] for _ in range(3)],
            "window": ["d1", "d2", "d3"] * 3,
            "n_events": [2, 3, 4] * 3,
        }
    )
    counted = dataclasses.replace(passed_over, scores=scores3)
    assert counted.validation_incidents == 9 and passed_over.validation_incidents is None
    assert counted.reason().startswith(
        "naive:period_days=365: mean validation score 0.251 over 6 windows with incidents "
        "(9 incidents), within"
    )
    assert counted.reason("zh").startswith(
        "naive:period_days=365：在 6 个有警情的验证时段（共 9 起警情）上平均得分 0.251，"
    )
    # not within: how far below the best, in its own standard errors
    far = dataclasses.replace(
        passed_over, table=passed_over.table.assign(within_1se=[True, True, False])
    )
    assert far.reason().endswith(
        "(the preferred gbm scored 0.240, more than its standard error (0.015) below the best)"
    )
    assert far.reason("zh").endswith(
        "（优先方法 gbm 得分 0.240，低于最佳超过其一个标准误（0.015））"
    )
    # one window scored: no standard error, and no "nan" shown (a new-user test saw it)
    one = dataclasses.replace(far, table=far.table.assign(se_diff=[0.0123, 0.0, np.nan]))
    assert one.reason().endswith(
        "(the preferred gbm scored 0.240, below the best; one window with incidents gives no "
        "standard error)"
    )
    assert "nan" not in one.reason("zh")
    assert preferred.reason("zh") == (
        "gbm：在 6 个有警情的验证时段上平均得分 0.254，与最佳方法 kde:bandwidth_m=150（0.260）"
        "相差在一个标准误（0.015）之内，且为优先方法，得分不低于更简单的 naive:period_days=365"
        "（0.251，若无优先方法则选它）"
    )


# ----------------------------------------------------------------------------- 1-SE rule
def test_one_se_rule_keeps_the_simpler_candidate_within_noise() -> None:
    scores = np.array(
        [
            [0.33, 0.32, 0.31, 0.30],  # simplest, mean .315
            [0.31, 0.35, 0.29, 0.33],  # best, mean .32
            [0.20, 0.22, 0.18, 0.20],  # mean .20
        ]
    )
    c = one_se_choice(scores)
    assert c.best == 1
    # differences best - simplest: -.02, .03, -.02, .03: mean .005, sd .025*2/sqrt(3)
    assert c.diff[0] == pytest.approx(0.005)
    assert c.se[0] == pytest.approx(0.025 * 2 / np.sqrt(3) / 2)
    assert c.within.tolist() == [True, True, False]
    assert c.chosen == 0 and c.n_windows == 4


def test_one_se_rule_takes_the_best_when_the_simpler_is_clearly_worse() -> None:
    scores = np.array(
        [
            [0.30, 0.32, 0.28, 0.30],  # best - this: .01, .03, .01, .03 -> mean .02
            [0.31, 0.35, 0.29, 0.33],
        ]
    )
    c = one_se_choice(scores)
    # sd of (.01, .03, .01, .03) = sqrt(4 * .01**2 / 3); se = sd / 2 = .005774 < .02
    assert c.se[0] == pytest.approx(np.sqrt(4e-4 / 3) / 2)
    assert c.chosen == 1 == c.best
    # a window with a NaN score is left out for every candidate; one window: the best
    one = one_se_choice(np.array([[0.2, np.nan], [0.3, 0.1]]))
    assert one.n_windows == 1 and one.chosen == 1
    with pytest.raises(ValidationError, match="no validation window"):
        one_se_choice(np.array([[np.nan], [0.1]]))


# ----------------------------------------------------------------------------- paired test
def test_a_preferred_candidate_is_chosen_only_within_one_se_of_the_best() -> None:
    scores = np.array(
        [
            [0.33, 0.32, 0.31, 0.30],  # simplest, mean .315, within (see above)
            [0.31, 0.35, 0.29, 0.33],  # best, mean .32
            [0.20, 0.22, 0.18, 0.20],  # mean .20: best - this = .12 each window, se 0
        ]
    )
    assert one_se_choice(scores, prefer=1).chosen == 1  # within: taken over the simplest
    assert one_se_choice(scores, prefer=0).chosen == 0
    # not within one SE: the rule as without a preference (the simplest within)
    assert one_se_choice(scores, prefer=2).chosen == 0
    assert one_se_choice(scores, prefer=None).chosen == 0
    # within one SE by its own wide spread but scoring lower than the simplest: not taken
    noisy = np.vstack([scores, [0.40, 0.10, 0.45, 0.15]])  # mean .275 < .315
    choice = one_se_choice(noisy, prefer=3)
    # differences to the best (row 1): -.09 .25 -.16 .18, mean .045, sd .2004, se .1002
    assert choice.diff[3] == pytest.approx(0.045) and choice.se[3] == pytest.approx(
        0.1002, abs=1e-4
    )
    assert choice.within[3] and choice.chosen == 0


def test_paired_tests_on_hand_numbers() -> None:
    w = [f"d{i}" for i in range(5)]
    a = [0.5, 0.6, 0.55, 0.7, 0.65]
    b = [0.4, 0.5, 0.5, 0.5, 0.6]  # d = .1, .1, .05, .2, .05
    rows = pd.DataFrame(
        {
            "method": ["m"] * 5 + ["naive"] * 5,
            "window": w * 2,
            "fraction": 0.05,
            "n_events": 400,
            "hit_rate": a + b,
        }
    )
    t = paired_tests(rows, "naive").iloc[0]
    d = np.array([0.1, 0.1, 0.05, 0.2, 0.05])
    assert t["mean_diff"] == pytest.approx(0.1)
    # t = mean / (sd / sqrt 5) = .1 / (.061237 / 2.23607) = 3.6515, 4 df: p = .02178
    assert t["t_p"] == pytest.approx(0.02178, abs=1e-4)
    # Wilcoxon signed-rank, all 5 differences positive: exact p = 2 / 2**5 = .0625
    assert t["wilcoxon_p"] == pytest.approx(0.0625)
    half = 2.776445 * d.std(ddof=1) / np.sqrt(5)
    assert (t["ci_lo"], t["ci_hi"]) == pytest.approx((0.1 - half, 0.1 + half), abs=1e-6)
    # sum of p(1-p) + q(1-q) over the windows = 2.405: sqrt(2.405 / 400) / 5
    assert t["noise_se"] == pytest.approx(0.0155081, abs=1e-6)
    # 2 * noise = .031 < 10 % of the baseline's mean hit rate .5
    assert not t["few_incidents"]
    # Wilcoxon's smallest p with 5 windows is .0625 > .05: no test, not "no difference"
    assert t["verdict"] == (
        "too few windows that differ to test: 5 of 5 windows differ (needs ≥ 6 for p < 0.05)"
    )
    assert (t["windows"], t["windows_differ"]) == (5, 5)
    # the same differences over windows of 100 incidents: 2 * sqrt(2.405 / 100) / 5 = .062 > .05
    few = paired_tests(rows.assign(n_events=100), "naive").iloc[0]
    assert few["few_incidents"] and few["verdict"] == t["verdict"]
    # a sixth window, d = .1: Wilcoxon 2 / 2**6 = .03125; d mean .1, sd .054772 (sum of
    # squared deviations .015 / 5), t = .1 / (.054772 / sqrt 6) = 4.4721, 5 df: p = .00657
    six = pd.concat(
        [rows, pd.DataFrame({"method": ["m", "naive"], "window": "d5", "fraction": 0.05,
                             "n_events": 400, "hit_rate": [0.6, 0.5]})],
        ignore_index=True,
    )  # fmt: skip
    t6 = paired_tests(six, "naive").iloc[0]
    assert t6["wilcoxon_p"] == pytest.approx(0.03125)
    assert t6["t_p"] == pytest.approx(0.00657, abs=1e-4)
    assert t6["verdict"] == "better"
    # the same over windows of 100 incidents: significant, so no longer "too few"
    few6 = paired_tests(six.assign(n_events=100), "naive").iloc[0]
    assert few6["few_incidents"] and few6["verdict"] == "better"
    # four windows: Wilcoxon's smallest p is 2 / 2**4 = .125
    four = paired_tests(rows[rows["window"] != "d4"], "naive").iloc[0]
    assert four["wilcoxon_p"] == pytest.approx(0.125)
    assert four["verdict"] == (
        "too few windows that differ to test: 4 of 4 windows differ (needs ≥ 6 for p < 0.05)"
    )
    assert [wilcoxon_min_windows(a) for a in (0.05, 0.01, 0.2)] == [6, 8, 4]
    # the tester's case: 14 windows paired, the hit rates equal in 9 of them (windows with
    # few incidents often tie): the Wilcoxon test drops the ties and 5 windows are left, so
    # the verdict says so, beside windows = 14 (it said "too few windows (needs ≥ 6)")
    ties = pd.DataFrame(
        {
            "method": ["m"] * 9 + ["naive"] * 9,
            "window": [f"t{i}" for i in range(9)] * 2,
            "fraction": 0.05,
            "n_events": 400,
            "hit_rate": [0.5] * 18,
        }
    )
    fourteen = paired_tests(pd.concat([rows, ties], ignore_index=True), "naive").iloc[0]
    assert (fourteen["windows"], fourteen["windows_differ"]) == (14, 5)
    assert fourteen["verdict"] == (
        "too few windows that differ to test: 5 of 14 windows differ (needs ≥ 6 for p < 0.05)"
    )
    assert verdict_text(fourteen["verdict"], "zh") == (
        "命中率不同的时段太少，无法检验：14 个时段中 5 个不同（p < 0.05 至少需要 6 个）"
    )
    assert verdict_text("worse", "zh") == "更差" and verdict_text("worse") == "worse"
    same = paired_tests(rows.assign(hit_rate=b + b), "naive").iloc[0]
    assert same["mean_diff"] == 0 and same["t_p"] == 1 and same["wilcoxon_p"] == 1
    assert not same["few_incidents"] and same["verdict"] == "the same in every window"


# ----------------------------------------------------------------------------- no peeking
def _history(burst_day: str | None, burst_n: int = 40) -> IncidentTable:
    """120 days (2015-01-01..04-30) of synthetic incidents on a 10 x 10 grid of 100 m
    cells: a steady hot cell, a hot cell that moves every 30 days, scattered noise; plus
    ``burst_n`` incidents in cell 77 at noon on ``burst_day``."""
    rng = np.random.default_rng(5)
    rows: list[tuple[float, float, pd.Timestamp]] = []
    for d in range(120):
        day = pd.Timestamp("2015-01-01") + pd.Timedelta(days=d)
        moving = (d // 30) * 23 % 100
        for cell, n in ((12, 2), (moving, 2)):
            for _ in range(rng.poisson(n)):
                rows.append((cell % 10 * 100 + 50.0, cell // 10 * 100 + 50.0, day))
        for _ in range(rng.poisson(3)):
            rows.append((rng.uniform(0, 1000), rng.uniform(0, 1000), day))
    if burst_day is not None:
        t = pd.Timestamp(burst_day) + pd.Timedelta(hours=12)
        rows += [(750.0, 750.0, t)] * burst_n
    rows.sort(key=lambda r: r[2])
    local = pd.DatetimeIndex([r[2] + pd.Timedelta(hours=9) for r in rows]).tz_localize(TZ)
    frame = pd.DataFrame(
        {
            "incident_id": [str(i) for i in range(len(rows))],
            "occurred_at": local.tz_convert("UTC"),
            "time_precision": "minute",
            "type_group": "property",
            "type": "BURGLARY",
            "x_m": [r[0] for r in rows],
            "y_m": [r[1] for r in rows],
        }
    )
    return IncidentTable(frame, UTM, TZ)


def _grid() -> Grid:
    return Grid.from_bounds((0.0, 0.0, 999.0, 999.0), 100.0, UTM)


def _select(table: IncidentTable, start: str = "2015-04-20") -> Evaluation:
    grid = _grid()
    auto = AutoSelect(
        grid=grid, candidates=CANDS, validation_windows=5, min_validation_events=0, budget_s=600
    )
    window = Window.local(start, 0, 24, TZ, label=start)
    return rolling_origin(table, grid, {"auto": auto}, [window], lookback_days=None)


def test_selection_never_reads_the_forecast_window() -> None:
    clean = _select(_history(None))
    assert list(clean.validation_scores["window"].unique()) == [
        f"2015-04-{d} validation" for d in (19, 18, 17, 16, 15)
    ]
    assert clean.rows["chosen"].iloc[0] in CANDS
    # a burst of 40 incidents in one cell inside the forecast window (and one the day after)
    for day in ("2015-04-20", "2015-04-21"):
        burst = _select(_history(day))
        assert burst.rows["n_events"].iloc[0] >= clean.rows["n_events"].iloc[0] + 40 * (
            day == "2015-04-20"
        )
        assert burst.rows["chosen"].iloc[0] == clean.rows["chosen"].iloc[0]
        for part in ("selections", "validation_scores"):
            pd.testing.assert_frame_equal(
                getattr(burst, part).drop(columns="seconds"),
                getattr(clean, part).drop(columns="seconds"),
            )
    # control: the same burst two days before the window is seen by the selection
    before = _select(_history("2015-04-18"))
    s0 = clean.validation_scores.set_index(["candidate", "window"])
    s1 = before.validation_scores.set_index(["candidate", "window"])
    key = (CANDS[0], "2015-04-18 validation")
    assert s1.loc[key, "n_events"] == s0.loc[key, "n_events"] + 40
    assert not np.allclose(s1["score"], s0["score"])


def test_auto_is_a_registered_method_and_chooses_by_the_rule() -> None:
    grid = _grid()
    table = _history(None)
    auto = make_forecaster("auto:validation_windows=4:min_validation_events=0:budget_s=600", grid)
    assert isinstance(auto, AutoSelect)
    auto = auto.with_params(candidates=CANDS)
    window = Window.local("2015-04-25", 0, 24, TZ)
    auto.fit(table.subset((table.frame["occurred_at"] < window.start).to_numpy()))
    fc = auto.predict(window)
    sel = auto.selection_
    tab = sel.table.set_index("candidate")
    scores = sel.scores.pivot(index="candidate", columns="window", values="score")
    assert tab["score_mean"].to_dict() == pytest.approx(scores.mean(axis=1).to_dict())
    choice = one_se_choice(scores.reindex(list(CANDS)).to_numpy())
    assert sel.chosen == CANDS[choice.chosen] and tab["chosen"].sum() == 1
    # the forecast is the chosen method's, fitted on all the history
    alone = make_forecaster(sel.chosen, grid).fit_events(auto.events_).predict(window)
    np.testing.assert_array_equal(fc.risk, alone.risk)
    assert sel.chosen in sel.reason()
    # the default preference (gbm) is not among CANDS: the plain rule, nothing preferred
    assert auto.prefer == "gbm" and sel.preferred == "" and "gbm" not in CANDS
    assert make_forecaster("auto:prefer=none", grid).get_params()["prefer"] is None
    # preferring the best candidate: it is chosen (it is always within one SE of itself)
    best = sel.best
    pref = auto.with_params(prefer=best)
    pref.fit(table.subset((table.frame["occurred_at"] < window.start).to_numpy()))
    pref.predict(window)
    assert pref.selection_.chosen == best and pref.selection_.preferred == best
    assert "prefer=" + best in pref.describe()
    # a preference that names no candidate is refused (it vanished without a word)
    for bad in ("kde", "nosuch"):
        with pytest.raises(ValidationError) as err:
            auto.with_params(prefer=bad).fit(table)
        assert str(err.value) == (
            f"prefer must be one of the candidates ({', '.join(CANDS)}) or none, got {bad!r}"
        )
    # sparse data: windows are added until they hold 100 incidents (about 7 a day here)
    more = auto.with_params(min_validation_events=100)
    more.fit(table.subset((table.frame["occurred_at"] < window.start).to_numpy()))
    more.predict(window)
    n = more.selection_.scores.drop_duplicates("window")["n_events"].to_numpy()
    assert n[:-1].sum() < 100 <= n.sum() and len(n) > 4


def test_budget_stops_adding_candidates_and_says_so() -> None:
    grid = _grid()
    auto = AutoSelect(grid=grid, candidates=CANDS, validation_windows=5, budget_s=1e-9)
    window = Window.local("2015-04-20", 0, 24, TZ)
    table = _history(None)
    before = table.subset((table.frame["occurred_at"] < window.start).to_numpy())
    auto.fit(before, end=window.start)
    auto.predict(window)
    sel = auto.selection_
    assert list(sel.table["candidate"]) == [CANDS[0]]  # the simplest is always scored
    assert sel.validation_windows == ["2015-04-19 validation"]
    assert "time budget" in sel.notes[0] and CANDS[2] in sel.notes[0]
    assert sel.chosen == CANDS[0]


def test_validation_windows_of_a_week_step_back_by_weeks() -> None:
    table = _history(None)
    grid = _grid()
    from xunfang.analyse.forecast import TrainingEvents

    ev = TrainingEvents.from_table(
        table.subset((table.frame["occurred_at"] < pd.Timestamp("2015-03-02", tz=TZ)).to_numpy()),
        grid,
        end=pd.Timestamp("2015-03-02", tz=TZ),
    )
    week = Window.local("2015-03-02", 0, 24, TZ, days=7)
    vws = validation_windows(week, ev, 3)
    assert [str(w.start.date()) for w in vws] == ["2015-02-23", "2015-02-16", "2015-02-09"]
    assert all(w.length_days == pytest.approx(7) for w in vws)


def test_validation_days_step_by_one_day_across_a_clock_change() -> None:
    # 2015-11-01 has 25 hours in Chicago (clocks go back): its validation days are the
    # days just before it, not every other day (a step of ceil(25 / 24) = 2 days)
    day = Window.local("2015-11-01", 0, 24, TZ)
    assert day.length_days == pytest.approx(25 / 24)
    history = TrainingEvents(
        t_day=np.zeros(0),
        xy=np.zeros((0, 2)),
        cell=np.zeros(0, dtype=np.int64),
        hour_of_week=np.zeros(0, dtype=np.int64),
        start_day=day.start_day - 60.0,
        end_day=day.start_day,
        timezone=TZ,
        n_outside=0,
    )
    vws = validation_windows(day, history, 3)
    assert [str(w.start.date()) for w in vws] == ["2015-10-31", "2015-10-30", "2015-10-29"]
    assert [w.length_days for w in vws] == [1.0, 1.0, 1.0]


def test_plan_demand_from_auto_is_the_chosen_methods_forecast() -> None:
    grid = _grid()
    table = _history("2015-04-22")  # a burst inside the window: not seen by the forecast
    window = Window.local("2015-04-22", 0, 24, TZ)
    auto = AutoSelect(grid=grid, candidates=CANDS, validation_windows=4, budget_s=600)
    dw = forecast_demand_weights(table, auto, window, lookback_days=None)
    chosen = make_forecaster(auto.selection_.chosen, grid)
    again = forecast_demand_weights(table, chosen, window, lookback_days=None)
    np.testing.assert_array_equal(dw.weights, again.weights)
    assert auto.events_.t_day.max() < window.start_day


# ----------------------------------------------------------------------------- candidates
def test_default_candidates_hold_the_new_methods_with_the_costly_last() -> None:
    from xunfang.analyse.forecast.learned import CellContext, GradientBoosted
    from xunfang.analyse.forecast.registry import METHODS
    from xunfang.analyse.forecast.select import CANDIDATES

    specs = [c.spec for c in CANDIDATES]
    for spec in ("prospective-continuous", "sepp:trigger_bandwidth_m=0", "sepp", "stack", "gbm"):
        assert spec in specs
    # same-cell SEPP before the cross-cell one; stack and gbm last, the only costly ones
    assert specs.index("sepp:trigger_bandwidth_m=0") + 1 == specs.index("sepp")
    assert specs[-2:] == ["stack", "gbm"]
    assert [c.spec for c in CANDIDATES if c.costly] == ["stack", "gbm"]
    auto = AutoSelect(grid=_grid())
    kept, notes = auto.candidate_list()
    assert [c.spec for c in kept] == specs and notes == []
    assert all(c.family in METHODS for c in CANDIDATES)
    # a context reaches gbm directly, inside +tod and through auto
    ctx = CellContext()
    gbm = make_forecaster("gbm", _grid(), context=ctx)
    assert isinstance(gbm, GradientBoosted) and gbm.context is ctx
    assert make_forecaster("gbm+tod", _grid(), context=ctx).get_params()["base"].context is ctx
    assert make_forecaster("auto", _grid(), context=ctx).get_params()["context"] is ctx
    assert make_forecaster("kde", _grid(), context=ctx).get_params().get("context") is None


def test_a_candidate_that_would_blow_the_budget_is_skipped_and_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xunfang.analyse.forecast import registry, select
    from xunfang.analyse.forecast.naive import NaiveCounts

    clock, slow_fits = [0.0], [0]

    class Slow(NaiveCounts):
        """Naive counts that take 0.4 s to fit on the selection's clock (a costly method)."""

        def _fit(self, events):  # type: ignore[no-untyped-def]
            clock[0] += 0.4
            slow_fits[0] += 1
            super()._fit(events)

    class Clock:
        """The selection's clock: only Slow's fits move it (the same figures at any load)."""

        @staticmethod
        def perf_counter() -> float:
            return clock[0]

    monkeypatch.setattr(select, "time", Clock)
    monkeypatch.setitem(registry.METHODS, "slow", Slow)
    cands = (CANDS[0], "slow", CANDS[2])
    # 5 windows of 0.4 s and the final fit: about 2.4 s, past 1.5 s; the cheap ones fit
    auto = AutoSelect(
        grid=_grid(), candidates=cands, validation_windows=5, min_validation_events=0, budget_s=1.5
    )
    window = Window.local("2015-04-20", 0, 24, TZ)
    table = _history(None)
    auto.fit(table.subset((table.frame["occurred_at"] < window.start).to_numpy()))
    auto.predict(window)
    sel = auto.selection_
    assert list(sel.table["candidate"]) == [CANDS[0], CANDS[2]]  # the later one still scored
    assert list(sel.table["complexity"]) == [0, 2]
    assert len(sel.validation_windows) == 5
    assert len(sel.notes) == 1 and sel.notes[0].startswith("slow skipped: 0.4")
    assert "so 5 windows and the final fit" in sel.notes[0]
    assert "past the budget of 1.5 s" in sel.notes[0]
    assert "slow" not in set(sel.scores["candidate"]) and sel.chosen != "slow"
    # kept across days (warm_start): timed once, then skipped without being scored
    warm = auto.with_params(warm_start=True, reselect_every_days=1)
    day2 = Window.local("2015-04-21", 0, 24, TZ)
    for w in (window, day2):  # 60 days of history each (a fixed length is kept)
        t = table.frame["occurred_at"]
        first = w.start - pd.Timedelta(days=60)
        warm.fit(table.subset(((t >= first) & (t < w.start)).to_numpy()), start=first, end=w.start)
        before = slow_fits[0]
        warm.predict(w)
        refits = slow_fits[0] - before
    n = warm.selection_.scores.groupby("reused").size().to_dict()
    assert n == {False: 2, True: 8}  # the newest window of the two cheap ones is scored
    assert warm.selection_.notes[0].startswith("slow skipped: 0.4")
    assert "s a validation window on earlier days, so 5 windows" in warm.selection_.notes[0]
    assert refits == 0
    # with room in the budget it is scored
    roomy = auto.with_params(budget_s=60.0)
    roomy.fit(table.subset((table.frame["occurred_at"] < window.start).to_numpy()))
    roomy.predict(window)
    assert list(roomy.selection_.table["candidate"]) == list(cands)


def test_a_candidate_that_cannot_forecast_is_left_out_and_said_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xunfang.analyse.forecast import registry
    from xunfang.analyse.forecast.naive import NaiveCounts

    class Short(NaiveCounts):
        """Refuses less than 100 days of history (as gbm refuses less than 56)."""

        def _fit(self, events):  # type: ignore[no-untyped-def]
            if events.end_day - events.start_day < 100:
                raise ValidationError("short needs 100 days of history")
            super()._fit(events)

    monkeypatch.setitem(registry.METHODS, "short", Short)
    auto = AutoSelect(
        grid=_grid(), candidates=(CANDS[0], "short"), validation_windows=5, budget_s=600
    )
    window = Window.local("2015-04-20", 0, 24, TZ)
    table = _history(None)
    auto.fit(table.subset((table.frame["occurred_at"] < window.start).to_numpy()))
    auto.predict(window)
    sel = auto.selection_
    # the history starts 2015-01-01: validation days before 04-11 have < 100 days of it
    assert list(sel.table["candidate"]) == [CANDS[0]]
    assert sel.notes == ["short left out: short needs 100 days of history"]
    assert set(sel.scores["candidate"]) == {CANDS[0]}


# ----------------------------------------------------------------------------- reuse
def _rolling(
    table: IncidentTable, warm: bool, days: int = 4, reselect_every_days: int = 1
) -> Evaluation:
    """``auto`` over ``days`` consecutive days from 2015-04-15, 60 days of history each
    (re-selected every day unless told)."""
    grid = _grid()
    auto = AutoSelect(
        grid=grid,
        candidates=CANDS,
        validation_windows=5,
        min_validation_events=0,
        budget_s=600,
        warm_start=warm,
        reselect_every_days=reselect_every_days,
    )
    windows = [
        Window.local(f"2015-04-{15 + d}", 0, 24, TZ, label=f"2015-04-{15 + d}") for d in range(days)
    ]
    return rolling_origin(table, grid, {"auto": auto}, windows, lookback_days=60.0)


def _same_selections(a: Evaluation, b: Evaluation) -> None:
    drop = ["seconds", "reused"]
    for part in ("selections", "validation_scores"):
        pd.testing.assert_frame_equal(
            getattr(a, part).drop(columns=drop, errors="ignore"),
            getattr(b, part).drop(columns=drop, errors="ignore"),
        )
    pd.testing.assert_frame_equal(
        a.rows.drop(columns=["fit_s", "predict_s"]), b.rows.drop(columns=["fit_s", "predict_s"])
    )


def test_reused_scores_give_the_same_selection_and_only_the_newest_window_is_scored() -> None:
    table = _history(None)
    cold = _rolling(table, warm=False)
    warm = _rolling(table, warm=True)
    _same_selections(cold, warm)
    # 60 days of history, at most 28 daily validation windows: each is forecast from the
    # max(60 - 28 - 1, 28) = 31 days before it, the same on every forecast day
    grid = _grid()
    auto = AutoSelect(grid=grid, candidates=CANDS, validation_windows=5, min_validation_events=0)
    w = Window.local("2015-04-16", 0, 24, TZ)
    ev = TrainingEvents.from_table(table, grid).between(w.start_day - 60.0, w.start_day)
    assert auto.fit_events(ev).history_days(w) == 31.0
    assert auto.with_params(max_validation_windows=10).fit_events(ev).history_days(w) == 49.0
    # day 1 scores 5 windows x 3 candidates; each later day only its newest window
    v = warm.validation_scores
    assert v.groupby("test_window")["window"].nunique().tolist() == [5, 5, 5, 5]
    fresh = v[~v["reused"]].groupby("test_window")["window"].agg(["nunique", "size"])
    assert fresh["nunique"].tolist() == [5, 1, 1, 1]
    assert fresh["size"].tolist() == [15, 3, 3, 3]
    newest = v[~v["reused"] & (v["test_window"] == "2015-04-16")]["window"].unique()
    assert newest.tolist() == ["2015-04-15 validation"]
    assert not cold.validation_scores["reused"].any()
    # the scores cannot all be alike (a test that could not fail would prove nothing)
    assert v["score"].nunique() > 10


def test_reuse_never_reads_the_forecast_window_and_drops_scores_of_changed_data() -> None:
    clean = _rolling(_history(None), warm=True)
    # a burst of 40 incidents inside the window of 04-16: that day's choice and scores
    # cannot change; the later days see it in their validation windows
    burst = _rolling(_history("2015-04-16"), warm=True)
    for part in ("selections", "validation_scores"):
        a = getattr(clean, part)
        b = getattr(burst, part)
        first = ["2015-04-15", "2015-04-16"]
        pd.testing.assert_frame_equal(
            a[a["test_window"].isin(first)].drop(columns=["seconds"]),
            b[b["test_window"].isin(first)].drop(columns=["seconds"]),
        )
    later = burst.validation_scores.set_index(["test_window", "candidate", "window"])
    before = clean.validation_scores.set_index(["test_window", "candidate", "window"])
    key = ("2015-04-17", CANDS[0], "2015-04-16 validation")
    assert later.loc[key, "n_events"] == before.loc[key, "n_events"] + 40
    # a model refitted on other incidents of the same days keeps nothing from before
    grid = _grid()
    auto = AutoSelect(
        grid=grid,
        candidates=CANDS,
        validation_windows=5,
        min_validation_events=0,
        budget_s=600,
        warm_start=True,
        reselect_every_days=1,
    )
    w1 = Window.local("2015-04-15", 0, 24, TZ, label="d1")
    w2 = Window.local("2015-04-16", 0, 24, TZ, label="d2")
    other = _history("2015-04-10", burst_n=5)  # 5 more incidents in a validation window
    ev_a = TrainingEvents.from_table(_history(None), grid)
    ev_b = TrainingEvents.from_table(other, grid)
    auto.fit_events(ev_a.between(w1.start_day - 60, w1.start_day)).predict(w1)
    assert len(auto.score_cache_) == 15
    auto.fit_events(ev_b.between(w2.start_day - 60, w2.start_day)).predict(w2)
    assert not auto.selection_.scores["reused"].any()
    alone = auto.with_params(warm_start=False)
    alone.fit_events(ev_b.between(w2.start_day - 60, w2.start_day)).predict(w2)
    pd.testing.assert_frame_equal(
        auto.selection_.scores.drop(columns="seconds"),
        alone.selection_.scores.drop(columns="seconds"),
    )


# ----------------------------------------------------------------------------- per group
def _two_types() -> IncidentTable:
    """The synthetic history with the steady hot cell (12, at 250 m, 150 m) as THEFT and
    every other incident BURGLARY."""
    t = _history(None)
    f = t.frame.copy()
    steady = (f["x_m"] == 250.0) & (f["y_m"] == 150.0)
    f["type"] = np.where(steady, "THEFT", "BURGLARY")
    return IncidentTable(f, t.crs, t.timezone)


def test_per_group_naive_counts_add_up_to_the_counts_of_both() -> None:
    table = _two_types()
    grid = _grid()
    groups = {g: select_types(table, (g,)) for g in ("THEFT", "BURGLARY")}
    model = PerGroup(grid=grid, base=make_forecaster("naive:period_days=14", grid), groups=groups)
    w = Window.local("2015-04-20", 0, 24, TZ)
    ev = TrainingEvents.from_table(table, grid).between(w.start_day - 60, w.start_day)
    risk = model.fit_events(ev).predict(w).risk
    # by hand: cell 12's incidents in the 14 days before the window, per day
    f = table.frame
    recent = (f["occurred_at"] >= w.start - pd.Timedelta(days=14)) & (f["occurred_at"] < w.start)
    n12 = int((recent & (f["type"] == "THEFT")).sum())
    assert n12 > 20  # about 2 a day
    assert risk[12] == pytest.approx(n12 / 14)
    alone = make_forecaster("naive:period_days=14", grid).fit_events(ev).predict(w).risk
    np.testing.assert_allclose(risk, alone, rtol=1e-12)
    assert risk.sum() == pytest.approx(int(recent.sum()) / 14)


def test_auto_per_group_chooses_for_each_group_as_alone() -> None:
    table = _two_types()
    grid = _grid()
    groups = {g: select_types(table, (g,)) for g in ("THEFT", "BURGLARY")}
    auto = AutoSelect(
        grid=grid,
        candidates=CANDS,
        validation_windows=5,
        min_validation_events=0,
        budget_s=600,
        reselect_every_days=1,
    )
    model = with_warm_start(PerGroup(grid=grid, base=auto, groups=groups))
    windows = [Window.local(f"2015-04-{d}", 0, 24, TZ, label=f"2015-04-{d}") for d in (20, 21)]
    ev = rolling_origin(table, grid, {"auto": model}, windows, lookback_days=60.0)
    sel = ev.selections
    assert set(sel["group"]) == {"THEFT", "BURGLARY"}
    for w in windows:
        total = np.zeros(grid.n_cells)
        chosen = []
        for g, sub in groups.items():
            alone = auto.with_params(warm_start=False)
            events = TrainingEvents.from_table(sub, grid).between(w.start_day - 60, w.start_day)
            total += alone.fit_events(events).predict(w).risk
            mine = sel[(sel["test_window"] == w.label) & (sel["group"] == g)]
            pd.testing.assert_frame_equal(
                mine.drop(
                    columns=[
                        *("group", "method", "offset_m", "test_window", "reason", "reason_zh"),
                        *("selected_for", "model_fitted_on"),
                    ]
                )
                .reset_index(drop=True)
                .drop(columns="seconds"),
                alone.selection_.table.drop(columns="seconds"),
            )
            chosen.append(f"{g}: {alone.selection_.chosen}")
            # each group's rows give its own reason, not both groups'
            assert set(mine["reason"]) == {alone.selection_.reason()}
            assert set(mine["reason_zh"]) == {alone.selection_.reason("zh")}
            assert " | " not in alone.selection_.reason()
        rows = ev.rows[(ev.rows["window"] == w.label) & (ev.rows["fraction"] == 0.01)]
        assert rows["chosen"].iloc[0] == "; ".join(chosen)
        # the forecast scored is the sum of the groups' own choices
        mw = model.with_params(base=auto.with_params(warm_start=False))
        union = TrainingEvents.from_table(table, grid).between(w.start_day - 60, w.start_day)
        np.testing.assert_allclose(mw.fit_events(union).predict(w).risk, total, rtol=1e-12)
    # the groups want different methods: THEFT is one steady cell, so every method puts
    # every THEFT incident in its top cell (score 1 at 1, 5 and 20 %) and the 1-SE rule
    # keeps the simplest, a year of counts; BURGLARY follows the hot cell that moves
    # every 30 days (on 2015-03-31), which the last 14 days of counts find
    c = sel[sel["chosen"]].set_index(["group", "test_window"])
    for w in windows:
        assert c.loc[("THEFT", w.label), "candidate"] == "naive:period_days=365"
        assert c.loc[("THEFT", w.label), "score_mean"] == 1.0
        assert c.loc[("BURGLARY", w.label), "candidate"] == "naive:period_days=14"


def test_auto_without_a_validation_window_is_not_evaluated_beside_other_methods() -> None:
    table = _history(None)
    grid = _grid()
    # 200 days of history needed before a validation window: the 110 days held have none
    auto = AutoSelect(grid=grid, candidates=CANDS, min_train_days=200.0, budget_s=600)
    naive = make_forecaster("naive:period_days=7", grid)
    windows = [Window.local("2015-04-20", 0, 24, TZ, label="2015-04-20")]
    ev = rolling_origin(table, grid, {"auto": auto, "naive": naive}, windows, lookback_days=None)
    assert set(ev.rows["method"]) == {"naive"} and len(ev.rows) == len(FRACTIONS)
    assert list(ev.not_evaluated) == ["auto"]
    assert ev.not_evaluated["auto"].startswith("auto: no validation window before 2015-04-20")
    assert ev.selections.empty
    # the naive figures are those of naive alone
    alone = rolling_origin(table, grid, {"naive": naive}, windows, lookback_days=None)
    pd.testing.assert_frame_equal(
        ev.rows.drop(columns=["fit_s", "predict_s"]),
        alone.rows.drop(columns=["fit_s", "predict_s"]),
    )
    with pytest.raises(ValidationError, match="auto: no validation window"):
        rolling_origin(table, grid, {"auto": auto}, windows, lookback_days=None)


def test_auto_is_scored_on_the_windows_once_the_history_holds_a_validation_window() -> None:
    """Found by a new-user test: auto was dropped from a whole evaluation when the first
    test windows came before it had validation windows, though the later ones had them.
    The history starts 2015-01-01: with 100 days needed before a validation window, the
    first is 2015-04-11, so auto forecasts the test windows from 2015-04-12 on."""
    table = _history(None)
    grid = _grid()
    auto = AutoSelect(grid=grid, candidates=CANDS, min_train_days=100.0, budget_s=600)
    naive = make_forecaster("naive:period_days=7", grid)
    days = [f"2015-04-{d:02d}" for d in range(8, 15)]
    windows = [Window.local(d, 0, 24, TZ, label=d) for d in days]
    ev = rolling_origin(table, grid, {"auto": auto, "naive": naive}, windows, lookback_days=None)
    assert ev.not_evaluated == {}
    assert list(ev.windows_left_out) == ["auto"]
    assert list(ev.windows_left_out["auto"]) == days[:4]
    assert ev.windows_left_out["auto"]["2015-04-11"] == (
        "auto: no validation window before 2015-04-11 with 100 days of history before it: "
        "give more history"
    )
    by_method = ev.rows.groupby("method")["window"].unique()
    assert list(by_method["auto"]) == days[4:] and list(by_method["naive"]) == days
    # each method's mean is over its own windows; the methods in the order given
    summary = ev.summary()
    assert list(dict.fromkeys(summary["method"])) == ["auto", "naive"]
    for method, scored in (("auto", days[4:]), ("naive", days)):
        mine = ev.rows[(ev.rows["method"] == method) & (ev.rows["fraction"] == 0.01)]
        assert list(mine["window"]) == scored
        row = summary[(summary["method"] == method) & (summary["fraction"] == 0.01)].iloc[0]
        assert row["windows"] == len(scored)
        assert row["hit_rate_mean"] == pytest.approx(mine["hit_rate"].mean())
    # on 2015-04-12..14 auto chose naive counts: the same hit rate as naive(7) at 1 %
    # (0.2, 2/9, 3/8: mean 0.265741), the paired test on those 3 windows only
    auto_1 = summary[(summary["method"] == "auto") & (summary["fraction"] == 0.01)]
    assert auto_1["hit_rate_mean"].iloc[0] == pytest.approx((0.2 + 2 / 9 + 3 / 8) / 3)
    paired = ev.paired()
    assert set(paired["windows"]) == {3}
    assert paired[paired["fraction"] == 0.01]["verdict"].iloc[0] == "the same in every window"


def test_reuse_warm_starts_sepp_from_the_day_before_within_its_tolerance() -> None:
    """``warm_start=True`` keeps ``sepp`` fitted across days: the newest validation
    window's EM and the chosen candidate's final EM start from the day before's fits.
    Against ``warm_start=False`` (cold final fit) on 4 days: the same choice and the
    same validation scores, and a final forecast within the EM tolerance (1e-3 on the
    parameters; under 5e-3 of the largest cell's risk), reached in fewer EM steps."""
    sepp = "sepp:trigger_bandwidth_m=0"
    grid = _grid()
    ev = TrainingEvents.from_table(_history(None), grid)
    for cands in (("naive:period_days=365", sepp), (sepp,)):
        auto = AutoSelect(
            grid=grid,
            candidates=cands,
            validation_windows=5,
            min_validation_events=0,
            budget_s=600,
            warm_start=True,
            reselect_every_days=1,
        )
        alone = auto.with_params(warm_start=False)
        finals = []
        for d in range(4):
            w = Window.local(f"2015-04-{15 + d}", 0, 24, TZ, label=f"2015-04-{15 + d}")
            train = ev.between(w.start_day - 60, w.start_day)
            risk = auto.fit_events(train).predict(w).risk
            cold = alone.fit_events(train).predict(w).risk
            assert auto.selection_.chosen == alone.selection_.chosen
            pd.testing.assert_frame_equal(
                auto.selection_.scores.drop(columns=["seconds", "reused"]),
                alone.selection_.scores.drop(columns=["seconds", "reused"]),
            )
            assert (~auto.selection_.scores["reused"]).sum() == (
                len(cands) * 5 if d == 0 else len(cands)
            )
            if cands == (sepp,):
                diff = np.abs(risk - cold).max() / cold.max()
                assert 0 < diff < 5e-3  # warm-started, not the cold fit itself
                assert auto.chosen_.trace_.iterations < alone.chosen_.trace_.iterations
                finals.append(auto.chosen_)
            else:  # a year of counts wins here: the same forecast, bit for bit
                assert auto.selection_.chosen == "naive:period_days=365"
                assert np.array_equal(risk, cold)
        assert all(m is finals[0] for m in finals)  # one final model kept across days


# ----------------------------------------------------------------------------- cadence
def _days(first: str, n: int) -> list[Window]:
    d0 = pd.Timestamp(first)
    return [
        Window.local((d0 + pd.Timedelta(days=i)).date(), 0, 24, TZ, label=f"day {i}")
        for i in range(n)
    ]


def _cadence(table: IncidentTable, windows: list[Window], **params: object) -> Evaluation:
    """``auto`` as the rolling evaluation runs it (``warm_start``), 60 days of history."""
    auto = AutoSelect(
        grid=_grid(),
        candidates=CANDS,
        validation_windows=5,
        min_validation_events=0,
        budget_s=600,
        **params,  # type: ignore[arg-type]
    )
    return rolling_origin(
        table, _grid(), {"auto": with_warm_start(auto)}, windows, lookback_days=60.0
    )


def test_the_cadence_reselects_on_days_0_7_14_and_keeps_the_choice_in_between() -> None:
    windows = _days("2015-04-10", 15)
    ev = _cadence(_history(None), windows)  # the default: every 7 days
    sel = ev.selections[ev.selections["chosen"]].set_index("test_window")
    made_for = {i: sel.loc[f"day {i}", "selected_for"] for i in range(15)}
    assert made_for == {i: f"day {7 * (i // 7)}" for i in range(15)}
    for i in range(15):  # between selections the choice (and its table) is unchanged
        assert sel.loc[f"day {i}", "candidate"] == sel.loc[made_for[i], "candidate"]
        assert sel.loc[f"day {i}", "score_mean"] == sel.loc[made_for[i], "score_mean"]
    assert sel.loc["day 3", "reason"] == (
        sel.loc["day 0", "reason"] + " (the choice made for day 0, kept: re-selected every 7 days)"
    )
    assert sel.loc["day 3", "reason_zh"] == (
        sel.loc["day 0", "reason_zh"] + "（沿用为 day 0 所作的选择，每 7 天重新选择）"
    )
    # the validation scores are written on the selection days only; day 7 scores the 7
    # windows new since day 0 (days 0..6 before their forecast day), the rest are kept
    v = ev.validation_scores
    assert sorted(v["test_window"].unique()) == ["day 0", "day 14", "day 7"]
    fresh = v[~v["reused"]].groupby("test_window")["window"].nunique().to_dict()
    assert fresh == {"day 0": 5, "day 7": 5, "day 14": 5}  # 5 windows scored, 7 new > 5
    # the forecast of a kept day is the chosen method fitted on that day's 60 days
    grid = _grid()
    events = TrainingEvents.from_table(_history(None), grid)
    for i in (3, 10):
        w = windows[i]
        spec = sel.loc[f"day {i}", "candidate"]
        alone = make_forecaster(spec, grid).fit_events(
            events.between(w.start_day - 60, w.start_day)
        )
        hc = ev.rows[(ev.rows["window"] == f"day {i}")].set_index("fraction")["hits"]
        lo, hi = np.searchsorted(events.t_day, [w.start_day, w.end_day])
        counts = np.bincount(events.cell[lo:hi], minlength=grid.n_cells)
        ref = hit_counts(alone.predict(w).risk, counts, FRACTIONS, mask=grid.mask)
        np.testing.assert_array_equal(hc.to_numpy(), ref.hits)
        # the model is refitted every day (naive, KDE): fitted on the day's own history
        assert sel.loc[f"day {i}", "model_fitted_on"] == f"{w.start.date()} 00:00"
    # re-selecting every day gives another record: each day's own selection
    daily = _cadence(_history(None), windows[:3], reselect_every_days=1)
    s1 = daily.selections[daily.selections["chosen"]]
    assert s1["selected_for"].tolist() == s1["test_window"].tolist() == ["day 0", "day 1", "day 2"]


def test_the_cadence_reselects_7_local_days_later_across_the_change_to_summer_time() -> None:
    """Chicago moves its clocks on Sunday 2015-03-08: from midnight on Monday 03-02 (CST)
    to midnight on Monday 03-09 (CDT) is 6 days 23 hours, 7 local days: a re-selection
    day, as day 7 is on any other week."""
    windows = _days("2015-03-02", 9)
    assert (windows[7].start - windows[0].start) == pd.Timedelta(days=6, hours=23)
    ev = _cadence(_history(None), windows)
    sel = ev.selections[ev.selections["chosen"]].set_index("test_window")
    made_for = [sel.loc[f"day {i}", "selected_for"] for i in range(9)]
    assert made_for == ["day 0"] * 7 + ["day 7"] * 2


def test_the_cadence_never_reads_the_forecast_window() -> None:
    """A burst of 40 incidents in one cell inside the window of a kept day (day 3) or of
    a re-selection day (day 7) changes no choice and no score of that day or before."""
    windows = _days("2015-04-10", 9)
    clean = _cadence(_history(None), windows)
    for burst_day, day in (("2015-04-13", 3), ("2015-04-17", 7)):
        burst = _cadence(_history(burst_day), windows)
        upto = [f"day {i}" for i in range(day + 1)]
        for part in ("selections", "validation_scores"):
            a, b = getattr(clean, part), getattr(burst, part)
            pd.testing.assert_frame_equal(
                a[a["test_window"].isin(upto)].drop(columns="seconds"),
                b[b["test_window"].isin(upto)].drop(columns="seconds"),
            )
        # the burst is in the day's scored incidents, so the planting took place
        n = {
            e: x.rows[x.rows["window"] == f"day {day}"]["n_events"].iloc[0]
            for e, x in (("clean", clean), ("burst", burst))
        }
        assert n["burst"] == n["clean"] + 40
    # control: the burst on day 3 is in a validation window of the re-selection on day 7
    late = _cadence(_history("2015-04-13"), windows).validation_scores
    v0 = clean.validation_scores
    key = (v0["test_window"] == "day 7") & (v0["window"] == "2015-04-13 validation")
    key1 = (late["test_window"] == "day 7") & (late["window"] == "2015-04-13 validation")
    assert (late[key1]["n_events"].to_numpy() == v0[key]["n_events"].to_numpy() + 40).all()


def test_blocks_of_refit_days_start_on_the_same_local_days_for_every_forecast_day() -> None:
    from xunfang.analyse.forecast.select import _anchor

    grid = _grid()
    ev = TrainingEvents.from_table(_history(None), grid)
    # date ordinals (0001-01-01 = 1) mod 7: 04-12 (Sunday) is 0, so the block of 7 days
    # holding 04-15 (3) and 04-18 (6) starts on 04-12; 04-19 starts the next one
    for day, start in (
        ("2015-04-15", "2015-04-12"),
        ("2015-04-18", "2015-04-12"),
        ("2015-04-19", "2015-04-19"),
    ):
        anchor, h0 = _anchor(Window.local(day, 0, 24, TZ), ev, 31.0, 7)
        assert str(anchor.start.tz_convert(TZ).date()) == start
        assert h0 == anchor.start_day - 31.0
    # refitted every day: every window is its own block; a 60-day history is clipped
    w = Window.local("2015-04-15", 0, 24, TZ)
    assert _anchor(w, ev, 31.0, 1)[0] == w
    assert _anchor(w, ev, 500.0, 7)[1] == ev.start_day


def _rolling_gbm_auto(grid: Grid, spec: str, final_fit: str) -> AutoSelect:
    """auto over the one candidate ``spec``, in rolling use (warm start), 2-7 validation
    windows, no minimum of incidents, a budget that does not bind."""
    return AutoSelect(
        grid=grid,
        candidates=(spec,),
        validation_windows=2,
        max_validation_windows=7,
        min_validation_events=0,
        budget_s=600,
        warm_start=True,
        final_fit=final_fit,
    )


def test_a_kept_gbm_forecasts_with_its_trees_on_the_new_days_features() -> None:
    """``final_fit="block"``: chosen ``gbm`` kept for ``refit_every_days`` and run as it
    was validated: each forecast day uses the trees fitted at the start of its block of 7
    days (blocks start on Sundays) on the validation history, the same fit as the
    validation windows of that block, with the features at the day's own start."""
    from xunfang.analyse.forecast.learned import GradientBoosted

    grid = _grid()
    events = TrainingEvents.from_table(_history(None), grid)
    spec = "gbm:min_samples_leaf=20:max_iter=20"
    auto = _rolling_gbm_auto(grid, spec, "block")
    windows = _days("2015-04-10", 8)  # Friday 04-10 .. Friday 04-17
    h = 80 - 7 - 1  # history of a validation window: D - S - 1 days
    sunday = {d: Window.local(d, 0, 24, TZ) for d in ("2015-04-05", "2015-04-12")}
    fitted_end, boosters, risks = [], [], []
    for i, w in enumerate(windows):
        train = events.between(w.start_day - 80, w.start_day)
        risks.append(auto.fit_events(train).predict(w).risk)
        model = auto.chosen_
        assert isinstance(model, GradientBoosted) and auto.selection_.chosen == spec
        fitted_end.append(model.fitted_end_day_)
        boosters.append(model.models_[0])
        if i == 3:  # day 3 (Monday 04-13): the trees of the block fit of Sunday 04-12
            x = model.features(train, w.start_day)
            direct = np.zeros(grid.n_cells)
            direct[np.flatnonzero(grid.mask)] = boosters[3].predict(x[:, model.used_features_])
            np.testing.assert_allclose(risks[3], direct * w.length_days, rtol=1e-12)
            # that fit is a gbm fitted on the h days before 04-12, as a validation window
            # of 04-12 .. 04-18 is forecast
            block = sunday["2015-04-12"]
            gbm = make_forecaster(spec, grid).with_params(warm_start=True, refit_days=7.0)
            gbm.fit_events(events.between(block.start_day - h, block.start_day))
            np.testing.assert_array_equal(gbm.fit_events(train).predict(w).risk, risks[3])
            x0 = model.features(
                events.between(windows[0].start_day - 80, windows[0].start_day),
                windows[0].start_day,
            )
            assert not np.allclose(x, x0, equal_nan=True)  # the features did move on
            assert auto.selection_.model_fitted_on == "2015-04-12 00:00"
            assert auto.selection_.selected_for == "day 0"
        if i == 0:  # validated as run: 04-09's forecast comes from the fit of 04-05
            sc = auto.selection_.scores.set_index("window")
            assert list(sc.index) == ["2015-04-09 validation", "2015-04-08 validation"]
            vw = Window.local("2015-04-09", 0, 24, TZ)
            block = sunday["2015-04-05"]  # Sunday: ordinal % 7 == 0
            gbm = make_forecaster(spec, grid).with_params(warm_start=True, refit_days=7.0)
            gbm.fit_events(events.between(block.start_day - h, block.start_day))
            risk = gbm.fit_events(events.between(vw.start_day - h, vw.start_day)).predict(vw)
            assert gbm.fitted_end_day_ == block.start_day
            lo, hi = np.searchsorted(events.t_day, [vw.start_day, vw.end_day])
            counts = np.bincount(events.cell[lo:hi], minlength=grid.n_cells)
            hr = hit_counts(risk.risk, counts, auto.fractions, mask=grid.mask).hit_rate
            assert sc.loc["2015-04-09 validation", "score"] == pytest.approx(np.mean(hr), abs=0)
            # and day 0 (Friday 04-10, the same block) is forecast with that same fit
            np.testing.assert_array_equal(gbm.fit_events(train).predict(w).risk, risks[0])
            assert auto.selection_.model_fitted_on == "2015-04-05 00:00"
    # days 0-1 (04-10, 04-11) with the fit of 04-05, days 2-7 with the one of 04-12
    start = [sunday["2015-04-05"].start_day] * 2 + [sunday["2015-04-12"].start_day] * 6
    assert fitted_end == start
    assert boosters[1] is boosters[0] and boosters[2] is not boosters[0]
    assert all(b is boosters[2] for b in boosters[2:])  # day 7 re-selects, on the same fit
    assert not np.allclose(risks[3], risks[2])


def test_final_fit_all_forecasts_with_trees_fitted_on_all_the_history() -> None:
    """``final_fit="all"``: the chosen ``gbm`` forecasts with its own fit on all the
    history (80 days here), made on the day it is first chosen (Friday 04-10) and kept 7
    days, as a single forecast fits it; the validation windows keep their block fits on
    the shorter history (72 days). Refitted on day 7 (04-17), on its own 80 days."""
    from xunfang.analyse.forecast.learned import GradientBoosted

    grid = _grid()
    events = TrainingEvents.from_table(_history(None), grid)
    spec = "gbm:min_samples_leaf=20:max_iter=20"
    auto = _rolling_gbm_auto(grid, spec, "all")
    windows = _days("2015-04-10", 8)
    fitted_end, risks = [], []
    for w in windows:
        train = events.between(w.start_day - 80, w.start_day)
        risks.append(auto.fit_events(train).predict(w).risk)
        assert isinstance(auto.chosen_, GradientBoosted)
        fitted_end.append(auto.chosen_.fitted_end_day_)
    assert fitted_end == [windows[0].start_day] * 7 + [windows[7].start_day]
    assert auto.selection_.model_fitted_on == "2015-04-17 00:00"
    # day 3 (04-13): the trees of a gbm fitted on the 80 days before 04-10, the features of
    # the 80 days before 04-13
    gbm = make_forecaster(spec, grid).with_params(warm_start=True, refit_days=7.0)
    gbm.fit_events(events.between(windows[0].start_day - 80, windows[0].start_day))
    w = windows[3]
    risk = gbm.fit_events(events.between(w.start_day - 80, w.start_day)).predict(w).risk
    np.testing.assert_array_equal(risk, risks[3])
    # "block" forecasts the same day with the fit of Sunday 04-12 on 72 days: not the same
    block = AutoSelect(**{**auto.get_params(), "final_fit": "block"})
    for d in windows[:4]:
        got = block.fit_events(events.between(d.start_day - 80, d.start_day)).predict(d).risk
    assert not np.allclose(got, risks[3])
    with pytest.raises(ValidationError, match="final_fit must be block or all, got 'last'"):
        AutoSelect(grid=grid, final_fit="last")._validate()


def test_the_cadence_chooses_anew_when_the_history_changed_or_the_window_kind_did() -> None:
    grid = _grid()
    ev_a = TrainingEvents.from_table(_history(None), grid)
    ev_b = TrainingEvents.from_table(_history("2015-04-10", burst_n=5), grid)  # 5 more
    w1 = Window.local("2015-04-15", 0, 24, TZ, label="d1")
    w2 = Window.local("2015-04-16", 0, 24, TZ, label="d2")
    shift = Window.local("2015-04-16", 8, 20, TZ, label="s2")  # 08-20: the incidents at 9

    def run(second: TrainingEvents, window: Window) -> str:
        auto = AutoSelect(
            grid=grid, candidates=CANDS, validation_windows=5, min_validation_events=0,
            budget_s=600, warm_start=True,
        )  # fmt: skip
        auto.fit_events(ev_a.between(w1.start_day - 60, w1.start_day)).predict(w1)
        auto.fit_events(second.between(window.start_day - 60, window.start_day)).predict(window)
        return auto.selection_.selected_for

    assert run(ev_a, w2) == "d1"  # the same incidents, one day on: kept
    assert run(ev_b, w2) == "d2"  # an incident of the common days changed: chosen anew
    assert run(ev_a, shift) == "s2"  # another kind of window: chosen anew


def test_a_candidate_is_left_out_on_a_history_denser_than_its_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xunfang.analyse.forecast import select
    from xunfang.analyse.forecast.select import Candidate

    grid = _grid()
    # 40 days from 2015-01-01 (day 16436), 4 incidents a day: 160 / 40 = 4.0 a day
    day0 = 16436.0
    t = day0 + np.repeat(np.arange(40), 4) + np.tile([0.2, 0.4, 0.6, 0.8], 40)
    xy = np.tile([[150.0, 150.0], [150.0, 150.0], [650.0, 350.0], [850.0, 950.0]], (40, 1))
    events = TrainingEvents(
        t_day=t,
        xy=xy,
        cell=grid.cell_of(xy),
        hour_of_week=np.zeros(160, dtype=np.int64),
        start_day=day0,
        end_day=day0 + 40.0,
        timezone="UTC",
        n_outside=0,
    )
    cands = (
        Candidate("naive:period_days=365", "naive", max_events_per_day=1.0),  # simplest: kept
        Candidate("naive:period_days=28", "naive", max_events_per_day=3.5),  # 4.0 > 3.5: out
        Candidate("kde:bandwidth_m=150:window_days=365", "kde", max_events_per_day=4.0),
    )
    monkeypatch.setattr(select, "CANDIDATES", cands)
    auto = AutoSelect(grid=grid, validation_windows=3, min_validation_events=0, min_train_days=7)
    window = Window(pd.Timestamp("2015-02-10", tz="UTC"), pd.Timestamp("2015-02-11", tz="UTC"))
    auto.fit_events(events).predict(window)
    sel = auto.selection_
    assert list(sel.table["candidate"]) == ["naive:period_days=365", cands[2].spec]
    assert list(sel.table["complexity"]) == [0, 2]  # places in the whole list
    assert set(sel.scores["candidate"]) == {"naive:period_days=365", cands[2].spec}
    note = (
        "4 incidents a day in the history, above the limit of 3.5: naive:period_days=28 "
        "left out (on such dense types it was never within one standard error of the best)"
    )
    assert sel.notes == [note]
    assert note_text(note, "zh") == (
        "历史中每天 4 起警情，超过上限 3.5：naive:period_days=28 未参与选择（在如此密集的"
        "类型上，从未进入最佳方法的一个标准误之内）"
    )
    # one sentence per limit, naming every candidate it leaves out
    two = (cands[0], cands[1], dataclasses.replace(cands[1], spec="naive:period_days=7"))
    kept, notes = select._dense_left_out(list(two), events)
    assert [c.spec for c in kept] == ["naive:period_days=365"]
    assert notes == [
        "4 incidents a day in the history, above the limit of 3.5: naive:period_days=28, "
        "naive:period_days=7 left out (on such dense types they were never within one "
        "standard error of the best)"
    ]
    # the default list keeps a year and a season of counts, the 150 m KDE, stack and gbm
    # above 100 a day
    monkeypatch.undo()
    kept = [c.spec for c in select.CANDIDATES if c.max_events_per_day is None]
    assert kept == [
        "naive:period_days=365",
        "naive:period_days=91",
        "kde:bandwidth_m=150:window_days=365",
        "stack",
        "gbm",
    ]
    assert {c.max_events_per_day for c in select.CANDIDATES} == {None, 100.0}


def test_window_labels_of_auto_errors_in_chinese() -> None:
    """The window's kind ("day", "night", "week", "22-06") of auto's errors is Chinese too
    (a tester saw "2024-04-01 day 之前")."""
    from xunfang.analyse.forecast.select import error_text as sel_error_text

    def msg(w: str) -> str:
        return (
            f"auto: none of the 7 validation windows before {w} holds an incident: "
            "give more history"
        )

    assert sel_error_text(msg("2024-04-01 day"), "zh") == (
        "auto：2024-04-01（全天） 之前的 7 个验证时段都没有警情：请提供更长的历史"
    )
    assert sel_error_text(msg("2024-04-01 week"), "zh").startswith("auto：2024-04-01起一周 之前")
    assert sel_error_text(msg("2024-04-01 22-06"), "zh").startswith("auto：2024-04-01 22-06时 之前")
    assert sel_error_text(msg("2024-04-01 night"), "en") == msg("2024-04-01 night")
