"""Units (service providers, manufacturing enterprises, cluster bodies) and groups."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType


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
    # Who registered the unit (migration 0007): an applicant registers only its own unit,
    # an official one in their region, the province any (R19).
    registered_by: Mapped[str | None] = mapped_column(String(64))
    registered_role: Mapped[str | None] = mapped_column(String(24))
    registered_at: Mapped[datetime | None]
    # An applicant's claim to be a central enterprise in Shandong or a provincial SOE
    # (central_enterprise_in_shandong | provincial_soe): it exempts nothing (R8) until the
    # province confirms it, which sets the fact itself and clears the claim.
    soe_claim: Mapped[str | None] = mapped_column(String(40))
    soe_claimed_at: Mapped[datetime | None]


class UnitFactChange(Base):
    """One change of one fact of a unit: who, in which role, when, from what source.
    Privileged facts (R19) change only by the province or its import; the owner's own
    fields (name, kind) are recorded here too, so no change is silent."""

    __tablename__ = "unit_fact_change"
    __table_args__ = (Index("ix_unit_fact_change_unit_code", "unit_code"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(
        Integer(), "sqlite"), primary_key=True, autoincrement=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("unit.credit_code"))
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_role: Mapped[str] = mapped_column(String(24))
    changed_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(200))  # api | import:<file> | …
    note: Mapped[str] = mapped_column(String(500), default="")


class UnitPenalty(Base):
    """R18: a unit refused in later batches after a revocation for fraud, as the province
    named it (which unit, from when, for which batches or until when, by which decision).
    Recorded from the revoke decision's record (`services.penalties`); lifted only by the
    province, and the lifting is recorded on the same row."""

    __tablename__ = "unit_penalty"
    __table_args__ = (UniqueConstraint("project_id", "unit_code"),
                      Index("ix_unit_penalty_unit_code", "unit_code"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(
        Integer(), "sqlite"), primary_key=True, autoincrement=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("unit.credit_code"))
    # The revoked project whose decision named the unit.
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"))
    decision_seq: Mapped[int]
    decision_ref: Mapped[str] = mapped_column(String(200))  # 处理决定文号
    starts_on: Mapped[date]
    until: Mapped[date | None]  # none: until lifted (or only the named batches)
    batch_ids: Mapped[list[str]] = mapped_column(default=list)  # none: every batch
    reason: Mapped[str] = mapped_column(String(2000), default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lift_reason: Mapped[str | None] = mapped_column(String(500))
    lift_decision_ref: Mapped[str | None] = mapped_column(String(200))
