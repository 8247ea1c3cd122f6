"""Initial schema: users, sites, units, calls and their events, alerts, audit log.

Revision ID: 0001_initial
Revises:
Create Date: 2026-05-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _big_pk() -> sa.types.TypeEngine[int]:
    # SQLite only auto-increments an "INTEGER PRIMARY KEY"
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.String(32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
    )
    op.create_table(
        "calls",
        sa.Column("id", _big_pk(), primary_key=True, autoincrement=True),
        sa.Column("call_type", sa.String(32), nullable=False),
        sa.Column("type_group", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("caller_name", sa.String(100), nullable=True),
        sa.Column("caller_phone", sa.String(32), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("snap_distance_m", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.String(32), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("dispatched_at", TS, nullable=True),
        sa.Column("en_route_at", TS, nullable=True),
        sa.Column("on_scene_at", TS, nullable=True),
        sa.Column("cleared_at", TS, nullable=True),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_calls_status", "calls", ["status"])
    op.create_index("ix_calls_received", "calls", ["received_at"])
    op.create_table(
        "units",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "call_id",
            sa.BigInteger(),
            sa.ForeignKey("calls.id", name="fk_units_call"),
            nullable=True,
        ),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("sites.id", name="fk_units_site"), nullable=True
        ),
        sa.Column("home_lon", sa.Float(), nullable=False),
        sa.Column("home_lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("speed_factor", sa.Float(), nullable=False),
        sa.Column("crew", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("position_at", TS, nullable=True),
    )
    op.create_table(
        "call_events",
        sa.Column("id", _big_pk(), primary_key=True, autoincrement=True),
        sa.Column(
            "call_id", sa.BigInteger(), sa.ForeignKey("calls.id", name="fk_ce_call"), nullable=False
        ),
        sa.Column("at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
    )
    op.create_index("ix_call_events_call", "call_events", ["call_id"])
    op.create_table(
        "unit_events",
        sa.Column("id", _big_pk(), primary_key=True, autoincrement=True),
        sa.Column(
            "unit_id", sa.String(32), sa.ForeignKey("units.id", name="fk_ue_unit"), nullable=False
        ),
        sa.Column("at", TS, nullable=False),
        sa.Column("old_status", sa.String(16), nullable=True),
        sa.Column("new_status", sa.String(16), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
    )
    op.create_index("ix_unit_events_unit_at", "unit_events", ["unit_id", "at"])
    op.create_table(
        "alerts",
        sa.Column("id", _big_pk(), primary_key=True, autoincrement=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("within_min", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "alert_recipients",
        sa.Column(
            "alert_id",
            sa.BigInteger(),
            sa.ForeignKey("alerts.id", name="fk_ar_alert"),
            primary_key=True,
        ),
        sa.Column(
            "unit_id",
            sa.String(32),
            sa.ForeignKey("units.id", name="fk_ar_unit"),
            primary_key=True,
        ),
        sa.Column("eta_s", sa.Float(), nullable=False),
        sa.Column("acked_at", TS, nullable=True),
        sa.Column("acked_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _big_pk(), primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_at", "audit_log", ["at"])
    _append_only_audit()


def _append_only_audit() -> None:
    """Triggers that refuse UPDATE and DELETE on audit_log (the log is evidence)."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "audit_log",
        "alert_recipients",
        "alerts",
        "unit_events",
        "call_events",
        "units",
        "calls",
        "sites",
        "users",
    ):
        op.drop_table(table)
