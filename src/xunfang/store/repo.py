"""Repository functions: every SQL statement of the service lives here.

State changes of units and calls are *conditional* updates: they name the status the
caller read (``WHERE id = :id AND status = :expected``) and return whether exactly one
row matched. A ``False`` means someone else changed the row first; the caller rolls back
and answers 409. Assigning a unit is the statement

    UPDATE units SET status = 'dispatched', call_id = :c WHERE id = :u AND status = 'available'

which on PostgreSQL (READ COMMITTED) makes a second, concurrent transaction wait for the
first, re-evaluate the WHERE clause on the committed row and match nothing; on SQLite the
write transactions are serialised by ``BEGIN IMMEDIATE`` (see :mod:`xunfang.store.db`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from xunfang.store.models import (
    Alert,
    AlertRecipient,
    AuditEntry,
    Call,
    CallEvent,
    LoginSession,
    Site,
    Unit,
    UnitEvent,
    UnitPresence,
    User,
)

KEEP: Any = object()
"""Sentinel: leave this column as it is."""

OPEN_CALL_STATUSES = ("received", "dispatched", "en_route", "on_scene")


# ---------------------------------------------------------------------------- users
def get_user(session: Session, username: str) -> User | None:
    """The user with this name, or None."""
    return session.scalar(select(User).where(User.username == username))


def add_user(
    session: Session, username: str, password_hash: str, role: str, unit_id: str | None = None
) -> User:
    """Insert a user (the caller hashes the password)."""
    user = User(
        username=username, password_hash=password_hash, role=role, unit_id=unit_id, active=True
    )
    session.add(user)
    session.flush()
    return user


def user_named_alike(session: Session, username: str) -> str | None:
    """An existing user name equal to ``username`` but for case (``Li`` for ``li``), or
    ``None``: such names are refused at creation on every door (REST and the CLI), since
    the audit log and the console could not tell the two users apart. Compared with
    :meth:`str.casefold` in Python (SQLite's ``lower()`` folds ASCII only)."""
    key = username.casefold()
    names = session.scalars(select(User.username)).all()
    return next((n for n in names if n.casefold() == key and n != username), None)


def list_users(session: Session) -> Sequence[User]:
    """Every user, by name."""
    return session.scalars(select(User).order_by(User.username)).all()


def update_user(session: Session, username: str, **values: Any) -> bool:
    """Set columns of a user (``active``, ``role``, ``unit_id``, ``password_hash``,
    ``tokens_valid_after``); False if there is no such user."""
    result = session.execute(
        update(User)
        .where(User.username == username)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def add_session(
    session: Session,
    session_id: str,
    username: str,
    issued_at: dt.datetime,
    expires_at: dt.datetime,
    client: str,
) -> None:
    """Record a login (the token's ``jti``)."""
    session.add(
        LoginSession(
            id=session_id,
            username=username,
            issued_at=issued_at,
            expires_at=expires_at,
            client=client[:64],
        )
    )


def get_session(session: Session, session_id: str) -> LoginSession | None:
    """One login session, or None."""
    return session.get(LoginSession, session_id, populate_existing=True)


def list_sessions(
    session: Session, username: str, *, after: dt.datetime | None = None
) -> Sequence[LoginSession]:
    """A user's login sessions (those expiring after ``after`` when given), newest first."""
    q = select(LoginSession).where(LoginSession.username == username)
    if after is not None:
        q = q.where(LoginSession.expires_at > after)
    return session.scalars(q.order_by(LoginSession.issued_at.desc(), LoginSession.id)).all()


def revoke_sessions(
    session: Session, username: str, at: dt.datetime, session_id: str | None = None
) -> int:
    """Revoke a user's sessions not yet revoked (one when ``session_id`` is given);
    the number revoked."""
    q = update(LoginSession).where(
        LoginSession.username == username, LoginSession.revoked_at.is_(None)
    )
    if session_id is not None:
        q = q.where(LoginSession.id == session_id)
    result = session.execute(q.values(revoked_at=at).execution_options(synchronize_session=False))
    return _rowcount(result)


def login_attempts(
    session: Session, *, since: dt.datetime, client: str, limit: int = 200
) -> Sequence[Any]:
    """Login outcomes (``action``, ``username``, ``at``) from ``client`` since ``since``,
    newest first: the audit log is the throttle's memory, shared by every worker."""
    return session.execute(
        select(AuditEntry.action, AuditEntry.username, AuditEntry.at)
        .where(
            AuditEntry.at >= since,
            AuditEntry.client == client,
            AuditEntry.action.in_(("auth.login", "auth.login_failed")),
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()


# ---------------------------------------------------------------------------- sites
def upsert_sites(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Insert sites whose name is new; update kind and position of known names.

    Returns the number of sites inserted.
    """
    known = {s.name: s for s in session.scalars(select(Site))}
    added = 0
    for row in rows:
        site = known.get(row["name"])
        if site is None:
            session.add(Site(**row))
            added += 1
        else:
            site.kind, site.lon, site.lat = row["kind"], row["lon"], row["lat"]
            site.source = row.get("source", site.source)
    session.flush()
    return added


def list_sites(session: Session) -> Sequence[Site]:
    """Every site, by kind then name."""
    return session.scalars(select(Site).order_by(Site.kind, Site.name)).all()


def add_site(session: Session, **values: Any) -> Site:
    """Insert one site."""
    site = Site(**values)
    session.add(site)
    session.flush()
    return site


# ---------------------------------------------------------------------------- units
def count_units(session: Session) -> int:
    """Number of units."""
    return int(session.scalar(select(func.count()).select_from(Unit)) or 0)


def get_unit(session: Session, unit_id: str) -> Unit | None:
    """One unit, read fresh from the database."""
    return session.get(Unit, unit_id, populate_existing=True)


def list_units(session: Session, statuses: Sequence[str] | None = None) -> Sequence[Unit]:
    """Units (optionally only those in ``statuses``), by id."""
    q = select(Unit).order_by(Unit.id)
    if statuses is not None:
        q = q.where(Unit.status.in_(list(statuses)))
    return session.scalars(q).all()


def unit_positions(session: Session, statuses: Sequence[str]) -> Sequence[Any]:
    """Light rows (id, kind, name, status, call_id, lon, lat, speed_factor, mode, site_id,
    home_lon, home_lat, return_eta_at) of the units in ``statuses``, by id: what a
    recommendation needs, without building ORM objects."""
    return session.execute(
        select(
            Unit.id,
            Unit.kind,
            Unit.name,
            Unit.status,
            Unit.call_id,
            Unit.lon,
            Unit.lat,
            Unit.speed_factor,
            Unit.mode,
            Unit.site_id,
            Unit.home_lon,
            Unit.home_lat,
            Unit.return_eta_at,
        )
        .where(Unit.status.in_(list(statuses)))
        .order_by(Unit.id)
    ).all()


def add_unit(session: Session, **values: Any) -> Unit:
    """Insert one unit."""
    unit = Unit(**values)
    session.add(unit)
    session.flush()
    return unit


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def transition_unit(
    session: Session,
    unit_id: str,
    *,
    expected: str,
    new: str,
    at: dt.datetime,
    call_id: int | None = KEEP,
    lon: float | None = None,
    lat: float | None = None,
    return_eta_at: dt.datetime | None = None,
) -> bool:
    """Conditional status change of a unit; True when the unit was in ``expected``.

    ``call_id`` is set when given (``None`` clears it); ``lon``/``lat`` move the unit;
    ``return_eta_at`` is kept only for ``new == "returning"``.
    """
    values: dict[str, Any] = {
        "status": new,
        "updated_at": at,
        "return_eta_at": return_eta_at if new == "returning" else None,
    }
    if call_id is not KEEP:
        values["call_id"] = call_id
    if lon is not None and lat is not None:
        values.update(lon=lon, lat=lat)
    result = session.execute(
        update(Unit)
        .where(Unit.id == unit_id, Unit.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def assign_unit(session: Session, unit_id: str, call_id: int, at: dt.datetime) -> bool:
    """``UPDATE units SET status='dispatched', call_id=:c WHERE id=:u AND status='available'``;
    True when the unit was available and is now assigned."""
    return transition_unit(
        session, unit_id, expected="available", new="dispatched", at=at, call_id=call_id
    )


def move_unit(session: Session, unit_id: str, lon: float, lat: float, at: dt.datetime) -> bool:
    """Record a position report; False if there is no such unit."""
    result = session.execute(
        update(Unit)
        .where(Unit.id == unit_id)
        .values(lon=lon, lat=lat, position_at=at)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def add_unit_event(
    session: Session,
    unit_id: str,
    at: dt.datetime,
    old_status: str | None,
    new_status: str,
    actor: str,
    call_id: int | None = None,
) -> None:
    """Append one unit status change."""
    session.add(
        UnitEvent(
            unit_id=unit_id,
            at=at,
            old_status=old_status,
            new_status=new_status,
            call_id=call_id,
            actor=actor,
        )
    )


def unit_events(
    session: Session, until: dt.datetime, unit_ids: Sequence[str] | None = None
) -> Sequence[UnitEvent]:
    """Unit status changes up to ``until``, by unit then time."""
    q = select(UnitEvent).where(UnitEvent.at <= until)
    if unit_ids is not None:
        q = q.where(UnitEvent.unit_id.in_(list(unit_ids)))
    return session.scalars(q.order_by(UnitEvent.unit_id, UnitEvent.at, UnitEvent.id)).all()


# ---------------------------------------------------------------------------- calls
CALL_COLUMNS = tuple(c.key for c in Call.__table__.columns if c.key != "id")


def add_calls(session: Session, calls: Sequence[Call]) -> list[int]:
    """Insert new calls (status ``received``) with their first lifecycle event (by their
    ``created_by``); set and return their ids, in order.

    One multi-row INSERT ... RETURNING for the calls and one for their events (group
    commit: the unit-of-work machinery would cost more than the fsync). The ``Call``
    objects stay detached: they carry the values and receive the ids.
    """
    if not calls:
        return []
    rows = [{k: getattr(c, k) for k in CALL_COLUMNS} for c in calls]
    ids = list(session.scalars(insert(Call).returning(Call.id, sort_by_parameter_order=True), rows))
    for c, i in zip(calls, ids, strict=True):
        c.id = i
    session.execute(
        insert(CallEvent),
        [
            {
                "call_id": c.id,
                "at": c.received_at,
                "status": "received",
                "unit_id": None,
                "actor": c.created_by,
            }
            for c in calls
        ],
    )
    return ids


def call_by_idempotency_key(session: Session, key: str) -> Call | None:
    """The call stored with this ``Idempotency-Key``, or None."""
    return session.scalar(
        select(Call).where(Call.idempotency_key == key).execution_options(populate_existing=True)
    )


def get_call(session: Session, call_id: int) -> Call | None:
    """One call, read fresh from the database."""
    return session.get(Call, call_id, populate_existing=True)


def list_calls(
    session: Session,
    *,
    open_only: bool = False,
    statuses: Sequence[str] | None = None,
    limit: int = 200,
    before_id: int | None = None,
    oldest_first: bool = False,
    after_id: int | None = None,
) -> Sequence[Call]:
    """Calls, newest first (or oldest first: the order they have been waiting in).

    Pages by key (``before_id`` for newest first, ``after_id`` for oldest first), so
    that calls arriving between two pages neither repeat nor vanish.
    """
    order = Call.id.asc() if oldest_first else Call.id.desc()
    q = select(Call).order_by(order).limit(limit)
    if after_id is not None:
        q = q.where(Call.id > after_id)
    if open_only:
        q = q.where(Call.status.in_(OPEN_CALL_STATUSES))
    if statuses:
        q = q.where(Call.status.in_(list(statuses)))
    if before_id is not None:
        q = q.where(Call.id < before_id)
    return session.scalars(q).all()


def calls_received_between(
    session: Session, since: dt.datetime, until: dt.datetime
) -> Sequence[Call]:
    """Calls received in ``[since, until)``, oldest first."""
    return session.scalars(
        select(Call)
        .where(Call.received_at >= since, Call.received_at < until)
        .order_by(Call.received_at)
    ).all()


CALL_STAMPS = {
    "dispatched": "dispatched_at",
    "en_route": "en_route_at",
    "on_scene": "on_scene_at",
    "cleared": "cleared_at",
    "cancelled": "cancelled_at",
}
"""Status -> the timestamp column it sets."""


def transition_call(
    session: Session,
    call_id: int,
    *,
    expected: str,
    new: str,
    at: dt.datetime,
    unit_id: str | None = KEEP,
    stamps: dict[str, dt.datetime | None] | None = None,
) -> bool:
    """Conditional status change of a call; True when it was in ``expected``.

    ``stamps`` gives the lifecycle timestamp columns to write (the core decides which:
    e.g. a re-dispatch keeps the first ``dispatched_at``).
    """
    values: dict[str, Any] = {"status": new}
    if unit_id is not KEEP:
        values["unit_id"] = unit_id
    values.update(stamps or {})
    result = session.execute(
        update(Call)
        .where(Call.id == call_id, Call.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def add_call_event(
    session: Session,
    call_id: int,
    at: dt.datetime,
    status: str,
    unit_id: str | None,
    actor: str,
) -> None:
    """Append one lifecycle step of a call."""
    session.add(CallEvent(call_id=call_id, at=at, status=status, unit_id=unit_id, actor=actor))


def call_events(session: Session, call_id: int) -> Sequence[CallEvent]:
    """A call's lifecycle steps in order."""
    return session.scalars(
        select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id)
    ).all()


# ---------------------------------------------------------------------------- alerts
def add_alert(
    session: Session, alert: Alert, recipients: Sequence[tuple[str, float, bool]]
) -> Alert:
    """Insert an alert and its recipients ``(unit_id, eta_s, busy)``."""
    session.add(alert)
    session.flush()
    session.add_all(
        [
            AlertRecipient(alert_id=alert.id, unit_id=u, eta_s=eta, busy=busy)
            for u, eta, busy in recipients
        ]
    )
    session.flush()
    return alert


def get_alert(session: Session, alert_id: int) -> Alert | None:
    """One alert."""
    return session.get(Alert, alert_id, populate_existing=True)


def alert_recipients(session: Session, alert_ids: Sequence[int]) -> Sequence[AlertRecipient]:
    """Recipients of these alerts, fastest first."""
    if not alert_ids:
        return []
    return session.scalars(
        select(AlertRecipient)
        .where(AlertRecipient.alert_id.in_(list(alert_ids)))
        .order_by(AlertRecipient.alert_id, AlertRecipient.eta_s, AlertRecipient.unit_id)
        .execution_options(populate_existing=True)
    ).all()


def list_alerts(session: Session, limit: int = 50) -> Sequence[Alert]:
    """Alerts, newest first."""
    return session.scalars(select(Alert).order_by(Alert.id.desc()).limit(limit)).all()


def ack_alert(session: Session, alert_id: int, unit_id: str, at: dt.datetime, by: str) -> bool:
    """Record a unit's acknowledgement; False if the unit is not a recipient or has
    already acknowledged (the first acknowledgement is kept)."""
    result = session.execute(
        update(AlertRecipient)
        .where(
            AlertRecipient.alert_id == alert_id,
            AlertRecipient.unit_id == unit_id,
            AlertRecipient.acked_at.is_(None),
        )
        .values(acked_at=at, acked_by=by)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# ---------------------------------------------------------------------------- audit
def audit(
    session: Session,
    *,
    username: str,
    role: str,
    action: str,
    resource: str,
    resource_id: str = "",
    detail: dict[str, Any] | None = None,
    client: str = "",
    at: dt.datetime,
) -> None:
    """Append one audit entry (in the caller's transaction: it commits with the change
    it records, or not at all)."""
    session.add(
        AuditEntry(
            at=at,
            username=username,
            role=role,
            action=action,
            resource=resource,
            resource_id=resource_id,
            detail=detail or {},
            client=client,
        )
    )


def audit_many(session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Append many audit entries in one statement (keys as :func:`audit`'s arguments)."""
    if entries:
        session.execute(insert(AuditEntry), list(entries))


def list_audit(
    session: Session, *, limit: int = 100, before_id: int | None = None
) -> Sequence[AuditEntry]:
    """Audit entries, newest first."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    return session.scalars(q).all()


# ---------------------------------------------------------------------------- field side
def units_on_call(session: Session, call_id: int) -> Sequence[Unit]:
    """The units assigned to a call (primary and backups), by id, read fresh."""
    return session.scalars(
        select(Unit)
        .where(Unit.call_id == call_id)
        .order_by(Unit.id)
        .execution_options(populate_existing=True)
    ).all()


def returning_due(session: Session, now: dt.datetime) -> Sequence[Unit]:
    """Units returning to post whose expected arrival is at or before ``now``."""
    return session.scalars(
        select(Unit)
        .where(Unit.status == "returning", Unit.return_eta_at <= now)
        .order_by(Unit.id)
        .execution_options(populate_existing=True)
    ).all()


def set_call_fields(session: Session, call_id: int, values: dict[str, Any]) -> bool:
    """Write some columns of a call (edits, disposition); False if there is no such call."""
    if not values:
        return True
    result = session.execute(
        update(Call)
        .where(Call.id == call_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def ack_call(session: Session, call_id: int, at: dt.datetime) -> bool:
    """Record the call's first acknowledgement (签收); False when already acknowledged."""
    result = session.execute(
        update(Call)
        .where(Call.id == call_id, Call.acknowledged_at.is_(None))
        .values(acknowledged_at=at)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def alerts_to_escalate(session: Session, now: dt.datetime) -> Sequence[Alert]:
    """Expired alerts not yet escalated that some recipient has not acknowledged and
    that have not been made into a call (a dispatcher acted on those already)."""
    pending = (
        select(AlertRecipient.alert_id)
        .where(AlertRecipient.alert_id == Alert.id, AlertRecipient.acked_at.is_(None))
        .exists()
    )
    return session.scalars(
        select(Alert)
        .where(
            Alert.expires_at <= now,
            Alert.escalated_at.is_(None),
            Alert.call_id.is_(None),
            pending,
        )
        .order_by(Alert.id)
    ).all()


def escalate_alert(session: Session, alert_id: int, at: dt.datetime) -> bool:
    """Mark an alert escalated (once)."""
    result = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.escalated_at.is_(None))
        .values(escalated_at=at)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def link_alert_call(session: Session, alert_id: int, call_id: int) -> bool:
    """Record the call made from an alert; False if the alert already has one."""
    result = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.call_id.is_(None))
        .values(call_id=call_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def record_presence(session: Session, unit_id: str, away: bool, at: dt.datetime) -> bool:
    """Append a presence row when ``away`` differs from the unit's last one; True if
    written."""
    last = session.scalar(
        select(UnitPresence.away)
        .where(UnitPresence.unit_id == unit_id)
        .order_by(UnitPresence.at.desc(), UnitPresence.id.desc())
        .limit(1)
    )
    if last is not None and bool(last) == away:
        return False
    session.add(UnitPresence(unit_id=unit_id, at=at, away=away))
    return True
