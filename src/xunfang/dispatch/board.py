"""The dispatch board: units, calls, the queue of waiting calls, and the operations that
change them together. Every operation checks all its preconditions before it changes
anything, so a refused operation leaves the board as it was.

Policy (the usual CAD rule): the closest available unit by road travel time; when none is
free, calls wait in a queue ordered by priority, then time received, then arrival order;
optionally a priority-1 call may divert a unit that is travelling to a call of priority
``preempt_min`` or lower urgency.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from xunfang.dispatch.model import (
    DISPATCHABLE,
    Call,
    CallStatus,
    TransitionError,
    Unit,
    UnitStatus,
    check_call_transition,
    check_unit_transition,
)
from xunfang.dispatch.recommend import Recommendation, TravelTimeOracle, recommend
from xunfang.errors import ValidationError


@dataclass
class DispatchBoard:
    """Units and calls of one dispatch area.

    Parameters
    ----------
    oracle
        Travel times on the area's road network.
    preempt_min
        With preemption, a priority-1 call may divert a unit travelling to a call whose
        priority number is ``>= preempt_min``; ``None`` disables preemption.
    """

    oracle: TravelTimeOracle
    preempt_min: int | None = None
    units: dict[str, Unit] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    _queue: list[tuple[int, float, int, str]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)

    # ------------------------------------------------------------------ set-up
    def add_unit(self, unit: Unit) -> None:
        """Register a unit (its id must be new and its nodes in the network)."""
        if unit.unit_id in self.units:
            raise ValidationError(f"unit {unit.unit_id} already exists")
        for node in (unit.home_node, unit.node):
            if not 0 <= node < self.oracle.n_nodes:
                raise ValidationError(f"unit {unit.unit_id}: node {node} is not in the network")
        self.units[unit.unit_id] = unit

    def receive(self, call: Call) -> None:
        """Register a new call; it waits in the queue until dispatched."""
        if call.call_id in self.calls:
            raise ValidationError(f"call {call.call_id} already exists")
        if not 0 <= call.node < self.oracle.n_nodes:
            raise ValidationError(f"call {call.call_id}: node {call.node} is not in the network")
        if call.status is not CallStatus.RECEIVED:
            raise ValidationError(f"call {call.call_id} must arrive as received")
        self.calls[call.call_id] = call
        self._push(call)

    def _push(self, call: Call) -> None:
        heapq.heappush(self._queue, (call.priority, call.received_s, next(self._seq), call.call_id))

    # ------------------------------------------------------------------ queries
    def _unit(self, unit_id: str) -> Unit:
        try:
            return self.units[unit_id]
        except KeyError:
            raise ValidationError(f"no unit {unit_id!r}") from None

    def _call(self, call_id: str) -> Call:
        try:
            return self.calls[call_id]
        except KeyError:
            raise ValidationError(f"no call {call_id!r}") from None

    def _unit_and_call(self, unit_id: str) -> tuple[Unit, Call]:
        unit = self._unit(unit_id)
        if unit.call_id is None:
            raise TransitionError(f"unit {unit_id} has no call")
        return unit, self.calls[unit.call_id]

    def waiting(self) -> list[str]:
        """Ids of calls waiting for a unit, in dispatch order."""
        seen: set[str] = set()
        out = []
        for _, _, _, cid in sorted(self._queue):
            if cid not in seen and self.calls[cid].status is CallStatus.RECEIVED:
                seen.add(cid)
                out.append(cid)
        return out

    def next_waiting(self) -> Call | None:
        """The first call in the queue still waiting (stale entries are discarded)."""
        while self._queue:
            cid = self._queue[0][3]
            if self.calls[cid].status is CallStatus.RECEIVED:
                return self.calls[cid]
            heapq.heappop(self._queue)
        return None

    def recommend(self, call_id: str, k: int = 3) -> list[Recommendation]:
        """The ``k`` closest available units to a call, by road travel time."""
        call = self._call(call_id)
        return recommend(
            list(self.units.values()), call.node, self.oracle, k=k, priority=call.priority
        )

    def preemption_candidate(self, call_id: str) -> Recommendation | None:
        """For a priority-1 call: the closest unit travelling to a call of priority number
        ``>= preempt_min`` that could be diverted (None when preemption is off or none)."""
        call = self._call(call_id)
        if self.preempt_min is None or call.priority != 1:
            return None
        movable = [
            u
            for u in self.units.values()
            if u.status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE)
            and u.call_id is not None
            and self.calls[u.call_id].priority >= self.preempt_min
        ]
        best = recommend(
            movable,
            call.node,
            self.oracle,
            k=1,
            statuses=frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE}),
            priority=call.priority,
        )
        return best[0] if best else None

    # ------------------------------------------------------------------ operations
    def dispatch(self, call_id: str, unit_id: str, t: float) -> None:
        """Assign an available unit to a waiting call, or divert a travelling unit
        (preemption: its old call goes back to the queue).

        Raises
        ------
        TransitionError
            If the call is not waiting or the unit is not free (or divertible); nothing
            changes.
        """
        call, unit = self._call(call_id), self._unit(unit_id)
        check_call_transition(call.status, CallStatus.DISPATCHED, call_id)
        old_call = None
        if unit.status in DISPATCHABLE:
            check_unit_transition(unit.status, UnitStatus.DISPATCHED, unit_id)
        elif unit.status in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE) and unit.call_id:
            old_call = self.calls[unit.call_id]
            if (
                self.preempt_min is None
                or call.priority != 1
                or old_call.priority < self.preempt_min
            ):
                raise TransitionError(
                    f"unit {unit_id} is {unit.status.value} to call {old_call.call_id}: "
                    "not available"
                )
        else:
            raise TransitionError(f"unit {unit_id} is {unit.status.value}: not available")
        # all checks passed: change state
        if old_call is not None:
            old_call.release(t)
            self._push(old_call)
            unit.status = UnitStatus.DISPATCHED
        else:
            unit.set_status(UnitStatus.DISPATCHED)
        call.dispatch(unit_id, t)
        unit.call_id = call_id

    def en_route(self, unit_id: str, t: float) -> None:
        """The unit acknowledges and sets off to its call."""
        unit, call = self._unit_and_call(unit_id)
        check_unit_transition(unit.status, UnitStatus.EN_ROUTE, unit_id)
        check_call_transition(call.status, CallStatus.EN_ROUTE, call.call_id)
        unit.set_status(UnitStatus.EN_ROUTE)
        call.en_route(t)

    def arrive(self, unit_id: str, t: float) -> None:
        """The unit is on scene."""
        unit, call = self._unit_and_call(unit_id)
        check_unit_transition(unit.status, UnitStatus.ON_SCENE, unit_id)
        check_call_transition(call.status, CallStatus.ON_SCENE, call.call_id)
        unit.set_status(UnitStatus.ON_SCENE)
        unit.node = call.node
        call.arrive(t)

    def clear(self, unit_id: str, t: float, *, returning: bool = False) -> Call:
        """The unit clears its call and is available again (at the call's node; the caller
        moves it back to its post), or, with ``returning``, on its way back to its post
        (see :meth:`returned`). Returns the cleared call."""
        unit, call = self._unit_and_call(unit_id)
        new = UnitStatus.RETURNING if returning else UnitStatus.AVAILABLE
        check_unit_transition(unit.status, new, unit_id)
        check_call_transition(call.status, CallStatus.CLEARED, call.call_id)
        call.clear(t)
        unit.set_status(new)
        unit.call_id = None
        return call

    def returned(self, unit_id: str) -> None:
        """A returning unit is back at its post: available there."""
        unit = self._unit(unit_id)
        check_unit_transition(unit.status, UnitStatus.AVAILABLE, unit_id)
        unit.set_status(UnitStatus.AVAILABLE)
        unit.node = unit.home_node

    def cancel(self, call_id: str, t: float) -> None:
        """Cancel a call that nobody has reached; its unit, if any, is freed."""
        call = self._call(call_id)
        check_call_transition(call.status, CallStatus.CANCELLED, call_id)
        unit = self.units.get(call.unit_id) if call.unit_id else None
        if unit is not None:
            check_unit_transition(unit.status, UnitStatus.AVAILABLE, unit.unit_id)
        call.cancel(t)
        if unit is not None:
            unit.set_status(UnitStatus.AVAILABLE)
            unit.call_id = None

    def set_out_of_service(self, unit_id: str, out: bool = True) -> None:
        """Take a unit off duty (only when it has no call) or bring it back."""
        unit = self._unit(unit_id)
        if out and unit.call_id is not None:
            raise TransitionError(f"unit {unit_id} has call {unit.call_id}: clear it first")
        unit.set_status(UnitStatus.OUT_OF_SERVICE if out else UnitStatus.AVAILABLE)

    def move(self, unit_id: str, node: int) -> None:
        """Update a unit's position (a position report)."""
        if not 0 <= node < self.oracle.n_nodes:
            raise ValidationError(f"node {node} is not in the network")
        self._unit(unit_id).node = int(node)

    def units_within(self, node: int, limit_s: float) -> list[Recommendation]:
        """Units of any state within ``limit_s`` seconds of ``node`` (for alerts), fastest
        first."""
        all_states = frozenset(UnitStatus)
        recs = recommend(
            list(self.units.values()),
            node,
            self.oracle,
            k=max(len(self.units), 1),
            statuses=all_states,
            respect_limits=False,
        )
        return [r for r in recs if r.eta_s <= limit_s]


def assign_waiting(
    board: DispatchBoard, t: float, *, skip_unreachable: bool = False
) -> Iterable[tuple[str, str]]:
    """Dispatch waiting calls to the closest available units, in queue order. Yields
    ``(call_id, unit_id)`` pairs.

    By default it stops at the first call that no available unit can take. With
    ``skip_unreachable`` that call keeps its place and the next ones are tried, so that
    units limited to an area (``Unit.max_travel_s``) or to urgent calls
    (``Unit.max_priority``) still take the calls they can; it stops when no unit is
    available. One pass suffices: dispatching only removes available units.
    """
    if not skip_unreachable:
        while True:
            call = board.next_waiting()
            if call is None:
                return
            recs = board.recommend(call.call_id, k=1)
            if not recs:
                return
            board.dispatch(call.call_id, recs[0].unit_id, t)
            yield call.call_id, recs[0].unit_id
    if board.next_waiting() is None:
        return
    if not any(u.status is UnitStatus.AVAILABLE for u in board.units.values()):
        return
    for call_id in board.waiting():
        recs = board.recommend(call_id, k=1)
        if recs:
            board.dispatch(call_id, recs[0].unit_id, t)
            yield call_id, recs[0].unit_id
        elif not any(u.status is UnitStatus.AVAILABLE for u in board.units.values()):
            return
