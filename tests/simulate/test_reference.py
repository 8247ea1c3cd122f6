"""The simulator against references written independently of it.

* The plain SimPy closest-unit model of ``benchmarks/simpy_closest_unit.py`` (the speed
  baseline of ``bench_simulate.py``): on replays where both make the same choices, the
  response times, queueing and travel times and the units sent are equal, exactly.
* The dispatch core (:func:`xunfang.dispatch.recommend.recommend`): the simulator's
  vectorised choice of the closest unit is the one the core recommends, on random states.

The road networks here are synthetic (a jittered grid built in this file).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import scipy.sparse as sp

from xunfang.dispatch.model import Unit, UnitKind, UnitStatus
from xunfang.dispatch.recommend import TravelTimeOracle, recommend
from xunfang.simulate.sim import CallSet, SimSettings, UnitSpec, _Run, simulate
from xunfang.simulate.tables import Distribution

pytest.importorskip("simpy")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _baseline() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "simpy_closest_unit", BENCHMARKS / "simpy_closest_unit.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def grid(side: int, seed: int, *, one_way_share: float = 0.0) -> sp.csr_matrix:
    """Synthetic side x side street grid, edge times 20..90 s (random, seeded); with
    ``one_way_share`` some streets are made slower one way (an asymmetric matrix)."""
    rng = np.random.default_rng(seed)
    rows, cols, times = [], [], []
    for r in range(side):
        for c in range(side):
            u = r * side + c
            for v in ([u + 1] if c + 1 < side else []) + ([u + side] if r + 1 < side else []):
                t = float(rng.uniform(20.0, 90.0))
                back = t * (3.0 if rng.random() < one_way_share else 1.0)
                rows += [u, v]
                cols += [v, u]
                times += [t, back]
    n = side * side
    return sp.csr_matrix((times, (rows, cols)), shape=(n, n))


def random_calls(
    n: int, n_nodes: int, seed: int, mean_gap_s: float, *, min_gap_s: float = 0.0
) -> CallSet:
    rng = np.random.default_rng(seed)
    # whole seconds, as in the real (minute-stamped) data: calls share instants
    t = np.cumsum(min_gap_s + np.floor(rng.exponential(mean_gap_s, n)))
    return CallSet(
        t_s=t,
        node=rng.integers(0, n_nodes, n),
        priority=rng.integers(1, 6, n),
        type_group=np.full(n, "other", dtype=object),
        call_processing_s=rng.uniform(30.0, 120.0, n),
        on_scene_s=rng.lognormal(np.log(900.0), 0.6, n),
        dispatch_q=rng.uniform(0.01, 0.99, n),
    )


DELAY = Distribution(dist="lognormal", median=60.0, p90=180.0)
HOURS = tuple(float(f) for f in np.random.default_rng(5).uniform(0.8, 1.5, 24))


def run_both(
    matrix: sp.csr_matrix, calls: CallSet, posts: list[int], factors: list[float], mode: str
) -> tuple[object, object]:
    oracle = TravelTimeOracle(matrix)
    units = [
        UnitSpec(f"car{j}", UnitKind.STATION_CAR, p, speed_factor=f)
        for j, (p, f) in enumerate(zip(posts, factors, strict=True))
    ]
    settings = SimSettings(
        dispatch_delay_s={UnitKind.STATION_CAR: DELAY},
        speed_factor_by_hour=HOURS,
        start_hour=7.5,
        cleared_at=mode,  # type: ignore[arg-type]
    )
    ours = simulate(oracle, calls, units, settings)
    table = oracle.anchor_columns()[:, oracle.anchor_row(np.asarray(posts))].T
    theirs = _baseline().simpy_closest_unit(
        np.ascontiguousarray(table),
        np.asarray(factors),
        calls.t_s,
        calls.node,
        calls.priority,
        calls.call_processing_s,
        DELAY.from_quantile(calls.dispatch_q),
        calls.on_scene_s,
        factor_by_hour=np.asarray(HOURS),
        start_hour=7.5,
    )
    return ours, theirs


def _assert_same(ours: object, theirs: object) -> None:
    frame = ours.calls  # type: ignore[attr-defined]
    unit = np.array([int(u[3:]) if u else -1 for u in frame["unit_id"]])
    np.testing.assert_array_equal(unit, theirs.unit)  # type: ignore[attr-defined]
    for col in ("response_s", "queue_s"):
        np.testing.assert_array_equal(frame[col].to_numpy(), getattr(theirs, col))
    # travel_s is "on scene - set off" here, a difference of two clock readings: equal to
    # the drive time up to the rounding of that subtraction
    np.testing.assert_allclose(frame["travel_s"].to_numpy(), theirs.travel_s, rtol=0, atol=1e-6)  # type: ignore[attr-defined]


def test_same_as_simpy_when_units_wait_at_their_posts() -> None:
    # 600 calls on 5 cars, about one call every 4 minutes and 15 minutes on scene: cars
    # are often all busy, calls queue by priority, several share an instant
    matrix = grid(12, seed=1)
    calls = random_calls(600, 144, seed=2, mean_gap_s=240.0)
    ours, theirs = run_both(matrix, calls, [0, 17, 70, 131, 143], [1.0, 1.0, 0.9, 1.2, 1.0], "post")
    _assert_same(ours, theirs)
    frame = ours.calls  # type: ignore[attr-defined]
    assert frame["served"].all()
    assert (frame["queue_s"] > 0).mean() > 0.2  # the queue matters in this replay
    assert frame["t_s"].duplicated().sum() > 0  # and calls share instants


def test_same_as_simpy_on_a_sparse_replay_with_units_driving_back() -> None:
    # calls at least 8 hours apart: every unit is back at its post before the next call,
    # so where a unit waits after clearing (scene or post) makes no difference
    matrix = grid(12, seed=3, one_way_share=0.3)
    calls = random_calls(150, 144, seed=4, mean_gap_s=600.0, min_gap_s=8 * 3600.0)
    ours, theirs = run_both(matrix, calls, [5, 60, 140], [1.0, 1.1, 1.0], "scene")
    _assert_same(ours, theirs)


def test_units_waiting_at_the_scene_differ_from_the_plain_model() -> None:
    # the remaining difference, shown: with busy units driving back, some calls are
    # served from a scene and the response times are no longer the same
    matrix = grid(12, seed=1)
    calls = random_calls(600, 144, seed=2, mean_gap_s=240.0)
    ours, theirs = run_both(
        matrix, calls, [0, 17, 70, 131, 143], [1.0, 1.0, 0.9, 1.2, 1.0], "scene"
    )
    same = ours.calls["response_s"].to_numpy() == theirs.response_s  # type: ignore[attr-defined]
    assert 0.0 < same.mean() < 1.0


@pytest.mark.parametrize("one_way_share", [0.0, 0.3])
def test_choice_of_unit_is_the_dispatch_cores(one_way_share: float) -> None:
    rng = np.random.default_rng(7)
    matrix = grid(15, seed=8, one_way_share=one_way_share)
    n = matrix.shape[0]
    posts = [0, 14, 112, 210, 224, 100]
    specs = [
        UnitSpec(
            f"u{j}",
            UnitKind.STATION_CAR,
            posts[j % len(posts)],
            speed_factor=float(rng.choice([1.0, 1.0, 0.8, 3.0])),
            max_travel_s=None if j % 3 else float(rng.uniform(200.0, 900.0)),
            max_priority=int(rng.choice([5, 5, 5, 1])),
        )
        for j in range(14)
    ]
    oracle = TravelTimeOracle(matrix)
    calls = random_calls(1, n, seed=9, mean_gap_s=1.0)
    run = _Run(oracle, calls, specs, SimSettings(dispatch_delay_s={UnitKind.STATION_CAR: DELAY}))
    reference = TravelTimeOracle(matrix)  # its own caches: nothing shared with the run
    reference.add_anchors(np.asarray(posts))
    checked = 0
    for _ in range(300):
        # random positions: at a post (anchored) or anywhere (driving back)
        for j in range(len(specs)):
            run._place(j, int(rng.choice(posts)) if rng.random() < 0.6 else int(rng.integers(n)))
        free = rng.random(len(specs)) < 0.5
        target, priority = int(rng.integers(n)), int(rng.integers(1, 6))
        units = [
            Unit(
                s.unit_id,
                s.kind,
                home_node=s.post_node,
                node=int(run.node[j]),
                status=UnitStatus.AVAILABLE if free[j] else UnitStatus.ON_SCENE,
                speed_factor=s.speed_factor,
                max_travel_s=s.max_travel_s,
                max_priority=s.max_priority,
            )
            for j, s in enumerate(specs)
        ]
        best = recommend(units, target, reference, k=1, priority=priority)
        j, eta = run._closest(target, free & run.eligible[priority])
        if best:
            assert specs[j].unit_id == best[0].unit_id
            assert eta == pytest.approx(best[0].eta_s, rel=1e-6)
            checked += 1
        else:
            assert j == -1
    assert checked > 100
