"""The system's own upkeep, run by `workflows.upkeep.UpkeepWorkflow` on Temporal Schedules
(`services.schedules`): the history archive sweep, the read model's check and repair,
and the scans for missed deadlines and stuck workflows.

The activities are methods of one class whose dependencies (the Temporal client and the
database's sessionmaker) are given when the worker is built, as in temporalio's
`hello_activity_method` sample. They are asynchronous (they await Temporal) and run on the
worker's event loop; each heartbeats while it works, so a worker that dies mid-sweep is
noticed within the heartbeat timeout and the sweep retried elsewhere.

What an activity returns goes into the upkeep workflow's history: counts and at most
`SAMPLE` ids, never the rows. What they found is logged with structlog: the escalation
for a missed deadline or a stuck workflow is a `warning` / `error` log line per project
(`upkeep.deadline_missed`, `upkeep.stuck`) that the log pipeline alerts on, not a
notification to the project's officials.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client

from audit.archive import sweep
from services.operator import compare_read_model, deadlines, stuck
from services.outside import find, mark
from services.reprojection import reproject

# Ids kept in a result (and so in the history): enough to start looking, never all.
SAMPLE = 10
# Log lines per run for findings; the rest are counted in one line.
LOG_LIMIT = 200
# A deadline passed this long ago without its timer having moved the project on is
# missed; a shorter wait would report timers that are firing at this very moment.
DEADLINE_GRACE = timedelta(minutes=5)
HEARTBEAT_EVERY = 10.0  # seconds
# How long the stuck scan reports a project whose workflow Temporal closed (terminated…).
CLOSED_ALERT = timedelta(days=1)


class UpkeepJob(StrEnum):
    ARCHIVE = "archive"
    READ_MODEL = "read_model"
    DEADLINES = "deadlines"
    STUCK = "stuck"


class UpkeepReport(BaseModel):
    """What one upkeep run did: counts by name, and a few of the ids concerned."""

    job: UpkeepJob
    counts: dict[str, int]
    sample: list[str] = []


def _log() -> Any:
    info = activity.info()
    return structlog.get_logger().bind(upkeep_workflow_id=info.workflow_id,
                                       activity=info.activity_type, attempt=info.attempt)


@asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat every HEARTBEAT_EVERY seconds while the body runs (the sweeps themselves
    know nothing of activities)."""
    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


class UpkeepActivities:
    def __init__(self, client: Client, db: sessionmaker[Session]) -> None:
        self.client = client
        self.db = db

    def all(self) -> list[Callable[..., Any]]:
        return [self.archive, self.repair_read_model, self.scan_deadlines, self.scan_stuck]

    @activity.defn(name="upkeep_archive")
    async def archive(self) -> UpkeepReport:
        """`audit.archive.sweep`: closed projects' histories archived once (final), open
        projects' snapshots refreshed when older than 30 days."""
        async with _heartbeating():
            report = await sweep(self.client, self.db)
        _log().info("upkeep.archived", closed_archived=report.closed_archived,
                    open_snapshots=report.open_snapshots,
                    already_archived=report.already_archived)
        return UpkeepReport(job=UpkeepJob.ARCHIVE, counts=report.model_dump())

    @activity.defn(name="upkeep_read_model")
    async def repair_read_model(self) -> UpkeepReport:
        """`services.operator.compare_read_model`, then `services.reprojection.reproject`
        for each project that differs: the read model made equal to the committed history
        (after a reset, a restored database, an uncommitted projection). A projection
        still in flight shows as a difference too; reprojecting it is harmless (the
        workflow's own projection lands on the same state). A project whose workflow
        Temporal closed outside the programme (terminated, …) is marked so in the read
        model (services.outside), once, with a warning line `project.closed_outside`."""
        log = _log()
        async with _heartbeating():
            differences = await compare_read_model(self.client, self.db)
            repaired: list[str] = []
            failed: list[str] = []
            not_ok: list[str] = []
            marked: list[str] = []
            for diff in differences:
                if diff.only_closed:
                    if not diff.marked:
                        closed = await find(self.client, f"project-{diff.project_id}")
                        if closed is not None and await asyncio.to_thread(
                                mark, self.db, diff.project_id, closed):
                            marked.append(diff.project_id)
                    continue
                try:
                    result = await reproject(client=self.client, db=self.db,
                                             project_id=diff.project_id)
                except Exception as exc:  # one project's failure must not stop the others
                    failed.append(diff.project_id)
                    log.error("upkeep.reproject_failed", project_id=diff.project_id,
                              error=f"{type(exc).__name__}: {exc}"[:300])
                    continue
                if result.repaired:
                    repaired.append(diff.project_id)
                if not result.ok_after:
                    not_ok.append(diff.project_id)
        closed_outside = sum(d.only_closed for d in differences)
        say = log.warning if repaired or failed or not_ok or marked else log.info
        say("upkeep.read_model",
            differences=len(differences), repaired=len(repaired), failed=len(failed),
            still_differs=len(not_ok), repaired_ids=repaired[:SAMPLE],
            closed_outside=closed_outside, marked_ids=marked[:SAMPLE])
        return UpkeepReport(
            job=UpkeepJob.READ_MODEL,
            counts={"differences": len(differences), "repaired": len(repaired),
                    "unchanged": len(differences) - len(repaired) - len(failed)
                    - closed_outside,
                    "failed": len(failed), "still_differs": len(not_ok),
                    "closed_outside": closed_outside, "marked": len(marked)},
            sample=(failed + not_ok + repaired + marked)[:SAMPLE])

    @activity.defn(name="upkeep_deadlines")
    async def scan_deadlines(self) -> UpkeepReport:
        """Open projects whose next deadline passed more than DEADLINE_GRACE ago: their
        timer should have fired and moved them on (`services.operator.deadlines`)."""
        log = _log()
        now = datetime.now(UTC)
        async with _heartbeating():
            rows = [r for r in await deadlines(self.client, -DEADLINE_GRACE, now=now)
                    if r.missed]
        for row in rows[:LOG_LIMIT]:
            log.warning("upkeep.deadline_missed", workflow_id=row.workflow_id, stage=row.stage,
                        waiting_on=row.waiting_on, next_deadline=row.next_deadline.isoformat(),
                        overdue_minutes=int((now - row.next_deadline).total_seconds() // 60))
        if len(rows) > LOG_LIMIT:
            log.warning("upkeep.deadline_missed_more", more=len(rows) - LOG_LIMIT)
        log.info("upkeep.deadlines_scanned", missed=len(rows))
        return UpkeepReport(job=UpkeepJob.DEADLINES, counts={"missed": len(rows)},
                            sample=[r.workflow_id for r in rows[:SAMPLE]])

    @activity.defn(name="upkeep_stuck")
    async def scan_stuck(self) -> UpkeepReport:
        """Open projects whose workflow task keeps failing (a bug, non-determinism) or
        whose activities keep retrying (`services.operator.stuck`)."""
        log = _log()
        async with _heartbeating():
            # Projects Temporal closed outside the programme: alerted for a day after.
            rows = await stuck(self.client, closed_within=CLOSED_ALERT)
        for row in rows[:LOG_LIMIT]:
            log.error("upkeep.stuck", workflow_id=row.workflow_id, kind=row.kind,
                      attempt=row.attempt, what=row.what, error=row.error[:300])
        if len(rows) > LOG_LIMIT:
            log.error("upkeep.stuck_more", more=len(rows) - LOG_LIMIT)
        log.info("upkeep.stuck_scanned", stuck=len(rows))
        kinds = {"workflow_task": 0, "activity": 0}
        for row in rows:
            kinds[row.kind] = kinds.get(row.kind, 0) + 1
        return UpkeepReport(job=UpkeepJob.STUCK, counts=kinds,
                            sample=list(dict.fromkeys(r.workflow_id for r in rows))[:SAMPLE])
