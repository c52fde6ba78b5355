"""Operators and auditors, on the real (time-skipping) dev server and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections import Counter
from datetime import datetime

import httpx

from api.app import create_app
from api.state import AppState
from audit.archive import archive_one, load_history
from domain.clock import SHANGHAI
from domain.roles import Role
from services.operator import stage_counts
from tests import support
from tests.api_support import SETTINGS, Caller, token
from tests.driver import Harness, next_close
from tests.test_projection import complete_2026
from workflows.project import ProjectWorkflow


async def test_an_archived_project_keeps_its_timeline_replay_proof_and_verification(
    ts: Harness, dev: Harness, tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """The project lives on one Temporal server and is archived; the auditors then read it
    through another server that does not hold it, as after the namespace's retention.
    (Deleting the execution was tried first: the dev server 1.32 accepts the delete but
    still serves the workflow afterwards, so it could not stand for retention here.)"""
    d = await ts.start("2026")
    await complete_2026(d)
    pid, wid = d.project.project_id, d.handle.id
    live = await load_history(ts.env.client, ts.db, pid)
    assert live is not None and live[1] == "temporal"
    assert await archive_one(ts.env.client, ts.db, wid)  # closed: a final archive

    elsewhere = dev.env.client  # a Temporal server without this workflow
    found = await load_history(elsewhere, ts.db, pid)
    assert found is not None and found[1] == "archive"
    assert list(found[0].events) == list(live[0].events)  # the same events, proto by proto
    cfg = SETTINGS.model_copy(update={"storage_dir": tmp_path})
    app = create_app(AppState(client=elsewhere, db=ts.db, settings=cfg, task_queue=dev.queue))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        auditor = Caller(http, token("auditor", "aud-archive"))
        entries = (await auditor.get(f"/audit/projects/{pid}/timeline")).json()
        assert [e["action"] for e in entries if e["kind"] == "decision"] == [
            sent.action for sent, _ in d.sent]
        proof = (await auditor.get(f"/audit/projects/{pid}/replay")).json()
        assert proof["replays"] and proof["stages"][-1] == "completed", proof
        verification = (await auditor.get(f"/audit/projects/{pid}/verify")).json()
        assert verification["chain_intact"] and verification["matches_history"]
        r = await auditor.get(f"/audit/projects/{pid}/audit-file")
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            assert set(z.namelist()) == {"history.json", "timeline.json", "replay-proof.json",
                                         "verification.json"}
            assert json.loads(z.read("replay-proof.json"))["replays"]
        operator = Caller(http, token("operator", "op-archive"))
        raw = await operator.get(f"/operator/projects/{pid}/history")
        assert raw.status_code == 200 and len(raw.json()["events"]) == len(live[0].events)


async def test_operator_stage_counts_agree_with_the_workflows_after_a_batch_run(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    b = support.batch("2026", next_close(datetime.now(SHANGHAI)))
    drives = [await ts.start(batch=b) for _ in range(6)]
    await drives[0].do("submit")
    await drives[1].do("submit")
    await drives[1].do("county_approve")
    await drives[2].do("submit")
    await drives[2].do("withdraw", reason="不再申报")
    await drives[3].to_recommended()
    truth = Counter()
    for d in drives:
        view = await d.handle.query(ProjectWorkflow.view)
        truth[(b.batch_id, view.city_code, view.stage.value)] += 1
    counts = {}
    for _ in range(100):  # visibility is eventually consistent
        counts = {(c.batch, c.city, c.stage): c.count for c in
                  await stage_counts(ts.env.client, b.batch_id)}
        if counts == dict(truth):
            break
        await asyncio.sleep(0.1)
    assert counts == dict(truth)
    r = await Caller(http, token("operator", "op-1")).get("/operator/stages",
                                                          params={"batch_id": b.batch_id})
    assert {(x["batch"], x["city"], x["stage"]): x["count"] for x in r.json()} == dict(truth)
    r = await Caller(http, token("operator", "op-1")).get("/operator/deadlines",
                                                          params={"hours": 24 * 30,
                                                                  "batch_id": b.batch_id})
    rows = r.json()
    assert {x["workflow_id"] for x in rows} <= {d.handle.id for d in drives}
    assert all(not x["missed"] for x in rows)
    waiting = {x["workflow_id"]: x["waiting_on"] for x in rows}
    assert waiting.get(drives[0].handle.id) == ["county"]
    assert Role.OPERATOR.value not in str(waiting)


async def test_stuck_work_is_reported_with_its_error(ts: Harness) -> None:
    from temporalio.worker import Worker

    from services.operator import stuck
    from services.projects import start_project
    from tests.changed_workflow import BrokenProjectWorkflow
    from workflows import sandbox

    b = support.batch("2026", next_close(datetime.now(SHANGHAI)))
    project = support.project(b)
    async with Worker(ts.env.client, task_queue="broken-deploy",
                      workflows=[BrokenProjectWorkflow], workflow_runner=sandbox.runner()):
        handle = await start_project(ts.env.client, project, "broken-deploy")
        found = []
        for _ in range(100):
            found = [s for s in await stuck(ts.env.client) if s.workflow_id == handle.id]
            if found:
                break
            await asyncio.sleep(0.2)
    await handle.terminate("test over")
    assert found and found[0].kind == "workflow_task" and found[0].attempt >= 2
    assert "a bug in this deployment" in found[0].error


async def test_read_model_check_reports_differences(ts: Harness) -> None:
    from sqlalchemy import update

    from models import Project
    from services.operator import compare_read_model

    b = support.batch("2026", next_close(datetime.now(SHANGHAI)))
    drives = [await ts.start(batch=b) for _ in range(3)]
    await drives[0].do("submit")
    await drives[1].do("submit")
    await drives[1].do("county_approve")
    diffs = []
    for _ in range(100):  # projections run right after each decision
        diffs = await compare_read_model(ts.env.client, ts.db, b.batch_id)
        if not diffs:
            break
        await asyncio.sleep(0.1)
    assert diffs == []
    with ts.db.begin() as s:
        s.execute(update(Project).where(Project.id == drives[2].project.project_id)
                  .values(stage="completed"))
    diffs = await compare_read_model(ts.env.client, ts.db, b.batch_id)
    assert [(d.project_id, d.workflow_stage, d.read_model_stage) for d in diffs] == [
        (drives[2].project.project_id, "draft", "completed")]


async def test_overdue_process_archives_are_listed(ts: Harness, http: httpx.AsyncClient) -> None:
    from datetime import timedelta

    from services.operator import archives_overdue

    b = support.batch("2026", next_close(datetime.now(SHANGHAI)))
    other = support.batch("2026", b.close_at)  # one rank-1 recommendation per city (R8)
    late, punctual = await ts.start(batch=b), await ts.start(batch=other)
    for d in (late, punctual):
        await d.to_implementation()
    await punctual.do("submit_archive", title="第一期", evidence=["c" * 64])
    for d in (late, punctual):
        start = (await d.view()).implementation_started_at
        assert start is not None
        await d.advance_to(start + timedelta(days=91))
    rows = []
    for _ in range(50):
        rows = await archives_overdue(ts.env.client, b.batch_id)
        if rows:
            break
        await asyncio.sleep(0.1)
    assert [(r.workflow_id, r.overdue_periods) for r in rows] == [(late.handle.id, [1])]
    assert await archives_overdue(ts.env.client, other.batch_id) == []
    r = await Caller(http, token("operator", "op-arch")).get(
        "/operator/archives-overdue", params={"batch_id": b.batch_id})
    assert [x["workflow_id"] for x in r.json()] == [late.handle.id]
