"""Logins (throttled, one session per token) and the administration of users.

Login throttle
--------------
Failed logins are read back from the audit log (``auth.login_failed`` rows, shared by
every worker process and kept across restarts), so no counter lives in one process:

* per (user name, client address) pair: after ``login_free_failures`` consecutive
  failures the pair must wait ``login_base_delay_s * 2**(n - free)`` seconds after its
  last failure (1, 2, 4, ... s by default, capped at ``login_max_delay_s``): an
  exponential back-off, which OWASP's authentication cheat sheet recommends over a
  lock-out; a success resets it;
* per client address: more than ``login_max_failures_per_address`` failures within
  ``login_window_s`` and the address waits until the oldest of them leaves the window
  (guessing many user names from one address).

An attacker can therefore slow down only their own address, never lock out the real
user, who logs in from another address as usual (behind one NAT, the shared address
waits like the attacker). A refused attempt answers 429 with ``Retry-After`` before the
password is checked (no Argon2 work for the attacker to cause) and is audited as
``auth.throttled``; its message says which limit and how many seconds to wait, and the
web pages show it (not "wrong password", which made a refused right password look like a
lock-out of everyone behind the address). Unknown user names are audited as
``(unknown)``, never as typed (users type passwords into the name field), so guessing
names from one address backs off like one name. The address is the client's as uvicorn
sees it: the TCP peer, or the ``X-Forwarded-For`` of a proxy it trusts (127.0.0.1 by
default; a proxy elsewhere must be named in uvicorn's ``FORWARDED_ALLOW_IPS`` environment
variable, or every client shares the proxy's address and its per-address cap).

Users
-----
Admins disable, re-enable, change the role of, reset the password of, list the sessions
of and revoke the tokens of users. Disabling, a password reset and "revoke all" end
every session of the user at once (their tokens are refused at the next request and the
live feed closes within ``ws_recheck_s``); a role change keeps the sessions, and every
request and the live feed take the new role. An admin cannot disable or demote their own
account (there would be no admin left to undo it).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Protocol

from xunfang.errors import XunfangError
from xunfang.serve.api import schemas as S
from xunfang.serve.api.geo import FieldError
from xunfang.serve.api.security import (
    Principal,
    Role,
    create_token,
    hash_password,
    verify_password,
)
from xunfang.serve.api.service import ConflictError, Ctx, NotFoundError, Service
from xunfang.store import repo
from xunfang.store.db import Database
from xunfang.store.models import User, utcnow

UNKNOWN_USER = "(unknown)"


class ThrottledError(XunfangError):
    """Too many failed logins: wait ``retry_after_s`` seconds (429)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


def login_wait_s(svc: Service, username: str, client: str, now: dt.datetime) -> tuple[float, str]:
    """Seconds the (user, address) pair or the address must still wait (0: go on) and
    which of the two limits it is (see the module docstring)."""
    cfg = svc.settings
    since = now - dt.timedelta(seconds=cfg.login_window_s)
    with svc.db.read() as s:
        rows = repo.login_attempts(
            s, since=since, client=client, limit=cfg.login_max_failures_per_address + 50
        )
    wait_s, why = 0.0, ""
    failures = [r for r in rows if r.action == "auth.login_failed"]
    if len(failures) >= cfg.login_max_failures_per_address:
        oldest = failures[cfg.login_max_failures_per_address - 1].at
        wait_s, why = (oldest - since).total_seconds(), "from this address"
    streak = 0
    last_failure: dt.datetime | None = None
    for r in rows:  # newest first: failures of this name since its last success
        if r.username != username:
            continue
        if r.action == "auth.login":
            break
        streak += 1
        last_failure = last_failure or r.at
    if streak >= cfg.login_free_failures and last_failure is not None:
        delay_s = min(
            cfg.login_base_delay_s * 2.0 ** (streak - cfg.login_free_failures),
            cfg.login_max_delay_s,
        )
        pair_s = (last_failure + dt.timedelta(seconds=delay_s) - now).total_seconds()
        if pair_s > wait_s:
            wait_s, why = pair_s, "for this user from this address"
    return wait_s, why


def login(svc: Service, username: str, password: str, client: str) -> S.TokenOut | None:
    """Check a password and open a session: the token, or None for a wrong name or
    password (audited either way).

    Raises
    ------
    ThrottledError
        When the (user, address) pair or the address must wait (see the module
        docstring); the password is not checked.
    """
    now = utcnow()
    with svc.db.read() as s:
        user = repo.get_user(s, username)
    audit_name = user.username if user else UNKNOWN_USER
    wait_s, why = login_wait_s(svc, audit_name, client, now)
    if wait_s > 0:
        with svc.db.write() as s:
            repo.audit(
                s,
                username=audit_name,
                role=user.role if user else "",
                action="auth.throttled",
                resource="user",
                client=client,
                at=now,
            )
        err = ThrottledError(f"too many failed logins {why}", wait_s)
        others = " (other users may log in)" if why.startswith("for this user") else ""
        raise ThrottledError(f"{err}: retry in {err.retry_after_s} s{others}", wait_s)
    ok = verify_password(password, user.password_hash if user else None)
    ok = ok and user is not None and user.active
    now = utcnow()  # after the (slow) hash: the back-off counts from the answer
    principal = Principal(user.username, Role(user.role), user.unit_id) if ok and user else None
    token = expires = None
    session_id = str(uuid.uuid4())
    if principal is not None:
        token, expires = create_token(
            principal,
            svc.settings.secret_key.get_secret_value(),
            svc.settings.token_ttl_min,
            now=now,
            session_id=session_id,
        )
    with svc.db.write() as s:
        if principal is not None and expires is not None:
            repo.add_session(s, session_id, principal.username, now, expires, client)
        repo.audit(
            s,
            username=audit_name,
            role=user.role if user else "",
            action="auth.login" if principal else "auth.login_failed",
            resource="user",
            resource_id=session_id if principal else "",
            client=client,
            at=now,
        )
    if principal is None or token is None or expires is None:
        return None
    return S.TokenOut(
        access_token=token,
        expires_at=expires,
        username=principal.username,
        role=principal.role,
        unit_id=principal.unit_id,
    )


# ---------------------------------------------------------------------------- admin
class UserStore(Protocol):
    """Where users live: the service, or the command line's database."""

    db: Database

    def forget_users(self) -> None:
        """Drop cached user states after a change."""


def user_out(user: User) -> S.UserOut:
    """A user for the API (never the hash)."""
    return S.UserOut(
        username=user.username, role=Role(user.role), unit_id=user.unit_id, active=user.active
    )


def _reread(svc: UserStore, username: str) -> S.UserOut:
    svc.forget_users()
    with svc.db.read() as s:
        user = repo.get_user(s, username)
    assert user is not None
    return user_out(user)


def _not_self(ctx: Ctx, username: str, what: str) -> None:
    if ctx.principal.username == username:
        raise ConflictError(f"you cannot {what} your own account: ask another admin")


def _update(
    svc: UserStore,
    username: str,
    ctx: Ctx,
    action: str,
    detail: dict[str, object],
    end_sessions: bool = False,
    **values: object,
) -> S.UserOut:
    with svc.db.write() as s:
        if not repo.update_user(s, username, **values):
            raise NotFoundError(f"no user {username!r}")
        revoked = 0
        if end_sessions:
            revoked = repo.revoke_sessions(s, username, ctx.now)
            repo.update_user(s, username, tokens_valid_after=ctx.now)
            detail = {**detail, "sessions_revoked": revoked}
        repo.audit(
            s,
            username=ctx.principal.username,
            role=ctx.principal.role.value,
            action=action,
            resource="user",
            resource_id=username,
            detail=detail,
            client=ctx.client,
            at=ctx.now,
        )
    return _reread(svc, username)


def set_active(svc: UserStore, username: str, active: bool, ctx: Ctx) -> S.UserOut:
    """Disable (and end every session of) or re-enable a user.

    Raises
    ------
    NotFoundError
        No such user.
    ConflictError
        An admin disabling their own account.
    """
    if not active:
        _not_self(ctx, username, "disable")
    action = "user.enable" if active else "user.disable"
    return _update(svc, username, ctx, action, {}, end_sessions=not active, active=active)


def set_role(svc: UserStore, username: str, body: S.RoleIn, ctx: Ctx) -> S.UserOut:
    """Change a user's role and unit (the unit must exist).

    Raises
    ------
    NotFoundError
        No such user.
    FieldError
        Unknown unit (422).
    ConflictError
        An admin demoting their own account.
    """
    if body.role is not Role.ADMIN:
        _not_self(ctx, username, "demote")
    if body.unit_id is not None:
        with svc.db.read() as s:
            if repo.get_unit(s, body.unit_id) is None:
                raise FieldError("unit_id", f"no unit {body.unit_id!r} (GET /api/units)")
    return _update(
        svc,
        username,
        ctx,
        "user.role",
        {"role": body.role.value, "unit_id": body.unit_id},
        role=body.role.value,
        unit_id=body.unit_id,
    )


def set_password(svc: UserStore, username: str, password: str, ctx: Ctx) -> S.UserOut:
    """Reset a user's password; every token of theirs is revoked.

    Raises
    ------
    NotFoundError
        No such user.
    """
    hashed = hash_password(password)
    return _update(svc, username, ctx, "user.password", {}, end_sessions=True, password_hash=hashed)


def list_sessions(svc: UserStore, username: str, now: dt.datetime) -> list[S.SessionOut]:
    """A user's sessions that have not expired, newest first.

    Raises
    ------
    NotFoundError
        No such user.
    """
    with svc.db.read() as s:
        if repo.get_user(s, username) is None:
            raise NotFoundError(f"no user {username!r}")
        rows = repo.list_sessions(s, username, after=now)
    return [
        S.SessionOut(
            id=r.id,
            username=r.username,
            issued_at=r.issued_at,
            expires_at=r.expires_at,
            client=r.client,
            revoked=r.revoked_at is not None,
            revoked_at=r.revoked_at,
        )
        for r in rows
    ]


def revoke(svc: UserStore, username: str, session_id: str | None, ctx: Ctx) -> S.RevokedOut:
    """Revoke one session of a user, or (``session_id=None``) every token of theirs.

    Raises
    ------
    NotFoundError
        No such user, or no such session of this user.
    """
    with svc.db.write() as s:
        if repo.get_user(s, username) is None:
            raise NotFoundError(f"no user {username!r}")
        if session_id is not None:
            row = repo.get_session(s, session_id)
            if row is None or row.username != username:
                raise NotFoundError(f"no session {session_id!r} of user {username!r}")
        n = repo.revoke_sessions(s, username, ctx.now, session_id)
        if session_id is None:
            repo.update_user(s, username, tokens_valid_after=ctx.now)
        repo.audit(
            s,
            username=ctx.principal.username,
            role=ctx.principal.role.value,
            action="user.revoke",
            resource="user",
            resource_id=username,
            detail={"sessions_revoked": n, "all": session_id is None},
            client=ctx.client,
            at=ctx.now,
        )
    svc.forget_users()
    return S.RevokedOut(username=username, revoked=n)
