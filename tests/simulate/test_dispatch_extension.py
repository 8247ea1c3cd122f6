"""The extensions of the dispatch core made for the simulator: anchors with bounded and
landmark-pruned searches (same answers as full searches), area and priority limits, and a
queue that skips calls no free unit may take."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from xunfang.dispatch.board import DispatchBoard, assign_waiting
from xunfang.dispatch.model import Call, Unit, UnitKind, UnitStatus
from xunfang.dispatch.recommend import TravelTimeOracle, recommend


def _grid_graph(n_side: int, seed: int, directed: bool) -> sp.csr_matrix:
    """A jittered grid street graph with random edge times (one-way-ish when directed)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n_side * n_side).reshape(n_side, n_side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    t = rng.uniform(5.0, 60.0, u.size)
    back = t * (rng.uniform(1.0, 2.0, u.size) if directed else 1.0)
    n = n_side * n_side
    return sp.csr_matrix(
        (np.concatenate([t, back]), (np.concatenate([u, v]), np.concatenate([v, u]))),
        shape=(n, n),
    )


@pytest.mark.parametrize("directed", [False, True])
def test_anchored_ranking_equals_full_search(directed: bool) -> None:
    m = _grid_graph(30, seed=4, directed=directed)
    n = m.shape[0]
    rng = np.random.default_rng(9)
    exact = dijkstra(m, directed=True)  # (n, n) all pairs, the reference
    posts = rng.choice(n, 25, replace=False)
    plain = TravelTimeOracle(m)
    fast = TravelTimeOracle(m)
    fast.add_anchors(posts)
    for trial in range(60):
        units = []
        for i in range(40):
            # most units at posts, some elsewhere (driving back from calls)
            node = int(posts[i % 25]) if rng.random() < 0.7 else int(rng.integers(n))
            units.append(
                Unit(
                    f"u{i}", UnitKind.PATROL, node, node, speed_factor=float(rng.choice([1.0, 1.3]))
                )
            )
        target = int(rng.integers(n))
        a = recommend(units, target, plain, k=3)
        b = recommend(units, target, fast, k=3)
        assert [r.unit_id for r in a] == [r.unit_id for r in b], trial
        want = sorted(exact[u.node, target] * u.speed_factor for u in units)[:3]
        assert [r.eta_s for r in b] == pytest.approx(want, rel=1e-5)
    assert fast.searches == 0  # no full search: anchors and bounded searches only
    assert 0 < fast.bounded_searches < 60  # landmark bounds spared some searches
    for source in (int(posts[0]), 5, 77):  # a post, then any nodes: a look-up or a search
        assert fast.time(source, 123) == pytest.approx(exact[source, 123], rel=1e-5)


def test_lower_bound_is_a_lower_bound() -> None:
    m = _grid_graph(20, seed=1, directed=True)
    exact = dijkstra(m, directed=True)
    oracle = TravelTimeOracle(m)
    oracle.add_anchors([0, 57, 210, 399])
    src = np.arange(400)
    for target in (3, 150, 377):
        lb = oracle.lower_bound(src, target)
        # float32 tables: equal up to rounding (the pruning allows 1 ms + 1e-6 relative)
        assert (lb <= exact[src, target] * (1 + 1e-6) + 1e-3).all()
        assert lb.max() > 0


def test_area_and_priority_limits_and_skipping_queue() -> None:
    # a path 0 - 1 - 2 - 3, 60 s per edge
    m = sp.csr_matrix(([60.0] * 6, ([0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2])), shape=(4, 4))
    oracle = TravelTimeOracle(m)
    board = DispatchBoard(oracle)
    board.add_unit(Unit("booth", UnitKind.BOOTH, 0, 0, max_travel_s=90.0))
    board.add_unit(Unit("rrt", UnitKind.RESPONSE_TEAM, 3, 3, max_priority=1))
    board.receive(Call("far", 2, "property", 3, 0.0))  # booth: 180 s > 90 s; rrt: P2 > 1
    board.receive(Call("near", 3, "property", 1, 1.0))  # booth: 60 s
    board.receive(Call("shots", 1, "violent", 2, 2.0))  # rrt: 60 s
    assert [r.unit_id for r in board.recommend("far")] == []
    # queue order: shots (P1), far (P2), near (P3). The default stops at "far" ...
    assert list(assign_waiting(board, 3.0)) == [("shots", "rrt")]
    assert board.waiting() == ["far", "near"]
    # ... skipping it, "near" gets the booth officer
    assert list(assign_waiting(board, 3.0, skip_unreachable=True)) == [("near", "booth")]
    assert board.waiting() == ["far"]
    # alerts ignore the area limit: both units are "near" node 2 in some sense
    assert [r.unit_id for r in board.units_within(2, 200.0)] == ["rrt", "booth"]
    assert board.units["booth"].status is UnitStatus.DISPATCHED
