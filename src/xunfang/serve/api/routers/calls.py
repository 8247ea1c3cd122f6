"""Calls for service: intake, list, detail, recommendation, dispatch, cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query

from xunfang.serve.api import field
from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import AnyUser, Dispatcher, ServiceDep
from xunfang.serve.api.routers.params import MAX_ID, CallId

router = APIRouter(prefix="/api/calls", tags=["calls"])


@router.post("", response_model=S.CallOut, status_code=201)
async def create_call(
    body: S.CallCreate,
    ctx: Dispatcher,
    svc: ServiceDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=r"^[\x21-\x7e]{1,128}$",
            description="a fresh random key (e.g. a UUID) per call: a retry with the same "
            "key and body answers the stored call instead of storing it twice",
        ),
    ] = None,
) -> S.CallOut:
    """Take a call. Answered with 201 only once the call is committed to disk."""
    return await svc.create_call(body, ctx, idempotency_key)


@router.get("", response_model=list[S.CallOut])
def list_calls(
    ctx: AnyUser,
    svc: ServiceDep,
    open: Annotated[bool, Query(description="only calls not cleared or cancelled")] = False,
    status: Annotated[list[S.CallStatusName] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    order: Annotated[
        Literal["newest", "oldest"],
        Query(
            description="newest first (page with before_id) or oldest waiting first "
            "(page with after_id)"
        ),
    ] = "newest",
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> list[S.CallOut]:
    """Calls, newest first or oldest first, a page at a time (caller details masked for
    officers and analysts)."""
    return svc.list_calls(
        ctx.principal,
        open_only=open,
        statuses=status,
        limit=limit,
        before_id=before_id,
        oldest_first=order == "oldest",
        after_id=after_id,
    )


@router.get("/{call_id}", response_model=S.CallDetailOut)
def get_call(call_id: CallId, ctx: AnyUser, svc: ServiceDep) -> S.CallDetailOut:
    """One call with its lifecycle history, response-time components and units."""
    return field.get_call_detail(svc, call_id, ctx)


@router.get("/{call_id}/recommendations", response_model=S.RecommendOut)
def recommend_for_call(
    call_id: CallId,
    ctx: Dispatcher,
    svc: ServiceDep,
    k: Annotated[int, Query(ge=1, le=50)] = 3,
) -> S.RecommendOut:
    """The k nearest available units by road travel time, with ETA."""
    return svc.recommend_for_call(call_id, k)


@router.post("/{call_id}/dispatch", response_model=S.CallOut)
def dispatch(call_id: CallId, body: S.DispatchIn, ctx: Dispatcher, svc: ServiceDep) -> S.CallOut:
    """Assign an available unit. 409 if the unit or the call was taken meanwhile."""
    return svc.dispatch(call_id, body.unit_id, ctx)


@router.post("/{call_id}/cancel", response_model=S.CallOut)
def cancel(call_id: CallId, ctx: Dispatcher, svc: ServiceDep) -> S.CallOut:
    """Cancel a call nobody has reached; its units become available (or return)."""
    return field.cancel_call(svc, call_id, ctx)
