"""What the workflow sends to its activities. Plain data, so the workflow imports no
database or calendar code; activities are called by name."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel

from domain.batch import CalendarAdjustments
from domain.decisions import DecisionRecord
from domain.views import ProjectContent, ReadModelView


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


class WorkingDaysRequest(BaseModel):
    """Instants N working days after `start` (rules 3: a co-signature's reminder and
    overdue instants)."""

    project_id: str
    start: datetime
    working_days: list[int]
    adjustments: CalendarAdjustments = CalendarAdjustments()


class WorkingDaysAnswer(BaseModel):
    # 24:00 Asia/Shanghai of the Nth working day after the start's day, for each N asked.
    ends_at: list[AwareDatetime]
    provisional_years: list[int] = []
    source: str


class RecommendationRequest(BaseModel):
    project_id: str
    rank: int


# The hash a project's first decision record is chained onto.
GENESIS = "0" * 64


class ChainHead(BaseModel):
    """The last record the read model holds for a project: its seq and its hash.

    The projection returns it and the workflow sends it back with the next projection,
    so that the records can be sealed onto it without reading it from the database."""

    seq: int
    hash: str
    # The read model held records before this projection's that the workflow does not
    # (a projection from a workflow task that was never committed, a reset, an edit):
    # the workflow then sends its whole log, and the read model is rebuilt from it.
    resend: bool = False


class Projection(BaseModel):
    """The workflow's state, for the read model to be made equal to it.

    Not a delta to apply: the records `head.seq + 1 …` and the view are what the read
    model must hold after this projection, whatever it held before; records it holds
    beyond them, or that differ, were never committed and are replaced."""

    view: ReadModelView
    records: list[DecisionRecord]  # from head.seq + 1 to the end of the log
    # The record before `records`, as the workflow's last projection left it; None only
    # in workflows started before the head was sent (the projection then reads it).
    head: ChainHead | None = None
    # Which projection of the workflow this is (1, 2, …). A projection never undoes a
    # later one of the same run; two with the same number (one from a workflow task that
    # was never committed, one from the committed retry) make the read model equal to
    # whichever comes last, and the committed one is retried until it has. None: sent
    # by a workflow started before projections were numbered.
    number: int | None = None
    run_id: str | None = None
    # The applicant's content, when it changed (or the whole log is re-sent).
    content: ProjectContent | None = None
    # Whether the places and the city's quota row must be set to what the view implies.
    places: bool = True


# Activity names, shared by the workflow (caller) and the worker (implementations).
PUBLICITY_PERIOD = "publicity_period"
WORKING_DAYS_AFTER = "working_days_after"
NOTIFY = "notify"
CHECK_SUBMISSION = "check_submission"
CHECK_STANDING = "check_standing"
RESERVE_RECOMMENDATION = "reserve_recommendation"
PROJECT_STATE = "project_state"
