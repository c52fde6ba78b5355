"""Units (service providers, manufacturing enterprises, cluster bodies) and groups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class UnitGroup(Base):
    """An enterprise group: its enterprises share the R3 limit of 5 tasks. A row to lock."""

    __tablename__ = "unit_group"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Unit(Base):
    __tablename__ = "unit"

    credit_code: Mapped[str] = mapped_column(String(18), primary_key=True)  # R4
    name: Mapped[str] = mapped_column(String(200))
    # service_provider | manufacturer | cluster_body | other
    kind: Mapped[str] = mapped_column(String(24))
    # GB/T 2260, six digits. Not a reference to `region`: a consortium may include a
    # unit from outside Shandong (migration 0003).
    region_code: Mapped[str] = mapped_column(String(6))
    group_code: Mapped[str | None] = mapped_column(ForeignKey("unit_group.code"))
    # The controlling company (one controls the other: related units, R1).
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("unit.credit_code"))
    central_enterprise_in_shandong: Mapped[bool] = mapped_column(default=False)  # R8
    provincial_soe: Mapped[bool] = mapped_column(default=False)  # R8
    # R5 standing, as declared with evidence (flags set = a problem).
    major_safety_accident_3y: Mapped[bool] = mapped_column(default=False)
    serious_dishonesty: Mapped[bool] = mapped_column(default=False)
    abnormal_operation: Mapped[bool] = mapped_column(default=False)
    legal_rep_dishonest_debtor: Mapped[bool] = mapped_column(default=False)
    against_industrial_policy: Mapped[bool] = mapped_column(default=False)
    standing_evidence: Mapped[list[str]] = mapped_column(default=list)
    flagged_by_province: Mapped[str | None] = mapped_column(String(500))  # reason
    # R18: refused in later batches after fraud.
    refused_after_r18: Mapped[str | None] = mapped_column(String(500))
    refused_at: Mapped[datetime | None]
