"""Units: status board, creation, status and position reports."""

from __future__ import annotations

from fastapi import APIRouter

from xunfang.serve.api import field
from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import Admin, AnyUser, FieldUser, ServiceDep
from xunfang.serve.api.routers.params import UnitIdPath

router = APIRouter(prefix="/api/units", tags=["units"])


@router.get("", response_model=list[S.UnitOut])
def list_units(ctx: AnyUser, svc: ServiceDep) -> list[S.UnitOut]:
    """Every unit and its status."""
    return svc.list_units()


@router.post("", response_model=S.UnitOut, status_code=201)
def create_unit(body: S.UnitCreate, ctx: Admin, svc: ServiceDep) -> S.UnitOut:
    """Add a unit at a site or a position."""
    return svc.create_unit(body, ctx)


@router.get("/{unit_id}", response_model=S.UnitOut)
def get_unit(unit_id: UnitIdPath, ctx: AnyUser, svc: ServiceDep) -> S.UnitOut:
    """One unit."""
    return svc.get_unit(unit_id)


@router.post("/{unit_id}/status", response_model=S.UnitOut)
def unit_status(
    unit_id: UnitIdPath, body: S.UnitStatusIn, ctx: FieldUser, svc: ServiceDep
) -> S.UnitOut:
    """Status report (en_route, on_scene, available = clear, out_of_service); officers
    report for their own unit. 409 if the state machine does not allow it. On a call with
    several units: a backup's ``available`` leaves the call; the primary's clears it
    (with ``disposition``) and every unit on it returns to its post."""
    return field.unit_status(svc, unit_id, body, ctx)


@router.post("/{unit_id}/position", response_model=S.UnitOut)
def unit_position(
    unit_id: UnitIdPath, body: S.PositionIn, ctx: FieldUser, svc: ServiceDep
) -> S.UnitOut:
    """Position report (WGS-84, or GCJ-02/BD-09 with ``frame``)."""
    return svc.move_unit(unit_id, body, ctx)
