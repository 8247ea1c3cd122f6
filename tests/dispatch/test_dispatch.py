"""The dispatch core: closest unit by road, state machines, queue and preemption."""

from __future__ import annotations

import numpy as np
import pytest

from xunfang.dispatch.board import DispatchBoard, assign_waiting
from xunfang.dispatch.model import Call, CallStatus, TransitionError, Unit, UnitKind, UnitStatus
from xunfang.dispatch.recommend import TravelTimeOracle, recommend
from xunfang.errors import ValidationError
from xunfang.ingest.network import network_from_edges

# Node 0 is the call. Unit A sits at node 1, only 100 m away in a straight line but across a
# river: its road goes round by node 3 (1 -> 3 -> 0, 1000 m + 1000 m). Unit B sits at node
# 2, 500 m away with a direct road. At 36 km/h (10 m/s): A needs 200 s, B 50 s.
XY = np.array([[0.0, 0.0], [100.0, 0.0], [500.0, 0.0], [600.0, 900.0]])
EDGES = [(1, 3, 1000.0), (3, 0, 1000.0), (2, 0, 500.0)]


@pytest.fixture
def oracle() -> TravelTimeOracle:
    net = network_from_edges(XY, EDGES, "EPSG:32616", speed_kph=36.0)
    return TravelTimeOracle(net.matrix)


def _board(oracle: TravelTimeOracle, preempt_min: int | None = None) -> DispatchBoard:
    board = DispatchBoard(oracle, preempt_min=preempt_min)
    board.add_unit(Unit("A", UnitKind.BOOTH, home_node=1, node=1))
    board.add_unit(Unit("B", UnitKind.PATROL, home_node=2, node=2))
    return board


def test_closest_by_road_not_straight_line(oracle: TravelTimeOracle) -> None:
    board = _board(oracle)
    recs = recommend(list(board.units.values()), 0, oracle, k=2)
    assert [(r.unit_id, r.eta_s) for r in recs] == [
        ("B", pytest.approx(50.0)),
        ("A", pytest.approx(200.0)),
    ]
    # straight-line distance would have picked A (100 m against 500 m)
    assert np.hypot(*XY[1]) < np.hypot(*XY[2])
    # a second question about node 0 is answered from the cache
    recommend(list(board.units.values()), 0, oracle, k=1)
    assert oracle.searches == 1


def test_speed_factor_and_unavailable_units(oracle: TravelTimeOracle) -> None:
    units = [Unit("A", UnitKind.BOOTH, 1, 1), Unit("B", UnitKind.PATROL, 2, 2, speed_factor=5.0)]
    assert [r.unit_id for r in recommend(units, 0, oracle, k=2)] == ["A", "B"]  # 200 s < 250 s
    units[0].status = UnitStatus.OUT_OF_SERVICE
    assert [r.unit_id for r in recommend(units, 0, oracle, k=2)] == ["B"]
    with pytest.raises(ValidationError, match="node 9 is not in the network"):
        recommend(units, 9, oracle)


def test_lifecycle_and_response_components(oracle: TravelTimeOracle) -> None:
    board = _board(oracle)
    board.receive(Call("c1", priority=2, type_group="property", node=0, received_s=100.0))
    assert list(assign_waiting(board, 130.0)) == [("c1", "B")]
    board.en_route("B", 145.0)
    board.arrive("B", 195.0)
    cleared = board.clear("B", 1395.0)
    assert cleared.status is CallStatus.CLEARED
    assert (
        cleared.call_processing_s,
        cleared.dispatch_delay_s,
        cleared.travel_s,
        cleared.response_s,
        cleared.on_scene_time_s,
    ) == (30.0, 15.0, 50.0, 95.0, 1200.0)
    assert board.units["B"].status is UnitStatus.AVAILABLE
    assert board.units["B"].node == 0  # where it cleared; the caller sends it home
    assert [s for _, s, _ in cleared.history] == [
        CallStatus.RECEIVED,
        CallStatus.DISPATCHED,
        CallStatus.EN_ROUTE,
        CallStatus.ON_SCENE,
        CallStatus.CLEARED,
    ]


def test_a_unit_cannot_be_assigned_twice(oracle: TravelTimeOracle) -> None:
    board = _board(oracle)
    board.receive(Call("c1", 2, "property", 0, 0.0))
    board.receive(Call("c2", 2, "property", 0, 1.0))
    board.dispatch("c1", "B", 5.0)
    with pytest.raises(TransitionError, match="unit B is dispatched to call c1: not available"):
        board.dispatch("c2", "B", 6.0)
    # nothing changed by the refusal
    assert board.calls["c2"].status is CallStatus.RECEIVED
    assert board.units["B"].call_id == "c1"
    with pytest.raises(TransitionError, match="cannot go from dispatched to on_scene"):
        board.arrive("B", 7.0)


def test_queue_order_priority_then_time(oracle: TravelTimeOracle) -> None:
    board = DispatchBoard(oracle)
    board.add_unit(Unit("B", UnitKind.PATROL, 2, 2))
    board.receive(Call("late-p3", 3, "disorder", 0, 10.0))
    board.receive(Call("p1", 1, "violent", 0, 20.0))
    board.receive(Call("early-p3", 3, "disorder", 0, 5.0))
    assert board.waiting() == ["p1", "early-p3", "late-p3"]
    assert list(assign_waiting(board, 21.0)) == [("p1", "B")]  # one unit: the rest wait
    assert board.waiting() == ["early-p3", "late-p3"]


def test_preemption_requeues_the_diverted_call(oracle: TravelTimeOracle) -> None:
    board = DispatchBoard(oracle, preempt_min=3)
    board.add_unit(Unit("B", UnitKind.PATROL, 2, 2))
    board.receive(Call("noise", 4, "disorder", 3, 0.0))
    board.dispatch("noise", "B", 1.0)
    board.en_route("B", 2.0)
    board.receive(Call("shots", 1, "violent", 0, 10.0))
    cand = board.preemption_candidate("shots")
    assert cand is not None and cand.unit_id == "B"
    board.dispatch("shots", "B", 11.0)
    noise = board.calls["noise"]
    assert noise.status is CallStatus.RECEIVED and noise.preempted == 1
    assert noise.call_processing_s == 1.0  # measured to the first dispatch
    assert board.waiting() == ["noise"]
    assert board.units["B"].call_id == "shots"
    # without preemption the same diversion is refused
    plain = DispatchBoard(oracle)
    plain.add_unit(Unit("B", UnitKind.PATROL, 2, 2))
    plain.receive(Call("noise", 4, "disorder", 3, 0.0))
    plain.dispatch("noise", "B", 1.0)
    plain.receive(Call("shots", 1, "violent", 0, 10.0))
    assert plain.preemption_candidate("shots") is None
    with pytest.raises(TransitionError, match="not available"):
        plain.dispatch("shots", "B", 11.0)


def test_cancel_frees_the_unit_and_bad_input(oracle: TravelTimeOracle) -> None:
    board = _board(oracle)
    board.receive(Call("c1", 2, "service", 0, 0.0))
    board.dispatch("c1", "A", 1.0)
    board.cancel("c1", 2.0)
    assert board.units["A"].status is UnitStatus.AVAILABLE
    assert board.calls["c1"].status is CallStatus.CANCELLED
    with pytest.raises(ValidationError, match=r"priority must be 1\.\.5"):
        Call("x", 0, "service", 0, 0.0)
    with pytest.raises(ValidationError, match="already exists"):
        board.receive(Call("c1", 2, "service", 0, 0.0))
    late = Call("y", 2, "service", 0, 1.0)
    with pytest.raises(ValidationError, match=r"time 0\.5 is before the previous step"):
        late.dispatch("A", 0.5)
    # units within 120 s of node 0 for an alert: only B (50 s); A needs 200 s
    assert [r.unit_id for r in board.units_within(0, 120.0)] == ["B"]


def _road(*lengths_m: float, isolated: int = 0) -> TravelTimeOracle:
    """Nodes 0..n in a line along x with the given road lengths between them (36 km/h:
    10 m/s), and ``isolated`` extra nodes with no road."""
    n = len(lengths_m) + 1
    xs = np.concatenate([[0.0], np.cumsum(lengths_m)])
    xy = np.array([[x, 0.0] for x in xs] + [[0.0, 5000.0 + 100 * i] for i in range(isolated)])
    edges = [(i, i + 1, length) for i, length in enumerate(lengths_m)]
    net = network_from_edges(xy, edges, "EPSG:32616", speed_kph=36.0)
    assert net.n_nodes == n + isolated
    return TravelTimeOracle(net.matrix)


def test_on_route_places_a_returning_unit_by_the_time_it_has_left() -> None:
    # 0 -> 1 -> 2 -> 3 takes 10 + 30 + 20 = 60 s
    oracle = _road(100.0, 300.0, 200.0, isolated=1)
    # 45 s to go: 15 s driven, past node 1 (at 10 s), 5 s into the 30 s road to node 2
    assert oracle.on_route(0, 3, 45.0) == (2, pytest.approx(25.0))
    assert oracle.on_route(0, 3, 50.0) == (1, pytest.approx(0.0))
    # 5 s to go: on the last road, 5 s from the post
    assert oracle.on_route(0, 3, 5.0) == (3, pytest.approx(5.0))
    # not yet left, or the ETA longer than the route: it is where it was seen
    assert oracle.on_route(0, 3, 60.0) == (0, 0.0)
    assert oracle.on_route(0, 3, 100.0) == (0, 0.0)
    # overdue: at the post
    assert oracle.on_route(0, 3, -3.0) == (3, 0.0)
    # twice as slow (20, 60, 40 s): 90 s to go = 30 s driven, 10 s into the 60 s road
    assert oracle.on_route(0, 3, 90.0, factor=2.0) == (2, pytest.approx(50.0))
    # no road to the post: left where it was seen
    assert oracle.on_route(0, 4, 30.0) == (0, 0.0)
    with pytest.raises(ValidationError, match="factor must be > 0"):
        oracle.on_route(0, 3, 30.0, factor=0.0)


def test_recommend_adds_the_time_to_reach_the_node() -> None:
    oracle = _road(100.0, 300.0, 200.0)
    # A is 25 s short of node 2 (then 20 s to the call at 3); B waits at node 0 (60 s)
    units = [
        Unit("B", UnitKind.PATROL, 0, 0),
        Unit("A", UnitKind.PATROL, 0, 2, status=UnitStatus.RETURNING, to_node_s=25.0),
    ]
    statuses = frozenset({UnitStatus.AVAILABLE, UnitStatus.RETURNING})
    got = recommend(units, 3, oracle, k=2, statuses=statuses)
    assert [(r.unit_id, r.eta_s, r.node) for r in got] == [("A", 45.0, 2), ("B", 60.0, 0)]
    # the same with node 2 an anchor (table look-up) and node 0 searched
    oracle.add_anchors([2])
    got = recommend(units, 3, oracle, k=2, statuses=statuses)
    assert [(r.unit_id, r.eta_s) for r in got] == [("A", 45.0), ("B", 60.0)]
