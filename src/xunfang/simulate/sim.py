"""The discrete-event simulation of calls, units and dispatch.

The dispatch policy is that of the shared dispatch core (:mod:`xunfang.dispatch`): the
closest available unit by road travel time
(:func:`~xunfang.dispatch.recommend.recommend`), calls waiting in a queue ordered by
priority, then time received (:func:`~xunfang.dispatch.board.assign_waiting` with
``skip_unreachable``); optionally a priority-1 call diverts a unit travelling to a routine
call (preemption, :meth:`~xunfang.dispatch.board.DispatchBoard.preemption_candidate`).
For speed the run keeps the units' state in arrays and makes the same choices with
vectorised look-ups in the oracle's anchor tables (see :class:`_Run`);
``tests/simulate/test_reference.py`` checks the choices against the dispatch core and the
response times against a plain SimPy model.

Events at one instant follow a stated rule, not the order in which they were scheduled
(:mod:`xunfang.simulate.engine`): duty changes, then units that clear or reach their
posts, then calls, then one dispatch round in queue order, then units setting off or
arriving. A unit that clears is thus available to a call that becomes ready at that
instant.

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
the way, from the scene's node (its last known position, a simplification);
``SimSettings(cleared_at="post")`` puts it back at its post at once instead, as a plain
closest-unit model does. A unit diverted
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

import heapq
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from xunfang.dispatch.model import UnitKind
from xunfang.dispatch.recommend import TravelTimeOracle
from xunfang.errors import ValidationError
from xunfang.simulate.engine import CALL, DISPATCH, DUTY, UNIT_FREED, UNIT_MOVES
from xunfang.simulate.tables import Distribution

# event kinds
_RECEIVED, _QUEUED, _EN_ROUTE, _ON_SCENE, _CLEAR, _AT_POST, _DUTY, _ROUND = range(8)

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
    cleared_at
        Where a unit is when it clears a call: ``"scene"`` (default: available at once at
        the scene and driving back to its post, dispatchable on the way from the scene's
        node) or ``"post"`` (at once back at its post: the simplification of a plain
        closest-unit model, e.g. the SimPy baseline of ``benchmarks/``).
    """

    dispatch_delay_s: Mapping[UnitKind, Distribution]
    speed_factor_by_hour: tuple[float, ...] = (1.0,) * 24
    start_hour: float = 0.0
    preempt_min: int | None = None
    period_s: float | None = None
    record_log: bool = False
    cleared_at: Literal["scene", "post"] = "scene"

    def __post_init__(self) -> None:
        if len(self.speed_factor_by_hour) != 24 or min(self.speed_factor_by_hour) <= 0:
            raise ValidationError("speed_factor_by_hour must hold 24 positive factors")
        if self.preempt_min is not None and not 2 <= self.preempt_min <= 5:
            raise ValidationError(f"preempt_min must be 2..5 or None, got {self.preempt_min}")
        if self.cleared_at not in ("scene", "post"):
            raise ValidationError(f"cleared_at must be 'scene' or 'post', got {self.cleared_at!r}")


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


# unit states (integers: the run keeps them in lists and arrays)
_AVAILABLE, _DISPATCHED, _EN_ROUTE, _ON_SCENE, _OUT = range(5)
# call states
_NEW, _WAITING, _ASSIGNED, _AT_SCENE, _CLEARED = range(5)
_INF = float("inf")


class _Run:
    """One simulation run (internal; see :func:`simulate`).

    The units' state is held in arrays (node, anchor row, speed factor, area limit,
    availability) so that choosing the closest available unit is a few vectorised
    operations: one row of :meth:`TravelTimeOracle.anchor_columns` (the times from every
    post, station and waypoint to the call's node) gathered by the units' anchor rows and
    multiplied by their speed factors, then ``argmin`` (the first of equal times wins, as
    the stable ranking of :func:`~xunfang.dispatch.recommend.recommend`). Units away from
    an anchor (driving back from a call) get their exact time from a reverse search cut
    off at the best anchored time, and only when the landmark lower bound says they could
    beat it, exactly as :meth:`TravelTimeOracle.times_to` does for ``k = 1``. The policy is
    that of :func:`xunfang.dispatch.board.assign_waiting` with ``skip_unreachable=True``
    and of :meth:`~xunfang.dispatch.board.DispatchBoard.preemption_candidate`; a test
    compares the choices with the dispatch core's.
    """

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
        self.cols = oracle.anchor_columns()
        self.no_row = self.cols.shape[1] - 1
        self.anchor_row = oracle.anchor_row(np.arange(n_nodes)).tolist()
        self.heap: list[tuple[float, int, int, int, int, int]] = []
        self.seq = 0
        self.log: list[LogEntry] | None = [] if settings.record_log else None
        specs = self.specs
        n_u = len(specs)
        self.ids = [u.unit_id for u in specs]
        # unit state: scalars in lists, what the choice of unit reads in arrays
        self.status = [_AVAILABLE] * n_u
        self.u_call = [-1] * n_u
        self.home = [u.post_node for u in specs]
        self.node = np.array([u.post_node for u in specs], dtype=np.int64)
        self.row = np.full(n_u, self.no_row, dtype=np.int64)
        self.loose = np.ones(n_u, dtype=bool)
        self.free = np.zeros(n_u, dtype=bool)
        self.n_free = 0
        self.base_factor = np.array([u.speed_factor for u in specs], dtype=np.float64)
        self.is_vehicle = np.array([u.vehicle for u in specs], dtype=bool)
        self.factor = self.base_factor.copy()
        self.cap = np.array(
            [_INF if u.max_travel_s is None else u.max_travel_s for u in specs], dtype=np.float64
        )
        self.capped = bool(np.isfinite(self.cap).any())
        max_priority = np.array([u.max_priority for u in specs], dtype=np.int64)
        self.eligible = [max_priority >= p for p in range(6)]
        self.token = [0] * n_u
        self.returning = [False] * n_u
        self.target = [u.post_node for u in specs]
        self.off_after = [False] * n_u
        self.on_duty = [True] * n_u
        self.duty_start = [0.0] * n_u
        self.duty_s = [0.0] * n_u
        self.busy_start = [0.0] * n_u
        self.busy_s = [0.0] * n_u
        self.trip_start = [0.0] * n_u
        self.n_calls = [0] * n_u
        self.travel = [0.0] * n_u
        self.patrols = [i for i, u in enumerate(specs) if u.route]
        self.hour = -1
        # call state
        n_c = len(calls)
        self.c_node = calls.node.tolist()
        self.c_prio = calls.priority.tolist()
        self.c_t = calls.t_s.tolist()
        self.c_status = [_NEW] * n_c
        self.c_unit = [-1] * n_c
        self.dispatched = [np.nan] * n_c
        self.en_route_first = [np.nan] * n_c
        self.en_route_last = [np.nan] * n_c
        self.on_scene = [np.nan] * n_c
        self.cleared = [np.nan] * n_c
        self.preempted = [0] * n_c
        self.ready = [np.nan] * n_c
        self.busy_call_s = [np.nan] * n_c
        self.waiting: list[tuple[int, float, int, int]] = []
        self.wait_seq = 0
        self.n_waiting = 0
        self.round_at = -1.0
        self.new_urgent: list[int] = []
        self.period_s = (
            settings.period_s
            if settings.period_s is not None
            else (float(calls.t_s[-1]) if n_c else 0.0)
        )
        # dispatch delay of each call for each kind of unit that may be sent
        kinds = sorted({u.kind for u in specs})
        delays = {
            k: settings.dispatch_delay_s[k].from_quantile(calls.dispatch_q).tolist() for k in kinds
        }
        self.delay = [delays[u.kind] for u in specs]
        self._add_units()

    # ------------------------------------------------------------------ set-up
    def _add_units(self) -> None:
        horizon = float("inf")
        for i, spec in enumerate(self.specs):
            first = spec.duty[0] if spec.duty else None
            start_node = first[2] if first is not None and first[0] <= 0 else spec.post_node
            self.home[i] = start_node
            self._place(i, start_node)
            self._set_free(i, True)
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
                self.status[i] = _OUT
                self._set_free(i, False)
                self.on_duty[i] = False
            for t, node in transitions:
                if t <= 0 and node >= 0:
                    continue
                self._at(t, DUTY, _DUTY, i, node)

    # ------------------------------------------------------------------ helpers
    def _at(self, t: float, priority: int, kind: int, a: int = 0, b: int = 0) -> None:
        heapq.heappush(self.heap, (t, priority, self.seq, kind, a, b))
        self.seq += 1

    def _say(self, t: float, event: str, call: int = -1, unit: str = "") -> None:
        if self.log is not None:
            self.log.append((t, event, call, unit))

    def _place(self, i: int, node: int) -> None:
        """Put unit ``i`` at ``node`` (its anchor row follows)."""
        self.node[i] = node
        row = self.anchor_row[node]
        self.row[i] = row if row >= 0 else self.no_row
        self.loose[i] = row < 0

    def _set_free(self, i: int, free: bool) -> None:
        if bool(self.free[i]) != free:
            self.free[i] = free
            self.n_free += 1 if free else -1

    def _route_node(self, i: int, t: float) -> int:
        spec = self.specs[i]
        return spec.route[int(t // spec.dwell_s) % len(spec.route)]

    def _refresh(self, t: float) -> None:
        """Hour-of-day factors and patrol positions at time ``t``."""
        hour = int((self.settings.start_hour * 3600.0 + t) // 3600.0) % 24
        if hour != self.hour:
            self.hour = hour
            factor = self.settings.speed_factor_by_hour[hour]
            self.factor = np.where(self.is_vehicle, self.base_factor * factor, self.base_factor)
        for i in self.patrols:
            if self.status[i] == _AVAILABLE and not self.returning[i]:
                node = self._route_node(i, t)
                if node != self.node[i]:
                    self._place(i, node)

    def _home(self, i: int, t: float) -> int:
        if self.specs[i].route:
            return self._route_node(i, t)
        return self.home[i]

    def _request_round(self, t: float) -> None:
        """One dispatch round at ``t``, after the other events of that instant."""
        if self.round_at != t:
            self.round_at = t
            self._at(t, DISPATCH, _ROUND)

    # ------------------------------------------------------------------ dispatch
    def _closest(self, v: int, cand: np.ndarray) -> tuple[int, float]:
        """The unit among ``cand`` (bool mask) with the shortest travel time to node
        ``v`` (speed factor and area limit applied): ``(unit, seconds)`` or ``(-1, inf)``.
        """
        eta = self.cols[v][self.row] * self.factor
        eta[~cand] = _INF
        if self.capped:
            eta[eta > self.cap] = _INF
        loose = cand & self.loose
        if loose.any():
            self._loose_times(v, eta, np.flatnonzero(loose))
        j = int(eta.argmin())
        e = float(eta[j])
        return (j, e) if e < _INF else (-1, _INF)

    def _loose_times(self, v: int, eta: np.ndarray, rest: np.ndarray) -> None:
        """Fill ``eta`` for units away from anchors, exact where they can be the
        closest (as :meth:`TravelTimeOracle.times_to` with ``k = 1``)."""
        oracle = self.oracle
        factor = self.factor[rest]
        cap = self.cap[rest]
        bound = min(float(eta.min()), float(cap.max()))
        nodes = self.node[rest]
        if bound < _INF and self.no_row:
            lower = oracle.lower_bound(nodes, v) * factor
            keep = lower <= bound * (1.0 + 1e-6) + 1e-3
            if not keep.any():
                return
            rest, nodes, factor, cap = rest[keep], nodes[keep], factor[keep], cap[keep]
        # the search need only reach each contender that could beat the bound: within
        # bound / factor of the call and within its detour through an anchor
        # (float32 tables: a margin of a millisecond or a millionth)
        detour = oracle.upper_bound(nodes, v) * (1.0 + 1e-6) + 1e-3
        reach = np.minimum(bound / factor, detour)
        limit = float(reach.max())
        if limit < _INF:
            limit = float(np.nextafter(limit, _INF))
        times = oracle.to_node(v, limit_s=limit)[nodes] * factor
        times[times > cap] = _INF
        eta[rest] = times

    def _assign(self, t: float) -> None:
        """Waiting calls in queue order each get the closest available unit that may take
        them (:func:`~xunfang.dispatch.board.assign_waiting`, ``skip_unreachable``)."""
        heap = self.waiting
        if not self.n_waiting or not self.n_free:
            return
        kept = []
        seen = set()
        status = self.c_status
        while heap and self.n_free:
            entry = heapq.heappop(heap)
            c = entry[3]
            if status[c] != _WAITING or c in seen:
                continue  # dispatched since (lazy deletion) or a second entry
            seen.add(c)
            j, eta = self._closest(self.c_node[c], self.free & self.eligible[self.c_prio[c]])
            if j >= 0:
                self._dispatch(c, j, t, eta)
            else:
                kept.append(entry)
        for entry in kept:
            heapq.heappush(heap, entry)

    def _dispatch(self, c: int, j: int, t: float, eta: float) -> None:
        self.status[j] = _DISPATCHED
        self._set_free(j, False)
        self.u_call[j] = c
        self.c_status[c] = _ASSIGNED
        self.c_unit[c] = j
        self.n_waiting -= 1
        if self.dispatched[c] != self.dispatched[c]:  # NaN: first dispatch
            self.dispatched[c] = t
        self._start_trip(t, c, j, eta, diverted=False)

    def _start_trip(self, t: float, c: int, j: int, eta: float, *, diverted: bool) -> None:
        if not diverted:
            self.busy_start[j] = t
            self.returning[j] = False
        self.token[j] += 1
        self.trip_start[j] = t
        self.travel[j] = eta
        delay = 0.0 if diverted else self.delay[j][c]
        self._say(t, "diverted" if diverted else "dispatched", c, self.ids[j])
        self._at(t + delay, UNIT_MOVES, _EN_ROUTE, j, self.token[j])

    def _preempt(self, c: int, t: float) -> None:
        """A priority-1 call nobody could take diverts the closest unit travelling to a
        call of priority ``>= preempt_min``
        (:meth:`~xunfang.dispatch.board.DispatchBoard.preemption_candidate`)."""
        pmin = self.settings.preempt_min
        assert pmin is not None
        movable = np.array(
            [
                s in (_DISPATCHED, _EN_ROUTE) and self.c_prio[self.u_call[j]] >= pmin
                for j, s in enumerate(self.status)
            ],
            dtype=bool,
        )
        if not movable.any():
            return
        j, eta = self._closest(self.c_node[c], movable)
        if j < 0:
            return
        old = self.u_call[j]
        self.c_status[old] = _WAITING
        self.c_unit[old] = -1
        self.preempted[old] += 1
        heapq.heappush(self.waiting, (self.c_prio[old], self.c_t[old], self.wait_seq, old))
        self.wait_seq += 1
        self.n_waiting += 1
        self.status[j] = _DISPATCHED
        self.u_call[j] = c
        self.c_status[c] = _ASSIGNED
        self.c_unit[c] = j
        self.n_waiting -= 1
        if self.dispatched[c] != self.dispatched[c]:
            self.dispatched[c] = t
        self._say(t, "preempted", old, self.ids[j])
        self._start_trip(t, c, j, eta, diverted=True)

    def _round(self, t: float) -> None:
        self._refresh(t)
        self._assign(t)
        if self.settings.preempt_min is None or not self.new_urgent:
            self.new_urgent.clear()
            return
        urgent, self.new_urgent = self.new_urgent, []
        for c in urgent:
            if self.c_status[c] == _WAITING:
                self._preempt(c, t)
                self._assign(t)

    # ------------------------------------------------------------------ run
    def run(self) -> SimResult:
        wall = time.perf_counter()
        calls = self.calls
        n = len(calls)
        heap = self.heap
        pop = heapq.heappop
        t_s = self.c_t
        processing = calls.call_processing_s.tolist()
        on_scene_s = calls.on_scene_s.tolist()
        say = self._say if self.log is not None else None
        if n:
            self._at(t_s[0], CALL, _RECEIVED, 0)
        events = 0
        now = 0.0
        while heap:
            t, _prio, _seq, kind, a, b = pop(heap)
            now = t
            events += 1
            if kind == _RECEIVED:
                if say:
                    say(t, "received", a)
                self._at(t + processing[a], CALL, _QUEUED, a)
                if a + 1 < n:
                    self._at(t_s[a + 1], CALL, _RECEIVED, a + 1)
            elif kind == _QUEUED:
                self.c_status[a] = _WAITING
                heapq.heappush(self.waiting, (self.c_prio[a], t_s[a], self.wait_seq, a))
                self.wait_seq += 1
                self.n_waiting += 1
                self.ready[a] = t
                if say:
                    say(t, "queued", a)
                if self.c_prio[a] == 1:
                    self.new_urgent.append(a)
                self._request_round(t)
            elif kind == _ROUND:
                self._round(t)
            elif kind == _EN_ROUTE:
                if b != self.token[a]:
                    continue
                c = self.u_call[a]
                self.status[a] = _EN_ROUTE
                if self.en_route_first[c] != self.en_route_first[c]:
                    self.en_route_first[c] = t
                self.en_route_last[c] = t
                if say:
                    say(t, "en_route", c, self.ids[a])
                self._at(t + self.travel[a], UNIT_MOVES, _ON_SCENE, a, b)
            elif kind == _ON_SCENE:
                if b != self.token[a]:
                    continue
                c = self.u_call[a]
                self.status[a] = _ON_SCENE
                self._place(a, self.c_node[c])
                self.c_status[c] = _AT_SCENE
                self.on_scene[c] = t
                if say:
                    say(t, "on_scene", c, self.ids[a])
                self._at(t + on_scene_s[c], UNIT_FREED, _CLEAR, a, b)
            elif kind == _CLEAR:
                self._clear(a, t)
            elif kind == _AT_POST:
                if b != self.token[a]:
                    continue
                self.returning[a] = False
                self._place(a, self.target[a])
                if say:
                    say(t, "at_post", -1, self.ids[a])
                if self.n_waiting:
                    self._request_round(t)
            elif kind == _DUTY:
                self._duty(a, b, t)
        del now
        return self._result(events, time.perf_counter() - wall)

    def _clear(self, i: int, t: float) -> None:
        c = self.u_call[i]
        self.c_status[c] = _CLEARED
        self.cleared[c] = t
        self.status[i] = _AVAILABLE
        self._set_free(i, True)
        self.u_call[i] = -1
        self._say(t, "cleared", c, self.ids[i])
        self.busy_call_s[c] = t - self.trip_start[i]
        self.n_calls[i] += 1
        self._add_busy(i, t)
        self.token[i] += 1
        if self.off_after[i]:
            self.off_after[i] = False
            self._go_off(i, t)
        else:
            self._send_home(i, t)
        self._request_round(t)

    def _add_busy(self, i: int, t: float) -> None:
        start = min(self.busy_start[i], self.period_s)
        self.busy_s[i] += max(0.0, min(t, self.period_s) - start)

    def _send_home(self, i: int, t: float) -> None:
        target = self._home(i, t)
        self.target[i] = target
        if self.node[i] == target:
            self.returning[i] = False
            return
        if self.settings.cleared_at == "post":
            self.returning[i] = False
            self._place(i, target)
            return
        self.returning[i] = True
        self._refresh(t)
        trip = self.oracle.time(int(self.node[i]), target) * float(self.factor[i])
        self._at(t + trip, UNIT_FREED, _AT_POST, i, self.token[i])

    def _go_off(self, i: int, t: float) -> None:
        self.token[i] += 1
        self.returning[i] = False
        self.status[i] = _OUT
        self._set_free(i, False)
        self.on_duty[i] = False
        self.duty_s[i] += max(0.0, min(t, self.period_s) - min(self.duty_start[i], self.period_s))
        self._say(t, "off_duty", -1, self.ids[i])

    def _duty(self, i: int, node: int, t: float) -> None:
        if node < 0:
            if not self.on_duty[i]:
                return
            if self.u_call[i] >= 0:
                self.off_after[i] = True
            else:
                self._go_off(i, t)
            return
        self.home[i] = node
        self.off_after[i] = False
        if not self.on_duty[i]:
            self._place(i, node)
            self.status[i] = _AVAILABLE
            self._set_free(i, True)
            self.on_duty[i] = True
            self.duty_start[i] = t
            self.returning[i] = False
            self._say(t, "on_duty", -1, self.ids[i])
            if self.n_waiting:
                self._request_round(t)
        elif self.u_call[i] < 0:
            self.token[i] += 1
            self._send_home(i, t)

    # ------------------------------------------------------------------ results
    def _result(self, events: int, wall_s: float) -> SimResult:
        calls = self.calls
        n = len(calls)
        unit_index = np.asarray(self.c_unit, dtype=np.int64)
        cleared = np.asarray(self.cleared, dtype=np.float64)
        served = ~np.isnan(cleared)
        ids = np.asarray([*self.ids, ""], dtype=object)
        kinds = np.asarray([u.kind.value for u in self.specs] + [""], dtype=object)
        who = np.where(served, unit_index, len(self.ids))
        dispatched = np.asarray(self.dispatched, dtype=np.float64)
        en_route = np.asarray(self.en_route_first, dtype=np.float64)
        on_scene = np.where(served, np.asarray(self.on_scene, dtype=np.float64), np.nan)
        travel = np.where(served, on_scene - np.asarray(self.en_route_last), np.nan)
        ready = np.asarray(self.ready, dtype=np.float64)
        frame = pd.DataFrame(
            {
                "call": np.arange(n),
                "t_s": calls.t_s,
                "node": calls.node,
                "priority": calls.priority,
                "type_group": calls.type_group.astype(str),
                "district": calls.district.astype(str),
                "source_id": calls.source_id.astype(str),
                "unit_id": ids[who].astype(str),
                "unit_kind": kinds[who].astype(str),
                "call_processing_s": np.where(served, calls.call_processing_s, np.nan),
                "queue_s": np.where(served, dispatched - ready, np.nan),
                "dispatch_delay_s": np.where(served, en_route - dispatched, np.nan),
                "travel_s": travel,
                "response_s": on_scene - calls.t_s,
                "on_scene_s": cleared - on_scene,
                "cleared_s": cleared,
                "busy_s": np.where(served, np.asarray(self.busy_call_s), np.nan),
                "preempted": np.asarray(self.preempted, dtype=np.int64),
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
