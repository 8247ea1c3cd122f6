"""The trade-off curve, the smallest plan for targets, tiered MCLP and MEXCLP: checked against
enumeration of every layout and against a hand-worked instance. Instances are synthetic."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from xunfang.errors import ValidationError
from xunfang.plan.covering import expected_coverage, mexclp, priority_weights, tiered_mclp
from xunfang.plan.targets import Target, min_booths_for_targets, parse_target
from xunfang.plan.tradeoff import TRADEOFF_COLUMNS, tradeoff_curve

RINGS = (60.0, 180.0, 300.0)


def _random_instance(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 400, (30, 10))
    cost[rng.random(cost.shape) < 0.05] = np.inf  # some pairs unreachable
    return cost, rng.integers(0, 5, 30).astype(float)


def _best_by_enumeration(cost: np.ndarray, w: np.ndarray, k: int, t: float) -> float:
    best = 0.0
    for comb in itertools.combinations(range(1, cost.shape[1]), k):
        sel = [0, *comb]
        best = max(best, float(w[cost[:, sel].min(axis=1) <= t].sum()))
    return best / float(w.sum())


@pytest.mark.parametrize("warm", [True, False])
def test_curve_equals_enumeration(warm: bool) -> None:
    cost, w = _random_instance(1)
    curve = tradeoff_curve(cost, w, 6, fixed=[0], warm=warm)
    assert [p.booths for p in curve.points] == list(range(7))
    for p in curve.points:
        assert p.status == "optimal"
        for t in RINGS:
            assert p.within[t] == pytest.approx(_best_by_enumeration(cost, w, p.booths, t))
        assert p.selected.size == p.booths + 1 and 0 in p.selected
    frame = curve.frame()
    assert tuple(frame.columns) == TRADEOFF_COLUMNS
    # the layout's mean is the mean of the 3-minute-optimal layout
    ks = frame["within_3min"].to_numpy()
    assert (np.diff(ks) >= -1e-12).all()


def test_curve_smallest_k_and_ceiling() -> None:
    cost, w = _random_instance(2)
    curve = tradeoff_curve(cost, w, 5, fixed=[0])
    k = curve.smallest_k(180.0, 0.9)
    assert k is not None
    assert curve.points[k].within[180.0] >= 0.9 > (curve.points[k - 1].within[180.0] if k else 0)
    assert curve.coverable_share[300.0] == pytest.approx(
        float(w[(cost <= 300).any(axis=1)].sum() / w.sum())
    )


# Hand-worked: 5 demand nodes (weights 4, 3, 2, 1, 10; total 20), candidates A..D. Within one
# minute (50 s): A covers d0, d1; B covers d1, d2; C covers d2, d3; D covers d4. Otherwise 150 s
# (within three minutes), except that d4 is 400 s from A, B, C and d0..d3 are 400 s from D.
W5 = np.array([4.0, 3.0, 2.0, 1.0, 10.0])
C5 = np.array(
    [
        [50, 150, 150, 400],
        [50, 50, 150, 400],
        [150, 50, 50, 400],
        [150, 150, 50, 400],
        [400, 400, 400, 50],
    ],
    dtype=float,
)


def test_min_booths_hand_worked() -> None:
    # 1 min: 50 % = 10 of 20 -> D alone (10).
    plan = min_booths_for_targets(C5, W5, [parse_target("1min:50%")])
    assert plan.booths == 1 and plan.selected.tolist() == [3] and plan.status == "optimal"
    # 1 min: 80 % (16) and 3 min: 100 % -> D (10) + A (7) = 17; B + D = 15 and C + D = 13 fail
    plan = min_booths_for_targets(C5, W5, [parse_target("1min:80%"), parse_target("3min:100%")])
    assert plan.booths == 2 and plan.selected.tolist() == [0, 3]
    assert plan.shares == pytest.approx((0.85, 1.0))
    # 1 min: 100 % needs A (d0 only), C (d3 only) and D (d4 only)
    plan = min_booths_for_targets(C5, W5, [Target(60.0, 1.0)])
    assert plan.booths == 3 and plan.selected.tolist() == [0, 2, 3]
    # with D fixed (a station), 1min:80% needs one booth: A
    plan = min_booths_for_targets(C5, W5, [Target(60.0, 0.8)], fixed=[3])
    assert plan.booths == 1 and plan.selected.tolist() == [0, 3]


def test_infeasible_target_reported_with_best_share() -> None:
    plan = min_booths_for_targets(C5, W5, [parse_target("30s:10%"), parse_target("1min:50%")])
    assert plan.status == "infeasible"
    assert plan.feasible == (False, True)
    assert plan.best_reachable == (0.0, 1.0)
    assert plan.booths == 1  # the feasible target is still answered
    d = plan.to_dict(names=["D"])
    assert d["sites"] == ["D"] and d["status"] == "infeasible"


def test_parse_target_forms_and_errors() -> None:
    assert parse_target("3min:95%") == Target(180.0, 0.95)
    assert parse_target("90s:80%") == Target(90.0, 0.8)
    assert parse_target("3:0.95") == Target(180.0, 0.95)
    assert parse_target("3min:95%").label == "3min:95%"
    with pytest.raises(ValidationError, match="MINUTESmin:PERCENT"):
        parse_target("95% in 3 minutes")
    with pytest.raises(ValidationError, match=r"share must be in"):
        parse_target("3min:120%")


def test_tiered_mclp_equals_enumeration() -> None:
    cost, w = _random_instance(3)
    a = (0.5, 1.0, 0.25)
    res = tiered_mclp(cost, w, 3, RINGS, a, fixed=[0])
    best = 0.0
    for comb in itertools.combinations(range(1, 10), 2):
        tt = cost[:, [0, *comb]].min(axis=1)
        best = max(best, sum(ai * float(w[tt <= t].sum()) for ai, t in zip(a, RINGS, strict=True)))
    assert res.objective == pytest.approx(best)
    assert res.status == "optimal" and res.selected.size == 3


def test_mexclp_equals_enumeration_and_prefers_double_cover() -> None:
    # two demand nodes of weight 10 and 1; sites 0 and 1 cover node 0, site 2 covers node 1.
    # With q = 0.5 and k = 2: {0, 1} expects 10 * 0.75 = 7.5; {0, 2} expects 5 + 0.5 = 5.5.
    cost = np.array([[10.0, 10.0, 999.0], [999.0, 999.0, 10.0]])
    w = np.array([10.0, 1.0])
    res = mexclp(cost, w, 2, 60.0, 0.5)
    assert res.selected.tolist() == [0, 1]
    assert res.objective == pytest.approx(7.5)
    assert expected_coverage(cost, w, [0, 2], 60.0, 0.5) == pytest.approx(5.5 / 11)
    # q = 0 is the plain MCLP: {0, 2} covers all 11
    assert mexclp(cost, w, 2, 60.0, 0.0).selected.tolist() == [0, 2]
    cost_r, w_r = _random_instance(4)
    res = mexclp(cost_r, w_r, 4, 180.0, 0.3, fixed=[0])
    best = max(
        expected_coverage(cost_r, w_r, [0, *c], 180.0, 0.3) * w_r.sum()
        for c in itertools.combinations(range(1, 10), 3)
    )
    assert res.objective == pytest.approx(best)


def test_priority_weights() -> None:
    got = priority_weights(["violent", "property", "service", "other"])
    assert got.tolist() == [3.0, 2.0, 1.0, 1.0]
    with pytest.raises(ValidationError, match="finite and >= 0"):
        priority_weights(["violent"], {"violent": -1.0})
