"""The project: its application (the applicant's data), its read model (projected from
the workflow, which stays the source of truth), documents, decisions, and the places and
recommendations that the cross-project limits count (R2, R3, R8)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType


class Project(Base):
    __tablename__ = "project"
    __table_args__ = (
        Index("ix_project_batch_stage", "batch_id", "stage"),
        Index("ix_project_batch_city", "batch_id", "city_code"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(80), unique=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"))
    task_code: Mapped[str] = mapped_column(String(16))
    city_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    county_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    applicant_code: Mapped[str] = mapped_column(ForeignKey("unit.credit_code"))
    title: Mapped[str] = mapped_column(String(200))
    # -- application: the applicant's data, frozen once the city recommends (R11) --------
    declared_investment_cny: Mapped[float | None]
    implementation_region: Mapped[str | None] = mapped_column(String(6))  # R6
    implementation_start: Mapped[date | None]
    implementation_end: Mapped[date | None]
    prior_provincial_support: Mapped[bool] = mapped_column(default=False)  # R6
    # -- read model: written only by the projection activity ------------------------------
    stage: Mapped[str] = mapped_column(String(32), default="draft")
    stage_label_zh: Mapped[str] = mapped_column(String(32), default="草稿")
    end_rule: Mapped[str | None] = mapped_column(String(16))
    city_rank: Mapped[int | None]
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    verified_investment_cny: Mapped[float | None]
    subsidy_amount_cny: Mapped[float | None]
    disbursed_at: Mapped[datetime | None]
    reserve_pool: Mapped[bool] = mapped_column(default=False)  # R14
    waiting_on: Mapped[list[str]] = mapped_column(default=list)
    # R15: the baseline versions approved changes made (domain.views.Baseline), oldest first.
    baselines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list,
                                                            server_default="[]")
    next_deadline: Mapped[datetime | None]
    # The last decision sequence projected (records 1..projected_seq are stored).
    projected_seq: Mapped[int] = mapped_column(default=0)
    projected_at: Mapped[datetime | None]
    # Which projection of which workflow run wrote the row last (migration 0006): a
    # projection never undoes a later one of the same run.
    projection_no: Mapped[int | None]
    run_id: Mapped[str | None] = mapped_column(String(64))


class ConsortiumMember(Base):
    __tablename__ = "consortium_member"

    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("unit.credit_code"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))  # lead | scene | member
    # R20 (migration 0007): pending | confirmed | declined. A member other than the
    # applicant confirms with its own token; a declined member takes no part (no place).
    consent: Mapped[str] = mapped_column(String(16), default="confirmed",
                                         server_default="confirmed")
    consent_by: Mapped[str | None] = mapped_column(String(64))
    consent_at: Mapped[datetime | None]
    consent_note: Mapped[str | None] = mapped_column(String(500))


class Document(Base):
    """A stored file: the bytes live in the storage folder under `storage_key`; the same
    bytes uploaded twice are one document."""

    __tablename__ = "document"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    # What the bytes are, by `puremagic` (migration 0007), beside what the client declared.
    sniffed_type: Mapped[str | None] = mapped_column(String(100))


class ProjectDocument(Base):
    __tablename__ = "project_document"

    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("document.sha256"), primary_key=True)
    # feasibility_report | proof | cluster_recommendation | provincial_company_letter | archive
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)


class DecisionRow(Base):
    """One line of a project's decision log, keyed by (project, seq) so a retried or
    replayed projection writes nothing twice."""

    __tablename__ = "decision_record"

    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(64))
    actor_user: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(24))
    actor_region: Mapped[str] = mapped_column(String(6))
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(2000), default="")
    evidence: Mapped[list[str]] = mapped_column(default=list)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stage_before: Mapped[str] = mapped_column(String(32))
    stage_after: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(500), default="")
    rule: Mapped[str | None] = mapped_column(String(16))
    # Tamper evidence (migration 0004): sha256 over the previous record's hash and this
    # record's content, so altering any stored decision breaks the chain after it.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class Place(Base):
    """A unit's participation in a project of a batch, held from submission (R2, R3).

    Released when the project ends without entering the list (withdrawn, expired, not
    recommended, not selected, removed in publicity); kept when it was selected."""

    __tablename__ = "place"
    __table_args__ = (Index("ix_place_unit_batch", "unit_code", "batch_id"),)

    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("unit.credit_code"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"))
    group_code: Mapped[str | None] = mapped_column(ForeignKey("unit_group.code"))
    kind: Mapped[str] = mapped_column(String(24))  # the unit's kind when it was counted
    selected: Mapped[bool] = mapped_column(default=False)
    released_at: Mapped[datetime | None]


class Recommendation(Base):
    """A city's recommendation of a project, in ranked order, against its quota (R8).
    Deleted when it lapses (finance dissent, the project ends unrecommended)."""

    __tablename__ = "recommendation"
    __table_args__ = (UniqueConstraint("batch_id", "city_code", "rank"),)

    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"))
    city_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    rank: Mapped[int]
    exempt: Mapped[bool] = mapped_column(default=False)  # central / provincial SOE
