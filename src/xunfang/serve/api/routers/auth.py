"""Log in (OAuth2 password flow), log out, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from xunfang.serve.api import accounts
from xunfang.serve.api import schemas as S
from xunfang.serve.api.deps import AnyUser, ServiceDep, client_of, oauth2_scheme
from xunfang.serve.api.identity import identify

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=S.TokenOut)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    svc: ServiceDep,
) -> S.TokenOut:
    """Exchange a user name and password for a bearer token (expires after
    ``XUNFANG_TOKEN_TTL_MIN``). Failed logins are throttled per (user, address) and per
    address: 429 with ``Retry-After`` (see :mod:`xunfang.serve.api.accounts`)."""
    name, password = form.username, form.password
    if len(name) > 64 or len(password) > 256 or S.forbidden_char(name):
        # no such user can exist (names are checked at creation): a wrong login
        name = "\ufffd"
    try:
        out = accounts.login(svc, name, password, client_of(request))
    except accounts.ThrottledError as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from exc
    if out is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "wrong user name or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return out


@router.get("/me", response_model=S.MeOut)
def me(ctx: AnyUser) -> S.MeOut:
    """The logged-in user."""
    p = ctx.principal
    return S.MeOut(username=p.username, role=p.role, unit_id=p.unit_id, sees_caller=p.sees_caller)


@router.post("/logout", response_model=S.RevokedOut)
def logout(
    ctx: AnyUser,
    svc: ServiceDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> S.RevokedOut:
    """End this token's session on the server: from now on it is refused on every door
    (REST, and the live feed within its re-check); the user's other sessions (another
    device) go on. A token issued without a session ends every token of the user, as an
    admin's revoke does. Audited as ``user.revoke`` by the user."""
    assert token is not None  # AnyUser refused a request without one
    session_id = identify(svc, token).claims.session_id
    return accounts.revoke(svc, ctx.principal.username, session_id, ctx)
