"""The upkeep schedules (services/schedules.py) on a real Temporal dev server: created once
and idempotently, each run by triggering its schedule and doing its work through the
worker (archive sweep, read-model repair, missed-deadline and stuck scans); and an
archived closed project still audited after its execution is deleted from Temporal.

The module has a dev server of its own (its schedules, and deletions it can wait for)
and a database of its own (the read-model job walks every project in it). A deleted
execution is removed only once the server has acknowledged the close task, every 30 s by
default: 1 s here, so a deletion completes in a few seconds."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    WorkflowExecutionStatus,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.notify import MemorySink
from activities.upkeep import UpkeepJob, UpkeepReport
from api.app import create_app
from api.state import AppState
from audit.archive import load_history
from domain import search_attributes as sa
from domain.stages import Stage
from models import DecisionRow, HistoryArchive, Project
from runtime.db import scratch_database, sessions
from runtime.temporal import temporal_cli
from services.operator import stuck
from services.projects import initial_search_attributes, start_project
from services.reprojection import verify_history
from services.schedules import OVERLAP, PREFIX, ensure_schedules, schedule_id
from tests import support
from tests.api_support import SETTINGS, Caller, token
from tests.changed_workflow import BrokenProjectWorkflow
from tests.driver import Drive, Harness
from tests.test_record_is_truth import add_phantom, settled
from worker import build_worker
from workflows import sandbox

QUEUE = "upkeep-projects"
FAST_DELETE = ["--dynamic-config-value", 'history.transferProcessorUpdateAckInterval="1s"']
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(), search_attributes=sa.ALL,
        data_converter=pydantic_data_converter, dev_server_extra_args=FAST_DELETE)
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
def updb() -> Iterator[sessionmaker[Session]]:
    with scratch_database("gongfu_upkeep") as url:
        engine = create_engine(url, pool_size=20)
        yield sessions(engine)
        engine.dispose()


@pytest.fixture(scope="module")
async def harness(env: WorkflowEnvironment,
                  updb: sessionmaker[Session]) -> AsyncIterator[Harness]:
    async with build_worker(env.client, QUEUE, db=updb, sink=MemorySink()):
        yield Harness(env, updb, QUEUE)


@pytest.fixture(scope="module")
async def created(harness: Harness) -> list[str]:
    """The schedules as the system creates them at start; then paused, so that in these
    tests a job runs only when a test triggers it (a trigger runs a paused schedule)."""
    client = harness.env.client
    ids = await ensure_schedules(client, QUEUE, SETTINGS)
    for sid in ids:
        await client.get_schedule_handle(sid).pause(note="paused by tests/test_upkeep.py")
    return ids


async def run_now(client: Client, job: UpkeepJob) -> UpkeepReport:
    """Trigger the job's schedule and wait for the workflow it starts; its report."""
    handle = client.get_schedule_handle(schedule_id(job))

    def runs(desc) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
        return {(a.action.workflow_id, a.action.first_execution_run_id)  # type: ignore[attr-defined]
                for a in desc.info.recent_actions}

    before = runs(await handle.describe())
    await handle.trigger()
    for _ in range(200):
        new = runs(await handle.describe()) - before
        if new:
            (wid, run_id), = new
            assert wid.startswith(schedule_id(job) + "-")  # the schedule's id and the time
            run = client.get_workflow_handle(wid, run_id=run_id, result_type=UpkeepReport)
            report = await asyncio.wait_for(run.result(), 60)
            assert report.job is job
            return report  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} started nothing")


async def closed_project(h: Harness) -> Drive:
    """A project that ended (withdrawn from its draft): its workflow is closed."""
    d = await h.start("2026")
    await d.do("withdraw", reason="不再申报")
    end = await d.result()
    assert end.stage is Stage.WITHDRAWN
    return d


async def test_the_schedules_are_created_once_with_their_intervals_and_overlap_policy(
        harness: Harness, created: list[str]) -> None:
    client = harness.env.client
    minutes = {UpkeepJob.ARCHIVE: 24 * 60, UpkeepJob.READ_MODEL: 60,
               UpkeepJob.DEADLINES: 15, UpkeepJob.STUCK: 15}
    assert created == [schedule_id(job) for job in UpkeepJob] == [
        "gongfu-upkeep-archive", "gongfu-upkeep-read-model", "gongfu-upkeep-deadlines",
        "gongfu-upkeep-stuck"]
    for job in UpkeepJob:
        desc = await client.get_schedule_handle(schedule_id(job)).describe()
        (interval,) = desc.schedule.spec.intervals
        assert interval.every == timedelta(minutes=minutes[job])
        assert timedelta(0) <= (interval.offset or timedelta(0)) < interval.every
        assert desc.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP is OVERLAP
        assert desc.schedule.policy.catchup_window == interval.every
        assert not desc.schedule.policy.pause_on_failure
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("UpkeepWorkflow", QUEUE)
        assert await client.data_converter.decode(list(action.args)) == [job.value]
        memo = await desc.memo()  # what the UI shows beside the schedule, in both languages
        assert memo["what_zh"] and memo["what_en"] and "services/schedules.py" in memo[
            "managed_by"]
    daily = (await client.get_schedule_handle("gongfu-upkeep-archive").describe()).info
    assert all(t.astimezone(UTC).strftime("%H:%M") == "18:30"  # 02:30 in Shandong
               for t in daily.next_action_times)

    # Idempotent: the second start changes nothing, and there are still four.
    assert await ensure_schedules(client, QUEUE, SETTINGS) == []
    listed = [s.id async for s in await client.list_schedules()]
    assert sorted(s for s in listed if s.startswith(PREFIX)) == sorted(created)

    # A changed setting updates that one schedule in place; the operator's pause stays.
    slower = SETTINGS.model_copy(update={"upkeep_stuck_minutes": 30})
    assert await ensure_schedules(client, QUEUE, slower) == ["gongfu-upkeep-stuck"]
    desc = await client.get_schedule_handle("gongfu-upkeep-stuck").describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(minutes=30)
    assert desc.schedule.state.paused and desc.schedule.state.note == (
        "paused by tests/test_upkeep.py")
    assert await ensure_schedules(client, QUEUE, slower) == []
    assert await ensure_schedules(client, QUEUE, SETTINGS) == ["gongfu-upkeep-stuck"]


async def test_gongfu_ops_schedules_applies_and_lists_them(
        harness: Harness, created: list[str]) -> None:
    """The production one-shot's command, against this server: nothing to change, four
    schedules listed, the paused ones still paused."""
    env = os.environ | {
        "GONGFU_TEMPORAL_ADDRESS": harness.env.client.service_client.config.target_host,
        "GONGFU_TEMPORAL_NAMESPACE": harness.env.client.namespace,
        "GONGFU_TASK_QUEUE": QUEUE, "GONGFU_LOG_LEVEL": "warning"}
    proc = await asyncio.to_thread(
        subprocess.run, [str(Path(sys.executable).parent / "gongfu"), "ops", "schedules",
                         "--json"], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["schedule_id"] for r in rows] == created
    assert all(r["overlap"] == "SKIP" and r["paused"] for r in rows)


async def test_the_archive_schedule_archives_a_closed_project(
        harness: Harness, created: list[str]) -> None:
    d = await closed_project(harness)
    report = await run_now(harness.env.client, UpkeepJob.ARCHIVE)
    assert report.counts["closed_archived"] >= 1
    with harness.db() as s:
        row = s.get(HistoryArchive, d.handle.id)
        assert row is not None and row.closed and row.events > 0
    again = await run_now(harness.env.client, UpkeepJob.ARCHIVE)
    assert again.counts["closed_archived"] == 0 and again.counts["already_archived"] >= 1


async def test_the_read_model_schedule_removes_a_phantom_decision(
        harness: Harness, created: list[str]) -> None:
    """What an uncommitted projection leaves (a record the history does not hold, the row
    moved to its stage) is found and rebuilt from the history by the scheduled run,
    without anyone running `gongfu ops reproject`."""
    d = await harness.start("2026")
    await d.do("submit")
    await d.do("county_approve")
    n = await settled(d, harness.db)
    pid = d.project.project_id
    add_phantom(harness.db, pid, n + 1, "withdraw", Stage.WITHDRAWN)

    report = await run_now(harness.env.client, UpkeepJob.READ_MODEL)
    assert report.counts["repaired"] >= 1 and report.counts["failed"] == 0
    assert report.counts["still_differs"] == 0 and pid in report.sample
    with harness.db() as s:
        row = s.get(Project, pid)
        assert row is not None and (row.stage, row.projected_seq) == ("city_review", n)
        assert s.scalars(select(DecisionRow.seq).where(DecisionRow.project_id == pid)
                         .order_by(DecisionRow.seq)).all() == list(range(1, n + 1))
    v = await verify_history(db=harness.db, project_id=pid, history=await d.handle.fetch_history())
    assert v.ok and v.matches_history

    again = await run_now(harness.env.client, UpkeepJob.READ_MODEL)
    assert again.counts["differences"] == 0  # converged: nothing left to repair


async def _gone(client: Client, workflow_id: str) -> None:
    """Wait until Temporal no longer knows the execution (deletion is asynchronous)."""
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(300):
        try:
            await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return
            raise
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} was not deleted within 30 s")


async def test_an_archived_closed_project_is_audited_after_temporal_deleted_it(
        harness: Harness, created: list[str], tmp_path: Path) -> None:
    """What the namespace's retention will do to every closed project: its execution is
    deleted from Temporal. The scheduled archive ran before, so the auditors still get its
    timeline, replay proof and verification, now from the archive."""
    client = harness.env.client
    d = await closed_project(harness)
    pid, wid = d.project.project_id, d.handle.id
    live = await load_history(client, harness.db, pid)
    assert live is not None and live[1] == "temporal"
    await run_now(client, UpkeepJob.ARCHIVE)

    assert (await d.handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    await client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
        namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=wid)))
    await _gone(client, wid)
    with pytest.raises(RPCError) as gone:
        await d.handle.fetch_history()
    assert gone.value.status == RPCStatusCode.NOT_FOUND
    found = await load_history(client, harness.db, pid)
    assert found is not None and found[1] == "archive"
    assert list(found[0].events) == list(live[0].events)

    cfg = SETTINGS.model_copy(update={"storage_dir": tmp_path})
    app = create_app(AppState(client=client, db=harness.db, settings=cfg, task_queue=QUEUE))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        auditor = Caller(http, token("auditor", "aud-upkeep"))
        r = await auditor.get(f"/audit/projects/{pid}/timeline")
        assert r.status_code == 200, r.text
        assert [e["action"] for e in r.json() if e["kind"] == "decision"] == ["withdraw"]
        r = await auditor.get(f"/audit/projects/{pid}/replay")
        assert r.status_code == 200, r.text
        assert r.json()["replays"] and r.json()["stages"][-1] == "withdrawn", r.json()
        r = await auditor.get(f"/audit/projects/{pid}/verify")
        assert r.status_code == 200, r.text
        assert r.json()["chain_intact"] and r.json()["matches_history"], r.json()

    # The upkeep goes on around the deleted execution: the archive keeps its final row,
    # the read-model check leaves to `audit verify` what Temporal no longer holds.
    await run_now(client, UpkeepJob.ARCHIVE)
    with harness.db() as s:
        row = s.get(HistoryArchive, wid)
        assert row is not None and row.closed
    report = await run_now(client, UpkeepJob.READ_MODEL)
    assert report.counts["failed"] == 0 and pid not in report.sample


async def test_the_scans_report_a_missed_deadline_and_a_stuck_workflow(
        harness: Harness, created: list[str]) -> None:
    client = harness.env.client
    b = support.batch("2026", datetime.now(UTC) + timedelta(days=3))
    # A project whose deadline passed an hour ago with no worker to fire its timer.
    late = support.project(b)
    past = datetime.now(UTC) - timedelta(hours=1)
    late_handle = await client.start_workflow(
        "ProjectWorkflow", late, id=f"project-{late.project_id}", task_queue="upkeep-nobody",
        search_attributes=TypedSearchAttributes([*initial_search_attributes(late),
                                                 SearchAttributePair(sa.NEXT_DEADLINE, past)]))
    # A project whose every workflow task fails (a bug in a deployment).
    broken = support.project(b)
    async with Worker(client, task_queue="upkeep-broken", workflows=[BrokenProjectWorkflow],
                      workflow_runner=sandbox.runner()):
        broken_handle = await start_project(client, broken, "upkeep-broken")
        try:
            for _ in range(200):  # the second attempt of its task, and visibility
                if any(s.workflow_id == broken_handle.id for s in await stuck(client)):
                    break
                await asyncio.sleep(0.1)
            with structlog.testing.capture_logs() as logs:
                deadlines = await run_now(client, UpkeepJob.DEADLINES)
                stuck_report = await run_now(client, UpkeepJob.STUCK)
        finally:
            await broken_handle.terminate("test over")
            await late_handle.terminate("test over")
    assert deadlines.counts["missed"] == 1 and deadlines.sample == [late_handle.id]
    assert stuck_report.counts["workflow_task"] == 1
    assert stuck_report.sample == [broken_handle.id]
    found = {(e["event"], e.get("workflow_id")) for e in logs}
    assert ("upkeep.deadline_missed", late_handle.id) in found
    assert ("upkeep.stuck", broken_handle.id) in found
    error = next(e for e in logs if e["event"] == "upkeep.stuck")
    assert error["log_level"] == "error" and "a bug in this deployment" in error["error"]


async def test_the_read_model_schedule_marks_a_terminated_project(
        harness: Harness, created: list[str]) -> None:
    """Termination cannot be intercepted: the scheduled read-model run finds the project
    whose workflow Temporal terminated and marks its read model (end_rule WF_TERMINATED,
    nobody waiting, no next deadline), once, with a warning line."""
    d = await harness.start("2026")
    await d.do("submit")
    n = await settled(d, harness.db)
    pid = d.project.project_id
    await d.handle.terminate(reason="operator: terminated by hand")
    with structlog.testing.capture_logs() as logs:
        report = await run_now(harness.env.client, UpkeepJob.READ_MODEL)
    assert report.counts["marked"] == 1 and report.counts["failed"] == 0
    assert pid in report.sample
    with harness.db() as s:
        row = s.get(Project, pid)
        assert row is not None and row.end_rule == "WF_TERMINATED"
        assert (row.stage, row.projected_seq) == ("county_review", n)
        assert row.waiting_on == [] and row.next_deadline is None
    marked = [e for e in logs if e["event"] == "project.closed_outside"]
    assert marked and marked[0]["log_level"] == "warning"
    assert marked[0]["reason"] == "operator: terminated by hand"
    again = await run_now(harness.env.client, UpkeepJob.READ_MODEL)
    assert again.counts["marked"] == 0 and again.counts["closed_outside"] >= 1
