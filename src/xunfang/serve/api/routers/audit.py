"""The audit log (read-only; admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import Admin, ServiceDep
from xunfang.serve.api.routers.params import MAX_ID

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", response_model=list[S.AuditOut])
def list_audit(
    ctx: Admin,
    svc: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[S.AuditOut]:
    """Who did what and when, newest first. There is no way to change or delete it."""
    return svc.list_audit(limit, before_id)
