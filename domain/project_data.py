"""A project's data: everything the workflow knows about it, as one serializable model.

The rules (`domain.rules`) read and change it; `domain.project.ProjectState` is the
facade the workflow calls. Being plain data, it can be dumped and loaded again (a
`continue_as_new` would carry it), and it holds no callables and no state machine.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.actions import DeadlineKind
from domain.batch import BatchPolicy, ProjectInput
from domain.decisions import Decision, DecisionOutcome, DecisionRecord
from domain.presets import Preset
from domain.stages import Stage
from domain.views import (
    ArchiveEntry,
    Award,
    Baseline,
    ChangeRequest,
    ClawbackState,
    DisbursementEntry,
    EndInfo,
    FindingEntry,
    Notification,
    Objection,
    PendingCosign,
    ProjectContent,
    TerminationRequest,
    VoidedScore,
)


class ProjectData(BaseModel):
    project: ProjectInput
    created_at: datetime
    # Which rules the project follows (domain.actions: RULES_V1, CURRENT_RULES).
    rules: int = 1
    stage: Stage = Stage.DRAFT
    close_at: datetime
    # A city's or county's earlier deadline for its own applicants, by region code.
    local_deadlines: dict[str, datetime] = {}
    log: list[DecisionRecord] = []
    # Idempotency: the record each request made, its fingerprint, and its fixed answer.
    seq_by_request: dict[str, int] = {}
    fingerprints: dict[str, str] = {}
    outcomes: dict[str, DecisionOutcome] = {}
    pending_cosign: PendingCosign | None = None
    pending_decision: Decision | None = None
    rank: int | None = None
    experts: dict[str, float | None] = {}
    objections: list[Objection] = []
    publicity_opened_at: datetime | None = None
    publicity_end: datetime | None = None
    implementation_started_at: datetime | None = None
    halfyear_passed: bool = False
    early_acceptance: bool = False
    archives: list[ArchiveEntry] = []
    archives_reminded: set[int] = set()
    archives_overdue: set[int] = set()
    changes: list[ChangeRequest] = []
    verified_investment_cny: float | None = None
    subsidy_amount_cny: float | None = None
    disbursed_at: datetime | None = None
    reserve_pool: bool = False
    subsidy_to_reclaim: bool = False
    end: EndInfo | None = None
    # The applicant's content (title, application, documents).
    content: ProjectContent
    was_selected: bool = False
    # Side effects for the workflow to carry out (notifications); it drains this.
    outbox: list[Notification] = []
    # -- rules version 2 ----------------------------------------------------------------
    baselines: list[Baseline] = []
    voided_scores: list[VoidedScore] = []
    findings: list[FindingEntry] = []
    rectify_due: datetime | None = None
    # The half-year acceptance (2024) has been held, or skipped for the one-year round.
    halfyear_held: bool = False
    # Acceptance found the project not ready: it opens again no earlier than this.
    acceptance_deferred_to: datetime | None = None
    termination: TerminationRequest | None = None
    early_acceptance_requested: bool = False
    award: Award | None = None
    disbursement: DisbursementEntry | None = None
    supervision_ends_at: datetime | None = None
    clawback: ClawbackState | None = None
    # The experts' review deadline, and whether its lapse was reported.
    review_due: datetime | None = None
    review_overdue_reported: bool = False
    # When the current stage was entered, and whether the province was reminded in it.
    stage_since: datetime | None = None
    province_reminded: bool = False
    # -- rules version 3 ----------------------------------------------------------------
    # 2024: the unit has applied for the half-year centralised acceptance round.
    acceptance_applied: bool = False

    @classmethod
    def new(cls, project: ProjectInput, created_at: datetime, rules: int) -> ProjectData:
        return cls(project=project, created_at=created_at, rules=rules,
                   close_at=project.batch.close_at,
                   content=ProjectContent(title=project.title,
                                          application=project.application))

    @property
    def batch(self) -> BatchPolicy:
        return self.project.batch

    @property
    def preset(self) -> Preset:
        return self.project.batch.policy

    @property
    def next_seq(self) -> int:
        """The seq the next record will have."""
        return len(self.log) + 1

    def deadline(self, kind: DeadlineKind) -> datetime:
        if kind is DeadlineKind.BATCH:
            return self.close_at
        if kind is DeadlineKind.COUNTY_REVIEW:
            return self.county_review_close()
        if self.rules >= 2 and self.stage is Stage.RETURNED:
            # E6: returns are allowed until the system closes (系统关闭前申报材料可退回企业
            # 进行修改), so a returned application may be resubmitted until then.
            return self.close_at
        return min([self.close_at, *self.local_deadlines.values()])

    def county_review_close(self) -> datetime:
        """Rules 3: the city's deadline for its counties' reviews, or the close."""
        set_by_city = self.batch.county_review_close.get(self.project.city_code)
        return min(self.close_at, set_by_city) if set_by_city else self.close_at

    def extension_months(self) -> int:
        """Approved implementation-period changes, in months (R15)."""
        return sum(b.extend_months for b in self.baselines)

    def objection_pending(self) -> bool:
        return any(o.status == "pending" for o in self.objections)

    def change_statuses(self) -> set[str]:
        return {c.status for c in self.changes}
