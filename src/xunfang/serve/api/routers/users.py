"""Users (admin only): create, list, disable, re-enable, change role, reset password,
list sessions, revoke tokens (see :mod:`xunfang.serve.api.accounts`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from xunfang.serve.api import accounts
from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import Admin, ServiceDep

router = APIRouter(prefix="/api/users", tags=["users"])

UserName = Annotated[str, Path(pattern=S.USERNAME_PATTERN, description="login name")]


@router.get("", response_model=list[S.UserOut])
def list_users(ctx: Admin, svc: ServiceDep) -> list[S.UserOut]:
    """Every user."""
    return svc.list_users()


@router.post("", response_model=S.UserOut, status_code=201)
def create_user(body: S.UserCreate, ctx: Admin, svc: ServiceDep) -> S.UserOut:
    """Add a user with a role (officers may name their unit)."""
    return svc.create_user(body, ctx)


@router.post("/{username}/disable", response_model=S.UserOut)
def disable_user(username: UserName, ctx: Admin, svc: ServiceDep) -> S.UserOut:
    """Disable a user: every session ends at once (tokens refused, live feed closed)."""
    return accounts.set_active(svc, username, False, ctx)


@router.post("/{username}/enable", response_model=S.UserOut)
def enable_user(username: UserName, ctx: Admin, svc: ServiceDep) -> S.UserOut:
    """Re-enable a user (who logs in again: the old tokens stay revoked)."""
    return accounts.set_active(svc, username, True, ctx)


@router.post("/{username}/role", response_model=S.UserOut)
def set_role(username: UserName, body: S.RoleIn, ctx: Admin, svc: ServiceDep) -> S.UserOut:
    """Change a user's role and unit; requests and the live feed follow at once."""
    return accounts.set_role(svc, username, body, ctx)


@router.post("/{username}/password", response_model=S.UserOut)
def set_password(username: UserName, body: S.PasswordIn, ctx: Admin, svc: ServiceDep) -> S.UserOut:
    """Reset a user's password; every token of theirs is revoked."""
    return accounts.set_password(svc, username, body.password, ctx)


@router.get("/{username}/sessions", response_model=list[S.SessionOut])
def list_sessions(username: UserName, ctx: Admin, svc: ServiceDep) -> list[S.SessionOut]:
    """A user's logins that have not expired, newest first."""
    return accounts.list_sessions(svc, username, ctx.now)


@router.post("/{username}/revoke", response_model=S.RevokedOut)
def revoke(username: UserName, body: S.RevokeIn, ctx: Admin, svc: ServiceDep) -> S.RevokedOut:
    """Revoke one session (``session_id``) or every token of the user (no id)."""
    return accounts.revoke(svc, username, body.session_id, ctx)
