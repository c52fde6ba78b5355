"""Who states which facts (R19, R20, R18): unit owners and the history of their facts,
R18 penalties, consortium consent, earlier batches' winners, sniffed document types.

- unit.registered_by/_role/_at: who registered the unit; unit.soe_claim(_ed_at): an
  applicant's claim to SOE status, which exempts nothing until the province confirms it.
- unit_fact_change: every change of a unit's facts, with who, role, when and source.
- unit_penalty: R18 penalties recorded from revocations for fraud; lifted by the province.
- consortium_member.consent/_by/_at/_note: R20. Rows from before this revision were
  registered by trusted code (tests, demo) and count as confirmed.
- earlier_winner, earlier_winner_unit: earlier batches' selected projects, imported (R2).
- document.sniffed_type: what the bytes are, by content.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import JSONType, UtcDateTime

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("unit") as batch:
        batch.add_column(sa.Column("registered_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("registered_role", sa.String(24), nullable=True))
        batch.add_column(sa.Column("registered_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("soe_claim", sa.String(40), nullable=True))
        batch.add_column(sa.Column("soe_claimed_at", UtcDateTime(), nullable=True))
    with op.batch_alter_table("consortium_member") as batch:
        batch.add_column(sa.Column("consent", sa.String(16), nullable=False,
                                   server_default="confirmed"))
        batch.add_column(sa.Column("consent_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("consent_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("consent_note", sa.String(500), nullable=True))
    with op.batch_alter_table("document") as batch:
        batch.add_column(sa.Column("sniffed_type", sa.String(100), nullable=True))
    op.create_table(
        "unit_fact_change",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("unit_code", sa.String(18), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old_value", JSONType, nullable=True),
        sa.Column("new_value", JSONType, nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_role", sa.String(24), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["unit.credit_code"],
                                name=op.f("fk_unit_fact_change_unit_code_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_fact_change")),
    )
    op.create_index("ix_unit_fact_change_unit_code", "unit_fact_change", ["unit_code"])
    op.create_table(
        "unit_penalty",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("unit_code", sa.String(18), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("decision_seq", sa.Integer(), nullable=False),
        sa.Column("decision_ref", sa.String(200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("batch_ids", JSONType, nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("lifted_at", UtcDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(64), nullable=True),
        sa.Column("lift_reason", sa.String(500), nullable=True),
        sa.Column("lift_decision_ref", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["unit_code"], ["unit.credit_code"],
                                name=op.f("fk_unit_penalty_unit_code_unit")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name=op.f("fk_unit_penalty_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_penalty")),
        sa.UniqueConstraint("project_id", "unit_code", name=op.f("uq_unit_penalty_project_id")),
    )
    op.create_index("ix_unit_penalty_unit_code", "unit_penalty", ["unit_code"])
    op.create_table(
        "earlier_winner",
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("project_ref", sa.String(64), nullable=False),
        sa.Column("task_code", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("imported_by", sa.String(64), nullable=False),
        sa.Column("imported_at", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"],
                                name=op.f("fk_earlier_winner_batch_id_batch")),
        sa.PrimaryKeyConstraint("batch_id", "project_ref", name=op.f("pk_earlier_winner")),
    )
    op.create_table(
        "earlier_winner_unit",
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("project_ref", sa.String(64), nullable=False),
        sa.Column("unit_code", sa.String(18), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(["batch_id", "project_ref"],
                                ["earlier_winner.batch_id", "earlier_winner.project_ref"],
                                name=op.f("fk_earlier_winner_unit_batch_id_earlier_winner")),
        sa.ForeignKeyConstraint(["unit_code"], ["unit.credit_code"],
                                name=op.f("fk_earlier_winner_unit_unit_code_unit")),
        sa.PrimaryKeyConstraint("batch_id", "project_ref", "unit_code",
                                name=op.f("pk_earlier_winner_unit")),
    )
    op.create_index("ix_earlier_winner_unit_unit_code", "earlier_winner_unit", ["unit_code"])


def downgrade() -> None:
    op.drop_index("ix_earlier_winner_unit_unit_code", table_name="earlier_winner_unit")
    op.drop_table("earlier_winner_unit")
    op.drop_table("earlier_winner")
    op.drop_index("ix_unit_penalty_unit_code", table_name="unit_penalty")
    op.drop_table("unit_penalty")
    op.drop_index("ix_unit_fact_change_unit_code", table_name="unit_fact_change")
    op.drop_table("unit_fact_change")
    with op.batch_alter_table("document") as batch:
        batch.drop_column("sniffed_type")
    with op.batch_alter_table("consortium_member") as batch:
        for column in ("consent_note", "consent_at", "consent_by", "consent"):
            batch.drop_column(column)
    with op.batch_alter_table("unit") as batch:
        for column in ("soe_claimed_at", "soe_claim", "registered_at", "registered_role",
                       "registered_by"):
            batch.drop_column(column)
