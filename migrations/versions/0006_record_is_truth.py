"""The read model converges to the committed history; durable idempotency keys.

- project.projection_no, project.run_id: which projection of which workflow run wrote
  the row last, so that a projection never undoes a later one of the same run, while one
  with the same number (a retried workflow task) replaces what the first wrote.
- idempotency_key: the API's keys, shared by every API process and kept across restarts.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UtcDateTime

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.add_column(sa.Column("projection_no", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("run_id", sa.String(64), nullable=True))
    op.create_table(
        "idempotency_key",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("answered_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_key")),
    )


def downgrade() -> None:
    op.drop_table("idempotency_key")
    with op.batch_alter_table("project") as batch:
        batch.drop_column("run_id")
        batch.drop_column("projection_no")
