"""What the workflow shows: its queries' answers and the parts of its state they expose."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from domain.decisions import Actor
from domain.payloads import ChangeKind
from domain.roles import Role
from domain.stages import Stage


class EndInfo(BaseModel):
    """Every end says which rule or decision caused it (SPEC.md, Lifecycle)."""

    stage: Stage
    label_zh: str
    rule: str
    action: str
    seq: int
    at: AwareDatetime
    reason: str = ""


class PendingCosign(BaseModel):
    action: str
    seq: int
    decided_by: Actor
    cosigner: Role
    at: AwareDatetime


class Objection(BaseModel):
    seq: int
    at: AwareDatetime
    reason: str
    status: str = "pending"  # pending | upheld | dismissed
    ruling_seq: int | None = None


class ArchiveEntry(BaseModel):
    seq: int
    at: AwareDatetime
    title: str
    evidence: list[str]


class ChangeRequest(BaseModel):
    seq: int
    kind: ChangeKind
    description: str
    # awaiting_city -> awaiting_province -> approved, or rejected_by_city / _province
    status: str = "awaiting_city"


class DeadlineView(BaseModel):
    kind: str
    at: AwareDatetime
    label_zh: str
    label_en: str


class Notification(BaseModel):
    project_id: str
    to_role: Role
    to_unit: str | None = None
    kind: str
    message_zh: str
    message_en: str


class ProjectView(BaseModel):
    project_id: str
    title: str
    batch_id: str
    preset: str
    task_code: str
    city_code: str
    county_code: str
    applicant_unit: str
    stage: Stage
    stage_label_zh: str
    end: EndInfo | None
    deadlines: list[DeadlineView]
    next_deadline: AwareDatetime | None
    allowed: dict[str, list[str]]
    waiting_on: list[str]
    pending_cosign: PendingCosign | None
    rank: int | None
    experts: dict[str, float | None]
    objections: list[Objection]
    publicity_end: AwareDatetime | None
    implementation_started_at: AwareDatetime | None
    halfyear_passed: bool
    early_acceptance: bool
    archives: list[ArchiveEntry]
    archives_overdue: list[int]
    changes: list[ChangeRequest]
    verified_investment_cny: float | None
    subsidy_amount_cny: float | None
    disbursed_at: AwareDatetime | None
    reserve_pool: bool
    subsidy_to_reclaim: bool
    decisions: int


class ReadModelView(BaseModel):
    """The part of the view the read model stores: what lists and filters need.

    Sent to the projection after every change instead of the whole view, whose
    deadlines, archives and allowed decisions the read model never stores and which
    cost the worker an encode and a decode each time."""

    project_id: str
    stage: Stage
    stage_label_zh: str
    end_rule: str | None
    rank: int | None
    experts: dict[str, float | None]
    verified_investment_cny: float | None
    subsidy_amount_cny: float | None
    disbursed_at: AwareDatetime | None
    reserve_pool: bool
    waiting_on: list[str]
    next_deadline: AwareDatetime | None

    @classmethod
    def of(cls, view: ProjectView) -> ReadModelView:
        """The same row cut from a full view (a query's answer): every field but end_rule
        has the view's name."""
        same = {name: getattr(view, name) for name in cls.model_fields if name != "end_rule"}
        return cls(end_rule=view.end.rule if view.end else None, **same)
