"""A batch (申报批次) as the workflow sees it: data, not code.

The workflow receives the batch's policy in its input, so a running project never
depends on a table that may change under it; later changes (the province extending the
deadline, a city setting an earlier one) arrive as signals and are recorded.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator

from domain.clock import Instant
from domain.eligibility import ApplicationFacts
from domain.presets import PRESETS, Preset, PresetName


class CalendarAdjustments(BaseModel):
    """Official holiday / adjusted-working-day notices the holiday package may not know yet.

    The State Council publishes next year's schedule in late autumn; the `holidays`
    package follows within weeks. Until it does, the province enters the notice here.
    """

    holidays: list[date] = []
    workdays: list[date] = []


class BatchPolicy(BaseModel):
    batch_id: str = Field(min_length=1, max_length=64)
    name: str
    year: int
    preset: PresetName
    # The system closes at this instant (R10): nothing submitted, returned or recommended
    # after it. 2026: 13 April 17:00 +08:00.
    close_at: Instant
    publicity_working_days: int = Field(default=5, ge=1, le=30)
    halfyear_after_months: int = Field(default=6, ge=1, le=36)
    final_after_months: int = Field(default=12, ge=1, le=60)
    # Process archives (2026): one per period during implementation.
    archive_interval_days: int = Field(default=90, ge=7)
    archive_reminder_days: int = Field(default=7, ge=1)
    calendar: CalendarAdjustments = CalendarAdjustments()
    # Task codes of the 载体赋能 direction: their listed projects enter the provincial
    # promotion-centre reserve pool (R14).
    carrier_tasks: list[str] = []
    # R18: how long a completed project stays open to revocation and clawback.
    supervision_years: int = Field(default=3, ge=0, le=10)
    # The province is reminded when a project has waited on it this long in one stage.
    province_reminder_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _half_before_final(self) -> BatchPolicy:
        if self.halfyear_after_months >= self.final_after_months:
            raise ValueError("halfyear_after_months must be less than final_after_months")
        return self

    @property
    def policy(self) -> Preset:
        return PRESETS[self.preset]


class ConsortiumMember(BaseModel):
    credit_code: str
    name: str
    role: str  # "lead" | "scene" | "member"


class ProjectInput(BaseModel):
    """What a project's workflow is started with: identity, region, batch."""

    project_id: str = Field(min_length=1, max_length=64)
    title: str
    batch: BatchPolicy
    task_code: str
    city_code: str = Field(pattern=r"^37\d{2}$")
    county_code: str = Field(pattern=r"^37\d{4}$")
    applicant_unit: str  # the applying unit's 统一社会信用代码
    consortium: list[ConsortiumMember] = []
    # The application as registered. None in projects started before the workflow owned
    # the content: their content is then the database's until the first edit.
    application: ApplicationFacts | None = None
    # Set when the workflow continues as new, or in tests that start mid-way; None = now.
    created_at: datetime | None = None

    def unit_codes(self) -> set[str]:
        return {self.applicant_unit, *(m.credit_code for m in self.consortium)}


def workflow_id_for(project_id: str) -> str:
    return f"project-{project_id}"
