"""Alerts (lookouts) pushed to nearby units, and their acknowledgements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import AnyUser, FieldUser, ServiceDep
from xunfang.serve.api.routers.params import AlertId

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


@router.post("", response_model=S.AlertOut, status_code=201)
def create_alert(body: S.AlertCreate, ctx: FieldUser, svc: ServiceDep) -> S.AlertOut:
    """Push a lookout to the ``units`` (default 3) nearest available units within
    ``within_min`` minutes' road travel; busy units make up the number only when fewer
    are available, marked ``busy`` in ``recipients``."""
    return svc.create_alert(body, ctx)


@router.get("", response_model=list[S.AlertOut])
def list_alerts(
    ctx: AnyUser, svc: ServiceDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[S.AlertOut]:
    """Recent alerts with acknowledgements (officers: those sent to their unit)."""
    return svc.list_alerts(ctx.principal, limit)


@router.post("/{alert_id}/ack", response_model=S.AlertOut)
def ack_alert(alert_id: AlertId, body: S.AckIn, ctx: FieldUser, svc: ServiceDep) -> S.AlertOut:
    """Acknowledge an alert for a unit (the first acknowledgement is kept)."""
    return svc.ack_alert(alert_id, body, ctx)
