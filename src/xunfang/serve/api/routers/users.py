"""Users (admin only)."""

from __future__ import annotations

from fastapi import APIRouter

from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import Admin, ServiceDep

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", response_model=list[S.UserOut])
def list_users(ctx: Admin, svc: ServiceDep) -> list[S.UserOut]:
    """Every user."""
    return svc.list_users()


@router.post("", response_model=S.UserOut, status_code=201)
def create_user(body: S.UserCreate, ctx: Admin, svc: ServiceDep) -> S.UserOut:
    """Add a user with a role (officers may name their unit)."""
    return svc.create_user(body, ctx)
