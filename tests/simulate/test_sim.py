"""The event loop and the simulation core, on hand-made graphs with hand-worked answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xunfang.dispatch.model import UnitKind
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.errors import ValidationError
from xunfang.ingest.network import network_from_edges
from xunfang.simulate.calls import Period, incident_frame, replay_calls
from xunfang.simulate.engine import NORMAL, URGENT, EventQueue
from xunfang.simulate.sim import CallSet, SimSettings, UnitSpec, simulate
from xunfang.simulate.tables import Distribution, load_sim_table

# Node 0 is where calls happen. Node 1 is 100 m from node 0 in a straight line but across a
# river: its road goes round by node 3 (1 -> 3 -> 0, 1000 m + 1000 m). Node 2 is 500 m away
# with a direct road. At 36 km/h (10 m/s): d(1,0) = 200 s, d(2,0) = 50 s, d(3,0) = 100 s,
# d(1,3) = 100 s, d(2,3) = 150 s, d(1,2) = 250 s.
XY = np.array([[0.0, 0.0], [100.0, 0.0], [500.0, 0.0], [600.0, 900.0]])
EDGES = [(1, 3, 1000.0), (3, 0, 1000.0), (2, 0, 500.0)]
TEN_S = Distribution(dist="fixed", value=10.0)


@pytest.fixture
def oracle() -> TravelTimeOracle:
    return TravelTimeOracle(network_from_edges(XY, EDGES, "EPSG:32616", speed_kph=36.0).matrix)


def _calls(t: list[float], node: list[int], prio: list[int], scene: list[float]) -> CallSet:
    n = len(t)
    return CallSet(
        t_s=np.array(t),
        node=np.array(node),
        priority=np.array(prio),
        type_group=np.full(n, "other", dtype=object),
        call_processing_s=np.full(n, 30.0),
        on_scene_s=np.array(scene),
        dispatch_q=np.full(n, 0.5),
    )


def _settings(preempt_min: int | None = None, **kw: object) -> SimSettings:
    return SimSettings(
        dispatch_delay_s=dict.fromkeys(UnitKind, TEN_S),
        preempt_min=preempt_min,
        period_s=1000.0,
        record_log=True,
        **kw,  # type: ignore[arg-type]
    )


UNITS = [
    UnitSpec("A", UnitKind.BOOTH, 1, vehicle=False),
    UnitSpec("B", UnitKind.STATION_CAR, 2, vehicle=False),
]
# c0 at node 0 (priority 3, 300 s on scene), c1 at node 3 (P2, 100 s), c2 at node 0 (P1, 60 s)
THREE = ([0.0, 10.0, 20.0], [0, 3, 0], [3, 2, 1], [300.0, 100.0, 60.0])


def test_event_queue_orders_by_time_priority_then_insertion() -> None:
    q = EventQueue()
    q.schedule(5.0, 1, 10)
    q.schedule(5.0, 2, 20)
    q.schedule(5.0, 3, 30, priority=URGENT)
    q.schedule(1.0, 4, 40, priority=NORMAL)
    assert [q.pop()[1] for _ in range(4)] == [4, 3, 1, 2]
    assert q.now == 5.0 and q.scheduled == 4
    with pytest.raises(ValidationError, match=r"before the current time 5\.0 s"):
        q.schedule(4.0, 1)


def test_three_calls_two_units_event_log_by_hand(oracle: TravelTimeOracle) -> None:
    # c0 is ready at 30 s: B (50 s away by road) beats A (200 s) -> on scene at 30+10+50.
    # c1 is ready at 40 s: only A is free (100 s to node 3) -> on scene 150, clears 250.
    # c2 (P1) is ready at 50 s and waits: nobody is free. At 250 A clears at node 3, is
    # 100 s from node 0 and takes it (queue 200 s); on scene 360, clears 420.
    # B clears c0 at 390 and is back at its post at 440; A is home (200 s) at 620.
    result = simulate(oracle, _calls(*THREE), UNITS, _settings())
    assert list(result.log) == [
        (0.0, "received", 0, ""),
        (10.0, "received", 1, ""),
        (20.0, "received", 2, ""),
        (30.0, "queued", 0, ""),
        (30.0, "dispatched", 0, "B"),
        (40.0, "queued", 1, ""),
        (40.0, "dispatched", 1, "A"),
        (40.0, "en_route", 0, "B"),
        (50.0, "queued", 2, ""),
        (50.0, "en_route", 1, "A"),
        (90.0, "on_scene", 0, "B"),
        (150.0, "on_scene", 1, "A"),
        (250.0, "cleared", 1, "A"),
        (250.0, "dispatched", 2, "A"),
        (260.0, "en_route", 2, "A"),
        (360.0, "on_scene", 2, "A"),
        (390.0, "cleared", 0, "B"),
        (420.0, "cleared", 2, "A"),
        (440.0, "at_post", -1, "B"),
        (620.0, "at_post", -1, "A"),
    ]
    c = result.calls.set_index("call")
    cols = ["call_processing_s", "queue_s", "dispatch_delay_s", "travel_s", "response_s"]
    assert c.loc[0, cols].tolist() == [30.0, 0.0, 10.0, 50.0, 90.0]
    assert c.loc[1, cols].tolist() == [30.0, 0.0, 10.0, 100.0, 140.0]
    assert c.loc[2, cols].tolist() == [30.0, 200.0, 10.0, 100.0, 340.0]
    assert c["unit_id"].tolist() == ["B", "A", "A"]
    assert c["busy_s"].tolist() == [360.0, 210.0, 170.0]
    u = result.units.set_index("unit_id")
    # A busy 40-420 s, B 30-390 s, over a 1000 s period
    assert u["busy_s"].tolist() == [380.0, 360.0]
    assert u["utilisation"].tolist() == [0.38, 0.36]
    assert u["calls"].tolist() == [2, 1]


def test_preemption_by_hand(oracle: TravelTimeOracle) -> None:
    # With preemption (P1 may divert units travelling to calls of priority >= 3): at 50 s
    # c2 finds no free unit; B is en route to c0 (P3) and is diverted from node 2, where it
    # set off: 50 s to node 0, on scene at 100, clears at 160. c0 waits again and B, now at
    # node 0, takes it at 160 (0 s travel), clears at 170 + 300 = 470.
    result = simulate(oracle, _calls(*THREE), UNITS, _settings(preempt_min=3))
    log = [e for e in result.log if e[1] != "received"]
    assert log[5:13] == [
        (50.0, "queued", 2, ""),
        (50.0, "preempted", 0, "B"),
        (50.0, "diverted", 2, "B"),
        (50.0, "en_route", 1, "A"),
        (50.0, "en_route", 2, "B"),
        (100.0, "on_scene", 2, "B"),
        (150.0, "on_scene", 1, "A"),
        (160.0, "cleared", 2, "B"),
    ]
    c = result.calls.set_index("call")
    assert c.loc[2, "response_s"] == 80.0  # instead of 340 s without preemption
    assert c.loc[0, "response_s"] == 170.0  # the routine call pays: 90 s before
    assert c["preempted"].tolist() == [1, 0, 0]
    assert result.units.set_index("unit_id").loc["B", "busy_s"] == 440.0


def test_closest_unit_by_road_not_straight_line(oracle: TravelTimeOracle) -> None:
    # A is 100 m from the call in a straight line, B 500 m; by road B is 150 s faster
    assert np.hypot(*XY[1]) < np.hypot(*XY[2])
    result = simulate(oracle, _calls([0.0], [0], [2], [60.0]), UNITS, _settings())
    assert result.calls["unit_id"].tolist() == ["B"]
    assert result.calls["travel_s"].tolist() == [50.0]


def test_area_limit_priority_limit_and_speed_factors(oracle: TravelTimeOracle) -> None:
    units = [
        # a booth officer on foot (factor 6) limited to 700 s: node 0 is 200 s x 6 = 1200 s
        # away (out of its area), node 3 is 100 s x 6 = 600 s away (in it)
        UnitSpec("foot", UnitKind.BOOTH, 1, speed_factor=6.0, vehicle=False, max_travel_s=700.0),
        # a response team only for priority 1, 50 s x 0.9 from node 0
        UnitSpec("rrt", UnitKind.RESPONSE_TEAM, 2, speed_factor=0.9, max_priority=1),
    ]
    calls = _calls([0.0, 1000.0, 2000.0], [0, 0, 3], [2, 1, 2], [60.0, 60.0, 60.0])
    settings = _settings(speed_factor_by_hour=(2.0,) * 24)
    result = simulate(oracle, calls, units, settings)
    c = result.calls.set_index("call")
    assert c.loc[1, "unit_id"] == "rrt"
    assert c.loc[1, "travel_s"] == pytest.approx(50.0 * 0.9 * 2.0)  # rush-hour factor 2
    assert c.loc[2, "unit_id"] == "foot"  # the waiting call 0 does not block it
    assert c.loc[2, "travel_s"] == pytest.approx(100.0 * 6.0)
    # call 0 waits until the officer clears call 2 at node 3 (2030 + 10 + 600 + 60 = 2700 s):
    # from there node 0 is 100 s x 6 = 600 s <= 700 s, so it is sent from the scene
    assert c.loc[0, "unit_id"] == "foot"
    assert c.loc[0, "queue_s"] == pytest.approx(2700.0 - 30.0)
    assert c.loc[0, "response_s"] == pytest.approx(2700.0 + 10.0 + 600.0)


def test_duty_blocks_take_units_on_and_off(oracle: TravelTimeOracle) -> None:
    units = [
        UnitSpec("B", UnitKind.STATION_CAR, 2, vehicle=False, duty=((100.0, 200.0, 2),)),
        UnitSpec("late", UnitKind.STATION_CAR, 1, vehicle=False, duty=((500.0, 900.0, 1),)),
    ]
    # a call at 0 s waits for B's shift (100 s); one at 250 s waits for "late" (500 s)
    calls = _calls([0.0, 250.0], [0, 0], [2, 2], [30.0, 30.0])
    result = simulate(oracle, calls, units, _settings())
    c = result.calls.set_index("call")
    assert c["unit_id"].tolist() == ["B", "late"]
    assert c["queue_s"].tolist() == [70.0, 220.0]
    events = [(t, e, u) for t, e, _, u in result.log if e in ("on_duty", "off_duty")]
    assert events == [
        (100.0, "on_duty", "B"),
        (200.0, "off_duty", "B"),
        (500.0, "on_duty", "late"),
        (900.0, "off_duty", "late"),
    ]
    assert result.units.set_index("unit_id")["on_duty_s"].tolist() == [100.0, 400.0]


def test_patrol_follows_its_route(oracle: TravelTimeOracle) -> None:
    # the patrol spends 100 s at node 1, then 100 s at node 2, ...: a call received at
    # 150 s is ready at 180 s, when the patrol is at node 2 (180 // 100 = 1), 50 s away
    units = [UnitSpec("P", UnitKind.PATROL, 1, route=(1, 2), dwell_s=100.0, vehicle=False)]
    result = simulate(oracle, _calls([150.0], [0], [2], [10.0]), units, _settings())
    assert result.calls["travel_s"].tolist() == [50.0]


def _replay(seed: int) -> tuple[CallSet, object]:
    table = load_sim_table()
    local = pd.Series(
        pd.to_datetime(
            ["2015-06-01 08:00", "2015-06-01 00:00", "2015-06-02 13:30", "2015-06-03 23:59"]
        )
    )
    frame = incident_frame(
        local,
        pd.Series(["minute"] * 4),
        pd.Series(["violent", "property", "disorder", "vehicle"]),
        pd.Series(["ROBBERY", "THEFT", "NARCOTICS", "MOTOR VEHICLE THEFT"]),
        np.array([0, 3, 0, 1]),
        np.array([10.0, 20.0, 300.0, 5.0]),
    )
    return replay_calls(frame, Period.month("2015-06"), table, np.random.default_rng(seed))


def test_identical_seeds_give_identical_results() -> None:
    table = load_sim_table()
    settings = SimSettings(dispatch_delay_s=table.dispatch_delay_s, record_log=True)
    runs = []
    for seed in (11, 11, 12):
        calls, _ = _replay(seed)
        net = network_from_edges(XY, EDGES, "EPSG:32616", speed_kph=36.0)
        runs.append(simulate(TravelTimeOracle(net.matrix), calls, UNITS, settings))
    assert runs[0].log == runs[1].log
    pd.testing.assert_frame_equal(runs[0].calls, runs[1].calls)
    pd.testing.assert_frame_equal(runs[0].units, runs[1].units)
    assert runs[0].log != runs[2].log


def test_replay_counts_midnight_and_priorities() -> None:
    calls, report = _replay(3)
    assert report.calls == 4 and report.spread_midnight == 1 and report.far_from_road == 1
    # ROBBERY -> 1, NARCOTICS -> 3 (type overrides), vehicle theft 2; THEFT -> property 3
    by_id = dict(zip(calls.source_id.tolist(), calls.priority.tolist(), strict=True))
    assert by_id == {"0": 1, "1": 3, "2": 3, "3": 2}
    # the midnight call moved within its day, the others keep their time
    t = dict(zip(calls.source_id.tolist(), calls.t_s.tolist(), strict=True))
    assert 0.0 < t["1"] < 86400.0 and t["0"] == 8 * 3600.0
    assert t["3"] == 2 * 86400 + 23 * 3600 + 59 * 60


def test_bad_inputs_are_refused(oracle: TravelTimeOracle) -> None:
    with pytest.raises(ValidationError, match="sorted in time"):
        _calls([10.0, 0.0], [0, 0], [2, 2], [1.0, 1.0])
    with pytest.raises(ValidationError, match="duplicate unit ids"):
        simulate(oracle, _calls([0.0], [0], [2], [1.0]), [UNITS[0], UNITS[0]], _settings())
    with pytest.raises(ValidationError, match="not network nodes"):
        simulate(
            oracle,
            _calls([0.0], [0], [2], [1.0]),
            [UnitSpec("X", UnitKind.PATROL, 9)],
            _settings(),
        )
    with pytest.raises(ValidationError, match="duty blocks must be sorted"):
        UnitSpec("X", UnitKind.PATROL, 1, duty=((10.0, 5.0, 1),))


def test_a_unit_that_clears_is_free_for_a_call_ready_at_that_instant(
    oracle: TravelTimeOracle,
) -> None:
    # A (at node 2) takes c0 at node 0: ready 30 s, sets off 40, on scene 40 + 50 = 90.
    # c1 at node 0 becomes ready at the instant A clears. B waits at node 1, 200 s away.
    # Case 1: c1 received at 80 s (ready 110 s); c0 on scene 20 s, so A clears at 110 s.
    #   c1's "ready" event was scheduled at 80 s, A's "clear" at 90 s: by scheduling order
    #   c1 would come first and get B (response 30 + 10 + 200 = 240 s).
    # Case 2: c1 received at 95 s (ready 125 s); c0 on scene 35 s, A clears at 125 s: here
    #   the clear was scheduled first.
    # The rule (clears before calls at one instant) sends A from the scene, 0 s away, in
    # both: response 30 + 10 + 0 = 40 s.
    units = [
        UnitSpec("A", UnitKind.STATION_CAR, 2, vehicle=False),
        UnitSpec("B", UnitKind.STATION_CAR, 1, vehicle=False),
    ]
    for t1, scene, clear in ((80.0, 20.0, 110.0), (95.0, 35.0, 125.0)):
        result = simulate(
            oracle, _calls([0.0, t1], [0, 0], [2, 2], [scene, 60.0]), units, _settings()
        )
        c = result.calls.set_index("call")
        assert c["unit_id"].tolist() == ["A", "A"]
        assert c.loc[1, "response_s"] == 40.0 and c.loc[1, "queue_s"] == 0.0
        at_clear = [e for e in result.log if e[0] == clear]
        assert at_clear == [
            (clear, "cleared", 0, "A"),
            (clear, "queued", 1, ""),
            (clear, "dispatched", 1, "A"),
        ]


def test_calls_ready_at_one_instant_are_served_in_queue_order(oracle: TravelTimeOracle) -> None:
    # Both calls are received at 0 s and ready at 30 s, c0 (priority 3) at node 0 and
    # c1 (priority 1) at node 3. The only unit near is B (node 2: 50 s to node 0, 150 s to
    # node 3); A (node 1) is 100 s from node 3 and 200 s from node 0. One dispatch round
    # after both are queued serves c1 first (priority), which takes A (the closer to node
    # 3); c0 then gets B. Handling c0 as soon as it was queued (scheduling order) would
    # give the same pairs here only by luck, so check the log order too.
    result = simulate(oracle, _calls([0.0, 0.0], [0, 3], [3, 1], [60.0, 60.0]), UNITS, _settings())
    assert [e for e in result.log if e[0] == 30.0] == [
        (30.0, "queued", 0, ""),
        (30.0, "queued", 1, ""),
        (30.0, "dispatched", 1, "A"),
        (30.0, "dispatched", 0, "B"),
    ]
    # with one unit only, the priority-1 call gets it although c0 was queued first
    one = [UnitSpec("B", UnitKind.STATION_CAR, 2, vehicle=False)]
    result = simulate(oracle, _calls([0.0, 0.0], [0, 3], [3, 1], [60.0, 60.0]), one, _settings())
    c = result.calls.set_index("call")
    assert c.loc[1, "queue_s"] == 0.0 and c.loc[1, "travel_s"] == 150.0
    # c0 waits for B: c1 on scene 30 + 10 + 150 = 190, clears 250; B at node 3 is 100 s
    # from node 0: on scene 250 + 10 + 100 = 360
    assert c.loc[0, "queue_s"] == 220.0 and c.loc[0, "response_s"] == 360.0
