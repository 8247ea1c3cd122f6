"""Users, roles, password hashing and access tokens.

* Passwords: Argon2id through ``pwdlib`` (the hasher FastAPI's documentation recommends;
  RFC 9106 parameters of the argon2-cffi defaults).
* Tokens: JWT (RFC 7519) signed with HS256 by ``pyjwt``; claims ``sub`` (user name),
  ``role``, ``unit`` (officers), ``iat``, ``exp``. Expired or tampered tokens are refused.
* Personal data: the caller's name and phone are masked for roles that do not need them
  (officer, analyst).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from pwdlib import PasswordHash

from xunfang.errors import ValidationError

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
    principal: Principal, secret: str, ttl_min: float, now: dt.datetime | None = None
) -> tuple[str, dt.datetime]:
    """A signed access token and its expiry time (UTC)."""
    issued = now or dt.datetime.now(dt.UTC)
    expires = issued + dt.timedelta(minutes=ttl_min)
    claims: dict[str, Any] = {
        "sub": principal.username,
        "role": principal.role.value,
        "iss": ISSUER,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    if principal.unit_id:
        claims["unit"] = principal.unit_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


class TokenError(ValidationError):
    """A token that is missing, malformed, expired or not signed by us."""


def decode_token(token: str, secret: str) -> Principal:
    """The principal of a valid token.

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
        return Principal(str(claims["sub"]), Role(claims["role"]), claims.get("unit"))
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired: log in again") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise TokenError("invalid token") from exc


def mask_name(name: str | None) -> str | None:
    """Keep the first character: ``张三丰`` -> ``张**``, ``Alice`` -> ``A****``."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str | None) -> str | None:
    """Keep the first 3 and last 2 digits: ``13800138000`` -> ``138******00``."""
    if not phone:
        return phone
    digits = [c for c in phone if c.isdigit()]
    if len(digits) <= 5:
        return "*" * len(digits)
    return "".join(digits[:3]) + "*" * (len(digits) - 5) + "".join(digits[-2:])
