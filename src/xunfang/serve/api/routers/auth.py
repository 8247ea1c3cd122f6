"""Log in (OAuth2 password flow) and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import AnyUser, ServiceDep, client_of
from xunfang.serve.api.security import create_token

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=S.TokenOut)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    svc: ServiceDep,
) -> S.TokenOut:
    """Exchange a user name and password for a bearer token (expires after
    ``XUNFANG_TOKEN_TTL_MIN``)."""
    principal = svc.authenticate(form.username[:64], form.password[:256], client_of(request))
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong user name or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token, expires = create_token(
        principal, svc.settings.secret_key.get_secret_value(), svc.settings.token_ttl_min
    )
    return S.TokenOut(
        access_token=token,
        expires_at=expires,
        username=principal.username,
        role=principal.role,
        unit_id=principal.unit_id,
    )


@router.get("/me", response_model=S.MeOut)
def me(ctx: AnyUser) -> S.MeOut:
    """The logged-in user."""
    p = ctx.principal
    return S.MeOut(username=p.username, role=p.role, unit_id=p.unit_id, sees_caller=p.sees_caller)
