"""Units may be registered outside Shandong: unit.region_code no longer references region.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("unit") as batch:
        batch.drop_constraint("fk_unit_region_code_region", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("unit") as batch:
        batch.create_foreign_key("fk_unit_region_code_region", "region", ["region_code"],
                                 ["code"])
