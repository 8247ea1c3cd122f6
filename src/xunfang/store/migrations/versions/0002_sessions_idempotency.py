"""Sessions (revocable tokens), token cut-off per user, idempotency keys of calls.

* ``sessions``: one row per login (the token's ``jti``), so that an admin can list and
  revoke a user's tokens;
* ``users.tokens_valid_after``: tokens issued before it without a session row are
  refused (revoking "all tokens" of a user sets it);
* ``calls.idempotency_key`` (unique) and ``calls.request_hash``: a client's retry of a
  call intake with the same ``Idempotency-Key`` header finds the stored call instead of
  storing it twice.

Revision ID: 0002
Revises: 0001_initial
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_sessions_username", "sessions", ["username"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("tokens_valid_after", TS, nullable=True))
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(128), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=True))
    op.create_index("ux_calls_idempotency_key", "calls", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_calls_idempotency_key", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("request_hash")
        batch.drop_column("idempotency_key")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("tokens_valid_after")
    op.drop_index("ix_sessions_username", table_name="sessions")
    op.drop_table("sessions")
