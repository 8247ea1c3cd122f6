"""Several units on one call (primary and backups), release, clearing and the trip back
to post; walking times and mixed ranking. Hand-worked values on a small synthetic graph."""

from __future__ import annotations

import numpy as np
import pytest

from xunfang.dispatch.board import DispatchBoard
from xunfang.dispatch.crew import (
    AlertRecipient,
    Crew,
    CrewRole,
    add_backup,
    alert_recipients,
    clear_crew,
    member_step,
    rank_mixed,
    release,
    road_path,
    walking_matrix,
)
from xunfang.dispatch.model import Call, CallStatus, TransitionError, Unit, UnitKind, UnitStatus
from xunfang.dispatch.recommend import Recommendation, TravelTimeOracle
from xunfang.errors import ValidationError
from xunfang.ingest.network import network_from_edges

# Synthetic: a line of 4 nodes 500 m apart at 36 km/h (50 s per piece); the call at node 0.
XY = np.array([[0.0, 0.0], [500.0, 0.0], [1000.0, 0.0], [1500.0, 0.0]])
EDGES = [(0, 1, 500.0), (1, 2, 500.0), (2, 3, 500.0)]


@pytest.fixture
def oracle() -> TravelTimeOracle:
    return TravelTimeOracle(network_from_edges(XY, EDGES, "EPSG:32616", speed_kph=36.0).matrix)


def _setup(oracle: TravelTimeOracle) -> tuple[DispatchBoard, Call, Crew]:
    board = DispatchBoard(oracle)
    for uid, n in (("P", 1), ("B1", 2), ("B2", 3)):
        board.add_unit(Unit(uid, UnitKind.PATROL, home_node=n, node=n))
    call = Call("c1", 3, "property", node=0, received_s=0.0)
    board.receive(call)
    board.dispatch("c1", "P", 10.0)
    return board, call, Crew("c1", {"P": CrewRole.PRIMARY})


def test_backup_joins_and_the_first_arrival_sets_the_calls_time(oracle: TravelTimeOracle) -> None:
    board, call, crew = _setup(oracle)
    add_backup(call, crew, board.units["B1"])
    assert (crew.primary, crew.backups, board.units["B1"].status) == (
        "P",
        ["B1"],
        UnitStatus.DISPATCHED,
    )
    with pytest.raises(TransitionError, match="already on call"):
        add_backup(call, crew, board.units["B1"])
    member_step(call, crew, board.units["B1"], UnitStatus.EN_ROUTE, 20.0)
    member_step(call, crew, board.units["B1"], UnitStatus.ON_SCENE, 70.0)
    # the backup's arrival puts the call on scene; the primary's later steps do not move it back
    assert (call.status, call.en_route_s, call.on_scene_s, call.unit_id) == (
        CallStatus.ON_SCENE,
        20.0,
        70.0,
        "P",
    )
    member_step(call, crew, board.units["P"], UnitStatus.EN_ROUTE, 80.0)
    assert (call.status, call.on_scene_s) == (CallStatus.ON_SCENE, 70.0)
    assert call.response_s == 70.0


def test_release_hands_the_call_to_the_backup_furthest_along(oracle: TravelTimeOracle) -> None:
    board, call, crew = _setup(oracle)
    add_backup(call, crew, board.units["B1"])
    add_backup(call, crew, board.units["B2"])
    member_step(call, crew, board.units["B2"], UnitStatus.EN_ROUTE, 20.0)
    new = release(call, crew, board.units["P"], 30.0, others=board.units)
    assert new is UnitStatus.AVAILABLE  # it had not set off
    assert (call.unit_id, crew.primary, crew.backups) == ("B2", "B2", ["B1"])
    assert call.status is CallStatus.EN_ROUTE
    # the last unit of a call: back to the queue before arrival...
    release(call, crew, board.units["B1"], 31.0)
    assert release(call, crew, board.units["B2"], 32.0) is UnitStatus.RETURNING
    assert (call.status, call.unit_id, call.preempted) == (CallStatus.RECEIVED, None, 1)


def test_the_last_unit_on_scene_cannot_leave_and_clearing_sends_units_home(
    oracle: TravelTimeOracle,
) -> None:
    board, call, crew = _setup(oracle)
    add_backup(call, crew, board.units["B1"])
    for uid in ("P", "B1"):
        member_step(call, crew, board.units[uid], UnitStatus.EN_ROUTE, 20.0)
        member_step(call, crew, board.units[uid], UnitStatus.ON_SCENE, 100.0)
        board.units[uid].node = 0  # on scene: where the call is
    release(call, crew, board.units["B1"], 110.0)
    with pytest.raises(TransitionError, match="clear the call"):
        release(call, crew, board.units["P"], 120.0)
    board.units["B2"].status = UnitStatus.AVAILABLE
    out = clear_crew(call, crew, board.units, 200.0)
    assert out == {"P": UnitStatus.RETURNING}
    assert (call.status, call.cleared_s, crew.members) == (CallStatus.CLEARED, 200.0, {})
    # the trip back: node 0 -> its post at node 1, 50 s; then available at the post
    assert oracle.time(0, board.units["P"].home_node) == 50.0
    board.returned("P")
    assert (board.units["P"].status, board.units["P"].node) == (UnitStatus.AVAILABLE, 1)


def test_board_clear_returning_keeps_the_simulators_default(oracle: TravelTimeOracle) -> None:
    board, _call, _ = _setup(oracle)
    board.en_route("P", 20.0)
    board.arrive("P", 70.0)
    board.clear("P", 100.0, returning=True)
    assert board.units["P"].status is UnitStatus.RETURNING
    # a returning unit can be dispatched again
    board.receive(Call("c2", 3, "property", node=3, received_s=110.0))
    board.dispatch("c2", "P", 120.0)
    assert board.units["P"].status is UnitStatus.DISPATCHED


def test_walking_times_and_mixed_ranking(oracle: TravelTimeOracle) -> None:
    # on foot at 5 km/h: 500 m = 500 / (5 / 3.6) = 360 s per piece
    walk = TravelTimeOracle(walking_matrix([0, 1, 2], [1, 2, 3], [500.0] * 3, 4))
    assert walk.time(1, 0) == pytest.approx(360.0)
    units = [
        Unit("car3", UnitKind.PATROL, home_node=3, node=3),  # 150 s by car
        Unit("foot1", UnitKind.BOOTH, home_node=1, node=1),  # 360 s on foot (50 s by car)
        Unit("car2", UnitKind.PATROL, home_node=2, node=2),  # 100 s by car
    ]
    recs = rank_mixed(units, frozenset({"foot1"}), 0, oracle, walk, k=3)
    assert [(r.unit_id, round(r.eta_s, 3)) for r in recs] == [
        ("car2", 100.0),
        ("car3", 150.0),
        ("foot1", 360.0),
    ]
    matrix = network_from_edges(XY, EDGES, "EPSG:32616", speed_kph=36.0).matrix
    path, time_s = road_path(matrix, 3, 0)
    assert (path, time_s) == ([3, 2, 1, 0], 150.0)


def test_alert_recipients_are_the_nearest_available_and_busy_only_to_make_up() -> None:
    # synthetic ranking, fastest first: a busy unit nearest, then available/returning ones
    ranked = [
        Recommendation("busy1", 20.0, 0),
        Recommendation("free1", 60.0, 0),
        Recommendation("busy2", 90.0, 0),
        Recommendation("back1", 120.0, 0),  # returning to post: counts as available
    ]
    status = {"busy1": "on_scene", "free1": "available", "busy2": "en_route", "back1": "returning"}
    # two asked, two available: busy units are left out although nearer
    assert alert_recipients(ranked, status, 2) == [
        AlertRecipient("free1", 60.0, busy=False),
        AlertRecipient("back1", 120.0, busy=False),
    ]
    # three asked, two available: the nearest busy unit makes up the number, fastest first
    assert alert_recipients(ranked, status, 3) == [
        AlertRecipient("busy1", 20.0, busy=True),
        AlertRecipient("free1", 60.0, busy=False),
        AlertRecipient("back1", 120.0, busy=False),
    ]
    # more asked than units within reach: every one, the busy marked
    assert [(r.unit_id, r.busy) for r in alert_recipients(ranked, status, 9)] == [
        ("busy1", True),
        ("free1", False),
        ("busy2", True),
        ("back1", False),
    ]
    assert alert_recipients([], status, 3) == []
    with pytest.raises(ValidationError, match="units must be >= 1, got 0"):
        alert_recipients(ranked, status, 0)
