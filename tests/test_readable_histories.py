"""Histories that read as decisions (issue 18, §3), on the time-skipping dev server:
the workflow's static summary names the project, city, county and batch; its current
details say the stage in Chinese, who it waits on and the next deadline (+08:00), and an
end plainly; each decision is an update under its own name."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowUpdateFailedError

from domain.clock import SHANGHAI
from domain.decisions import Actor, Decision
from domain.roles import Role
from tests import support
from tests.api_support import Caller, token
from tests.driver import Harness, next_close
from tools.oversight_cli import render_decisions

CITY, COUNTY = "3701", "370102"


async def current_details(ts: Harness, pid: str) -> str:
    handle = ts.env.client.get_workflow_handle(f"project-{pid}")
    meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return meta.current_details  # type: ignore[no-any-return]


async def test_summary_details_and_decisions_by_name(ts: Harness, http: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:6]
    lead = support.unit("service_provider", region=COUNTY)
    province = Caller(http, token("province", f"prov-{tag}"))
    applicant = Caller(http, token("applicant", f"app-{tag}", CITY, lead.credit_code))
    county = Caller(http, token("county", f"county-{tag}", COUNTY))
    close = next_close(datetime.now(SHANGHAI))
    batch_id = f"h-{tag}"
    r = await province.post("/batches", {"batch_id": batch_id, "name": "2026年度测试批次",
                                         "year": 2026, "preset": "2026",
                                         "close_at": close.isoformat(), "quotas": {CITY: 3}})
    assert r.status_code == 201, r.text
    r = await applicant.post("/units", {"credit_code": lead.credit_code, "name": "读历史服务商",
                                        "kind": lead.kind, "region_code": COUNTY})
    assert r.status_code == 200, r.text
    r = await applicant.post("/projects", {"batch_id": batch_id, "task_code": "T2",
                                           "title": "历史可读性测试项目", "county_code": COUNTY})
    assert r.status_code == 201, r.text
    pid = r.json()["view"]["project_id"]

    handle = ts.env.client.get_workflow_handle(f"project-{pid}")
    desc = await handle.describe()
    assert await desc.static_summary() == f"历史可读性测试项目 · 济南市历下区 · {batch_id}"
    details = await desc.static_details()
    assert details is not None and "读历史服务商" in details and "2026年度测试批次" in details
    assert await current_details(ts, pid) == (
        f"**阶段：草稿**\n\n等待：申报单位\n\n下一截止：{close.isoformat(timespec='minutes')}")

    await applicant.decide(pid, "submit")
    await county.decide(pid, "county_return", reason="请补充材料")
    assert (await current_details(ts, pid)).startswith("**阶段：退回修改**")
    # A decision sent under another decision's name is refused, not misfiled.
    wrong = Decision(request_id=f"wrong-{tag}", action="withdraw", reason="x", actor=Actor(
        user_id=f"app-{tag}", role=Role.APPLICANT, region=CITY, unit_code=lead.credit_code))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("resubmit", wrong)
    assert "INPUT" in str(refused.value.cause)
    await applicant.decide(pid, "withdraw", reason="调整方向")
    assert (await current_details(ts, pid)).startswith("**已结束：已撤回**")

    names = [e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
             async for e in handle.fetch_history_events()
             if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
    assert names == ["submit", "county_return", "withdraw"]
    lines = render_decisions(await handle.fetch_history())
    assert f"县级退回修改（county_return）· 县级工信局 county-{tag} · 县级审核 → 退回修改" in lines
