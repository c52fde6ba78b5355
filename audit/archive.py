"""The history archive: every project's workflow history copied into PostgreSQL, so that
timeline, replay proof and verification work years later, after Temporal's retention has
deleted the closed history. `sweep` archives closed projects once (final) and refreshes
snapshots of long-open ones; run it periodically (`gongfu archive`)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from audit.replay import CODE_VERSION
from models import HistoryArchive


class SweepReport(BaseModel):
    closed_archived: int
    open_snapshots: int
    already_archived: int


def store(session: Session, history: WorkflowHistory, run_id: str, closed: bool) -> HistoryArchive:
    text = history.to_json()
    data = text.encode()
    row = session.get(HistoryArchive, history.workflow_id)
    if row is None:
        row = HistoryArchive(workflow_id=history.workflow_id)
        session.add(row)
    row.run_id, row.closed = run_id, closed
    row.project_id = history.workflow_id.removeprefix("project-")
    row.events, row.size_bytes = len(history.events), len(data)
    row.sha256 = hashlib.sha256(data).hexdigest()
    row.code_version, row.archived_at, row.history_json = CODE_VERSION, datetime.now(UTC), text
    return row


async def archive_one(client: Client, db: sessionmaker[Session], workflow_id: str) -> bool:
    """Archive one workflow now; returns whether it was closed (a final archive)."""
    handle = client.get_workflow_handle(workflow_id)
    desc = await handle.describe()
    history = await handle.fetch_history()
    closed = desc.status not in (None, WorkflowExecutionStatus.RUNNING)
    with db.begin() as s:
        store(s, history, desc.run_id or "", closed)
    return closed


async def sweep(client: Client, db: sessionmaker[Session],
                snapshot_older_than: timedelta = timedelta(days=30)) -> SweepReport:
    with db() as s:
        final = {row.workflow_id for row in s.query(HistoryArchive).filter(
            HistoryArchive.closed.is_(True))}
        snapshots = {row.workflow_id: row.archived_at for row in s.query(HistoryArchive).filter(
            HistoryArchive.closed.is_(False))}
    closed = opened = skipped = 0
    now = datetime.now(UTC)
    async for wf in client.list_workflows("WorkflowType = 'ProjectWorkflow'"):
        if wf.id in final:
            skipped += 1
            continue
        running = wf.status == WorkflowExecutionStatus.RUNNING
        if running and now - snapshots.get(wf.id, datetime.min.replace(tzinfo=UTC)) < (
                snapshot_older_than):
            continue
        if await archive_one(client, db, wf.id):
            closed += 1
        else:
            opened += 1
    return SweepReport(closed_archived=closed, open_snapshots=opened, already_archived=skipped)


async def load_history(
    client: Client, db: sessionmaker[Session], project_id: str
) -> tuple[WorkflowHistory, str] | None:
    """The project's history from Temporal, or from the archive once Temporal has let it
    go; None if neither has it. The second value says which."""
    workflow_id = f"project-{project_id}"
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        if history.events:
            return history, "temporal"
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    with db() as s:
        row = s.get(HistoryArchive, workflow_id)
        if row is None:
            return None
        return WorkflowHistory.from_json(workflow_id, row.history_json), "archive"
