"""Workflow histories archived in the programme database (beyond Temporal's retention).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UtcDateTime

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "history_archive",
        sa.Column("workflow_id", sa.String(80), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=False),
        sa.Column("history_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", name=op.f("pk_history_archive")),
    )
    op.create_index(op.f("ix_history_archive_project_id"), "history_archive", ["project_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_history_archive_project_id"), table_name="history_archive")
    op.drop_table("history_archive")
