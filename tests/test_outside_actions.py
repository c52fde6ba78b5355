"""What Temporal's own actions do to a project (domain.outside, docs/production.md "What
Temporal's actions do to a project"), on the real time-skipping dev server and
PostgreSQL: a cancel request is recorded and ignored, termination is reported and marked,
a reset's new run becomes the read model, and a deadline change sent by hand is refused
unless the API sealed it and the actor may make it. After each, the read model is
consistent with the workflow (`ops read-model`, `audit verify`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHistory,
    WorkflowUpdateFailedError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from audit.replay import replay_proof
from audit.timeline import timeline
from domain.decisions import Actor, DeadlineChange
from domain.outside import CANCEL_ACTION
from domain.refusals import Refused
from domain.roles import Role
from domain.stages import Stage
from models import DecisionRow, Project
from services import outside
from services.operator import compare_read_model, stuck
from services.projects import change_deadline, decide, handle_for, sealed
from services.reprojection import reproject, verify_history
from tests import support
from tests.driver import Drive, Harness
from tests.test_record_is_truth import settled
from workflows.project import ProjectWorkflow


async def consistent(d: Drive, db) -> None:  # type: ignore[no-untyped-def]
    """The read model holds exactly the workflow's log and stage: `ops read-model` finds
    nothing for the project and `audit verify` agrees with the replayed history."""
    await settled_latest(d, db)
    pid = d.project.project_id
    diffs = [x for x in await compare_read_model(d.client, db, d.project.batch.batch_id)
             if x.project_id == pid]
    assert diffs == []
    history = await handle_for(d.client, pid).fetch_history()
    v = await verify_history(db=db, project_id=pid, history=history)
    assert v.ok and v.matches_history, v.differences


async def settled_latest(d: Drive, db) -> int:  # type: ignore[no-untyped-def]
    """`settled`, asking the project's current run (after a reset, not the first)."""
    latest = Drive(d.env, d.project, handle_for(d.client, d.project.project_id))
    return await settled(latest, db)


async def log_of(d: Drive) -> list:  # type: ignore[type-arg]
    return await handle_for(d.client, d.project.project_id).query(ProjectWorkflow.decision_log)


async def test_a_cancel_request_is_recorded_with_who_and_ignored(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    n = await settled(d, ts.db)
    target = ts.env.client.service_client.config.target_host
    breakglass = await Client.connect(target, namespace=ts.env.client.namespace,
                                      identity="ops-breakglass@console",
                                      data_converter=pydantic_data_converter)
    await breakglass.get_workflow_handle(d.handle.id).cancel(reason="误操作 / clicked by mistake")

    for _ in range(100):
        log = await log_of(d)
        if len(log) > n:
            break
        await asyncio.sleep(0.05)
    record = log[-1]
    assert record.action == CANCEL_ACTION and record.seq == n + 1
    assert record.actor.user_id == "ops-breakglass@console"
    assert record.actor.role is Role.OPERATOR
    assert record.reason == "误操作 / clicked by mistake"
    assert record.stage_before is record.stage_after is Stage.COUNTY_REVIEW
    assert record.note.startswith("ignored:") and record.payload["event_id"] > 0
    assert (await d.handle.describe()).status == WorkflowExecutionStatus.RUNNING

    # The project goes on: the next decision is taken as if nothing happened.
    out = await d.do("county_approve")
    assert out.stage is Stage.CITY_REVIEW and out.seq == n + 2
    await consistent(d, ts.db)
    with ts.db() as s:
        stored = s.get(DecisionRow, (d.project.project_id, n + 1))
        assert stored is not None and stored.action == CANCEL_ACTION
        assert stored.actor_user == "ops-breakglass@console"

    history = await d.handle.fetch_history()
    entries = [e for e in timeline(history) if e.kind == "cancel_requested"]
    assert len(entries) == 1 and entries[0].actor is not None
    assert entries[0].actor.user_id == "ops-breakglass@console"
    assert (await replay_proof(history)).replays


async def test_a_cancel_request_after_the_end_leaves_the_end_as_it_was(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("withdraw", reason="不再申报")
    end = await d.result()
    assert end.stage is Stage.WITHDRAWN
    try:
        await d.handle.cancel()  # the dev server accepts it and changes nothing
    except Exception:  # a server may also refuse it: either way, nothing changes
        pass
    assert (await d.handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert (await d.result()).stage is Stage.WITHDRAWN


async def test_termination_is_reported_marked_and_audited(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("county_approve")
    n = await settled(d, ts.db)
    pid, wid = d.project.project_id, d.handle.id
    await d.handle.terminate(reason="operator: test of termination")

    diffs = [x for x in await compare_read_model(ts.env.client, ts.db, d.project.batch.batch_id)
             if x.project_id == pid]
    assert len(diffs) == 1 and diffs[0].workflow_status == "terminated"
    assert not diffs[0].marked and diffs[0].only_closed
    found = []
    for _ in range(100):  # visibility is eventually consistent
        found = [s for s in await stuck(ts.env.client) if s.workflow_id == wid]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found and found[0].kind == "terminated"
    assert "operator: test of termination" in found[0].error

    closed = await outside.find(ts.env.client, wid)
    assert closed is not None and closed.status == "TERMINATED"
    assert outside.mark(ts.db, pid, closed)
    assert not outside.mark(ts.db, pid, closed)  # idempotent
    with ts.db() as s:
        row = s.get(Project, pid)
        assert row is not None and row.end_rule == "WF_TERMINATED"
        assert row.stage == "city_review" and row.projected_seq == n  # the last state known
        assert row.waiting_on == [] and row.next_deadline is None
    (diff,) = [x for x in await compare_read_model(ts.env.client, ts.db,
                                                   d.project.batch.batch_id)
               if x.project_id == pid]
    assert diff.marked and diff.only_closed

    history = await d.handle.fetch_history()
    v = await verify_history(db=ts.db, project_id=pid, history=history)
    assert v.ok and v.closed_outside is not None and "terminated" in v.closed_outside
    proof = await replay_proof(history)
    assert proof.replays and "terminated" in proof.summary()
    assert [e.kind for e in timeline(history)][-1] == "terminated"
    # A rebuild from the history keeps the mark.
    again = await reproject(client=ts.env.client, db=ts.db, project_id=pid)
    assert again.ok_after and not again.repaired
    with ts.db() as s:
        row = s.get(Project, pid)
        assert row is not None and row.end_rule == "WF_TERMINATED"


async def test_a_reset_to_before_a_decision_and_the_read_model_follows(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("county_approve")
    await settled(d, ts.db)
    pid = d.project.project_id
    history = await d.handle.fetch_history()
    events = list(history.events)
    # The workflow task whose completion accepted county_approve: reset to it, so that
    # the new run runs that task again without the update (nothing reapplied).
    accepted = [e.event_id for e in events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
    point = max(e.event_id for e in events if e.event_id < accepted[-1] and e.event_type
                == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    old_run = (await d.handle.describe()).run_id
    reset = await ts.env.client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=ts.env.client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=d.handle.id, run_id=old_run),
            reason="test: back to before the county's approval",
            workflow_task_finish_event_id=point, request_id=str(uuid.uuid4()),
            reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_NONE))
    assert reset.run_id != old_run
    current = handle_for(ts.env.client, pid)
    for _ in range(100):
        view = await current.query(ProjectWorkflow.view)
        if view.stage is Stage.COUNTY_REVIEW:
            break
        await asyncio.sleep(0.05)
    assert view.stage is Stage.COUNTY_REVIEW and view.decisions == 2

    # The read model still holds what the old run committed after the reset point:
    # ops read-model and audit verify both say so.
    (diff,) = [x for x in await compare_read_model(ts.env.client, ts.db,
                                                   d.project.batch.batch_id)
               if x.project_id == pid]
    assert diff.other_run and diff.phantom == [3] and diff.read_model_stage == "city_review"
    assert diff.workflow_status is None  # the old run is terminated; the project is not
    assert not [s for s in await stuck(ts.env.client) if s.workflow_id == d.handle.id]
    new_history = await current.fetch_history()
    v = await verify_history(db=ts.db, project_id=pid, history=new_history)
    assert not v.ok and v.phantom == [3]
    assert any("stage: database 'city_review', history 'county_review'" in x
               for x in v.differences)
    assert [e.kind for e in timeline(new_history)].count("reset") == 1

    # The rebuild (ops reproject; the hourly upkeep runs it) makes it the new run's.
    fixed = await reproject(client=ts.env.client, db=ts.db, project_id=pid)
    assert fixed.repaired and fixed.removed == [3] and fixed.ok_after
    await consistent(d, ts.db)
    # The new run goes on, another way than the old one did; the read model follows.
    out = await d.do("county_return", reason="补充材料")
    assert out.stage is Stage.RETURNED and out.seq == 3
    await consistent(d, ts.db)
    with ts.db() as s:
        row = s.get(Project, pid)
        assert row is not None and row.run_id == reset.run_id and row.stage == "returned"


async def test_a_reset_converges_by_the_next_projection_without_a_rebuild(ts: Harness) -> None:
    """Without `ops reproject`: the new run's next projection replaces what the old run
    committed after the reset point."""
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("county_approve")
    await settled(d, ts.db)
    events = list((await d.handle.fetch_history()).events)
    accepted = [e.event_id for e in events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
    point = max(e.event_id for e in events if e.event_id < accepted[-1] and e.event_type
                == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    await ts.env.client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=ts.env.client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=d.handle.id),
            reason="test", workflow_task_finish_event_id=point, request_id=str(uuid.uuid4()),
            reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_NONE))
    await d.do("county_reject", reason="不符合条件")
    await consistent(d, ts.db)


def _province_extension(d: Drive, days: int = 2, **kw: object) -> DeadlineChange:
    return DeadlineChange(request_id=f"ext-{uuid.uuid4().hex[:8]}",
                          actor=kw.pop("actor", support.ACTORS[Role.PROVINCE]),  # type: ignore[arg-type]
                          scope=str(kw.pop("scope", "batch")),
                          new_deadline=d.close_at + timedelta(days=days),
                          reason="延期", **kw)  # type: ignore[arg-type]


async def test_a_deadline_signal_sent_by_hand_is_refused_and_never_applied(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    n = await settled(d, ts.db)
    forged = _province_extension(d, days=30)
    # As from the CLI: `temporal workflow signal --name change_deadline …`, naming the
    # province and a month more.
    await ts.env.client.get_workflow_handle(d.handle.id).signal("change_deadline", forged)
    await d.do("county_approve")  # a later task: the signal has been handled by now
    view = await d.view()
    batch_close = next(x.at for x in view.deadlines if x.kind == "batch_close")
    assert batch_close == d.close_at
    assert [r.request_id for r in await log_of(d)].count(forged.request_id) == 0
    history = await d.handle.fetch_history()
    (entry,) = [e for e in timeline(history) if e.request_id == forged.request_id]
    assert entry.kind == "refused" and "never applied" in entry.note
    assert (await replay_proof(history)).replays
    await consistent(d, ts.db)
    assert (await settled(d, ts.db)) == n + 1


async def test_a_deadline_update_is_checked_like_a_decision(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    handle = ts.env.client.get_workflow_handle(d.handle.id)
    before = len((await d.handle.fetch_history()).events)

    # Not sealed by the API (sent by hand, naming the province): refused.
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update("set_deadline", _province_extension(d))
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.details[0]["rule"] == "SEAL"
    # A seal made with another key is no seal.
    with pytest.raises(Refused) as refused:
        await change_deadline(ts.env.client, d.handle.id, _province_extension(d),
                              secret="not-the-api-secret")
    assert refused.value.refusal.rule == "SEAL"
    # Sealed, but beyond what the actor may do: a city extending, a county elsewhere,
    # a local deadline later than the batch's, the province shortening.
    city = support.ACTORS[Role.CITY]
    other = Actor(user_id="county-x", role=Role.COUNTY, region="370203")
    for change, rule in (
        (_province_extension(d, actor=city), "ROLE"),
        (_province_extension(d, days=-1, actor=other, scope="370203"), "JURISDICTION"),
        (_province_extension(d, days=1, actor=city, scope=support.CITY), "R10"),
        (_province_extension(d, days=-1), "R10"),
    ):
        with pytest.raises(Refused) as refused:
            await change_deadline(ts.env.client, d.handle.id, change)
        assert refused.value.refusal.rule == rule, change
    # Refused in the validator: no trace in the history, nothing in the log.
    assert len((await d.handle.fetch_history()).events) == before

    # The province's extension, sealed by the API: applied, once.
    change = _province_extension(d, days=2)
    record = await change_deadline(ts.env.client, d.handle.id, change)
    again = await change_deadline(ts.env.client, d.handle.id, change)
    assert again.seq == record.seq and record.action == "extend_deadline"
    view = await d.view()
    assert next(x.at for x in view.deadlines if x.kind == "batch_close") == change.new_deadline
    entries = [e for e in timeline(await d.handle.fetch_history())
               if e.request_id == change.request_id]
    assert [e.kind for e in entries] == ["deadline_change"] and entries[0].seq == record.seq
    # The old close passes and nothing closes; the new one closes it (R10).
    await d.advance_to(d.close_at + timedelta(minutes=1))
    assert await d.stage() is Stage.COUNTY_REVIEW
    await consistent(d, ts.db)
    await d.advance_to(change.new_deadline + timedelta(minutes=1))
    await d.wait_stage(Stage.NOT_RECOMMENDED)
    await consistent(d, ts.db)


HISTORIES = Path(__file__).resolve().parent / "histories"


def _recorded(name: str) -> WorkflowHistory:
    text = (HISTORIES / f"{name}.json").read_text()
    return WorkflowHistory.from_json(f"project-recorded-{name}", text)


async def test_histories_from_before_the_change_replay_as_they_ran() -> None:
    """Projects running when this code is deployed: a deadline signal applied before the
    change stays applied on replay; a cancel request that ended a project as Canceled
    before the change still ends it so (tests/histories, recorded with the old code)."""
    applied = _recorded("deadline_signal_2026")
    proof = await replay_proof(applied)
    assert proof.replays and proof.stages[-1] == "not_recommended", proof.reason
    (entry,) = [e for e in timeline(applied) if e.request_id == "ext-recorded"]
    assert entry.kind == "deadline_change"

    canceled = _recorded("canceled_before_patch_2026")
    proof = await replay_proof(canceled)
    assert proof.replays, proof.reason
    assert proof.closed_outside is not None and "canceled" in proof.closed_outside
    assert [e.kind for e in timeline(canceled)][-2:] == ["cancel_requested", "canceled"]


async def test_a_recorded_history_with_each_outside_action_replays() -> None:
    history = _recorded("outside_actions_2026")
    proof = await replay_proof(history)
    assert proof.replays and proof.stages[-1] == "not_recommended", proof.reason
    kinds = {e.request_id or e.kind: e.kind for e in timeline(history)}
    assert kinds["forged"] == "refused"
    assert kinds["cancel_requested"] == "cancel_requested"
    assert kinds["ext-recorded"] == "deadline_change"


def test_the_validator_refuses_exactly_what_the_state_would_ignore() -> None:
    """domain.outside.deadline_refusal (the update's validator) refuses everything that
    ProjectState's own deadline rules would record as 'ignored', for every role, scope
    and direction, and more only where decisions check more (the province's region)."""
    from itertools import product

    from domain import seal
    from domain.batch import workflow_id_for
    from domain.clock import SHANGHAI
    from domain.outside import deadline_refusal
    from domain.project import ProjectState
    from runtime.settings import settings
    from services.projects import sealed

    close = datetime(2026, 4, 13, 17, 0, tzinfo=SHANGHAI)
    early = close - timedelta(days=20)
    seal.configure(settings().seal_secret.get_secret_value())
    actors = [*support.ACTORS.values(),
              Actor(user_id="c2", role=Role.CITY, region="3702"),
              Actor(user_id="x2", role=Role.COUNTY, region="370203"),
              Actor(user_id="p2", role=Role.PROVINCE, region="3701")]
    scopes = ["batch", support.CITY, support.COUNTY, "3702", "370203"]
    shifts = [timedelta(days=-3), timedelta(0), timedelta(days=2)]
    checked = 0
    for i, (actor, scope, shift) in enumerate(product(actors, scopes, shifts)):
        s = ProjectState(support.project(support.batch("2026", close)), early)
        change = sealed(DeadlineChange(request_id=f"c{i}", actor=actor, scope=scope,
                                       new_deadline=close + shift, reason="r"),
                        to=workflow_id_for(s.project.project_id))
        refused = deadline_refusal(s, change, early)
        record = s.change_deadline(change.request_id, actor, scope, change.new_deadline,
                                   change.reason, early)
        assert record is not None
        ignored = record.note.startswith("ignored")
        if refused is not None and not ignored:
            # One check more than the state's, as for decisions: the province acts for 37.
            assert refused.rule == "JURISDICTION" and actor.role is Role.PROVINCE, refused
        else:
            assert (refused is not None) == ignored, (actor, scope, shift, record.note)
        checked += refused is None
    assert checked >= 4  # some of each


async def test_a_decision_not_sealed_by_the_api_is_refused_whatever_actor_it_names(
    ts: Harness,
) -> None:
    """Anyone who reaches Temporal (its UI can send updates) could name any actor: only a
    decision the API sealed after authenticating the official is taken."""
    d = await ts.start("2026")
    await d.do("submit")
    handle = ts.env.client.get_workflow_handle(d.handle.id)
    before = len((await d.handle.fetch_history()).events)
    forged = d.decision("county_approve")  # names the county, sent by hand
    for name in ("county_approve", "decide"):  # the named update and the old one
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update(name, forged)
        assert isinstance(caught.value.cause, ApplicationError)
        assert caught.value.cause.details[0]["rule"] == "SEAL"
    # A seal made with another key, or for other content, is no seal.
    with pytest.raises(Refused) as refused:
        await decide(ts.env.client, d.project.project_id, forged, secret="not-the-api-secret")
    assert refused.value.refusal.rule == "SEAL"
    resealed = sealed(forged, to=handle.id).model_copy(update={"reason": "改过的理由"})
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update("county_approve", resealed)
    assert caught.value.cause.details[0]["rule"] == "SEAL"  # type: ignore[union-attr]
    assert len((await d.handle.fetch_history()).events) == before  # no trace
    assert await d.stage() is Stage.COUNTY_REVIEW
    # Sealed by the API: taken, and a retry is the same decision.
    out = await decide(ts.env.client, d.project.project_id, forged)
    again = await decide(ts.env.client, d.project.project_id, forged)
    assert out.stage is Stage.CITY_REVIEW and again.seq == out.seq
