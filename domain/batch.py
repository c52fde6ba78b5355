"""A batch (申报批次) as the workflow sees it: data, not code.

The workflow receives the batch's policy in its input, so a running project never
depends on a table that may change under it; later changes (the province extending the
deadline, a city setting an earlier one) arrive as signals and are recorded.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator

from domain.clock import Instant
from domain.eligibility import ApplicationFacts
from domain.presets import PRESETS, Preset, PresetName

CITY_CODE = re.compile(r"37\d{2}")


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
    # Rules 3. A decision pending a finance bureau's co-signature (R8, R17): the co-signer
    # is reminded after this many working days, and the decision shows as overdue in the
    # operator views after the second number.
    cosign_reminder_working_days: int = Field(default=3, ge=1, le=30)
    cosign_overdue_working_days: int = Field(default=5, ge=1, le=60)
    # Rules 3 (2026). A city's deadline for its counties' reviews to reach it
    # (县级审核推荐至市), by city code; never later than the close.
    county_review_close: dict[str, Instant] = {}
    # Rules 3 (2026). Cities that take applications directly, without a county step.
    direct_cities: list[str] = []

    @model_validator(mode="after")
    def _half_before_final(self) -> BatchPolicy:
        # Messages in both languages, "中文 / English" (domain.refusals.describe_error).
        if self.halfyear_after_months >= self.final_after_months:
            raise ValueError("半年期须早于一年期 / halfyear_after_months must be less than "
                             "final_after_months")
        if self.cosign_reminder_working_days >= self.cosign_overdue_working_days:
            raise ValueError("会签提醒须早于会签逾期 / cosign_reminder_working_days must be "
                             "less than cosign_overdue_working_days")
        for city in (*self.county_review_close, *self.direct_cities):
            if not CITY_CODE.fullmatch(city):
                raise ValueError(f"{city[:8]}不是山东省的市级代码 / {city[:8]} is not a "
                                 "Shandong city code (37xx)")
        if (self.county_review_close or self.direct_cities) and not self.policy.flag(
                "county_review"):
            raise ValueError("县级审核截止时间和直报市只适用于有县级审核的批次（2026） / "
                             "county_review_close and direct_cities need a preset with county "
                             "review (2026)")
        for city, at in self.county_review_close.items():
            if at > self.close_at:
                raise ValueError(f"市{city}的县级审核推荐截止时间晚于批次截止时间 / "
                                 f"county_review_close of {city} is later than close_at")
            if city in self.direct_cities:
                raise ValueError(f"市{city}不经县级审核，不能设定县级审核截止时间 / {city} has "
                                 "no county step, so no county-review deadline")
        return self

    def county_step(self, city_code: str) -> bool:
        """Rules 3: whether the city's applications pass a county review first (2026)."""
        return self.policy.flag("county_review") and city_code not in self.direct_cities

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
