"""The province's merit lists (择优, R17; issue 16): award_list (who, when, why, the
request it came from) and award_list_entry (each project's rank, amount or no award, and
what its decision answered).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UtcDateTime

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "award_list",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(160), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_role", sa.String(24), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("first_rank", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"],
                                name=op.f("fk_award_list_batch_id_batch")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_list")),
        sa.UniqueConstraint("request_id", name=op.f("uq_award_list_request_id")),
    )
    op.create_index("ix_award_list_batch_id", "award_list", ["batch_id"])
    op.create_table(
        "award_list_entry",
        sa.Column("list_id", _ID, nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("amount_cny", sa.Double(), nullable=True),
        sa.Column("scenes", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(18), nullable=True),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("request_id", sa.String(160), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(32), nullable=True),
        sa.Column("rule", sa.String(16), nullable=True),
        sa.Column("message_zh", sa.String(500), nullable=True),
        sa.Column("message_en", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["list_id"], ["award_list.id"],
                                name=op.f("fk_award_list_entry_list_id_award_list")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name=op.f("fk_award_list_entry_project_id_project")),
        sa.PrimaryKeyConstraint("list_id", "project_id", name=op.f("pk_award_list_entry")),
    )
    op.create_index("ix_award_list_entry_project_id", "award_list_entry", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_award_list_entry_project_id", table_name="award_list_entry")
    op.drop_table("award_list_entry")
    op.drop_index("ix_award_list_batch_id", table_name="award_list")
    op.drop_table("award_list")
