"""The field side and the complete loop: unit mode and return to post, call
acknowledgement, disposition and alert link, alert expiry and escalation, unit presence
(police visibility), and indexes on the KPI time columns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("units") as b:
        b.add_column(sa.Column("mode", sa.String(8), nullable=False, server_default="car"))
        b.add_column(sa.Column("return_eta_at", TS, nullable=True))
    with op.batch_alter_table("calls") as b:
        b.add_column(sa.Column("acknowledged_at", TS, nullable=True))
        b.add_column(sa.Column("disposition", sa.String(32), nullable=True))
        b.add_column(sa.Column("disposition_note", sa.Text(), nullable=False, server_default=""))
        b.add_column(sa.Column("alert_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("alerts") as b:
        b.add_column(sa.Column("reporter_unit_id", sa.String(32), nullable=True))
        b.add_column(sa.Column("expires_at", TS, nullable=True))
        b.add_column(sa.Column("escalated_at", TS, nullable=True))
        b.add_column(sa.Column("call_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_alerts_created", "alerts", ["created_at"])
    op.create_index("ix_unit_events_at", "unit_events", ["at"])
    op.create_table(
        "unit_presence",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("unit_id", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("away", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_unit_presence_unit_at", "unit_presence", ["unit_id", "at"])
    op.create_index("ix_unit_presence_at", "unit_presence", ["at"])


def downgrade() -> None:
    op.drop_index("ix_unit_presence_at", "unit_presence")
    op.drop_index("ix_unit_presence_unit_at", "unit_presence")
    op.drop_table("unit_presence")
    op.drop_index("ix_unit_events_at", "unit_events")
    op.drop_index("ix_alerts_created", "alerts")
    with op.batch_alter_table("alerts") as b:
        for col in ("call_id", "escalated_at", "expires_at", "reporter_unit_id"):
            b.drop_column(col)
    with op.batch_alter_table("calls") as b:
        for col in ("alert_id", "disposition_note", "disposition", "acknowledged_at"):
            b.drop_column(col)
    with op.batch_alter_table("units") as b:
        for col in ("return_eta_at", "mode"):
            b.drop_column(col)
