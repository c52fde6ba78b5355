"""What operators ask of the running system, answered from Temporal's visibility (the
search attributes the workflows publish), not from the read model: right even when a
projection lags."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import structlog
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from audit.chain import GENESIS, record_values, seal
from domain import search_attributes as sa
from domain.clock import Instant
from models import DecisionRow, Project
from services import visibility


class StageCount(BaseModel):
    batch: str
    city: str
    stage: str
    count: int


class DeadlineRow(BaseModel):
    workflow_id: str
    stage: str
    waiting_on: list[str]
    next_deadline: Instant
    missed: bool


def _query(batch_id: str | None) -> str:
    return visibility.projects(batch_id=batch_id or None)


async def stage_counts(client: Client, batch_id: str | None = None) -> list[StageCount]:
    counts: Counter[tuple[str, str, str]] = Counter()
    async for wf in client.list_workflows(_query(batch_id)):
        attrs = wf.typed_search_attributes
        counts[(attrs.get(sa.BATCH) or "", attrs.get(sa.CITY) or "",
                attrs.get(sa.STAGE) or "")] += 1
    return [StageCount(batch=b, city=c, stage=s, count=n)
            for (b, c, s), n in sorted(counts.items())]


async def deadlines(client: Client, within: timedelta, batch_id: str | None = None,
                    now: datetime | None = None) -> list[DeadlineRow]:
    """Open projects whose next deadline is within `within`, or already passed (missed:
    the timer should have fired; the workflow may be stuck)."""
    now = now or datetime.now(UTC)
    out = []
    query = visibility.projects(batch_id=batch_id or None, running=True,
                                deadline_before=now + within)
    async for wf in client.list_workflows(query):
        attrs = wf.typed_search_attributes
        due = attrs.get(sa.NEXT_DEADLINE)
        if due is None or wf.status != WorkflowExecutionStatus.RUNNING:
            continue
        out.append(DeadlineRow(workflow_id=wf.id, stage=attrs.get(sa.STAGE) or "",
                               waiting_on=list(attrs.get(sa.WAITING_ON) or []),
                               next_deadline=due, missed=due < now))
    return sorted(out, key=lambda r: r.next_deadline)


class Stuck(BaseModel):
    workflow_id: str
    kind: str  # workflow_task (a bug or non-determinism) | activity (retrying long)
    attempt: int
    what: str
    error: str


async def stuck(client: Client, min_activity_attempts: int = 3,
                closed_within: timedelta | None = None) -> list[Stuck]:
    """Open projects whose workflow task keeps failing, or whose activities keep retrying;
    and projects whose workflow Temporal closed outside the programme (terminated,
    canceled, failed, timed out: kind = that status), as long as Temporal holds them, or
    only those closed within `closed_within`."""
    out: list[Stuck] = []
    from services.outside import CLOSED_QUERY, find

    query = CLOSED_QUERY
    if closed_within is not None:
        since = (datetime.now(UTC) - closed_within).isoformat()
        query += f" AND CloseTime > '{since}'"
    seen: set[str] = set()
    async for wf in client.list_workflows(query):
        if wf.id in seen:
            continue
        seen.add(wf.id)
        closed = await find(client, wf.id)  # the current run: not a run a reset replaced
        if closed is not None:
            out.append(Stuck(workflow_id=wf.id, kind=closed.status.lower(), attempt=0,
                             what="流程已在本计划之外关闭 / workflow closed outside the "
                                  "programme",
                             error=closed.summary()))
    async for wf in client.list_workflows(visibility.projects(running=True)):
        handle = client.get_workflow_handle(wf.id)
        raw = (await handle.describe()).raw_description
        if raw.pending_workflow_task.attempt >= 2:
            error = ""
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    error = event.workflow_task_failed_event_attributes.failure.message
            out.append(Stuck(workflow_id=wf.id, kind="workflow_task",
                             attempt=raw.pending_workflow_task.attempt, what="workflow task",
                             error=error))
        for act in raw.pending_activities:
            if act.attempt >= min_activity_attempts:
                out.append(Stuck(workflow_id=wf.id, kind="activity", attempt=act.attempt,
                                 what=act.activity_type.name,
                                 error=act.last_failure.message))
    return out


class ReadModelDifference(BaseModel):
    project_id: str
    workflow_stage: str | None
    read_model_stage: str
    # By seq: records the workflow holds that the read model lacks (a projection that
    # lags shows here until it lands), and records the read model holds that the workflow
    # does not (never committed, or edited), the hash chain compared.
    missing: list[int] = []
    phantom: list[int] = []
    # The read model was last written by another run of the workflow (a reset).
    other_run: bool = False
    # The workflow was closed by Temporal, not by the programme (terminated, canceled,
    # failed, timed out), and whether the read model says so (end_rule WF_…).
    workflow_status: str | None = None
    marked: bool = False

    @property
    def only_closed(self) -> bool:
        """Nothing differs but the workflow's closing: a mark, not a rebuild, is due."""
        return (self.workflow_status is not None and not (self.missing or self.phantom
                                                          or self.other_run)
                and (self.workflow_stage is None or self.workflow_stage
                     == self.read_model_stage))


async def compare_read_model(client: Client, db: sessionmaker[Session],
                             batch_id: str | None = None,
                             sample: int | None = None) -> list[ReadModelDifference]:
    """Each project's read model (or the first `sample`) against its workflow: the stage
    its workflow publishes, its decision log record by record (sealed as the read model
    seals them), and the run that wrote it. Archived projects, gone from Temporal, are
    checked by `audit verify`. A project whose workflow Temporal closed outside the
    programme (terminated, …) is always listed, with its status and whether the read
    model is marked so."""
    from domain.outside import CLOSED_OUTSIDE
    from services.outside import CLOSED_STATUSES
    from workflows.project import ProjectWorkflow

    with db() as s:
        query = select(Project.id, Project.stage, Project.run_id,
                       Project.end_rule).order_by(Project.id)
        if batch_id:
            query = query.where(Project.batch_id == batch_id)
        if sample:
            query = query.limit(sample)
        rows = list(s.execute(query))
    out = []
    for project_id, stage, run_id, end_rule in rows:
        handle = client.get_workflow_handle(f"project-{project_id}")
        closed: str | None = None
        try:
            desc = await handle.describe()
            closed = CLOSED_STATUSES.get(desc.status)  # type: ignore[arg-type]
            log = await handle.query(ProjectWorkflow.decision_log)
        except RPCError as exc:
            if closed is not None:  # closed, and no worker replays it now: still say so
                out.append(ReadModelDifference(
                    project_id=project_id, workflow_stage=None, read_model_stage=stage,
                    workflow_status=closed.lower(), marked=end_rule == CLOSED_OUTSIDE[closed]))
                continue
            if exc.status != RPCStatusCode.NOT_FOUND:
                # No worker answers the query now (all down, or the project lives on
                # another namespace): not compared this time, said in the log.
                structlog.get_logger().warning("read_model.not_checked",
                                               project_id=project_id, error=str(exc)[:200])
            continue
        with db() as s:
            stored = dict(s.execute(select(DecisionRow.seq, DecisionRow.hash).where(
                DecisionRow.project_id == project_id)).all())
        values = [record_values(project_id, r) for r in log]
        seal(values, GENESIS)
        expected = {v["seq"]: v["hash"] for v in values}
        diff = ReadModelDifference(
            project_id=project_id, workflow_stage=desc.typed_search_attributes.get(sa.STAGE),
            read_model_stage=stage,
            missing=sorted(set(expected) - set(stored)),
            phantom=sorted(seq for seq, h in stored.items() if expected.get(seq) != h),
            other_run=run_id is not None and run_id != desc.run_id,
            workflow_status=closed.lower() if closed else None,
            marked=closed is not None and end_rule == CLOSED_OUTSIDE[closed])
        # Another run alone (a reset, the read model already rebuilt from the new run's
        # history) is no difference: the records and the stage are the new run's.
        if (diff.missing or diff.phantom or closed is not None
                or (diff.workflow_stage is not None and diff.workflow_stage != stage)):
            out.append(diff)
    return out


class ArchiveOverdue(BaseModel):
    workflow_id: str
    project_id: str
    overdue_periods: list[int]
    archives_filed: int


async def archives_overdue(client: Client, batch_id: str | None = None) -> list[ArchiveOverdue]:
    """Projects in implementation with overdue process archives (R15), asked of each
    workflow (the overdue flags are workflow state, not search attributes)."""
    from workflows.project import ProjectWorkflow

    out = []
    query = visibility.projects(batch_id=batch_id or None, running=True,
                                stage="implementation")
    async for wf in client.list_workflows(query):
        view = await client.get_workflow_handle(wf.id).query(ProjectWorkflow.view)
        if view.archives_overdue:
            out.append(ArchiveOverdue(workflow_id=wf.id, project_id=view.project_id,
                                      overdue_periods=view.archives_overdue,
                                      archives_filed=len(view.archives)))
    return out


class CosignOverdue(BaseModel):
    workflow_id: str
    project_id: str
    stage: str
    action: str
    seq: int
    cosigner: str
    decided_at: Instant
    overdue_at: Instant


async def cosigns_overdue(client: Client, batch_id: str | None = None) -> list[CosignOverdue]:
    """Decisions waiting for a finance bureau's co-signature past its working days (R8,
    R17; rules 3), asked of each workflow waiting on a finance bureau."""
    from workflows.project import ProjectWorkflow

    out = []
    query = visibility.projects(batch_id=batch_id or None, running=True,
                                waiting_on=("city_finance", "province_finance"))
    async for wf in client.list_workflows(query):
        view = await client.get_workflow_handle(wf.id).query(ProjectWorkflow.view)
        pending = view.pending_cosign
        if pending is not None and pending.overdue and pending.overdue_at is not None:
            out.append(CosignOverdue(
                workflow_id=wf.id, project_id=view.project_id, stage=view.stage.value,
                action=pending.action, seq=pending.seq, cosigner=pending.cosigner.value,
                decided_at=pending.at, overdue_at=pending.overdue_at))
    return sorted(out, key=lambda r: r.overdue_at)
