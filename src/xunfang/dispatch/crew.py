"""Several units on one call (primary and backup), their release, and the trip back to post.

Pure rules on the dispatch core's :class:`~xunfang.dispatch.model.Call` and
:class:`~xunfang.dispatch.model.Unit`, used by the live service; the simulator can use
them too (it dispatches one unit per call today).

A call's **crew** is its primary unit (``Call.unit_id``, the one the call's lifecycle
follows) plus any backups, in the order they joined. The call's progress is the furthest
any member has got: a backup that arrives first puts the call on scene (the arrival time
of a call is its first unit's). Rules:

* a backup joins a call that is dispatched, en route or on scene (a waiting call gets a
  primary through ``DispatchBoard.dispatch``) from ``available`` or ``returning``;
* a member's step (en route, on scene) moves the call forward when the member is ahead of
  it, never back;
* releasing a backup frees it (``returning`` if it had left, see below); releasing the
  primary hands the call to the first backup, or, when there is none, puts the call back
  in the queue (allowed only before anyone arrived: a call on scene is cleared instead);
* clearing the call sends every member back to its post: ``returning`` with an ETA of
  the road travel time back (speed factor applied), or ``available`` at once when it is
  at its post.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from xunfang.dispatch.model import (
    DISPATCHABLE,
    WALK_SPEED_KPH,
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


class CrewRole(StrEnum):
    """A unit's place on a call."""

    PRIMARY = "primary"
    BACKUP = "backup"


_PROGRESS = {
    CallStatus.RECEIVED: 0,
    CallStatus.DISPATCHED: 1,
    CallStatus.EN_ROUTE: 2,
    CallStatus.ON_SCENE: 3,
}
_UNIT_PROGRESS = {UnitStatus.DISPATCHED: 1, UnitStatus.EN_ROUTE: 2, UnitStatus.ON_SCENE: 3}
OPEN_FOR_BACKUP = frozenset({CallStatus.DISPATCHED, CallStatus.EN_ROUTE, CallStatus.ON_SCENE})


@dataclass
class Crew:
    """The units on one call: ``members`` maps unit id -> role, in joining order."""

    call_id: str
    members: dict[str, CrewRole] = field(default_factory=dict)

    @property
    def primary(self) -> str | None:
        """The primary unit's id, if any."""
        return next((u for u, r in self.members.items() if r is CrewRole.PRIMARY), None)

    @property
    def backups(self) -> list[str]:
        """Backup unit ids in joining order."""
        return [u for u, r in self.members.items() if r is CrewRole.BACKUP]


def add_backup(call: Call, crew: Crew, unit: Unit) -> None:
    """A unit joins a call as backup (unit -> ``dispatched`` to the call).

    Raises
    ------
    TransitionError
        If the call is not dispatched / en route / on scene, the unit is already on it,
        or the unit is not available or returning; nothing changes.
    """
    if call.status not in OPEN_FOR_BACKUP:
        raise TransitionError(
            f"call {call.call_id} is {call.status.value}: backup joins a dispatched, en-route "
            "or on-scene call (dispatch a waiting call first)"
        )
    if unit.unit_id in crew.members:
        raise TransitionError(f"unit {unit.unit_id} is already on call {call.call_id}")
    if unit.status not in DISPATCHABLE:
        raise TransitionError(f"unit {unit.unit_id} is {unit.status.value}: not available")
    check_unit_transition(unit.status, UnitStatus.DISPATCHED, unit.unit_id)
    unit.set_status(UnitStatus.DISPATCHED)
    unit.call_id = call.call_id
    crew.members[unit.unit_id] = CrewRole.BACKUP


def member_step(call: Call, crew: Crew, unit: Unit, new: UnitStatus, t: float) -> None:
    """A member reports en route or on scene; the call follows when the member is ahead.

    Raises
    ------
    TransitionError
        If the unit is not on the call, or the step is not allowed for the unit.
    """
    if unit.unit_id not in crew.members:
        raise TransitionError(f"unit {unit.unit_id} is not on call {call.call_id}")
    if new not in (UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE):
        raise TransitionError(f"a crew member reports en_route or on_scene, not {new.value}")
    check_unit_transition(unit.status, new, unit.unit_id)
    if call.status not in _PROGRESS:
        raise TransitionError(f"call {call.call_id} is {call.status.value}")
    unit.set_status(new)
    target = _UNIT_PROGRESS[new]
    if _PROGRESS[call.status] < 2 <= target:
        call.en_route(t)
    if _PROGRESS[call.status] < 3 <= target:
        call.arrive(t)


def release(
    call: Call, crew: Crew, unit: Unit, t: float, others: dict[str, Unit] | None = None
) -> UnitStatus:
    """Take a unit off a call without cancelling the call. Returns the unit's new status:
    ``available`` when it had not set off, else ``returning``.

    Releasing the primary hands the call to the backup furthest along (on scene before en
    route before dispatched; ties: the first to join; ``others`` gives the backups' states,
    without it the first to join), and ``Call.unit_id`` becomes the heir's; with no
    backup the call goes back to the queue (``received``), which the core allows only
    before anyone arrived.

    Raises
    ------
    TransitionError
        If the unit is not on the call, or it is the last unit of a call on scene.
    """
    role = crew.members.get(unit.unit_id)
    if role is None:
        raise TransitionError(f"unit {unit.unit_id} is not on call {call.call_id}")
    new = UnitStatus.AVAILABLE if unit.status is UnitStatus.DISPATCHED else UnitStatus.RETURNING
    check_unit_transition(unit.status, new, unit.unit_id)
    if role is CrewRole.PRIMARY:
        backups = crew.backups
        if backups:
            heir = backups[0]
            if others:
                heir = max(
                    backups,
                    key=lambda b: (_UNIT_PROGRESS.get(others[b].status, 0), -backups.index(b)),
                )
            crew.members[heir] = CrewRole.PRIMARY
            call.unit_id = heir
        else:
            if call.status is CallStatus.ON_SCENE:
                raise TransitionError(
                    f"unit {unit.unit_id} is the only unit on call {call.call_id}, which is on "
                    "scene: clear the call (with its disposition) or send another unit first"
                )
            call.release(t)
    del crew.members[unit.unit_id]
    unit.set_status(new)
    unit.call_id = None
    return new


def clear_crew(call: Call, crew: Crew, units: dict[str, Unit], t: float) -> dict[str, UnitStatus]:
    """Clear the call (on scene -> cleared) and send every member back: ``returning``
    (``available`` for a unit already at its post). Returns each member's new status.

    Raises
    ------
    TransitionError
        If the call is not on scene or a member cannot be freed; nothing changes.
    """
    check_call_transition(call.status, CallStatus.CLEARED, call.call_id)
    out: dict[str, UnitStatus] = {}
    for uid in crew.members:
        u = units[uid]
        out[uid] = UnitStatus.AVAILABLE if u.node == u.home_node else UnitStatus.RETURNING
        check_unit_transition(u.status, out[uid], uid)
    call.clear(t)
    for uid, st in out.items():
        units[uid].set_status(st)
        units[uid].call_id = None
        if st is UnitStatus.AVAILABLE:
            units[uid].node = units[uid].home_node
    crew.members.clear()
    return out


def walking_matrix(
    u: Sequence[int] | np.ndarray,
    v: Sequence[int] | np.ndarray,
    length_m: Sequence[float] | np.ndarray,
    n_nodes: int,
    speed_kph: float = WALK_SPEED_KPH,
) -> sp.csr_matrix:
    """Walking times between road nodes, seconds: every road piece both ways (one-way
    streets bind cars, not people on foot) at ``speed_kph``.

    Parameters
    ----------
    u, v
        Node indices of each road piece's ends, shape (m,).
    length_m
        Length of each piece, metres, shape (m,).
    n_nodes
        Number of nodes ``n``.
    speed_kph
        Walking speed, km/h (default :data:`~xunfang.dispatch.model.WALK_SPEED_KPH`).

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape (n, n): the shortest piece's time where pieces run in parallel.

    Raises
    ------
    ValidationError
        For a non-positive speed, negative lengths or nodes outside ``0..n-1``.
    """
    if not speed_kph > 0:
        raise ValidationError(f"walking speed must be > 0 km/h, got {speed_kph}")
    a = np.asarray(u, dtype=np.int64)
    b = np.asarray(v, dtype=np.int64)
    d = np.asarray(length_m, dtype=np.float64)
    if not (a.shape == b.shape == d.shape):
        raise ValidationError("u, v and length_m must have one shape")
    if d.size and (d.min() < 0 or min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n_nodes):
        raise ValidationError("walking_matrix: negative length or node outside the network")
    secs = d / (speed_kph / 3.6)
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    vals = np.concatenate([secs, secs])
    # keep the shortest of parallel pieces (a zero-length piece keeps a tiny time, so that
    # the sparse matrix stores it as an edge)
    key = rows * n_nodes + cols
    order = np.argsort(key, kind="stable")
    key, vals = key[order], np.maximum(vals[order], 1e-9)
    if key.size == 0:
        return sp.csr_matrix((n_nodes, n_nodes), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    best = np.minimum.reduceat(vals, starts)
    k = key[starts]
    return sp.csr_matrix((best, (k // n_nodes, k % n_nodes)), shape=(n_nodes, n_nodes))


def rank_mixed(
    units: Sequence[Unit],
    foot: frozenset[str],
    target_node: int,
    oracle: TravelTimeOracle,
    walk_oracle: TravelTimeOracle | None,
    *,
    k: int = 3,
    statuses: frozenset[UnitStatus] = frozenset({UnitStatus.AVAILABLE}),
    priority: int | None = None,
    respect_limits: bool = True,
) -> list[Recommendation]:
    """:func:`~xunfang.dispatch.recommend.recommend` over units of both modes: units in
    ``foot`` are timed on ``walk_oracle`` (walking times, see :func:`walking_matrix`),
    the others on ``oracle``; the two rankings are merged, fastest first (ties: car units
    first, then by id). Without ``walk_oracle`` every unit is timed on ``oracle``."""
    if walk_oracle is None or not foot:
        return recommend(
            units,
            target_node,
            oracle,
            k=k,
            statuses=statuses,
            priority=priority,
            respect_limits=respect_limits,
        )
    cars = [u for u in units if u.unit_id not in foot]
    walkers = [u for u in units if u.unit_id in foot]
    recs = recommend(
        cars,
        target_node,
        oracle,
        k=k,
        statuses=statuses,
        priority=priority,
        respect_limits=respect_limits,
    )
    if walkers:
        recs += recommend(
            walkers,
            target_node,
            walk_oracle,
            k=k,
            statuses=statuses,
            priority=priority,
            respect_limits=respect_limits,
        )
    recs.sort(key=lambda r: (r.eta_s, r.unit_id in foot, r.unit_id))
    return recs[:k]


@dataclass(frozen=True)
class AlertRecipient:
    """A unit an alert goes to: its road travel time and whether it is busy."""

    unit_id: str
    eta_s: float
    """Road travel time to the alert's place, seconds (speed factor applied)."""
    busy: bool
    """The unit is on a call (not in :data:`~xunfang.dispatch.model.DISPATCHABLE`): sent
    only to make up the number asked for, because too few available units were within
    reach."""


def alert_recipients(
    ranked: Sequence[Recommendation],
    status_of: Mapping[str, UnitStatus | str],
    wanted: int,
    *,
    available: frozenset[UnitStatus] = DISPATCHABLE,
) -> list[AlertRecipient]:
    """The units an alert (e.g. a patrol's sighting) goes to: the ``wanted`` nearest
    available units, and busy ones only when fewer than ``wanted`` are available, the
    nearest busy ones making up the number, each marked busy.

    Parameters
    ----------
    ranked
        Candidate units, fastest first by road travel time (:func:`rank_mixed`), already
        within the alert's reach and without the reporting unit.
    status_of
        Unit id -> its status (``UnitStatus`` or its value).
    wanted
        How many units the alert asks for (>= 1).
    available
        The states that count as available (default
        :data:`~xunfang.dispatch.model.DISPATCHABLE`, as for a call).

    Returns
    -------
    list of AlertRecipient
        At most ``wanted``, fastest first (the order of ``ranked``).

    Raises
    ------
    ValidationError
        If ``wanted < 1``.
    """
    if wanted < 1:
        raise ValidationError(f"units must be >= 1, got {wanted}")
    free = {str(s) for s in available}
    is_free = [str(status_of[r.unit_id]) in free for r in ranked]
    n_free = sum(is_free)
    n_busy = max(0, wanted - n_free)
    out: list[AlertRecipient] = []
    took_free = took_busy = 0
    for rec, ok in zip(ranked, is_free, strict=True):
        if ok and took_free < wanted:
            took_free += 1
        elif not ok and took_busy < n_busy:
            took_busy += 1
        else:
            continue
        out.append(AlertRecipient(rec.unit_id, rec.eta_s, busy=not ok))
    return out


def road_path(graph: sp.csr_matrix, source: int, target: int) -> tuple[list[int], float]:
    """The fastest path from ``source`` to ``target`` on a travel-time graph (Dijkstra
    1959 via ``scipy.sparse.csgraph.dijkstra`` with predecessors).

    Returns
    -------
    (nodes, time_s)
        Node indices from source to target and the path's time, seconds; ``([], inf)``
        when the target cannot be reached.
    """
    dist, pred = csgraph.dijkstra(graph, directed=True, indices=source, return_predecessors=True)
    if not np.isfinite(dist[target]):
        return [], float("inf")
    path = [int(target)]
    while path[-1] != source:
        path.append(int(pred[path[-1]]))
    return path[::-1], float(dist[target])
