"""Units, calls and their state machines: the computer-aided dispatch (CAD) core.

Pure logic, no simulation clock, database or web code: the simulator and the live service
drive the same objects. Times are seconds on any monotone clock the caller chooses
(simulation seconds, or POSIX seconds in the service).

Call lifecycle (the usual CAD event sequence, e.g. NENA/APCO call-processing standards)::

    received -> dispatched -> en_route -> on_scene -> cleared
        \\-----------\\------------\\-----------> cancelled

Response time is split into its components::

    call_processing_s = dispatched - received      (intake and queueing for a free unit)
    dispatch_delay_s  = en_route - dispatched      (the unit acknowledges and sets off)
    travel_s          = on_scene - en_route
    on_scene_s        = cleared - on_scene
    response_s        = on_scene - received

Unit states::

    available -> dispatched -> en_route -> on_scene -> available (cleared; returning to post)
    on_scene -> returning -> available (the live service: cleared, travelling back to post)
    any state -> out_of_service -> available

``returning`` is used by the live service (``DispatchBoard.clear(..., returning=True)``);
the simulator keeps its units ``available`` on the way back and tracks the trip itself.
A returning unit may be dispatched again, like an available one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from xunfang.errors import ValidationError


class TransitionError(ValidationError):
    """A state change that the state machine does not allow (the service answers 409)."""


class CallStatus(StrEnum):
    """Where a call is in its lifecycle."""

    RECEIVED = "received"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"
    CANCELLED = "cancelled"


class UnitStatus(StrEnum):
    """What a unit is doing."""

    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RETURNING = "returning"
    OUT_OF_SERVICE = "out_of_service"


class UnitKind(StrEnum):
    """Kinds of unit."""

    BOOTH = "booth"
    PATROL = "patrol"
    STATION_CAR = "station_car"
    RESPONSE_TEAM = "response_team"


class UnitMode(StrEnum):
    """How a unit travels: by car on the road network's speeds, or on foot at
    :data:`WALK_SPEED_KPH` along the same roads."""

    CAR = "car"
    FOOT = "foot"


WALK_SPEED_KPH = 5.0
"""Walking speed of an officer on foot, km/h: the usual planning figure for an adult's
walking pace (about 1.4 m/s; Highway Capacity Manual 2010, ch. 18, uses 1.2 m/s at
crossings, so 5 km/h is the middle of the usual 4-6 km/h range)."""


CALL_TRANSITIONS: dict[CallStatus, frozenset[CallStatus]] = {
    CallStatus.RECEIVED: frozenset({CallStatus.DISPATCHED, CallStatus.CANCELLED}),
    CallStatus.DISPATCHED: frozenset(
        {CallStatus.EN_ROUTE, CallStatus.RECEIVED, CallStatus.CANCELLED}
    ),
    CallStatus.EN_ROUTE: frozenset(
        {CallStatus.ON_SCENE, CallStatus.RECEIVED, CallStatus.CANCELLED}
    ),
    CallStatus.ON_SCENE: frozenset({CallStatus.CLEARED}),
    CallStatus.CLEARED: frozenset(),
    CallStatus.CANCELLED: frozenset(),
}
"""Allowed call transitions. Back to ``received`` means the unit was taken off the call
(preempted or reassigned) before arriving: the call waits for another unit."""

UNIT_TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    UnitStatus.AVAILABLE: frozenset({UnitStatus.DISPATCHED, UnitStatus.OUT_OF_SERVICE}),
    UnitStatus.DISPATCHED: frozenset(
        {
            UnitStatus.EN_ROUTE,
            UnitStatus.AVAILABLE,
            UnitStatus.OUT_OF_SERVICE,
            UnitStatus.RETURNING,
        }
    ),
    UnitStatus.EN_ROUTE: frozenset(
        {UnitStatus.ON_SCENE, UnitStatus.AVAILABLE, UnitStatus.DISPATCHED, UnitStatus.RETURNING}
    ),
    UnitStatus.ON_SCENE: frozenset({UnitStatus.AVAILABLE, UnitStatus.RETURNING}),
    UnitStatus.RETURNING: frozenset(
        {UnitStatus.AVAILABLE, UnitStatus.DISPATCHED, UnitStatus.OUT_OF_SERVICE}
    ),
    UnitStatus.OUT_OF_SERVICE: frozenset({UnitStatus.AVAILABLE}),
}
"""Allowed unit transitions. ``en_route -> dispatched`` is a diversion to a more urgent
call (preemption); ``dispatched/en_route -> available`` is a call cancelled or handed on;
``-> returning`` is a unit released or cleared away from its post (live service)."""

DISPATCHABLE = frozenset({UnitStatus.AVAILABLE, UnitStatus.RETURNING})
"""Unit states free for a new task (a call or an alert): a returning unit, on its way back
to post, may take one like an available unit."""


def check_call_transition(old: CallStatus, new: CallStatus, call_id: str) -> None:
    """Raise :class:`TransitionError` unless ``old -> new`` is allowed for a call."""
    if new not in CALL_TRANSITIONS[old]:
        allowed = ", ".join(sorted(CALL_TRANSITIONS[old])) or "none (final state)"
        raise TransitionError(
            f"call {call_id}: cannot go from {old.value} to {new.value}; allowed: {allowed}"
        )


def check_unit_transition(old: UnitStatus, new: UnitStatus, unit_id: str) -> None:
    """Raise :class:`TransitionError` unless ``old -> new`` is allowed for a unit."""
    if new not in UNIT_TRANSITIONS[old]:
        allowed = ", ".join(sorted(UNIT_TRANSITIONS[old]))
        raise TransitionError(
            f"unit {unit_id}: cannot go from {old.value} to {new.value}; allowed: {allowed}"
        )


@dataclass
class Unit:
    """A unit and its state.

    Attributes
    ----------
    unit_id
        Identifier.
    kind
        Booth officer, patrol car, station car or rapid-response team.
    home_node
        Network node of its post (booth, station) or route start; it returns there when
        cleared.
    node
        Current network node (last known position).
    status
        Current state.
    call_id
        The call it is assigned to, if any.
    speed_factor
        Multiplier of road travel time for this unit (e.g. 1.0 car; a booth officer on
        foot within a small area uses a larger factor).
    max_travel_s
        The unit is recommended only for calls within this travel time, seconds, speed
        factor applied (e.g. a booth officer's own area); ``None`` for no limit.
    max_priority
        The unit is recommended only for calls of this priority number or more urgent
        (e.g. 1 for a rapid-response team kept for emergencies); 5 for every call.
    to_node_s
        Seconds the unit still needs to reach ``node``: 0 when it is there; more for a
        unit between two nodes (e.g. driving back to its post, see
        :meth:`~xunfang.dispatch.recommend.TravelTimeOracle.on_route`). Added to its
        travel time by :func:`~xunfang.dispatch.recommend.recommend`.
    """

    unit_id: str
    kind: UnitKind
    home_node: int
    node: int
    status: UnitStatus = UnitStatus.AVAILABLE
    call_id: str | None = None
    speed_factor: float = 1.0
    max_travel_s: float | None = None
    max_priority: int = 5
    to_node_s: float = 0.0

    def set_status(self, new: UnitStatus) -> None:
        """Change state, checking the transition."""
        check_unit_transition(self.status, new, self.unit_id)
        self.status = new


@dataclass
class Call:
    """A call for service and its lifecycle timestamps (seconds).

    Attributes
    ----------
    call_id
        Identifier.
    priority
        1 (most urgent) .. 5.
    type_group
        Type group from the taxonomy (``violent``, ``service``, ...).
    node
        Network node of the location.
    received_s
        When the call was received.
    """

    call_id: str
    priority: int
    type_group: str
    node: int
    received_s: float
    status: CallStatus = CallStatus.RECEIVED
    unit_id: str | None = None
    dispatched_s: float | None = None
    en_route_s: float | None = None
    on_scene_s: float | None = None
    cleared_s: float | None = None
    cancelled_s: float | None = None
    preempted: int = 0
    history: list[tuple[float, CallStatus, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 1 <= self.priority <= 5:
            raise ValidationError(
                f"call {self.call_id}: priority must be 1..5, got {self.priority}"
            )
        if not self.history:
            self.history.append((self.received_s, CallStatus.RECEIVED, None))

    def _move(self, new: CallStatus, t: float, unit_id: str | None) -> None:
        check_call_transition(self.status, new, self.call_id)
        last = self.history[-1][0]
        if t < last:
            raise ValidationError(
                f"call {self.call_id}: time {t} is before the previous step ({last})"
            )
        self.status = new
        self.history.append((t, new, unit_id))

    def dispatch(self, unit_id: str, t: float) -> None:
        """Assign a unit."""
        self._move(CallStatus.DISPATCHED, t, unit_id)
        self.unit_id = unit_id
        if self.dispatched_s is None:
            self.dispatched_s = t

    def en_route(self, t: float) -> None:
        """The assigned unit sets off."""
        self._move(CallStatus.EN_ROUTE, t, self.unit_id)
        if self.en_route_s is None:
            self.en_route_s = t

    def arrive(self, t: float) -> None:
        """The assigned unit is on scene."""
        self._move(CallStatus.ON_SCENE, t, self.unit_id)
        self.on_scene_s = t

    def clear(self, t: float) -> None:
        """The unit clears the call."""
        self._move(CallStatus.CLEARED, t, self.unit_id)
        self.cleared_s = t

    def cancel(self, t: float) -> None:
        """The call is cancelled before anyone arrived."""
        self._move(CallStatus.CANCELLED, t, self.unit_id)
        self.cancelled_s = t

    def release(self, t: float) -> None:
        """The unit is taken off the call before arriving (preemption): back to the queue.

        The first dispatch and en-route times are kept, so that call processing is
        measured to the first dispatch (the usual CAD convention).
        """
        self._move(CallStatus.RECEIVED, t, None)
        self.unit_id = None
        self.preempted += 1

    # ---- response-time components (None until both ends are known) ----
    @property
    def call_processing_s(self) -> float | None:
        """Received -> first dispatched."""
        return None if self.dispatched_s is None else self.dispatched_s - self.received_s

    @property
    def dispatch_delay_s(self) -> float | None:
        """First dispatched -> first en route."""
        if self.dispatched_s is None or self.en_route_s is None:
            return None
        return self.en_route_s - self.dispatched_s

    @property
    def travel_s(self) -> float | None:
        """Last en route -> on scene (the trip that arrived)."""
        if self.on_scene_s is None:
            return None
        last_en_route = max(t for t, s, _ in self.history if s == CallStatus.EN_ROUTE)
        return self.on_scene_s - last_en_route

    @property
    def response_s(self) -> float | None:
        """Received -> on scene."""
        return None if self.on_scene_s is None else self.on_scene_s - self.received_s

    @property
    def on_scene_time_s(self) -> float | None:
        """On scene -> cleared."""
        if self.on_scene_s is None or self.cleared_s is None:
            return None
        return self.cleared_s - self.on_scene_s
