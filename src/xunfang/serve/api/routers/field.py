"""The field side and the complete loop: the officer's own view and route, call
acknowledgement (签收), backup and release, reassignment, clearing with a disposition,
call edits, an alert made into a call, the disposition codes and the KPI standards."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response

from xunfang.serve.api import field
from xunfang.serve.api import field_schemas as F
from xunfang.serve.api import schemas as S
from xunfang.serve.api.codes import load_dispositions
from xunfang.serve.api.deps import Analyst, AnyUser, Dispatcher, FieldUser, ServiceDep
from xunfang.serve.api.kpi_standards import kpi_standards
from xunfang.serve.api.routers.kpis import kpi_window
from xunfang.serve.api.routers.params import AlertId, CallId, UnitIdPath

router = APIRouter(tags=["field"])
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/api/field/me", response_model=F.FieldMeOut)
def field_me(ctx: FieldUser, svc: ServiceDep, response: Response) -> F.FieldMeOut:
    """My unit and my call (the caller's contact unmasked for a unit on the call; the
    read is audited)."""
    response.headers.update(NO_STORE)
    return field.field_me(svc, ctx)


@router.get("/api/units/{unit_id}/route", response_model=F.RouteOut)
def unit_route(unit_id: UnitIdPath, ctx: FieldUser, svc: ServiceDep) -> F.RouteOut:
    """The road path from the unit to its call as a GeoJSON LineString, with its ETA."""
    return field.route(svc, unit_id, ctx)


@router.post("/api/calls/{call_id}/ack", response_model=S.CallOut)
def ack_call(call_id: CallId, ctx: FieldUser, svc: ServiceDep) -> S.CallOut:
    """A unit on the call acknowledges it (签收; the first acknowledgement is kept)."""
    return field.ack_call(svc, call_id, ctx)


@router.post("/api/calls/{call_id}/units", response_model=S.CallDetailOut)
def add_unit(call_id: CallId, body: F.UnitRef, ctx: Dispatcher, svc: ServiceDep) -> S.CallDetailOut:
    """Send a backup unit to a dispatched, en-route or on-scene call."""
    return field.add_unit(svc, call_id, body.unit_id, ctx)


@router.post("/api/calls/{call_id}/release", response_model=S.CallDetailOut)
def release_unit(
    call_id: CallId, body: F.UnitRef, ctx: Dispatcher, svc: ServiceDep
) -> S.CallDetailOut:
    """Take a unit off the call without cancelling it (a backup takes over a released
    primary; with none the call waits for another unit)."""
    return field.release_unit(svc, call_id, body.unit_id, ctx)


@router.post("/api/calls/{call_id}/reassign", response_model=S.CallDetailOut)
def reassign(
    call_id: CallId, body: F.ReassignIn, ctx: Dispatcher, svc: ServiceDep
) -> S.CallDetailOut:
    """Hand the call from one of its units to another unit, which takes its role."""
    return field.reassign(svc, call_id, body, ctx)


@router.post("/api/calls/{call_id}/clear", response_model=S.CallDetailOut)
def clear_call(
    call_id: CallId, body: F.ClearIn, ctx: FieldUser, svc: ServiceDep
) -> S.CallDetailOut:
    """Clear a call on scene with its disposition (处警结果) and a note; its units
    return to their posts. An officer may clear only a call their unit is on (403
    otherwise); audited as ``call.clear`` whoever clears."""
    return field.clear_call(svc, call_id, body, ctx)


@router.patch("/api/calls/{call_id}", response_model=S.CallOut)
def edit_call(call_id: CallId, body: F.CallEdit, ctx: Dispatcher, svc: ServiceDep) -> S.CallOut:
    """Edit a call after intake; the audit log records old -> new per field."""
    return field.edit_call(svc, call_id, body, ctx)


@router.post("/api/alerts/{alert_id}/call", response_model=S.CallOut, status_code=201)
def alert_to_call(
    alert_id: AlertId, body: F.AlertToCallIn, ctx: Dispatcher, svc: ServiceDep
) -> S.CallOut:
    """Make the alert into a call at its place with its text (409 if it has one)."""
    return field.alert_to_call(svc, alert_id, body, ctx)


@router.get("/api/meta/dispositions")
def dispositions(ctx: AnyUser, svc: ServiceDep) -> list[dict[str, str]]:
    """The disposition codes (处警结果) with zh and en labels."""
    return [
        {"code": d.code, "zh": d.zh, "en": d.en}
        for d in load_dispositions(svc.settings.dispositions).values()
    ]


@router.get("/api/kpis/standards", response_model=F.KpiStandardsOut)
def standards(
    ctx: Analyst,
    svc: ServiceDep,
    since: Annotated[dt.datetime | None, Query(description="default: 1 day before until")] = None,
    until: Annotated[dt.datetime | None, Query(description="default: now")] = None,
) -> F.KpiStandardsOut:
    """签收, 出警, 到场, 反馈 times against the configured standards, dispositions, alerts
    acted on, patrol person-times and police visibility over ``[since, until)`` (at most
    ``max_window_days``)."""
    start, end = kpi_window(since, until, ctx.now, dt.timedelta(days=1))
    return kpi_standards(svc, start, end, ctx.now)
