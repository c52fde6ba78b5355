"""What the workflow shows: its queries' answers and the parts of its state they expose."""

from __future__ import annotations

from pydantic import BaseModel

from domain.clock import Instant
from domain.decisions import Actor
from domain.eligibility import ApplicationFacts
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
    at: Instant
    reason: str = ""


class PendingCosign(BaseModel):
    action: str
    seq: int
    decided_by: Actor
    cosigner: Role
    at: Instant
    # Rules 3: the co-signer is reminded at `remind_at` and the decision is overdue from
    # `overdue_at` (working days after `at`, from the calendar activity).
    remind_at: Instant | None = None
    overdue_at: Instant | None = None
    reminded: bool = False
    overdue: bool = False


class Objection(BaseModel):
    seq: int
    at: Instant
    reason: str
    status: str = "pending"  # pending | upheld | dismissed
    ruling_seq: int | None = None


class ArchiveEntry(BaseModel):
    seq: int
    at: Instant
    title: str
    evidence: list[str]


class ChangeRequest(BaseModel):
    seq: int
    kind: ChangeKind
    description: str
    # awaiting_city -> awaiting_province -> approved, or rejected_by_city / _province
    status: str = "awaiting_city"
    extend_months: int | None = None


class Baseline(BaseModel):
    """A version of the project's approved baseline: 1 is the application as selected;
    each approved change (R15) adds one, the earlier ones kept."""

    version: int
    seq: int  # the record that made it
    kind: str
    description: str
    extend_months: int = 0


class VoidedScore(BaseModel):
    user_id: str
    score: float | None
    why: str
    reason: str
    seq: int


class FindingEntry(BaseModel):
    seq: int
    at: Instant
    source: str
    summary: str
    evidence: list[str]


class TerminationRequest(BaseModel):
    """R21: the applicant's request to end the project (主动终止)."""

    seq: int
    reason: str
    # awaiting_city -> awaiting_province -> approved, or rejected_by_city / _province
    status: str = "awaiting_city"


class Award(BaseModel):
    amount_cny: float | None  # None: no award (择优, with a reason)
    scenes: int = 1
    recipient: str | None = None
    reason: str = ""
    seq: int
    rank: int | None = None  # its place on the batch's merit list, if decided by one


class DisbursementEntry(BaseModel):
    at: Instant
    amount_cny: float | None
    reference: str
    seq: int


class ClawbackState(BaseModel):
    amount_cny: float
    due_at: Instant
    returned_cny: float = 0
    status: str = "open"  # open | settled | referred


class DocumentRef(BaseModel):
    """A document attached to the project (the bytes are stored by their sha256)."""

    sha256: str
    kind: str
    media_type: str = ""
    size: int = 0
    filename: str = ""
    seq: int  # the decision record that attached it


class ProjectContent(BaseModel):
    """The applicant's content of the project, owned by the workflow like its stage: the
    title, the application facts and the attached documents. Edits and uploads reach it as
    decisions (`edit_application`, `attach_document`), so the detail, the lists and the
    timeline all show the same."""

    title: str
    # None: a project started before the workflow owned its application, not yet edited
    # (the database's registered application stands).
    application: ApplicationFacts | None = None
    documents: list[DocumentRef] = []


class DeadlineView(BaseModel):
    kind: str
    at: Instant
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
    application: ApplicationFacts | None = None
    documents: list[DocumentRef] = []
    stage: Stage
    stage_label_zh: str
    end: EndInfo | None
    deadlines: list[DeadlineView]
    next_deadline: Instant | None
    allowed: dict[str, list[str]]
    waiting_on: list[str]
    pending_cosign: PendingCosign | None
    rank: int | None
    experts: dict[str, float | None]
    objections: list[Objection]
    publicity_end: Instant | None
    implementation_started_at: Instant | None
    halfyear_passed: bool
    early_acceptance: bool
    archives: list[ArchiveEntry]
    archives_overdue: list[int]
    changes: list[ChangeRequest]
    verified_investment_cny: float | None
    subsidy_amount_cny: float | None
    disbursed_at: Instant | None
    reserve_pool: bool
    subsidy_to_reclaim: bool
    decisions: int
    quota_rank: int | None = None
    was_selected: bool = False
    # Rules version 2 (issue 16); empty for projects started before it.
    rules: int = 1
    baselines: list[Baseline] = []
    voided_scores: list[VoidedScore] = []
    findings: list[FindingEntry] = []
    rectify_due: Instant | None = None
    termination: TerminationRequest | None = None
    early_acceptance_requested: bool = False
    award: Award | None = None
    disbursement: DisbursementEntry | None = None
    supervision_ends_at: Instant | None = None
    clawback: ClawbackState | None = None

    def allowed_for(self, role: str, user_id: str) -> list[str]:
        """The decisions this person could make: their role's, less what only some
        people of the role may make (an expert scores once, and only if assigned)."""
        acts = self.allowed.get(role, [])
        if "score" in acts and (user_id not in self.experts
                                or self.experts[user_id] is not None):
            acts = [a for a in acts if a != "score"]
        return acts


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
    disbursed_at: Instant | None
    reserve_pool: bool
    waiting_on: list[str]
    next_deadline: Instant | None
    # What the places and the city's quota row must be (domain.places); defaults for
    # projections recorded before they were sent.
    quota_rank: int | None = None
    was_selected: bool = False
    # R15: the approved baseline versions (for the exports), the old ones kept.
    baselines: list[Baseline] = []

    @classmethod
    def of(cls, view: ProjectView) -> ReadModelView:
        """The same row cut from a full view (a query's answer): every field but end_rule
        has the view's name."""
        same = {name: getattr(view, name) for name in cls.model_fields
                if name not in ("end_rule", "quota_rank", "was_selected")}
        return cls(end_rule=view.end.rule if view.end else None, quota_rank=view.quota_rank,
                   was_selected=view.was_selected, **same)
