"""What the workflow sends to its activities. Plain data, so the workflow imports no
database or calendar code; activities are called by name."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel

from domain.batch import CalendarAdjustments
from domain.decisions import DecisionRecord
from domain.views import ReadModelView


class PublicityRequest(BaseModel):
    project_id: str
    opened_at: datetime
    working_days: int
    adjustments: CalendarAdjustments = CalendarAdjustments()


class PublicityPeriod(BaseModel):
    opened_at: AwareDatetime
    working_days: int
    first_day: date
    last_day: date
    # 24:00 Asia/Shanghai of the last working day.
    ends_at: AwareDatetime
    # Years in the period whose official schedule was not known (computed from rules).
    provisional_years: list[int] = []
    source: str


class RecommendationRequest(BaseModel):
    project_id: str
    rank: int


class ChainHead(BaseModel):
    """The last record the read model holds for a project: its seq and its hash.

    The projection returns it and the workflow sends it back with the next projection,
    so that the records can be sealed onto it without reading it from the database."""

    seq: int
    hash: str


class Projection(BaseModel):
    view: ReadModelView
    records: list[DecisionRecord]  # those after the last projected sequence
    # What the previous projection returned; None (the first projection, or a workflow
    # whose earlier projections returned a count) makes the projection read it.
    head: ChainHead | None = None


# Activity names, shared by the workflow (caller) and the worker (implementations).
PUBLICITY_PERIOD = "publicity_period"
NOTIFY = "notify"
CHECK_SUBMISSION = "check_submission"
RESERVE_RECOMMENDATION = "reserve_recommendation"
PROJECT_STATE = "project_state"
