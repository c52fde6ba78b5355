"""Activities that touch the programme database: the submission checks with their place
claims (R1-R7), the city's quota (R8), and the read-model projection.

They are synchronous (SQLAlchemy Core on a pooled connection) and run in the worker's
thread pool. A refusal is a normal result (`Refusal`), not an error: the workflow turns it
into the update's refusal. Errors (the database down) are retried by Temporal.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.batch import workflow_id_for
from domain.messages import (
    CHECK_STANDING,
    CHECK_SUBMISSION,
    PROJECT_STATE,
    RESERVE_RECOMMENDATION,
    ChainHead,
    Projection,
    RecommendationRequest,
)
from domain.refusals import Refusal
from services.limits import check_project_standing, check_submission, reserve_recommendation
from services.projection import apply_projection, one_statement, project_chained


class ProgrammeActivities:
    def __init__(self, db: sessionmaker[Session]) -> None:
        # Core on the sessionmaker's engine: the worker wires one pool for all activities.
        self.engine: Engine = db.kw["bind"]
        # The same pool, each checkout in autocommit: a one-statement projection needs no
        # BEGIN and COMMIT round trips around it.
        self.autocommit: Engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def _log(self, project_id: str) -> structlog.typing.FilteringBoundLogger:
        info = activity.info()
        log: structlog.typing.FilteringBoundLogger = structlog.get_logger().bind(
            workflow_id=info.workflow_id, project_id=project_id, attempt=info.attempt)
        return log

    def _own(self, project_id: str) -> None:
        """These activities act for one project, and only its own workflow
        (`project-<id>`) runs them. A ProjectWorkflow started by hand (the Temporal UI or
        CLI) under another id, with a real project's input copied from its history, would
        otherwise write that project's read model: its first projection (a timer, or the
        signal `reproject`, which needs no seal) replaced the project's stage and removed
        its decision records, while the project's own workflow went on."""
        caller = activity.info().workflow_id
        if caller != workflow_id_for(project_id):
            self._log(project_id).error("activity.not_the_projects_workflow", caller=caller)
            raise ApplicationError(
                f"workflow {caller} is not project {project_id}'s workflow "
                f"({workflow_id_for(project_id)}); nothing written",
                type="NotTheProjectsWorkflow", non_retryable=True)

    def _checked(self, check: Callable[[Connection], Refusal | None]) -> Refusal | None:
        """Run a check in its own transaction: committed (its claims) when it passes,
        rolled back when it refuses."""
        with self.engine.connect() as conn:
            problem = check(conn)
            if problem is None:
                conn.commit()
            else:
                conn.rollback()
        return problem

    @activity.defn(name=CHECK_SUBMISSION)
    def check_submission(self, project_id: str) -> Refusal | None:
        self._own(project_id)
        problem = self._checked(lambda conn: check_submission(conn, project_id))
        self._log(project_id).info("submission.checked",
                                   refused=problem.rule if problem else None)
        return problem

    @activity.defn(name=RESERVE_RECOMMENDATION)
    def reserve_recommendation(self, req: RecommendationRequest) -> Refusal | None:
        self._own(req.project_id)
        problem = self._checked(
            lambda conn: reserve_recommendation(conn, req.project_id, req.rank))
        self._log(req.project_id).info("recommendation.reserved", rank=req.rank,
                                       refused=problem.rule if problem else None)
        return problem

    @activity.defn(name=CHECK_STANDING)
    def check_standing(self, project_id: str) -> Refusal | None:
        self._own(project_id)
        problem = self._checked(lambda conn: check_project_standing(conn, project_id))
        self._log(project_id).info("standing.checked", refused=problem.rule if problem else None)
        return problem

    @activity.defn(name=PROJECT_STATE)
    def project_state(self, projection: Projection) -> ChainHead | int:
        """Make the read model equal to the workflow's state (`services.projection`).

        A local activity: it may run inside a workflow task that is never committed, so
        what it writes may be for a history that never was; the committed projection at
        the same point replaces it. Returns the read model's head, which the workflow
        sends with its next projection: most projections are then one statement. (Always
        a ChainHead now; histories recorded before the projection returned its head hold a
        count, and the workflow reads this annotation when it replays them.)"""
        self._own(projection.view.project_id)
        head = None
        if one_statement(self.engine.dialect.name, projection):
            with self.autocommit.connect() as conn:
                head = project_chained(conn, projection)
        log = self._log(projection.view.project_id)
        if head is None:
            with self.engine.begin() as conn:
                written = apply_projection(conn, projection)
            head = written.head
            if written.removed:
                log.warning("projection.repaired", replaced_seqs=written.removed,
                            inserted_seqs=written.inserted, number=projection.number)
            elif head.resend:
                log.warning("projection.diverged", head_seq=head.seq, number=projection.number)
        log.debug("projection.written", stage=projection.view.stage.value, head_seq=head.seq,
                  number=projection.number)
        return head

    def all(self) -> list[Callable[..., object]]:
        return [self.check_submission, self.reserve_recommendation, self.check_standing,
                self.project_state]
