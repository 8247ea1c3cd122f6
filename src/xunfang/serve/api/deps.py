"""Dependencies of the routers: the service, and the role check every route declares.

``allow(*roles)`` authenticates the bearer token and refuses other roles with 403; it
returns the request context (who, from where, when). Routes without it are the login,
the health check and the console's static files (``tests/serve`` checks this).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from xunfang.serve.api.identity import identify
from xunfang.serve.api.security import Role, TokenError
from xunfang.serve.api.service import Ctx, Service
from xunfang.store.models import utcnow

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_service(request: Request) -> Service:
    """The service of this app."""
    svc: Service = request.app.state.service
    return svc


ServiceDep = Annotated[Service, Depends(get_service)]


def client_of(request: Request) -> str:
    """The client address (for the audit log)."""
    return request.client.host if request.client else ""


class RoleGuard:
    """Authenticate and allow only ``roles`` (a dependency; see :func:`allow`)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self,
        request: Request,
        token: Annotated[str | None, Depends(oauth2_scheme)],
    ) -> Ctx:
        if not token:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "not authenticated: log in at /api/auth/token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        svc: Service = request.app.state.service
        try:
            # the role and unit the user has now, not when the token was made
            principal = identify(svc, token).principal
        except TokenError as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
            ) from exc
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role.value} may not do this (allowed: {allowed})",
            )
        return Ctx(principal, client_of(request), utcnow())


def allow(*roles: Role) -> RoleGuard:
    """The role check of a route: ``ctx: Annotated[Ctx, Depends(allow(Role.ADMIN))]``."""
    return RoleGuard(*roles)


ALL_ROLES = tuple(Role)
DISPATCH = (Role.DISPATCHER, Role.ADMIN)
FIELD = (Role.DISPATCHER, Role.ADMIN, Role.OFFICER)
ANALYSIS = (Role.ANALYST, Role.DISPATCHER, Role.ADMIN)
ADMIN = (Role.ADMIN,)

AnyUser = Annotated[Ctx, Depends(allow(*ALL_ROLES))]
Dispatcher = Annotated[Ctx, Depends(allow(*DISPATCH))]
FieldUser = Annotated[Ctx, Depends(allow(*FIELD))]
Analyst = Annotated[Ctx, Depends(allow(*ANALYSIS))]
Admin = Annotated[Ctx, Depends(allow(*ADMIN))]
