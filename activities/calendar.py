"""The publicity period, computed outside the workflow so its result is in the history."""

from __future__ import annotations

import structlog
from temporalio import activity

from domain.calendar import WorkingDayCalendar
from domain.messages import PUBLICITY_PERIOD, PublicityPeriod, PublicityRequest


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
