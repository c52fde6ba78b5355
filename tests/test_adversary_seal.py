"""Adversary: decisions and deadline changes sent to a workflow by hand, through the
Temporal client, with seals lifted from another project's history (or from its own, for
a decision it refused); and a project's workflow started again by hand under another id.

Anyone who can read histories (the Temporal UI, `temporal workflow show`) sees every
decision the API sealed, seal included. Before the fix the seal covered the decision's
content only, not the workflow it was sent to: a county approval (or a province's
revocation, a finance department's concurrence) sealed for project A was taken by
project B's workflow as the API's own, since B had never seen its request id."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TypeVar

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from domain.batch import ProjectInput
from domain.decisions import DeadlineChange, Decision
from domain.roles import Role
from domain.stages import Stage
from models import DecisionRow, Project
from services.projects import change_deadline
from tests import support
from tests.api_support import Caller, token
from tests.driver import Drive, Harness
from workflows.project import ProjectWorkflow

M = TypeVar("M", bound=BaseModel)


async def lifted(d: Drive, name: str, kind: type[M]) -> list[M]:
    """The inputs of the updates named `name` that the project's history accepted, as an
    operator reading the history sees them (seal included)."""
    out: list[M] = []
    for e in (await d.handle.fetch_history()).events:
        if e.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        request = e.workflow_execution_update_accepted_event_attributes.accepted_request
        if request.input.name == name:
            (value,) = await pydantic_data_converter.decode(request.input.args.payloads, [kind])
            out.append(value)
    return out


async def refused_rule(d: Drive, name: str, message: BaseModel) -> str:
    handle = d.client.get_workflow_handle(d.handle.id)
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(name, message)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError) and cause.details, cause
    return str(cause.details[0]["rule"])


async def test_a_decision_sealed_for_one_project_is_refused_by_another(ts: Harness) -> None:
    a = await ts.start("2026")
    b = await ts.start("2026")
    await a.do("submit")
    await b.do("submit")
    await a.do("county_approve")
    (approval,) = await lifted(a, "county_approve", Decision)
    assert approval.seal  # the history holds the API's seal

    before = len((await b.handle.fetch_history()).events)
    for name in ("county_approve", "decide"):  # the named update and the old one
        assert await refused_rule(b, name, approval) == "SEAL"
    # Nothing reached B's history; B still waits for its county.
    assert len((await b.handle.fetch_history()).events) == before
    assert await b.stage() is Stage.COUNTY_REVIEW

    # Under another request id the content differs: no seal either.
    renamed = approval.model_copy(update={"request_id": "replayed-elsewhere"})
    assert await refused_rule(b, "county_approve", renamed) == "SEAL"
    # Sent again to its own project it is a retry: the first outcome, nothing new.
    log = await a.handle.query(ProjectWorkflow.decision_log)
    handle = a.client.get_workflow_handle(a.handle.id)
    again = await handle.execute_update("county_approve", approval)
    assert again["request_id"] == approval.request_id and again["stage"] == "city_review"
    assert await a.handle.query(ProjectWorkflow.decision_log) == log


async def test_a_deadline_change_sealed_for_one_batch_is_refused_by_another(
    ts: Harness,
) -> None:
    """The province extends batch X; the sealed extension, replayed to a project of batch
    Y, would have moved Y's close for that one project."""
    x = await ts.start("2026")
    y = await ts.start("2026")
    change = DeadlineChange(
        request_id="ext-x", actor=support.ACTORS[Role.PROVINCE], scope="batch",
        new_deadline=x.close_at + timedelta(days=2), reason="延期")
    await change_deadline(x.client, x.handle.id, change)
    (extension,) = await lifted(x, "set_deadline", DeadlineChange)
    assert extension.seal

    before = len((await y.handle.fetch_history()).events)
    assert await refused_rule(y, "set_deadline", extension) == "SEAL"
    assert len((await y.handle.fetch_history()).events) == before
    close = next(d.at for d in (await y.view()).deadlines if d.kind == "batch_close")
    assert close == y.close_at


def _read_model(ts: Harness, pid: str) -> tuple[str, int]:
    with ts.db() as s:
        row = s.get(Project, pid)
        assert row is not None
        return row.stage, s.scalar(select(func.count()).select_from(DecisionRow).where(
            DecisionRow.project_id == pid)) or 0


async def test_a_project_workflow_started_by_hand_under_another_id_writes_nothing(
    ts: Harness,
) -> None:
    """The project's input is in its history's first event; started again by hand under
    another workflow id (the Temporal UI's "start workflow like this one") and asked to
    `reproject` (a signal anyone may send, no seal), the copy projected its own state, a
    draft with no decisions, onto the real project's read model: stage draft, every
    decision record removed, while the real workflow stayed in city review."""
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("county_approve")
    pid = d.project.project_id
    for _ in range(100):
        if _read_model(ts, pid) == ("city_review", 3):
            break
        await asyncio.sleep(0.05)
    assert _read_model(ts, pid) == ("city_review", 3)

    first = (await d.handle.fetch_history()).events[0]
    started = first.workflow_execution_started_event_attributes
    (project,) = await pydantic_data_converter.decode(started.input.payloads, [ProjectInput])
    copy = await d.client.start_workflow(ProjectWorkflow.run, project, id=f"copy-of-{pid}",
                                         task_queue=ts.queue)
    try:
        await copy.signal(ProjectWorkflow.reproject)
        for _ in range(40):  # what the copy's projection would have written by now
            await asyncio.sleep(0.05)
            assert _read_model(ts, pid) == ("city_review", 3)
    finally:
        await copy.terminate("adversary test over")
    assert await d.stage() is Stage.CITY_REVIEW


async def test_a_decision_the_workflow_refused_cannot_be_sent_again_later(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """A submission refused by the handler's check against the database (R5: the unit
    is on the abnormal-operation list) is in the history, sealed. Once the province took
    the unit off the list, the same update sent again by hand was taken: the project was
    submitted although its applicant never submitted again."""
    d = await ts.start("2026")
    unit, pid = d.project.applicant_unit, d.project.project_id
    province = Caller(http, token("province", "prov-adv-r5"))
    r = await province.put(f"/units/{unit}/facts", {"abnormal_operation": True,
                                                   "reason": "列入经营异常名录"})
    assert r.status_code == 200, r.text
    me = d.actors[Role.APPLICANT]
    applicant = Caller(http, token("applicant", me.user_id, me.region, unit))
    r = await applicant.post(f"/projects/{pid}/decisions/submit", {"reason": "提交申报"})
    assert r.status_code == 409 and r.json()["rule"] == "R5", r.text
    r = await province.put(f"/units/{unit}/facts", {"abnormal_operation": False,
                                                   "reason": "已移出经营异常名录"})
    assert r.status_code == 200, r.text

    (refused,) = await lifted(d, "submit", Decision)
    assert await refused_rule(d, "submit", refused) == "R5"  # its first answer, again
    assert await d.stage() is Stage.DRAFT
    # The applicant's own new request is decided on the facts as they are now.
    r = await applicant.post(f"/projects/{pid}/decisions/submit", {"reason": "再次提交"})
    assert r.status_code == 200 and r.json()["stage"] == "county_review", r.text
