"""Tables of the dispatch service (SQLAlchemy 2 declarative models).

Positions are WGS-84 longitude/latitude in degrees (the network node of a point depends
on the network the server built, so it is recomputed, not trusted from the database);
times are timezone-aware UTC. Statuses hold the string values of the dispatch core's
``CallStatus`` / ``UnitStatus`` enums.

``audit_log`` is append-only: the migration installs triggers on both backends that
refuse UPDATE and DELETE, and no repository function changes a row once written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

UTC = dt.UTC


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored
    as UTC without an offset and read back with ``tzinfo=UTC``.

    Raises
    ------
    ValueError
        On binding a naive datetime (its zone would be a guess).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware datetimes, got {value!r}")
        out = value.astimezone(UTC)
        return out.replace(tzinfo=None) if dialect.name == "sqlite" else out

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the service tables."""


class User(Base):
    """A person who logs in: dispatcher, officer, analyst or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """For officers: the unit they crew (their position reports and acknowledgements)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    tokens_valid_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Tokens issued before this without a session row are refused (revoke all)."""


class LoginSession(Base):
    """One login: the token's ``jti``, so that an admin can list and revoke tokens."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_username", "username"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    client: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Site(Base):
    """A fixed post: police station, booth (巡防岗亭) or other post, from a plan."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(255), default="")


class Unit(Base):
    """A unit: booth officers, patrol car, response team."""

    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="available")
    call_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("calls.id", name="fk_units_call"), nullable=True
    )
    site_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("sites.id", name="fk_units_site"), nullable=True
    )
    home_lon: Mapped[float] = mapped_column(Float)
    home_lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    speed_factor: Mapped[float] = mapped_column(Float, default=1.0)
    crew: Mapped[int] = mapped_column(Integer, default=2)
    """Officers on the unit (person-times on duty count them)."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    position_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    mode: Mapped[str] = mapped_column(String(8), default="car")
    """``car`` (road speeds) or ``foot`` (walking speed; revision 0003)."""
    return_eta_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """While ``returning``: when it is expected back at its post (revision 0003)."""


class Call(Base):
    """A call for service / incident and its lifecycle timestamps."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_status", "status"),
        Index("ix_calls_received", "received_at"),
        Index("ux_calls_idempotency_key", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    call_type: Mapped[str] = mapped_column(String(32))
    type_group: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    caller_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    caller_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    snap_distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="received")
    unit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    en_route_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    on_scene_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the first assigned unit acknowledged the call (签收; revision 0003)."""
    disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Result code (处警结果) recorded at clearing, from ``data/dispositions.toml``."""
    disposition_note: Mapped[str] = mapped_column(Text, default="")
    alert_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The alert this call was made from, if any."""
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """The client's ``Idempotency-Key`` of the intake (unique; a retry finds this call)."""
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the intake's user and body: the same key with another body is refused."""


class CallEvent(Base):
    """One step of a call's lifecycle (the core's ``Call.history``)."""

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call", "call_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    call_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("calls.id", name="fk_ce_call"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))


class UnitEvent(Base):
    """One status change of a unit (duty periods and person-times come from these)."""

    __tablename__ = "unit_events"
    __table_args__ = (
        Index("ix_unit_events_unit_at", "unit_id", "at"),
        Index("ix_unit_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    unit_id: Mapped[str] = mapped_column(String(32), ForeignKey("units.id", name="fk_ue_unit"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    old_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    new_status: Mapped[str] = mapped_column(String(16))
    call_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(64))


class Alert(Base):
    """A lookout (e.g. a suspect seen by a patrol) pushed to nearby units."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_created", "created_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    description: Mapped[str] = mapped_column(Text)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    within_min: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    reporter_unit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The unit whose officer reported the sighting (never a recipient; revision 0003)."""
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the unacknowledged alert was escalated to the dispatchers."""
    call_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """The call made from this alert, if any."""
    units_wanted: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """How many units the alert asked for (revision 0004; None for older alerts, which
    went to every on-duty unit within reach)."""


class AlertRecipient(Base):
    """A unit an alert was pushed to, its travel time and its acknowledgement."""

    __tablename__ = "alert_recipients"

    alert_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("alerts.id", name="fk_ar_alert"), primary_key=True
    )
    unit_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("units.id", name="fk_ar_unit"), primary_key=True
    )
    eta_s: Mapped[float] = mapped_column(Float)
    acked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    busy: Mapped[bool] = mapped_column(Boolean, default=False)
    """The unit was on a call when the alert was made: sent only because too few available
    units were within reach (revision 0004)."""


class UnitPresence(Base):
    """When a unit left or came back to its post (police visibility; revision 0003).

    A row is written when a position report (or a return to post) changes whether the
    unit is more than ``AWAY_FROM_POST_M`` from its post.
    """

    __tablename__ = "unit_presence"
    __table_args__ = (
        Index("ix_unit_presence_unit_at", "unit_id", "at"),
        Index("ix_unit_presence_at", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    unit_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    away: Mapped[bool] = mapped_column(Boolean)


class AuditEntry(Base):
    """Who did what, when (append-only; never holds caller personal data)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))
    resource: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client: Mapped[str] = mapped_column(String(64), default="")
