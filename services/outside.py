"""Projects whose workflow Temporal closed outside the programme (terminated, canceled,
failed, timed out): found from Temporal, marked in the read model, reported by `ops
read-model`, `ops stuck` and `audit` (domain.outside says what each Temporal action does).

Termination cannot be intercepted by the workflow: it stops where it is, with no last
projection. The read model keeps the last stage the programme knew and says how the
workflow ended in `end_rule` (`WF_TERMINATED`, …), with nobody to wait on and no next
deadline: nothing will move the project any more. Its places and the city's quota row
are left as the stage implies: freeing them is the province's decision, not Temporal's.
"""

from __future__ import annotations

import structlog
from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from audit.history import ClosedOutside, closed_outside
from domain.outside import CLOSED_OUTSIDE
from models import Project
from services import visibility

__all__ = ["CLOSED_STATUSES", "ClosedOutside", "closed_outside", "find", "mark"]

CLOSED_STATUSES = {
    WorkflowExecutionStatus.TERMINATED: "TERMINATED",
    WorkflowExecutionStatus.CANCELED: "CANCELED",
    WorkflowExecutionStatus.FAILED: "FAILED",
    WorkflowExecutionStatus.TIMED_OUT: "TIMED_OUT",
}
# Visibility query for them (the current and former runs alike: `find` keeps the current).
CLOSED_QUERY = visibility.projects(statuses=visibility.CLOSED_BY_TEMPORAL)


async def find(client: Client, workflow_id: str) -> ClosedOutside | None:
    """How the project's current run was closed, if Temporal closed it (None: running,
    completed, or unknown to Temporal). A run replaced by a reset is terminated, but its
    workflow's current run is the new one: not closed."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        desc = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if desc.status not in CLOSED_STATUSES:
        return None
    events = [e async for e in client.get_workflow_handle(
        workflow_id, run_id=desc.run_id).fetch_history_events()]
    return closed_outside(workflow_id, events) or ClosedOutside(
        workflow_id=workflow_id, status=CLOSED_STATUSES[desc.status], closed_at=desc.close_time)


def mark(db: sessionmaker[Session], project_id: str, closed: ClosedOutside) -> bool:
    """Mark the project's read model as closed outside the programme; True if it changed
    (idempotent: a marked project is left alone)."""
    rule = CLOSED_OUTSIDE[closed.status]
    with db.begin() as s:
        changed = s.execute(update(Project).where(  # type: ignore[attr-defined]
            Project.id == project_id,
            or_(Project.end_rule.is_(None), Project.end_rule != rule,
                Project.next_deadline.is_not(None)))
            .values(end_rule=rule, waiting_on=[], next_deadline=None)).rowcount
    if changed:
        structlog.get_logger().warning(
            "project.closed_outside", project_id=project_id, workflow_id=closed.workflow_id,
            status=closed.status, reason=closed.reason[:300], identity=closed.identity,
            closed_at=closed.closed_at.isoformat() if closed.closed_at else None)
    return bool(changed)
