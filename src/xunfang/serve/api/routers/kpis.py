"""Key performance indicators."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import Analyst, ServiceDep
from xunfang.serve.api.geo import FieldError
from xunfang.serve.api.kpi_standards import check_window

router = APIRouter(prefix="/api/kpis", tags=["kpis"])


def _aware(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None:
        raise FieldError(field, f"{field} needs a time zone, e.g. 2026-05-01T00:00:00Z")
    if (
        not dt.datetime(1970, 1, 2, tzinfo=dt.UTC)
        <= value
        <= dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
    ):
        raise FieldError(field, f"{field} is out of range")
    return value


def kpi_window(
    since: dt.datetime | None, until: dt.datetime | None, now: dt.datetime, default: dt.timedelta
) -> tuple[dt.datetime, dt.datetime]:
    """``[since, until)`` of a KPI query: ``until`` defaults to ``now``, ``since`` to
    ``default`` before it; ``since`` is checked first, so a bad ``since`` is named as such
    whatever ``until`` holds (the one rule of ``/api/kpis`` and ``/api/kpis/standards``)."""
    given = _aware(since, "since") if since is not None else None
    end = _aware(until, "until") if until is not None else now
    return (given if given is not None else end - default), end


@router.get("", response_model=S.KpiOut)
def kpis(
    ctx: Analyst,
    svc: ServiceDep,
    since: Annotated[dt.datetime | None, Query(description="default: 7 days ago")] = None,
    until: Annotated[dt.datetime | None, Query(description="default: now")] = None,
) -> S.KpiOut:
    """Response time median and 90th percentile by priority, calls by type and hour,
    person-times on duty, over ``[since, until)`` (at most ``max_window_days`` of the KPI
    standards, 31 by default, as ``/api/kpis/standards``)."""
    start, end = kpi_window(since, until, ctx.now, dt.timedelta(days=7))
    check_window(svc, start, end)  # as GET /api/kpis/standards: at most max_window_days
    return svc.kpis(start, end, ctx.now)
