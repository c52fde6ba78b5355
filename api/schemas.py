"""Request and response bodies of the API (the decisions' payloads are domain schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field

from domain.clock import SHANGHAI, Instant
from domain.decisions import DecisionOutcome, DecisionRecord
from domain.eligibility import ApplicationFacts
from domain.views import ProjectView
from services.decisions import BulkResult as BulkResult

T = TypeVar("T")

# The instants an official may send (a batch's close, its cities' deadlines, an extension,
# a local deadline): within this programme's years. Outside them the database (UTC) or
# the +08:00 answers cannot hold some values (year 1 at +08:00, year 9999 at -10:00), and
# no deadline of the programme is that far.
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=SHANGHAI)
LATEST_INSTANT = datetime(2101, 1, 1, tzinfo=SHANGHAI)


def _within_programme_years(value: datetime) -> datetime:
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise ValueError("时间须在2000年至2100年之间 / the instant must be between the years "
                         "2000 and 2100")
    return value


RequestInstant = Annotated[Instant, AfterValidator(_within_programme_years)]


class DecisionResponse(DecisionOutcome):
    """The workflow's answer, with the project and the caller's own next actions."""

    project_id: str
    allowed_for_me: list[str]

    @classmethod
    def of(cls, outcome: DecisionOutcome, project_id: str, role: str) -> DecisionResponse:
        return cls(**outcome.model_dump(), project_id=project_id,
                   allowed_for_me=outcome.allowed.get(role, []))


class MemberOut(BaseModel):
    """A consortium member: the unit, its role, the SOE facts the quota depends on (R8),
    and its consent (R20)."""

    credit_code: str
    name: str
    role: str  # lead | scene | member
    central_enterprise_in_shandong: bool = False
    provincial_soe: bool = False
    consent: str = Field(default="confirmed", description="pending | confirmed | declined")
    consent_by: str | None = None
    consent_at: Instant | None = None
    consent_note: str | None = None

    @classmethod
    def of(cls, member: Any, unit: Any) -> MemberOut:
        return cls(credit_code=member.unit_code, name=unit.name if unit else "",
                   role=member.role,
                   central_enterprise_in_shandong=bool(
                       unit and unit.central_enterprise_in_shandong),
                   provincial_soe=bool(unit and unit.provincial_soe), consent=member.consent,
                   consent_by=member.consent_by, consent_at=member.consent_at,
                   consent_note=member.consent_note)


class ProjectDetail(BaseModel):
    view: ProjectView
    allowed_for_me: list[str]
    decisions: list[DecisionRecord]
    consortium: list[MemberOut] = []


class ProjectSummary(BaseModel):
    id: str
    title: str
    batch_id: str
    task_code: str
    city_code: str
    county_code: str
    applicant_code: str
    stage: str
    stage_label_zh: str
    end_rule: str | None
    city_rank: int | None
    waiting_on: list[str]
    next_deadline: Instant | None


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


class MemberIn(BaseModel):
    credit_code: str = Field(min_length=18, max_length=18)
    role: str = Field(pattern="^(lead|scene|member)$")


class CreateProject(BaseModel):
    batch_id: str = Field(min_length=1, max_length=64)
    task_code: str = Field(min_length=1, max_length=16)
    title: str = Field(min_length=2, max_length=200)
    county_code: str | None = Field(
        default=None, pattern=r"^37\d{4}$",
        description="optional: the project belongs to the registered county of the unit the "
                    "notice names (2024 the lead unit, 2026 the applicant); another is refused")
    consortium: list[MemberIn] = Field(default=[], max_length=3)
    application: ApplicationFacts = ApplicationFacts()

    model_config = {"json_schema_extra": {"examples": [{
        "batch_id": "demo-2026", "task_code": "T1", "title": "汽车零部件5G全连接工厂",
        "county_code": "370112",
        "consortium": [{"credit_code": "91370112DEM000002K", "role": "scene"}],
        "application": {"declared_investment_cny": 3200000, "implementation_region": "370112"},
    }]}}


class EditApplication(BaseModel):
    title: str | None = Field(default=None, min_length=2, max_length=200)
    application: ApplicationFacts
    reason: str = Field(default="", max_length=2000)


class DocumentOut(BaseModel):
    sha256: str
    size: int
    media_type: str
    kind: str
    new: bool


class BulkItem(BaseModel):
    project_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=2000)
    evidence: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(default=[],
                                                                            max_length=50)
    payload: dict[str, Any] = {}


class BulkRequest(BaseModel):
    items: list[BulkItem] = Field(min_length=1, max_length=500)


class RankedItem(BaseModel):
    project_id: str
    rank: int = Field(ge=1, le=1000)


class RecommendationList(BaseModel):
    items: list[RankedItem] = Field(min_length=1, max_length=500)
    reason: str = Field(default="", max_length=2000)


class DeadlineIn(BaseModel):
    new_deadline: RequestInstant
    reason: str = Field(min_length=1, max_length=2000)


class PublicityIn(BaseModel):
    project_ids: list[str] = Field(min_length=1, max_length=500)
    working_days: int | None = Field(default=None, ge=1, le=30)
    reason: str = Field(default="", max_length=2000)
