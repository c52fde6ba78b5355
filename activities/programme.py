"""Activities that touch the programme database: the submission checks with their place
claims (R1-R7), the city's quota (R8), and the read-model projection.

They are synchronous (SQLAlchemy sessions) and run in the worker's thread pool. A
refusal is a normal result (`Refusal`), not an error: the workflow turns it into the
update's refusal. Errors (the database down) are retried by Temporal.
"""

from __future__ import annotations

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from domain.messages import (
    CHECK_SUBMISSION,
    PROJECT_STATE,
    RESERVE_RECOMMENDATION,
    Projection,
    RecommendationRequest,
)
from domain.refusals import Refusal
from services.limits import check_submission, reserve_recommendation
from services.projection import apply_projection


class ProgrammeActivities:
    def __init__(self, db: sessionmaker[Session]) -> None:
        self.db = db
        self.engine: Engine = db.kw["bind"]

    def _log(self, project_id: str) -> structlog.typing.FilteringBoundLogger:
        info = activity.info()
        return structlog.get_logger().bind(
            workflow_id=info.workflow_id, project_id=project_id, attempt=info.attempt)

    @activity.defn(name=CHECK_SUBMISSION)
    def check_submission(self, project_id: str) -> Refusal | None:
        with self.db() as session, session.begin():
            problem = check_submission(session, project_id)
            if problem is not None:
                session.rollback()
        self._log(project_id).info("submission.checked",
                                   refused=problem.rule if problem else None)
        return problem

    @activity.defn(name=RESERVE_RECOMMENDATION)
    def reserve_recommendation(self, req: RecommendationRequest) -> Refusal | None:
        with self.db() as session, session.begin():
            problem = reserve_recommendation(session, req.project_id, req.rank)
            if problem is not None:
                session.rollback()
        self._log(req.project_id).info("recommendation.reserved", rank=req.rank,
                                       refused=problem.rule if problem else None)
        return problem

    @activity.defn(name=PROJECT_STATE)
    def project_state(self, projection: Projection) -> int:
        with self.engine.begin() as conn:
            new = apply_projection(conn, projection)
        self._log(projection.view.project_id).debug(
            "projection.written", stage=projection.view.stage.value, new_records=new)
        return new

    def all(self) -> list[object]:
        return [self.check_submission, self.reserve_recommendation, self.project_state]
