"""The read model keeps each project's baseline versions (R15; issue 16): every approved
change makes a new version and the earlier ones stay, so the exports show them all.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by each project's next projection (or `gongfu ops reproject --all`).
    op.add_column("project", sa.Column(
        "baselines", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("project", "baselines")
