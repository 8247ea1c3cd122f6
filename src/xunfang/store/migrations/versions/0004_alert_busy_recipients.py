"""Alerts go to the nearest available units: how many an alert asked for, and which of
its recipients were busy (sent only because too few available units were within reach).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as b:
        b.add_column(sa.Column("units_wanted", sa.Integer(), nullable=True))
    with op.batch_alter_table("alert_recipients") as b:
        b.add_column(sa.Column("busy", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("alert_recipients") as b:
        b.drop_column("busy")
    with op.batch_alter_table("alerts") as b:
        b.drop_column("units_wanted")
