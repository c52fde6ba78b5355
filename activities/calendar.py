"""Working-day instants (the publicity period, a co-signature's reminder and overdue),
computed outside the workflow so that their results are in the history."""

from __future__ import annotations

import structlog
from temporalio import activity

from domain.calendar import WorkingDayCalendar
from domain.messages import (
    PUBLICITY_PERIOD,
    WORKING_DAYS_AFTER,
    PublicityPeriod,
    PublicityRequest,
    WorkingDaysAnswer,
    WorkingDaysRequest,
)


@activity.defn(name=PUBLICITY_PERIOD)
async def publicity_period(req: PublicityRequest) -> PublicityPeriod:
    period = WorkingDayCalendar(req.adjustments).publicity_period(req.opened_at, req.working_days)
    log = structlog.get_logger().bind(
        workflow_id=activity.info().workflow_id, project_id=req.project_id
    )
    if period.provisional_years:
        # Not an error: the period stands, but an official should confirm it.
        log.warning("publicity.calendar_provisional", years=period.provisional_years)
    log.info("publicity.period", first_day=str(period.first_day), last_day=str(period.last_day),
             ends_at=period.ends_at.isoformat())
    return period


@activity.defn(name=WORKING_DAYS_AFTER)
async def working_days_after(req: WorkingDaysRequest) -> WorkingDaysAnswer:
    answer = WorkingDayCalendar(req.adjustments).after_working_days(req.start, req.working_days)
    if answer.provisional_years:
        structlog.get_logger().bind(
            workflow_id=activity.info().workflow_id, project_id=req.project_id
        ).warning("calendar.provisional", years=answer.provisional_years)
    return answer
