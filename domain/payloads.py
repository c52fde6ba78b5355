"""The data each decision carries beyond actor/reason/evidence, one schema per action.

A decision whose payload does not fit is refused (INPUT) before it reaches the history.
The lifecycle table names each decision's schema; the API builds its request bodies
from the same table, so its OpenAPI examples and the workflow agree.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.eligibility import ApplicationFacts

MAX_SUBSIDY_CNY = 1_000_000  # R17: at most 1,000,000 CNY per scene


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Empty(_Payload):
    pass


class Recommend(_Payload):
    rank: int = Field(ge=1, le=1000, description="the city's ranked order (R8)")


class ExpertAssignment(_Payload):
    user_id: str = Field(min_length=1, max_length=64)
    # Credit codes of units the expert declared a tie to (R12).
    declared_conflicts: list[str] = []


class AssignExperts(_Payload):
    experts: list[ExpertAssignment] = Field(min_length=1, max_length=15)
    # The experts score within this many days; one who has not is reported (rules 2).
    review_days: int | None = Field(default=None, ge=1, le=60)


class Score(_Payload):
    score: float = Field(ge=0, le=100)
    method: str = Field(default="material", pattern="^(material|online_defence|onsite_defence)$")


class OpenPublicity(_Payload):
    working_days: int | None = Field(default=None, ge=1, le=30)


class ChangeKind(StrEnum):
    """R15: the changes that need the city's and then the province's approval (研究内容,
    示范内容, 投资额 "等": the last kinds are what a provincial office also meets)."""

    RESEARCH_CONTENT = "research_content"
    DEMONSTRATION_CONTENT = "demonstration_content"
    INVESTMENT_AMOUNT = "investment_amount"
    IMPLEMENTATION_PERIOD = "implementation_period"
    CONSORTIUM_MEMBER = "consortium_member"
    OTHER = "other"

    @property
    def label_zh(self) -> str:
        return _CHANGE_KIND_ZH[self]


_CHANGE_KIND_ZH = {
    ChangeKind.RESEARCH_CONTENT: "研究内容", ChangeKind.DEMONSTRATION_CONTENT: "示范内容",
    ChangeKind.INVESTMENT_AMOUNT: "投资额", ChangeKind.IMPLEMENTATION_PERIOD: "实施期限",
    ChangeKind.CONSORTIUM_MEMBER: "联合体成员", ChangeKind.OTHER: "其他",
}


class RequestChange(_Payload):
    kind: ChangeKind
    description: str = Field(min_length=1, max_length=2000)
    # An implementation-period change: how many months longer (moves the acceptance).
    extend_months: int | None = Field(default=None, ge=1, le=12)


class RemoveExpert(_Payload):
    user_id: str = Field(min_length=1, max_length=64)
    why: str = Field(pattern="^(recusal|illness|no_response|other)$")


class FindingSource(StrEnum):
    SITE_CHECK = "site_check"  # 实地核查
    THIRD_PARTY = "third_party"  # 第三方专业机构


class Finding(_Payload):
    source: FindingSource
    summary: str = Field(min_length=1, max_length=2000)


class RuleId(StrEnum):
    """The programme's rules (SPEC.md R1-R21), as a decision cites one."""

    R1 = "R1"
    R2 = "R2"
    R3 = "R3"
    R4 = "R4"
    R5 = "R5"
    R6 = "R6"
    R7 = "R7"
    R8 = "R8"
    R9 = "R9"
    R10 = "R10"
    R11 = "R11"
    R12 = "R12"
    R13 = "R13"
    R14 = "R14"
    R15 = "R15"
    R16 = "R16"
    R17 = "R17"
    R18 = "R18"
    R19 = "R19"
    R20 = "R20"
    R21 = "R21"


class DeclareIneligible(_Payload):
    rule: RuleId = Field(description="the rule not met")


class Rectify(_Payload):
    days: int = Field(ge=1, le=180, description="限期整改: days to rectify")


class NotReady(_Payload):
    months: int = Field(ge=1, le=12, description="implementation continues this long")


class NoAward(_Payload):
    pass


class Disbursement(_Payload):
    amount_cny: float | None = Field(default=None, gt=0)
    reference: str = Field(default="", max_length=100, description="payment reference")


class Repayment(_Payload):
    amount_cny: float = Field(gt=0)


class Archive(_Payload):
    title: str = Field(min_length=1, max_length=200)


class HalfyearAcceptance(_Payload):
    # Rules 2: passing the half-year round completes acceptance, so the investment is
    # verified here; earlier projects pass it with no payload.
    verified_investment_cny: float | None = Field(default=None, ge=0)


class Acceptance(_Payload):
    verified_investment_cny: float = Field(ge=0, description="investment verified on the 专账")


class Subsidy(_Payload):
    # The R17 cap is checked by the project so that the refusal cites R17, not INPUT.
    amount_cny: float = Field(gt=0)
    # The cap is per scene (每个场景最高100万元); the recipient is the service provider.
    scenes: int = Field(default=1, ge=1, le=10)
    recipient: str | None = Field(default=None, max_length=18,
                                  description="credit code of the recipient unit")
    # Its place on the province's batch-wide merit list (择优排序, issue 16), when the
    # award was decided by one; optional, so histories recorded without it replay.
    rank: int | None = Field(default=None, ge=1, le=1000,
                             description="place on the batch's merit list (择优排序)")


class EditApplication(_Payload):
    """The applicant's new content; what is left out stays as it is."""

    title: str | None = Field(default=None, min_length=2, max_length=200)
    application: ApplicationFacts | None = None


# Kinds of document that are part of the application, frozen from the city's
# recommendation on (R11); the others (process archives, other) may be attached later.
APPLICATION_DOCUMENT_KINDS = frozenset({"feasibility_report", "proof", "cluster_recommendation",
                                        "provincial_company_letter"})
DOCUMENT_KINDS = APPLICATION_DOCUMENT_KINDS | {"archive", "other"}


class AttachDocument(_Payload):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: str = Field(pattern="^(" + "|".join(sorted(DOCUMENT_KINDS)) + ")$")
    media_type: str = Field(default="", max_length=100)
    size: int = Field(default=0, ge=0)
    filename: str = Field(default="", max_length=255)


class NamedPenalty(_Payload):
    """R18: a unit the province names in a revocation for fraud, and for how long."""

    unit_code: str = Field(pattern=r"^[0-9A-HJ-NP-RTUWXY]{18}$", description="统一社会信用代码")
    starts_on: date | None = Field(default=None, description="from (default: the decision's day)")
    until: date | None = Field(default=None, description="until (inclusive); none: until lifted")
    batch_ids: list[str] = Field(default=[], max_length=20,
                                 description="only these batches (none: every batch)")
    decision_ref: str | None = Field(default=None, max_length=200, description="处理决定文号")


class Revoke(_Payload):
    """Why a project is revoked. Only a revocation for fraud (弄虚作假) names penalties."""

    grounds: Literal["fraud", "other"] = "other"
    decision_ref: str = Field(default="", max_length=200, description="处理决定文号")
    penalties: list[NamedPenalty] = Field(default=[], max_length=10)
    # In supervision (R18, rules 2): the subsidy to reclaim (default: what was paid) and
    # the days given to return it.
    reclaim_cny: float | None = Field(default=None, ge=0, description="to reclaim")
    due_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _penalties_need_fraud(self) -> Revoke:
        if self.penalties and self.grounds != "fraud":
            raise ValueError("only a revocation for fraud names penalties (R18)")
        if any(not (n.decision_ref or self.decision_ref) for n in self.penalties):
            raise ValueError("a penalty names its decision (decision_ref)")
        if any(n.until is not None and n.starts_on is not None and n.until < n.starts_on
               for n in self.penalties):
            raise ValueError("a penalty ends after it starts")
        return self
