"""Shandong's regions (GB/T 2260): the province, 16 cities, 136 county-level divisions.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

import models

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CSV = Path(models.__file__).resolve().parent / "reference" / "shandong_regions.csv"

region = sa.table(
    "region",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("level", sa.String),
    sa.column("parent_code", sa.String),
)


def upgrade() -> None:
    with CSV.open(encoding="utf-8") as f:
        rows = [
            {"code": r["code"], "name": r["name"], "level": r["level"],
             "parent_code": r["parent"] or None}
            for r in csv.DictReader(f)
        ]
    # Parents first: the province, then cities, then counties (self-referencing FK).
    order = {"province": 0, "city": 1, "county": 2}
    op.bulk_insert(region, sorted(rows, key=lambda r: order[r["level"]]))


def downgrade() -> None:
    op.execute(region.delete().where(region.c.level == "county"))
    op.execute(region.delete().where(region.c.level == "city"))
    op.execute(region.delete())
