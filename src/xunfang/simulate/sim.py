"""The discrete-event simulation of calls, units and dispatch.

The dispatch decisions are those of the shared dispatch core
(:mod:`xunfang.dispatch`): :class:`~xunfang.dispatch.board.DispatchBoard` holds the units
and calls and checks every state change; :func:`~xunfang.dispatch.board.assign_waiting`
sends the closest available unit by road travel time, calls waiting in a queue ordered by
priority, then time received; optionally a priority-1 call diverts a unit travelling to a
routine call (preemption). This module only drives the clock.

Life of a call (times in seconds since the start of the period)::

    t_s              received at the answering point              event "received"
    + call_processing_s   ready for dispatch, enters the queue    event "queued"
    + queue_s        a unit is dispatched                          event "dispatched"
    + dispatch_delay_s    the unit sets off                        event "en_route"
    + travel_s       the unit is on scene                          event "on_scene"
    + on_scene_s     the unit clears                               event "cleared"

    response_s = on scene - received
              = call_processing_s + queue_s + dispatch_delay_s + travel_s
              (plus the lost time of a preempted call, which is sent twice)

Units: a cleared unit is available at once, at the scene, and drives back to its post
(booth, station) or to where its patrol route is at that moment; it can be dispatched on
the way, from the scene's node (its last known position, a simplification). A unit diverted
by preemption is taken to set off from the node it left from. Patrol units follow a
timetable through their waypoints (``dwell_s`` at each). Vehicles' travel times are
multiplied by the hour-of-day factor of the moment of dispatch; officers on foot only by
their own factor. Duty blocks (shifts, a deployment schedule) put units on and off duty; a
unit busy at the end of its block finishes the call first.

Randomness: none here. Every random quantity of a call (processing time, on-scene time,
the quantile of the unit's dispatch delay) is drawn once when the calls are made
(:mod:`xunfang.simulate.calls`), so scenarios compared on the same calls see the same
draws (common random numbers) and a run is a pure function of its inputs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xunfang.dispatch.board import DispatchBoard, assign_waiting
from xunfang.dispatch.model import Call, CallStatus, Unit, UnitKind, UnitStatus
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.errors import ValidationError
from xunfang.simulate.engine import URGENT, EventQueue
from xunfang.simulate.tables import Distribution

# event kinds
_RECEIVED, _QUEUED, _EN_ROUTE, _ON_SCENE, _CLEAR, _AT_POST, _DUTY = range(7)

LOG_EVENTS = (
    "received",
    "queued",
    "dispatched",
    "diverted",
    "preempted",
    "en_route",
    "on_scene",
    "cleared",
    "at_post",
    "on_duty",
    "off_duty",
)
"""Names used in the event log."""


@dataclass(frozen=True)
class CallSet:
    """Calls to simulate, with every random quantity already drawn.

    Attributes
    ----------
    t_s
        (n,) float64, seconds since the start of the period, non-decreasing.
    node
        (n,) int64 network node of each call.
    priority
        (n,) int64, 1 (most urgent) .. 5.
    type_group
        (n,) object, type group of each call.
    call_processing_s
        (n,) float64 seconds from receipt to ready for dispatch.
    on_scene_s
        (n,) float64 seconds on scene.
    dispatch_q
        (n,) float64 in (0, 1): the quantile of the dispatch delay of the unit sent (the
        delay's distribution depends on the unit's kind).
    district
        (n,) object district of each call, or empty strings.
    source_id
        (n,) object identifier of the source record (incident id), or empty strings.
    """

    t_s: np.ndarray
    node: np.ndarray
    priority: np.ndarray
    type_group: np.ndarray
    call_processing_s: np.ndarray
    on_scene_s: np.ndarray
    dispatch_q: np.ndarray
    district: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    source_id: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    def __post_init__(self) -> None:
        n = self.t_s.shape[0]
        if self.district.size == 0:
            object.__setattr__(self, "district", np.full(n, "", dtype=object))
        if self.source_id.size == 0:
            object.__setattr__(self, "source_id", np.full(n, "", dtype=object))
        arrays = {
            "node": self.node,
            "priority": self.priority,
            "type_group": self.type_group,
            "call_processing_s": self.call_processing_s,
            "on_scene_s": self.on_scene_s,
            "dispatch_q": self.dispatch_q,
            "district": self.district,
            "source_id": self.source_id,
        }
        wrong = [k for k, v in arrays.items() if np.shape(v) != (n,)]
        if wrong:
            raise ValidationError(f"CallSet arrays {wrong} must have shape ({n},) like t_s")
        if n and (np.diff(self.t_s) < 0).any():
            raise ValidationError("CallSet.t_s must be sorted in time (non-decreasing)")
        if n and not np.isfinite(self.t_s).all():
            raise ValidationError("CallSet.t_s has NaN or infinite times")
        if n and ((self.priority < 1) | (self.priority > 5)).any():
            raise ValidationError("CallSet.priority must be 1..5")
        for name in ("call_processing_s", "on_scene_s"):
            values = arrays[name]
            if n and (~np.isfinite(values) | (values < 0)).any():
                raise ValidationError(f"CallSet.{name} must be finite and >= 0 seconds")
        if n and ((self.dispatch_q <= 0) | (self.dispatch_q >= 1)).any():
            raise ValidationError("CallSet.dispatch_q must be quantiles in (0, 1)")

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


@dataclass(frozen=True)
class UnitSpec:
    """One unit to simulate.

    Attributes
    ----------
    unit_id
        Identifier (unique).
    kind
        Booth officer, patrol, station car or response team.
    post_node
        Network node of its post (for a patrol: where it starts).
    speed_factor
        Travel-time multiplier of the unit (foot > 1; faster response team < 1).
    vehicle
        Whether the hour-of-day traffic factor applies.
    max_travel_s
        Sent only to calls within this travel time (a booth officer's area); None: any.
    max_priority
        Sent only to calls of this priority number or more urgent (5: any).
    route
        Patrol waypoints (network nodes), visited in order and repeated; empty for a
        fixed post.
    dwell_s
        Seconds spent around each waypoint of the route.
    duty
        On-duty blocks ``(start_s, end_s, post_node)``, sorted and not overlapping; the
        unit's post is ``post_node`` of the current block. Empty: always on duty at
        ``post_node``.
    group
        Label for reports (its station, booth or route name).
    """

    unit_id: str
    kind: UnitKind
    post_node: int
    speed_factor: float = 1.0
    vehicle: bool = True
    max_travel_s: float | None = None
    max_priority: int = 5
    route: tuple[int, ...] = ()
    dwell_s: float = 600.0
    duty: tuple[tuple[float, float, int], ...] = ()
    group: str = ""

    def __post_init__(self) -> None:
        if not self.speed_factor > 0:
            raise ValidationError(f"unit {self.unit_id}: speed_factor must be > 0")
        if self.route and not self.dwell_s > 0:
            raise ValidationError(f"unit {self.unit_id}: dwell_s must be > 0 for a route")
        last = -np.inf
        for start, end, _node in self.duty:
            if not end > start or start < last:
                raise ValidationError(
                    f"unit {self.unit_id}: duty blocks must be sorted, non-overlapping and "
                    f"of positive length; got {self.duty[:4]}..."
                )
            last = end

    def nodes(self) -> set[int]:
        """Every node where the unit may wait (posts and waypoints)."""
        return {self.post_node, *self.route, *(b[2] for b in self.duty)}


@dataclass(frozen=True)
class SimSettings:
    """How to run.

    Attributes
    ----------
    dispatch_delay_s
        Unit kind -> distribution of the dispatch-to-en-route delay, seconds.
    speed_factor_by_hour
        24 travel-time multipliers for vehicles, by local hour of day.
    start_hour
        Local hour of day (0-24, may be fractional) at t = 0.
    preempt_min
        Preemption: a priority-1 call with no free unit diverts the closest unit
        travelling to a call of priority ``>= preempt_min``. None: off.
    period_s
        Length of the simulated period (utilisation is measured over [0, period_s]);
        None: up to the last call's receipt.
    record_log
        Keep the event log (a tuple per event; costs memory on long runs).
    """

    dispatch_delay_s: Mapping[UnitKind, Distribution]
    speed_factor_by_hour: tuple[float, ...] = (1.0,) * 24
    start_hour: float = 0.0
    preempt_min: int | None = None
    period_s: float | None = None
    record_log: bool = False

    def __post_init__(self) -> None:
        if len(self.speed_factor_by_hour) != 24 or min(self.speed_factor_by_hour) <= 0:
            raise ValidationError("speed_factor_by_hour must hold 24 positive factors")
        if self.preempt_min is not None and not 2 <= self.preempt_min <= 5:
            raise ValidationError(f"preempt_min must be 2..5 or None, got {self.preempt_min}")


LogEntry = tuple[float, str, int, str]
"""``(time_s, event, call index or -1, unit id or "")``."""


@dataclass(frozen=True)
class SimResult:
    """Outcome of one run.

    Attributes
    ----------
    calls
        One row per call: ``call`` (index), ``t_s``, ``node``, ``priority``,
        ``type_group``, ``district``, ``source_id``, ``unit_id``, ``unit_kind``,
        ``call_processing_s``, ``queue_s``, ``dispatch_delay_s``, ``travel_s``,
        ``response_s``, ``on_scene_s``, ``cleared_s``, ``busy_s`` (the serving unit's time
        from its dispatch to clearing), ``preempted`` (times diverted), ``served``.
        Times of unserved calls are NaN.
    units
        One row per unit: ``unit_id``, ``kind``, ``group``, ``on_duty_s``, ``busy_s``
        (within the period), ``utilisation``, ``calls``.
    log
        The event log (empty unless asked for).
    n_events
        Events processed.
    wall_s
        Wall-clock seconds of the run.
    """

    calls: pd.DataFrame
    units: pd.DataFrame
    log: tuple[LogEntry, ...]
    n_events: int
    wall_s: float


def simulate(
    oracle: TravelTimeOracle,
    calls: CallSet,
    units: Sequence[UnitSpec],
    settings: SimSettings,
) -> SimResult:
    """Run the simulation.

    Parameters
    ----------
    oracle
        Travel times on the road network (seconds). Every unit's post, waypoints and duty
        posts are added as anchors (precomputed rows), so choosing the closest unit costs a
        look-up plus, for units away from their posts, a bounded search.
    calls
        The calls, sorted by time.
    units
        The units.
    settings
        Dispatch delays, traffic factors, preemption, period.

    Returns
    -------
    SimResult

    Raises
    ------
    ValidationError
        For duplicate unit ids, nodes outside the network or a unit kind without a
        dispatch delay.
    """
    return _Run(oracle, calls, units, settings).run()


class _Run:
    """One simulation run (internal; see :func:`simulate`)."""

    def __init__(
        self,
        oracle: TravelTimeOracle,
        calls: CallSet,
        units: Sequence[UnitSpec],
        settings: SimSettings,
    ) -> None:
        ids = [u.unit_id for u in units]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise ValidationError(f"duplicate unit ids: {dup[:5]}")
        missing = sorted({u.kind for u in units} - set(settings.dispatch_delay_s))
        if missing:
            raise ValidationError(f"no dispatch delay for unit kinds {missing}")
        n_nodes = oracle.n_nodes
        bad_calls = (calls.node < 0) | (calls.node >= n_nodes)
        if bad_calls.any():
            raise ValidationError(
                f"{int(bad_calls.sum())} calls have nodes outside the network (0..{n_nodes - 1})"
            )
        self.oracle = oracle
        self.calls = calls
        self.specs = list(units)
        self.settings = settings
        anchors = sorted(set().union(*(u.nodes() for u in units))) if units else []
        bad = [a for a in anchors if not 0 <= a < n_nodes]
        if bad:
            raise ValidationError(f"unit posts/waypoints {bad[:5]} are not network nodes")
        oracle.add_anchors(np.asarray(anchors, dtype=np.int64))
        self.board = DispatchBoard(oracle, preempt_min=settings.preempt_min)
        self.q = EventQueue()
        self.log: list[LogEntry] | None = [] if settings.record_log else None
        n_u = len(self.specs)
        self.index = {u.unit_id: i for i, u in enumerate(self.specs)}
        self.token = [0] * n_u
        self.returning = [False] * n_u
        self.target = [u.post_node for u in self.specs]
        self.off_after = [False] * n_u
        self.on_duty = [True] * n_u
        self.duty_start = [0.0] * n_u
        self.duty_s = [0.0] * n_u
        self.busy_start = [0.0] * n_u
        self.busy_s = [0.0] * n_u
        self.trip_start = [0.0] * n_u
        self.n_calls = [0] * n_u
        self.travel = [0.0] * n_u
        self.patrols = [i for i, u in enumerate(self.specs) if u.route]
        self.vehicles = [i for i, u in enumerate(self.specs) if u.vehicle]
        self.hour = -1
        n_c = len(calls)
        self.ready = np.full(n_c, np.nan)
        self.busy_call_s = np.full(n_c, np.nan)
        self.period_s = (
            settings.period_s
            if settings.period_s is not None
            else (float(calls.t_s[-1]) if n_c else 0.0)
        )
        self.delay = {k: settings.dispatch_delay_s[k] for k in {u.kind for u in units}}
        self._add_units()

    # ------------------------------------------------------------------ set-up
    def _add_units(self) -> None:
        horizon = float("inf")
        for i, spec in enumerate(self.specs):
            first = spec.duty[0] if spec.duty else None
            start_node = first[2] if first is not None and first[0] <= 0 else spec.post_node
            unit = Unit(
                spec.unit_id,
                spec.kind,
                home_node=start_node,
                node=start_node,
                speed_factor=spec.speed_factor,
                max_travel_s=spec.max_travel_s,
                max_priority=spec.max_priority,
            )
            self.board.add_unit(unit)
            if not spec.duty:
                continue
            # transitions: (time, post or -1); contiguous blocks change post without a break
            prev_end = None
            transitions: list[tuple[float, int]] = []
            for start, end, node in spec.duty:
                if end <= 0 or start >= horizon:
                    continue
                if prev_end is not None and start == prev_end:
                    transitions[-1] = (start, node)
                else:
                    transitions.append((max(start, 0.0), node))
                transitions.append((end, -1))
                prev_end = end
            on_at_zero = bool(transitions) and transitions[0][0] <= 0 and transitions[0][1] >= 0
            if not on_at_zero:
                self.board.set_out_of_service(spec.unit_id)
                self.on_duty[i] = False
            for t, node in transitions:
                if t <= 0 and node >= 0:
                    continue
                self.q.schedule(t, _DUTY, i, node, priority=URGENT)

    # ------------------------------------------------------------------ helpers
    def _say(self, t: float, event: str, call: int = -1, unit: str = "") -> None:
        if self.log is not None:
            self.log.append((t, event, call, unit))

    def _route_node(self, i: int, t: float) -> int:
        spec = self.specs[i]
        return spec.route[int(t // spec.dwell_s) % len(spec.route)]

    def _refresh(self, t: float) -> None:
        """Hour-of-day factors and patrol positions at time ``t``."""
        hour = int((self.settings.start_hour * 3600.0 + t) // 3600.0) % 24
        if hour != self.hour:
            self.hour = hour
            factor = self.settings.speed_factor_by_hour[hour]
            units = self.board.units
            for i in self.vehicles:
                spec = self.specs[i]
                units[spec.unit_id].speed_factor = spec.speed_factor * factor
        for i in self.patrols:
            spec = self.specs[i]
            unit = self.board.units[spec.unit_id]
            if unit.status is UnitStatus.AVAILABLE and not self.returning[i]:
                unit.node = self._route_node(i, t)

    def _home(self, i: int, t: float) -> int:
        spec = self.specs[i]
        if spec.route:
            return self._route_node(i, t)
        return self.board.units[spec.unit_id].home_node

    def _start_trip(self, t: float, call_id: str, unit_id: str, diverted: bool) -> None:
        i = self.index[unit_id]
        unit = self.board.units[unit_id]
        c = int(call_id)
        if not diverted:
            self.busy_start[i] = t
            self.returning[i] = False
        self.token[i] += 1
        self.trip_start[i] = t
        self.travel[i] = self.oracle.time(unit.node, int(self.calls.node[c])) * unit.speed_factor
        if diverted:
            delay = 0.0
        else:
            q = float(self.calls.dispatch_q[c])
            delay = float(self.delay[unit.kind].from_quantile(q))
        self._say(t, "diverted" if diverted else "dispatched", c, unit_id)
        self.q.schedule(t + delay, _EN_ROUTE, i, self.token[i])

    def _dispatch_round(self, t: float, new_call: str | None = None) -> None:
        self._refresh(t)
        for call_id, unit_id in assign_waiting(self.board, t, skip_unreachable=True):
            self._start_trip(t, call_id, unit_id, diverted=False)
        if new_call is None or self.settings.preempt_min is None:
            return
        call = self.board.calls[new_call]
        if call.status is not CallStatus.RECEIVED or call.priority != 1:
            return
        cand = self.board.preemption_candidate(new_call)
        if cand is None:
            return
        old = self.board.units[cand.unit_id].call_id
        self.board.dispatch(new_call, cand.unit_id, t)
        self._say(t, "preempted", int(old) if old is not None else -1, cand.unit_id)
        self._start_trip(t, new_call, cand.unit_id, diverted=True)
        for call_id, unit_id in assign_waiting(self.board, t, skip_unreachable=True):
            self._start_trip(t, call_id, unit_id, diverted=False)

    # ------------------------------------------------------------------ run
    def run(self) -> SimResult:
        wall = time.perf_counter()
        calls = self.calls
        n = len(calls)
        q = self.q
        board = self.board
        if n:
            q.schedule(float(calls.t_s[0]), _RECEIVED, 0)
        events = 0
        while q:
            t, kind, a, b = q.pop()
            events += 1
            if kind == _RECEIVED:
                self._say(t, "received", a)
                q.schedule(t + float(calls.call_processing_s[a]), _QUEUED, a)
                if a + 1 < n:
                    q.schedule(float(calls.t_s[a + 1]), _RECEIVED, a + 1)
            elif kind == _QUEUED:
                cid = str(a)
                board.receive(
                    Call(
                        cid,
                        int(calls.priority[a]),
                        str(calls.type_group[a]),
                        int(calls.node[a]),
                        float(calls.t_s[a]),
                    )
                )
                self.ready[a] = t
                self._say(t, "queued", a)
                self._dispatch_round(t, new_call=cid)
            elif kind == _EN_ROUTE:
                if b != self.token[a]:
                    continue
                uid = self.specs[a].unit_id
                board.en_route(uid, t)
                self._say(t, "en_route", int(board.units[uid].call_id or -1), uid)
                q.schedule(t + self.travel[a], _ON_SCENE, a, b)
            elif kind == _ON_SCENE:
                if b != self.token[a]:
                    continue
                uid = self.specs[a].unit_id
                board.arrive(uid, t)
                c = int(board.units[uid].call_id or -1)
                self._say(t, "on_scene", c, uid)
                q.schedule(t + float(calls.on_scene_s[c]), _CLEAR, a, b)
            elif kind == _CLEAR:
                self._clear(a, t)
            elif kind == _AT_POST:
                if b != self.token[a]:
                    continue
                uid = self.specs[a].unit_id
                self.returning[a] = False
                board.units[uid].node = self.target[a]
                self._say(t, "at_post", -1, uid)
                if board.next_waiting() is not None:
                    self._dispatch_round(t)
            elif kind == _DUTY:
                self._duty(a, b, t)
        return self._result(events, time.perf_counter() - wall)

    def _clear(self, i: int, t: float) -> None:
        spec = self.specs[i]
        uid = spec.unit_id
        call = self.board.clear(uid, t)
        c = int(call.call_id)
        self._say(t, "cleared", c, uid)
        self.busy_call_s[c] = t - self.trip_start[i]
        self.n_calls[i] += 1
        self._add_busy(i, t)
        self.token[i] += 1
        if self.off_after[i]:
            self.off_after[i] = False
            self._go_off(i, t)
        else:
            self._send_home(i, t)
        self._dispatch_round(t)

    def _add_busy(self, i: int, t: float) -> None:
        start = min(self.busy_start[i], self.period_s)
        self.busy_s[i] += max(0.0, min(t, self.period_s) - start)

    def _send_home(self, i: int, t: float) -> None:
        uid = self.specs[i].unit_id
        unit = self.board.units[uid]
        target = self._home(i, t)
        self.target[i] = target
        if unit.node == target:
            self.returning[i] = False
            return
        self.returning[i] = True
        self._refresh(t)
        trip = self.oracle.time(unit.node, target) * unit.speed_factor
        self.q.schedule(t + trip, _AT_POST, i, self.token[i])

    def _go_off(self, i: int, t: float) -> None:
        uid = self.specs[i].unit_id
        self.token[i] += 1
        self.returning[i] = False
        self.board.set_out_of_service(uid)
        self.on_duty[i] = False
        self.duty_s[i] += max(0.0, min(t, self.period_s) - min(self.duty_start[i], self.period_s))
        self._say(t, "off_duty", -1, uid)

    def _duty(self, i: int, node: int, t: float) -> None:
        uid = self.specs[i].unit_id
        unit = self.board.units[uid]
        if node < 0:
            if not self.on_duty[i]:
                return
            if unit.call_id is not None:
                self.off_after[i] = True
            else:
                self._go_off(i, t)
            return
        unit.home_node = node
        self.off_after[i] = False
        if not self.on_duty[i]:
            unit.node = node
            self.board.set_out_of_service(uid, out=False)
            self.on_duty[i] = True
            self.duty_start[i] = t
            self.returning[i] = False
            self._say(t, "on_duty", -1, uid)
            if self.board.next_waiting() is not None:
                self._dispatch_round(t)
        elif unit.call_id is None:
            self.token[i] += 1
            self._send_home(i, t)

    # ------------------------------------------------------------------ results
    def _result(self, events: int, wall_s: float) -> SimResult:
        calls = self.calls
        n = len(calls)
        board = self.board
        unit_id = np.full(n, "", dtype=object)
        unit_kind = np.full(n, "", dtype=object)
        dispatched = np.full(n, np.nan)
        en_route = np.full(n, np.nan)
        travel = np.full(n, np.nan)
        on_scene = np.full(n, np.nan)
        cleared = np.full(n, np.nan)
        preempted = np.zeros(n, dtype=np.int64)
        kinds = {u.unit_id: u.kind.value for u in self.specs}
        for cid, call in board.calls.items():
            c = int(cid)
            preempted[c] = call.preempted
            if call.dispatched_s is not None:
                dispatched[c] = call.dispatched_s
            if call.en_route_s is not None:
                en_route[c] = call.en_route_s
            if call.status is CallStatus.CLEARED:
                unit_id[c] = call.unit_id or ""
                unit_kind[c] = kinds.get(call.unit_id or "", "")
                travel[c] = call.travel_s
                on_scene[c] = call.on_scene_s
                cleared[c] = call.cleared_s
        ready = self.ready
        served = ~np.isnan(cleared)
        frame = pd.DataFrame(
            {
                "call": np.arange(n),
                "t_s": calls.t_s,
                "node": calls.node,
                "priority": calls.priority,
                "type_group": calls.type_group.astype(str),
                "district": calls.district.astype(str),
                "source_id": calls.source_id.astype(str),
                "unit_id": unit_id.astype(str),
                "unit_kind": unit_kind.astype(str),
                "call_processing_s": np.where(served, calls.call_processing_s, np.nan),
                "queue_s": np.where(served, dispatched - ready, np.nan),
                "dispatch_delay_s": np.where(served, en_route - dispatched, np.nan),
                "travel_s": travel,
                "response_s": on_scene - calls.t_s,
                "on_scene_s": cleared - on_scene,
                "cleared_s": cleared,
                "busy_s": np.where(served, self.busy_call_s, np.nan),
                "preempted": preempted,
                "served": served,
            }
        )
        for i in range(len(self.specs)):
            if self.on_duty[i]:
                end = self.period_s
                self.duty_s[i] += max(0.0, end - min(self.duty_start[i], end))
                self.on_duty[i] = False
        duty = np.asarray(self.duty_s)
        busy = np.asarray(self.busy_s)
        units = pd.DataFrame(
            {
                "unit_id": [u.unit_id for u in self.specs],
                "kind": [u.kind.value for u in self.specs],
                "group": [u.group for u in self.specs],
                "on_duty_s": duty,
                "busy_s": busy,
                "utilisation": np.divide(
                    busy, duty, out=np.full(duty.size, np.nan), where=duty > 0
                ),
                "calls": np.asarray(self.n_calls, dtype=np.int64),
            }
        )
        return SimResult(
            calls=frame,
            units=units,
            log=tuple(self.log or ()),
            n_events=events,
            wall_s=wall_s,
        )
