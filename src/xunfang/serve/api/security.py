"""Users, roles, password hashing and access tokens.

* Passwords: Argon2id through ``pwdlib`` (the hasher FastAPI's documentation recommends;
  RFC 9106 parameters of the argon2-cffi defaults).
* Tokens: JWT (RFC 7519) signed with HS256 by ``pyjwt``; claims ``sub`` (user name),
  ``role``, ``unit`` (officers), ``iat``, ``exp`` and ``jti`` (the session id, so that an
  admin can revoke one). Expired or tampered tokens are refused. A token proves who
  logged in and until when; what the user may do is read from the database at each
  request and on the live feed (:mod:`xunfang.serve.api.identity`).
* Personal data: the caller's name and phone are masked for roles that do not need them
  (officer, analyst) by the rule ``xunfang ingest`` uses (:mod:`xunfang.ingest.masking`):
  :func:`caller_view` is the one place that decides, used by the REST answers and
  the live feed alike.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from pwdlib import PasswordHash

from xunfang.errors import ValidationError
from xunfang.ingest.masking import mask_free_text, mask_name_text, mask_phone_text

ALGORITHM = "HS256"
ISSUER = "xunfang"


class Role(StrEnum):
    """What a user may do."""

    DISPATCHER = "dispatcher"
    OFFICER = "officer"
    ANALYST = "analyst"
    ADMIN = "admin"


ROLES_SEEING_CALLER = frozenset({Role.DISPATCHER, Role.ADMIN})
"""Roles that see the caller's name and phone; others get them masked."""

_hasher = PasswordHash.recommended()
_DUMMY_HASH = _hasher.hash("xunfang-timing-equaliser")


def hash_password(password: str) -> str:
    """Argon2id hash of a password (with its own salt and parameters).

    Raises
    ------
    ValidationError
        If the password is shorter than 8 characters.
    """
    if len(password) < 8:
        raise ValidationError("password must have at least 8 characters")
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches; with no hash (unknown user) a dummy hash is checked so
    that the answer takes the same time."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return bool(_hasher.verify(password, password_hash))
    except Exception:  # a malformed stored hash is a failed login, not a 500
        return False


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request."""

    username: str
    role: Role
    unit_id: str | None = None

    @property
    def sees_caller(self) -> bool:
        """Whether this user may see callers' names and phones."""
        return self.role in ROLES_SEEING_CALLER


def create_token(
    principal: Principal,
    secret: str,
    ttl_min: float,
    now: dt.datetime | None = None,
    session_id: str | None = None,
) -> tuple[str, dt.datetime]:
    """A signed access token and its expiry time (UTC); ``session_id`` becomes the
    ``jti`` claim (a fresh UUID when not given)."""
    issued = now or dt.datetime.now(dt.UTC)
    expires = issued + dt.timedelta(minutes=ttl_min)
    claims: dict[str, Any] = {
        "sub": principal.username,
        "role": principal.role.value,
        "iss": ISSUER,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": session_id or str(uuid.uuid4()),
    }
    if principal.unit_id:
        claims["unit"] = principal.unit_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


class TokenError(ValidationError):
    """A token that is missing, malformed, expired or not signed by us."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: who (as when it was issued), when it was issued and
    expires (UTC), and its session id (``None`` for tokens without one)."""

    principal: Principal
    issued_at: dt.datetime
    expires_at: dt.datetime
    session_id: str | None


def decode_claims(token: str, secret: str) -> TokenClaims:
    """The claims of a valid token.

    Raises
    ------
    TokenError
        If the token is expired, tampered with, or lacks a claim.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "role", "iss"]},
        )
        principal = Principal(str(claims["sub"]), Role(claims["role"]), claims.get("unit"))
        jti = claims.get("jti")
        return TokenClaims(
            principal,
            dt.datetime.fromtimestamp(int(claims["iat"]), dt.UTC),
            dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC),
            None if jti is None else str(jti)[:64],
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired: log in again") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError) as exc:
        raise TokenError("invalid token") from exc


def decode_token(token: str, secret: str) -> Principal:
    """The principal a valid token was issued to (see :func:`decode_claims`).

    Raises
    ------
    TokenError
        If the token is expired, tampered with, or lacks a claim.
    """
    return decode_claims(token, secret).principal


mask_name = mask_name_text
"""The caller's name as roles that may not see it get it (the ingest rule: ``张*``)."""
mask_phone = mask_phone_text
"""The caller's phone as roles that may not see it get it (the ingest rule:
``138****8000``)."""


def on_the_call(principal: Principal | None, unit_ids: Iterable[str]) -> bool:
    """Whether ``principal`` is an officer of a unit on the call (``unit_ids``: the units
    assigned to it, primary and backups): such an officer needs the caller's name and phone
    to act (call back, find the caller on scene), so every door that shows that officer the
    call (``GET /api/field/me``, ``GET /api/calls/{id}``) shows them in clear, passing
    ``unmask`` to :func:`caller_view` / :func:`text_view`, and audits the read
    (``call.contact_read``). Any other officer, and every analyst, gets them masked."""
    return (
        principal is not None
        and principal.role is Role.OFFICER
        and principal.unit_id is not None
        and principal.unit_id in set(unit_ids)
    )


def caller_view(
    principal: Principal | None,
    name: str | None,
    phone: str | None,
    *,
    unmask: bool = False,
) -> tuple[str | None, str | None]:
    """The caller's name and phone as ``principal`` may see them: in clear for roles in
    :data:`ROLES_SEEING_CALLER`, masked for the others and for ``None`` (the one masking
    rule of the service: REST answers and live-feed events both go through here).
    ``unmask``: in clear whatever the role (the caller decided, e.g. an officer of a unit
    on the call, and audits the read)."""
    if unmask or (principal is not None and principal.sees_caller):
        return name, phone
    return mask_name(name), mask_phone(phone)


def text_view(principal: Principal | None, text: str | None, *, unmask: bool = False) -> str | None:
    """A call's free text (its ``description``) as ``principal`` may see it: in clear for
    the roles that see the caller (:func:`caller_view`, same ``unmask``), else with the
    phone and ID numbers and the names after 报警人/当事人... masked
    (:func:`xunfang.ingest.masking.mask_free_text`). The one rule for REST answers and
    live-feed events (:func:`event_view`)."""
    if unmask or (principal is not None and principal.sees_caller):
        return text
    return mask_free_text(text)


PERSONAL_FIELDS = ("caller_name", "caller_phone")
"""Fields of a payload that hold a caller's personal data."""
FREE_TEXT_FIELDS = ("description", "disposition_note", "address")
"""Free-text fields of a payload (a call's description, clearing note and address, an
alert's description): masked with :func:`text_view` for the roles that do not see the
caller (an address keeps its street and house number; a phone typed into it is masked)."""


def alert_involved(principal: Principal, created_by: str | None, units: Iterable[str]) -> bool:
    """Whether ``principal`` acts on an alert and so reads its description in clear: the
    user who raised it, or an officer of a unit it was sent to (``units``: its
    recipients), who must know whom to look for. Everyone else without
    :attr:`Principal.sees_caller` (analysts, other officers) gets it masked
    (:func:`text_view`), as a call's description."""
    return (created_by is not None and principal.username == created_by) or on_the_call(
        principal, units
    )


def event_view(principal: Principal, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A live-feed payload as ``principal`` may see it (see :func:`caller_view`): any
    event carrying ``caller_name`` or ``caller_phone`` has them masked, and any event
    carrying a free-text field (:data:`FREE_TEXT_FIELDS`) has it masked
    (:func:`text_view`), whatever its ``kind``, so that a new event type cannot leak them
    by being forgotten in a list; an alert's event is in clear for those it involves
    (:func:`alert_involved`)."""
    if principal.sees_caller:
        return data
    if kind.startswith("alert.") and alert_involved(
        principal,
        data.get("created_by"),
        [str(r.get("unit_id")) for r in data.get("recipients") or () if isinstance(r, dict)],
    ):
        return data
    out = dict(data)
    if any(f in data for f in PERSONAL_FIELDS):
        name, phone = caller_view(principal, data.get("caller_name"), data.get("caller_phone"))
        out["caller_name"], out["caller_phone"] = name, phone
    for f in FREE_TEXT_FIELDS:
        if isinstance(data.get(f), str):
            out[f] = text_view(principal, data[f])
    return out
