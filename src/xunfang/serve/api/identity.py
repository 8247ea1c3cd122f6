"""Who is asking, now: the one identity rule of the REST routers and the live feed.

A bearer token is checked in two steps:

1. its signature, issuer and expiry (:func:`~xunfang.serve.api.security.decode_claims`);
2. the database, as it is now: the user exists and is active, the token's session
   (``jti``) was not revoked, and a token without a session row was issued after the
   user's ``tokens_valid_after``. The role and unit come from the database, never from
   the token, so a demoted user loses the old role at the next request (within
   ``USER_CACHE_S`` seconds on another worker process).

``RoleGuard`` (REST) calls :func:`identify` at every request; ``/ws`` calls it when the
socket authenticates and again every ``ws_recheck_s`` seconds, and ends the subscription
when the answer changes. What a principal may see of a caller is decided in one place
too: :func:`xunfang.serve.api.security.caller_view`.
"""

from __future__ import annotations

from dataclasses import dataclass

from xunfang.serve.api.security import Principal, TokenClaims, TokenError, decode_claims
from xunfang.serve.api.service import Service


@dataclass(frozen=True)
class Identity:
    """The user behind a token as the database has them now, and the token's claims."""

    principal: Principal
    claims: TokenClaims


def identify(svc: Service, token: str) -> Identity:
    """Check a token against its signature and the database (see the module docstring).

    Raises
    ------
    TokenError
        Expired, forged or malformed token; unknown or disabled user; revoked session.
    """
    claims = decode_claims(token, svc.settings.secret_key.get_secret_value())
    principal, valid_after = svc.user_state(claims.principal.username)
    if principal is None:
        raise TokenError("this user no longer exists or is disabled: log in again")
    revoked = False
    known = False
    if claims.session_id is not None:
        known, revoked = svc.session_state(claims.session_id)
    if revoked:
        raise TokenError("this session was revoked: log in again")
    if not known and valid_after is not None and claims.issued_at < valid_after:
        raise TokenError("this token was revoked: log in again")
    return Identity(principal, claims)
