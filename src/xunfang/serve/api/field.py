"""The field side and the complete loop: several units on a call, release and
reassignment, clearing with a disposition and the trip back to post, call edits, an alert
made into a call, alert expiry and escalation, the officer's own view and route.

Functions over a :class:`~xunfang.serve.api.service.Service`; every change follows the
service's pattern (read, let the dispatch core decide on throw-away objects, write with
conditional updates, audit in the same transaction, publish after commit). The rules of
a call's crew are :mod:`xunfang.dispatch.crew`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from xunfang.dispatch.crew import (
    Crew,
    CrewRole,
    add_backup,
    clear_crew,
    member_step,
    release,
    road_path,
)
from xunfang.dispatch.model import (
    WALK_SPEED_KPH,
    CallStatus,
    TransitionError,
    UnitKind,
    UnitStatus,
    check_call_transition,
    check_unit_transition,
)
from xunfang.dispatch.model import Unit as CoreUnit
from xunfang.errors import ValidationError
from xunfang.ingest.masking import mask_free_text
from xunfang.serve.api import field_schemas as F
from xunfang.serve.api import schemas as S
from xunfang.serve.api.calltypes import CALL_TYPES
from xunfang.serve.api.codes import load_dispositions
from xunfang.serve.api.events import Event
from xunfang.serve.api.geo import FieldError
from xunfang.serve.api.security import Role, mask_name, mask_phone, on_the_call
from xunfang.serve.api.service import (
    ConflictError,
    Ctx,
    ForbiddenError,
    NotFoundError,
    Service,
    _call_event,
    _unit_event,
    call_out,
    core_call,
    unit_out,
)
from xunfang.store import repo
from xunfang.store.models import Call, Unit

log = logging.getLogger("xunfang.serve")

CREW_OPS = ("backup", "release", "reassign", "en_route", "on_scene", "clear", "cancel", "back")


def check_disposition(svc: Service, code: str | None) -> None:
    """Refuse a disposition code not in the configured list (422 naming the field)."""
    if code is None:
        return
    codes = load_dispositions(svc.settings.dispositions)
    if code not in codes:
        raise FieldError(
            "disposition", f"unknown disposition {code!r}; GET /api/meta/dispositions lists them"
        )


# ---------------------------------------------------------------------------- status reports
def unit_status(svc: Service, unit_id: str, body: S.UnitStatusIn, ctx: Ctx) -> S.UnitOut:
    """A unit's status report, multi-unit aware.

    * ``available`` from the call's primary clears the call (with ``disposition``), every
      unit on it returning to its post; from a backup it leaves the call (released);
      from ``returning`` it is back in service where it is;
    * ``en_route`` / ``on_scene`` of a backup (or of a primary whose call a backup has
      already moved on) go through the crew rules;
    * everything else is :meth:`Service.unit_status`.
    """
    svc._own_unit(ctx.principal, unit_id)
    check_disposition(svc, body.disposition)
    with svc.db.read() as s:
        unit = repo.get_unit(s, unit_id)
        if unit is None:
            raise NotFoundError(f"no unit {unit_id!r}")
        call = repo.get_call(s, unit.call_id) if unit.call_id is not None else None
        crew_size = len(repo.units_on_call(s, call.id)) if call is not None else 0
    st = body.status
    if unit.status == "returning" and st == "available":
        _crew_tx(svc, ctx, None, "back", unit_id)
    elif call is not None and st == "available":
        op = "clear" if call.unit_id == unit_id else "release"
        if op == "clear" and call.status != "on_scene":
            # said in the words of what was asked (it said "cannot go from dispatched to
            # cleared" to an officer who had asked to be available)
            steps = "on_scene" if call.status == "en_route" else "en_route and on_scene"
            raise ConflictError(
                f"unit {unit_id} is {call.status} on call {call.id}, not on scene: it becomes "
                f"available by clearing the call from the scene (report {steps} first), or "
                "when a dispatcher releases it or cancels the call"
            )
        _crew_tx(svc, ctx, call.id, op, unit_id, disposition=body.disposition, note=body.note)
    elif (
        call is not None
        and st in ("en_route", "on_scene")
        and (crew_size > 1 or call.unit_id != unit_id or _ahead(call.status, st))
    ):
        _crew_tx(svc, ctx, call.id, st, unit_id)
    else:
        svc.unit_status(unit_id, st, ctx)
    if st in ("on_scene", "out_of_service", "available"):
        with svc.db.write() as s:  # police visibility: arrived somewhere, off or on duty
            row = repo.get_unit(s, unit_id)
            if row is not None and row.status == "out_of_service":
                repo.record_presence(s, unit_id, False, ctx.now)  # off duty ends "away"
            elif row is not None:
                svc.note_presence(s, row, ctx.now)
    return svc.get_unit(unit_id)


def _ahead(call_status: str, step: str) -> bool:
    order = ["received", "dispatched", "en_route", "on_scene"]
    return call_status in order and order.index(call_status) >= order.index(step)


def add_unit(svc: Service, call_id: int, unit_id: str, ctx: Ctx) -> S.CallDetailOut:
    """Add a backup unit to a dispatched / en-route / on-scene call."""
    _crew_tx(svc, ctx, call_id, "backup", unit_id)
    return get_call_detail(svc, call_id, ctx)


def release_unit(svc: Service, call_id: int, unit_id: str, ctx: Ctx) -> S.CallDetailOut:
    """Take a unit off a call without cancelling it (see :func:`xunfang.dispatch.crew.release`)."""
    _crew_tx(svc, ctx, call_id, "release", unit_id)
    return get_call_detail(svc, call_id, ctx)


def reassign(svc: Service, call_id: int, body: F.ReassignIn, ctx: Ctx) -> S.CallDetailOut:
    """Hand a call from one of its units to another, which takes its role."""
    _crew_tx(svc, ctx, call_id, "reassign", body.from_unit_id, to_unit=body.to_unit_id)
    return get_call_detail(svc, call_id, ctx)


def clear_call(svc: Service, call_id: int, body: F.ClearIn, ctx: Ctx) -> S.CallDetailOut:
    """Clear a call on scene with its disposition and note; its units return to post.
    Dispatchers and admins clear any call, an officer only a call their unit is on
    (:class:`ForbiddenError` otherwise, checked in the clearing transaction)."""
    check_disposition(svc, body.disposition)
    _crew_tx(svc, ctx, call_id, "clear", None, disposition=body.disposition, note=body.note)
    return get_call_detail(svc, call_id, ctx)


def _own_call(ctx: Ctx, call_id: int, members: Sequence[Unit]) -> None:
    """Refuse an officer whose unit is not on the call (dispatchers and admins pass)."""
    p = ctx.principal
    if p.role is Role.OFFICER and p.unit_id not in {m.id for m in members}:
        raise ForbiddenError(f"call {call_id} is not assigned to your unit")


def cancel_call(svc: Service, call_id: int, ctx: Ctx) -> S.CallOut:
    """Cancel a call nobody has reached, freeing every unit on it."""
    with svc.db.read() as s:
        n = len(repo.units_on_call(s, call_id))
    if n <= 1:
        return svc.cancel(call_id, ctx)
    _crew_tx(svc, ctx, call_id, "cancel", None)
    return get_call_detail(svc, call_id, ctx)


def _home_eta_s(svc: Service, row: Unit, node: int, home: int) -> float:
    if node == home:
        return 0.0
    if row.mode == "foot":
        return float(svc.geo.walk_oracle.time(node, home))
    return float(svc.geo.oracle.time(node, home)) * row.speed_factor


def _crew_tx(
    svc: Service,
    ctx: Ctx,
    call_id: int | None,
    op: str,
    unit_id: str | None,
    *,
    to_unit: str | None = None,
    disposition: str | None = None,
    note: str = "",
) -> None:
    try:
        _crew_tx_inner(svc, ctx, call_id, op, unit_id, to_unit, disposition, note)
    except (TransitionError, FieldError, NotFoundError, ConflictError, ForbiddenError):
        raise
    except ValidationError as exc:  # e.g. a step time before the previous one
        raise ConflictError(str(exc)) from exc


def _crew_tx_inner(
    svc: Service,
    ctx: Ctx,
    call_id: int | None,
    op: str,
    unit_id: str | None,
    to_unit: str | None,
    disposition: str | None,
    note: str,
) -> None:
    assert op in CREW_OPS
    t = ctx.now.timestamp()
    geo = svc.geo
    with svc.db.write() as s:
        call: Call | None = None
        members: list[Unit] = []
        if call_id is not None:
            call = repo.get_call(s, call_id)
            if call is None:
                raise NotFoundError(f"no call {call_id}")
            members = list(repo.units_on_call(s, call_id))
            if op == "clear":
                if call.status in ("cleared", "cancelled"):  # its units are released by now
                    raise ConflictError(f"call {call_id} is already {call.status}")
                _own_call(ctx, call_id, members)
        rows = list(members)
        for uid in (unit_id, to_unit):
            if uid is not None and uid not in {r.id for r in rows}:
                extra = repo.get_unit(s, uid)
                if extra is None:
                    raise NotFoundError(f"no unit {uid!r}")
                rows.append(extra)
        nodes = geo.nodes_of([r.lon for r in rows], [r.lat for r in rows]).tolist()
        homes = geo.nodes_of([r.home_lon for r in rows], [r.home_lat for r in rows]).tolist()
        cores = {
            r.id: CoreUnit(
                r.id,
                UnitKind(r.kind),
                home_node=h,
                node=n,
                status=UnitStatus(r.status),
                call_id=None if r.call_id is None else str(r.call_id),
                speed_factor=r.speed_factor,
            )
            for r, n, h in zip(rows, nodes, homes, strict=True)
        }
        node_of = dict(zip((r.id for r in rows), nodes, strict=True))
        home_of = dict(zip((r.id for r in rows), homes, strict=True))
        before = {r.id: (r.status, r.call_id) for r in rows}
        cc = None
        n_history = 0
        crew = None
        if call is not None:
            cnode = int(geo.nodes_of([call.lon], [call.lat])[0])
            cc = core_call(call, repo.call_events(s, call.id), node=cnode)
            n_history = len(cc.history)
            order = sorted(members, key=lambda m: (m.id != call.unit_id, m.id))
            crew = Crew(
                cc.call_id,
                {
                    m.id: CrewRole.PRIMARY if m.id == call.unit_id else CrewRole.BACKUP
                    for m in order
                },
            )
        before_call = (cc.status, cc.unit_id) if cc is not None else None
        primary_before = call.unit_id if call is not None else None
        # --- the core decides
        if op == "back":
            assert unit_id is not None
            u = cores[unit_id]
            check_unit_transition(u.status, UnitStatus.AVAILABLE, unit_id)
            u.set_status(UnitStatus.AVAILABLE)
        else:
            assert cc is not None and crew is not None
            if op == "backup":
                assert unit_id is not None
                add_backup(cc, crew, cores[unit_id])
            elif op == "release":
                assert unit_id is not None
                release(cc, crew, cores[unit_id], t, others=cores)
            elif op == "reassign":
                assert unit_id is not None and to_unit is not None
                if unit_id not in crew.members:
                    raise TransitionError(f"unit {unit_id} is not on call {cc.call_id}")
                was_primary = crew.members[unit_id] is CrewRole.PRIMARY
                add_backup(cc, crew, cores[to_unit])
                if was_primary:  # the new unit takes the primary's place
                    crew.members[unit_id] = CrewRole.BACKUP
                    crew.members[to_unit] = CrewRole.PRIMARY
                    cc.unit_id = to_unit
                release(cc, crew, cores[unit_id], t)
            elif op in ("en_route", "on_scene"):
                assert unit_id is not None
                member_step(cc, crew, cores[unit_id], UnitStatus(op), t)
                if op == "on_scene":
                    node_of[unit_id] = cc.node
            elif op == "clear":
                for uid in crew.members:  # a unit on scene is where the call is
                    if cores[uid].status is UnitStatus.ON_SCENE:
                        cores[uid].node = cc.node
                clear_crew(cc, crew, cores, t)
            elif op == "cancel":
                check_call_transition(cc.status, CallStatus.CANCELLED, cc.call_id)
                news = {}
                for uid in crew.members:
                    u = cores[uid]
                    news[uid] = (
                        UnitStatus.AVAILABLE
                        if u.status is UnitStatus.DISPATCHED
                        else UnitStatus.RETURNING
                    )
                    check_unit_transition(u.status, news[uid], uid)
                cc.cancel(t)
                for uid, st in news.items():
                    cores[uid].set_status(st)
                    cores[uid].call_id = None
        # --- persist units first, then the call (one lock order)
        changed_units: list[Unit] = []
        for r in rows:
            cu = cores[r.id]
            new_call = None if cu.call_id is None else int(cu.call_id)
            if (cu.status.value, new_call) == before[r.id]:
                continue
            lon = lat = eta_at = None
            if cu.status is UnitStatus.ON_SCENE and before[r.id][0] != "on_scene":
                assert call is not None
                lon, lat = call.lon, call.lat
            elif cu.status is UnitStatus.AVAILABLE and op == "clear":
                lon, lat = r.home_lon, r.home_lat  # it was at its post already
            elif cu.status is UnitStatus.RETURNING:
                node = cc.node if (cc is not None and op == "clear") else node_of[r.id]
                eta_s = _home_eta_s(svc, r, node, home_of[r.id])
                eta_at = ctx.now + dt.timedelta(seconds=eta_s)
            ok = repo.transition_unit(
                s,
                r.id,
                expected=before[r.id][0],
                new=cu.status.value,
                at=ctx.now,
                call_id=new_call,
                lon=lon,
                lat=lat,
                return_eta_at=eta_at,
            )
            if not ok:
                raise ConflictError(f"unit {r.id} changed meanwhile: reload and try again")
            if cu.status.value != before[r.id][0]:
                repo.add_unit_event(
                    s,
                    r.id,
                    ctx.now,
                    before[r.id][0],
                    cu.status.value,
                    ctx.principal.username,
                    new_call if new_call is not None else before[r.id][1],
                )
            changed_units.append(r)
        if call is not None and cc is not None and (cc.status, cc.unit_id) != before_call:
            svc._apply_call(s, call, cc, n_history, ctx, primary_set_off=False)
        if call is not None and op == "en_route" and unit_id == primary_before:
            repo.ack_call(s, call.id, ctx.now)  # the primary setting off acknowledges (签收)
        if call is not None and op == "clear":
            repo.set_call_fields(
                s, call.id, {"disposition": disposition, "disposition_note": note or ""}
            )
        detail: dict[str, Any] = {"call_id": call_id, "unit_id": unit_id}
        if to_unit is not None:
            detail["to_unit_id"] = to_unit
        if op == "clear":
            detail["disposition"] = disposition
        svc._audit(
            s,
            ctx,
            f"call.{op}" if op not in ("en_route", "on_scene", "back") else f"unit.{op}",
            "call" if call_id is not None else "unit",
            str(call_id) if call_id is not None else str(unit_id),
            detail,
        )
        s.flush()
        for r in changed_units:
            s.refresh(r)
            if r.status == "available" and op in ("clear", "back"):
                svc.note_presence(s, r, ctx.now)
        if call is not None:
            s.refresh(call)
    for r in changed_units:
        svc.hub.publish(_unit_event(r))
    if call is not None:
        svc.hub.publish(_call_event("call.updated", call))
    log.info("%s: call %s unit %s by %s", op, call_id, unit_id, ctx.principal.username)


# ---------------------------------------------------------------------------- background
def tick(svc: Service, now: dt.datetime) -> tuple[int, int]:
    """Units whose return trip is over become available at their post; expired alerts
    that a recipient has not acknowledged are escalated to the dispatchers (event
    ``alert.escalated``). Returns (units back, alerts escalated)."""
    back: list[Unit] = []
    escalated: list[Any] = []
    with svc.db.write() as s:
        for u in repo.returning_due(s, now):
            ok = repo.transition_unit(
                s,
                u.id,
                expected="returning",
                new="available",
                at=now,
                lon=u.home_lon,
                lat=u.home_lat,
            )
            if ok:
                repo.add_unit_event(s, u.id, now, "returning", "available", "system")
                back.append(u)
        for a in repo.alerts_to_escalate(s, now):
            if repo.escalate_alert(s, a.id, now):
                recs = repo.alert_recipients(s, [a.id])
                pending = [r.unit_id for r in recs if r.acked_at is None]
                repo.audit(
                    s,
                    username="system",
                    role="admin",
                    action="alert.escalate",
                    resource="alert",
                    resource_id=str(a.id),
                    detail={"pending": pending},
                    at=now,
                )
                escalated.append(a.id)
        s.flush()
        for u in back:
            s.refresh(u)
            svc.note_presence(s, u, now)
        alerts_out = [
            svc._alert_out(s, a) for a in map(lambda i: repo.get_alert(s, i), escalated) if a
        ]
    for u in back:
        svc.hub.publish(_unit_event(u))
    for out in alerts_out:
        # dispatchers and admins only (filtered per subscriber, in every worker)
        svc.hub.publish(
            Event(
                "alert.escalated",
                out.model_dump(mode="json"),
                units=frozenset(),
                roles=frozenset({Role.DISPATCHER.value, Role.ADMIN.value}),
            )
        )
    return len(back), len(escalated)


# ---------------------------------------------------------------------------- calls
def ack_call(svc: Service, call_id: int, ctx: Ctx) -> S.CallOut:
    """A unit on the call acknowledges it (签收); the first acknowledgement is kept.

    The call's 签收 is its primary unit's (``calls.unit_id``, the unit it was dispatched or
    reassigned to; :mod:`xunfang.store.kpi_sql`): a backup's acknowledgement is audited
    (``call.ack`` with ``role: backup``) but leaves ``acknowledged_at`` as it is, so that a
    backup cannot make a call the primary never acknowledged count as acknowledged. A
    dispatcher's acknowledgement stands for the primary's.
    """
    p = ctx.principal
    with svc.db.write() as s:
        call = repo.get_call(s, call_id)
        if call is None:
            raise NotFoundError(f"no call {call_id}")
        primary = True
        if p.role is Role.OFFICER:
            unit = repo.get_unit(s, p.unit_id) if p.unit_id else None
            if unit is None or unit.call_id != call_id:
                raise ForbiddenError(f"call {call_id} is not assigned to your unit")
            primary = unit.id == call.unit_id
        if call.status not in ("dispatched", "en_route", "on_scene"):
            raise ConflictError(f"call {call_id} is {call.status}: nothing to acknowledge")
        fresh = primary and repo.ack_call(s, call_id, ctx.now)
        if fresh or not primary:
            svc._audit(
                s,
                ctx,
                "call.ack",
                "call",
                str(call_id),
                {"unit_id": p.unit_id, "role": "primary" if primary else "backup"},
            )
        s.flush()
        s.refresh(call)
    if fresh:
        svc.hub.publish(_call_event("call.updated", call))
    return call_out(call, p)


_EDITABLE = ("call_type", "priority", "description", "address", "caller_name", "caller_phone")
_PERSONAL = {
    "caller_name": mask_name,
    "caller_phone": mask_phone,
    # the free-text fields the service masks (security.FREE_TEXT_FIELDS): the audit log too
    "description": mask_free_text,
    "address": mask_free_text,
}


def edit_call(svc: Service, call_id: int, body: F.CallEdit, ctx: Ctx) -> S.CallOut:
    """Change a call after intake; the audit log records each change, old -> new
    (the caller's name and phone, and the numbers and names in the description, masked:
    the log never holds personal data)."""
    given = body.model_fields_set
    if ("lon" in given) != ("lat" in given):
        raise FieldError("lat" if "lon" in given else "lon", "give lon and lat together")
    new: dict[str, Any] = {k: getattr(body, k) for k in _EDITABLE if k in given}
    if "call_type" in new:
        ctype = CALL_TYPES.get(str(new["call_type"]))
        if ctype is None:
            raise FieldError("call_type", f"unknown call type {new['call_type']!r}")
        new["type_group"] = ctype.group
    if "lon" in given and body.lon is not None and body.lat is not None:
        loc = svc.geo.locate(body.lon, body.lat, body.frame)
        new.update(lon=loc.lon, lat=loc.lat, snap_distance_m=loc.snap_distance_m)
    with svc.db.write() as s:
        call = repo.get_call(s, call_id)
        if call is None:
            raise NotFoundError(f"no call {call_id}")
        changes: dict[str, dict[str, Any]] = {}
        for k, v in new.items():
            old = getattr(call, k)
            if old == v:
                continue
            if k in _PERSONAL:
                changes[k] = {"old": _PERSONAL[k](old), "new": _PERSONAL[k](v)}
            else:
                changes[k] = {"old": old, "new": v}
        values = {k: new[k] for k in changes}
        if not values:
            return call_out(call, ctx.principal)
        repo.set_call_fields(s, call_id, values)
        svc._audit(s, ctx, "call.edit", "call", str(call_id), {"changes": changes})
        s.flush()
        s.refresh(call)
    svc.hub.publish(_call_event("call.updated", call))
    return call_out(call, ctx.principal)


def alert_to_call(svc: Service, alert_id: int, body: F.AlertToCallIn, ctx: Ctx) -> S.CallOut:
    """Make an alert into a call in one step: the call is at the alert's place with its
    text (409 when the alert already has a call)."""
    ctype = CALL_TYPES.get(body.call_type)
    if ctype is None:
        raise FieldError("call_type", f"unknown call type {body.call_type!r}")
    with svc.db.read() as s:
        alert = repo.get_alert(s, alert_id)
        if alert is None:
            raise NotFoundError(f"no alert {alert_id}")
    loc = svc.geo.locate(alert.lon, alert.lat)
    row = Call(
        call_type=ctype.key,
        type_group=ctype.group,
        priority=body.priority or ctype.priority,
        description=alert.description,
        address="",
        caller_name=None,
        caller_phone=None,
        lon=alert.lon,
        lat=alert.lat,
        snap_distance_m=loc.snap_distance_m,
        status="received",
        unit_id=None,
        received_at=ctx.now,
        dispatched_at=None,
        en_route_at=None,
        on_scene_at=None,
        cleared_at=None,
        cancelled_at=None,
        created_by=ctx.principal.username,
        acknowledged_at=None,
        disposition=None,
        disposition_note="",
        alert_id=alert_id,
        idempotency_key=None,
        request_hash=None,
    )
    with svc.db.write() as s:
        (new_id,) = repo.add_calls(s, [row])
        if not repo.link_alert_call(s, alert_id, new_id):
            raise ConflictError(f"alert {alert_id} already has a call")
        svc._audit(s, ctx, "alert.to_call", "alert", str(alert_id), {"call_id": new_id})
        fresh = repo.get_call(s, new_id)
        assert fresh is not None
        alert_out = svc._alert_out(s, repo.get_alert(s, alert_id) or alert)
    svc.hub.publish(_call_event("call.created", fresh))
    svc.hub.publish(
        Event(
            "alert.updated",
            alert_out.model_dump(mode="json"),
            units=frozenset(r.unit_id for r in alert_out.recipients),
        )
    )
    return call_out(fresh, ctx.principal)


def crew_of(svc: Service, call: Call, members: Sequence[Unit]) -> list[S.CrewMemberOut]:
    """The units on a call, primary first."""
    order = sorted(members, key=lambda m: (m.id != call.unit_id, m.id))
    return [
        S.CrewMemberOut(
            unit_id=m.id, role="primary" if m.id == call.unit_id else "backup", status=m.status
        )
        for m in order
    ]


# ---------------------------------------------------------------------------- the officer
def field_me(svc: Service, ctx: Ctx) -> F.FieldMeOut:
    """The officer's page: my unit, my call with its details. The caller's contact is
    unmasked for an officer whose unit is on the call, and that read is audited."""
    p = ctx.principal
    unit = call = None
    role = None
    audit_read = False
    with svc.db.read() as s:
        urow = repo.get_unit(s, p.unit_id) if p.unit_id else None
        if urow is not None:
            unit = unit_out(urow)
            if urow.call_id is not None:
                crow = repo.get_call(s, urow.call_id)
                if crow is not None:
                    events = repo.call_events(s, crow.id)
                    members = repo.units_on_call(s, crow.id)
                    on_call = on_the_call(p, [m.id for m in members])
                    base = call_out(crow, p, events, unmask=on_call)
                    call = S.CallDetailOut(
                        **base.model_dump(),
                        history=[
                            S.CallEventOut(
                                at=e.at,
                                status=e.status,  # type: ignore[arg-type]
                                unit_id=e.unit_id,
                                actor=e.actor,
                            )
                            for e in events
                        ],
                        crew=crew_of(svc, crow, members),
                    )
                    role = "primary" if crow.unit_id == urow.id else "backup"
                    audit_read = on_call and bool(crow.caller_name or crow.caller_phone)
    if call is not None and audit_read:
        with svc.db.write() as s:
            svc._audit(s, ctx, "call.contact_read", "call", str(call.id), {"unit_id": p.unit_id})
    return F.FieldMeOut(
        username=p.username,
        unit=unit,
        call=call,
        role_on_call=role,  # type: ignore[arg-type]
        position_every_s=svc.settings.field_position_s,
        walk_speed_kph=WALK_SPEED_KPH,
    )


def route(svc: Service, unit_id: str, ctx: Ctx) -> F.RouteOut:
    """The road path from a unit to its call: fastest by car, or shortest on foot."""
    svc._own_unit(ctx.principal, unit_id)
    with svc.db.read() as s:
        u = repo.get_unit(s, unit_id)
        if u is None:
            raise NotFoundError(f"no unit {unit_id!r}")
        if u.call_id is None:
            raise NotFoundError(f"unit {unit_id} has no call")
        c = repo.get_call(s, u.call_id)
        assert c is not None
    geo = svc.geo
    src, dst = geo.nodes_of([u.lon, c.lon], [u.lat, c.lat]).tolist()
    foot = u.mode == "foot"
    graph = geo.walk_matrix if foot else geo.network.matrix
    path, time_s = road_path(graph, int(src), int(dst))
    if not path:
        raise NotFoundError(f"no road path from unit {unit_id} to call {c.id}")
    xy = geo.network.node_xy[np.asarray(path, dtype=np.int64)]
    lon, lat = geo.unproject(xy[:, 0], xy[:, 1])
    coords = [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lon, lat, strict=True)]
    coords = [[u.lon, u.lat], *coords, [c.lon, c.lat]]
    distance_m = float(np.hypot(*np.diff(xy, axis=0).T).sum()) if len(path) > 1 else 0.0
    return F.RouteOut(
        unit_id=unit_id,
        call_id=c.id,
        mode=u.mode,
        eta_s=time_s if foot else time_s * u.speed_factor,
        distance_m=distance_m,
        line={"type": "LineString", "coordinates": coords},
    )


def get_call_detail(svc: Service, call_id: int, ctx: Ctx) -> S.CallDetailOut:
    """:meth:`Service.get_call` with the crew. The caller's contact follows the rule of
    :func:`field_me` (:func:`~xunfang.serve.api.security.on_the_call`): in clear for an
    officer of a unit on the call, that read audited as ``call.contact_read``."""
    p = ctx.principal
    with svc.db.read() as s:
        call = repo.get_call(s, call_id)
        if call is None:
            raise NotFoundError(f"no call {call_id}")
        members = repo.units_on_call(s, call_id)
    on_call = on_the_call(p, [m.id for m in members])
    out = svc.get_call(call_id, p, unmask=on_call)
    out.crew = crew_of(svc, call, members)
    if on_call and (call.caller_name or call.caller_phone):
        with svc.db.write() as s:
            svc._audit(s, ctx, "call.contact_read", "call", str(call_id), {"unit_id": p.unit_id})
    return out


__all__ = [
    "add_unit",
    "alert_to_call",
    "cancel_call",
    "clear_call",
    "edit_call",
    "field_me",
    "reassign",
    "release_unit",
    "route",
    "tick",
    "unit_status",
]
