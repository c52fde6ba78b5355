"""A whole 2026 lifecycle driven only through HTTP, each step by the role that owns it."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

import httpx
from openpyxl import load_workbook

from domain.clock import SHANGHAI
from tests import support
from tests.api_support import Caller, token
from tests.driver import Harness, next_close

CITY, COUNTY = "3701", "370102"


async def test_2026_lifecycle_through_http_from_draft_to_subsidy_disbursed(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:6]
    lead = support.unit("service_provider", region=COUNTY)
    scene = support.unit("manufacturer", region=COUNTY)
    province = Caller(http, token("province", f"prov-{tag}"))
    prov_fin = Caller(http, token("province_finance", f"pf-{tag}"))
    county = Caller(http, token("county", f"county-{tag}", COUNTY))
    city = Caller(http, token("city", f"city-{tag}", CITY))
    city_fin = Caller(http, token("city_finance", f"cf-{tag}", CITY))
    expert = Caller(http, token("expert", f"expert-{tag}"))
    applicant = Caller(http, token("applicant", f"app-{tag}", CITY, lead.credit_code))
    auditor = Caller(http, token("auditor", f"aud-{tag}"))

    close = next_close(datetime.now(SHANGHAI))
    batch_id = f"b-{tag}"
    r = await province.post("/batches", {"batch_id": batch_id, "name": "2026年度测试批次",
                                         "year": 2026, "preset": "2026",
                                         "close_at": close.isoformat(), "quotas": {CITY: 3}})
    assert r.status_code == 201, r.text
    scene_owner = Caller(http, token("applicant", f"scene-{tag}", CITY, scene.credit_code))
    for u, owner in ((lead, applicant), (scene, scene_owner)):  # each unit registers itself
        r = await owner.post("/units", {"credit_code": u.credit_code, "name": u.name,
                                        "kind": u.kind, "region_code": COUNTY})
        assert r.status_code == 200, r.text
    r = await applicant.post("/projects", {
        "batch_id": batch_id, "task_code": "T3", "title": "生产制造大模型应用",
        "county_code": COUNTY,
        "consortium": [{"credit_code": scene.credit_code, "role": "scene"}],
        "application": {"declared_investment_cny": 3_000_000, "implementation_region": COUNTY},
    }, key="create-1")
    assert r.status_code == 201, r.text
    pid = r.json()["view"]["project_id"]
    assert r.json()["view"]["stage"] == "draft"
    assert r.json()["allowed_for_me"] == ["edit_application", "attach_document", "submit",
                                          "withdraw"]
    files = {"file": ("可行性报告.pdf", b"%PDF-1.4 feasibility", "application/pdf")}
    r = await http.post(f"/projects/{pid}/documents", files=files,
                        data={"kind": "feasibility_report"}, headers=applicant.headers)
    assert r.status_code == 200 and r.json()["new"], r.text
    report = r.json()["sha256"]

    r = await applicant.post(f"/projects/{pid}/decisions/submit", {"reason": "提交"})
    assert r.status_code == 409 and r.json()["rule"] == "R20", r.text  # the scene unit agrees
    r = await scene_owner.post(f"/projects/{pid}/consortium/{scene.credit_code}/consent",
                               {"agree": True, "note": "已签订联合体协议"})
    assert r.status_code == 200 and r.json()["consent"] == "confirmed", r.text
    out = await applicant.decide(pid, "submit", key="submit-1")
    assert out["stage"] == "county_review" and out["allowed_for_me"] == ["withdraw"]
    await county.decide(pid, "county_approve", key="ca-1")
    ranked = {"items": [{"project_id": pid, "rank": 1}], "reason": "排名第一"}
    r = await city.post(f"/batches/{batch_id}/recommendations", ranked, key="rec")
    assert r.status_code == 200 and r.json()[0]["ok"] and r.json()[0]["stage"] == "city_review"
    assert (await city_fin.decide(pid, "concur", key="cf-1"))["stage"] == "recommended"

    await advance_to(ts, pid, close + timedelta(minutes=1))
    detail = await _wait_stage(province, pid, "provincial_review")
    assert detail["view"]["rank"] == 1

    await province.decide(pid, "assign_experts",
                          {"experts": [{"user_id": f"expert-{tag}", "declared_conflicts": []}]})
    await expert.decide(pid, "score", {"score": 91, "method": "online_defence"})
    r = await province.get(f"/batches/{batch_id}/ranking.csv")  # R12: ranking per task
    ranked = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [(x["project_id"], x["rank"], x["average_score"], x["scored"]) for x in ranked] == [
        (pid, "1", "91.00", "1/1")]
    assert (await province.decide(pid, "select"))["stage"] == "provincial_review"
    assert (await prov_fin.decide(pid, "concur"))["stage"] == "selected"
    r = await province.post(f"/batches/{batch_id}/publicity", {"project_ids": [pid]}, key="pub")
    assert r.status_code == 200 and r.json()[0]["stage"] == "publicity", r.text
    r = await province.get(f"/batches/{batch_id}/publicity-list.xlsx")
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0][1] == "项目名称" and rows[1][1] == "生产制造大模型应用"

    end = datetime.fromisoformat((await province.get(f"/projects/{pid}")).json()["view"]
                                 ["publicity_end"])
    await advance_to(ts, pid, end + timedelta(minutes=1))
    await _wait_stage(applicant, pid, "implementation")

    files = {"file": ("档案.pdf", b"%PDF-1.4 archive one", "application/pdf")}
    r = await http.post(f"/projects/{pid}/documents", files=files, data={"kind": "archive"},
                        headers=applicant.headers)
    archive = r.json()["sha256"]
    r = await applicant.post(f"/projects/{pid}/decisions/submit_archive",
                             {"reason": "第一期", "evidence": [archive],
                              "payload": {"title": "第一期过程档案"}})
    assert r.status_code == 200, r.text
    await applicant.decide(pid, "request_early_acceptance", reason="已具备验收条件")
    accepted = await province.decide(pid, "accept_early_acceptance", reason="同意提前验收")
    assert accepted["stage"] == "final_acceptance"  # R16 (2026): on request, if accepted
    await province.decide(pid, "pass_acceptance", {"verified_investment_cny": 2_900_000})
    await province.decide(pid, "decide_subsidy", {"amount_cny": 1_000_000})
    await prov_fin.decide(pid, "concur")
    done = await province.decide(pid, "record_disbursement", {"amount_cny": 1_000_000,
                                                              "reference": "鲁财拨1号"},
                                 reason="已拨付至服务商")
    assert done["stage"] == "supervision"  # R18: open to revocation for the period
    ends = (await province.get(f"/projects/{pid}")).json()["view"]["supervision_ends_at"]
    await advance_to(ts, pid, datetime.fromisoformat(ends) + timedelta(minutes=1))
    await _wait_stage(applicant, pid, "completed")

    detail = (await auditor.get(f"/projects/{pid}")).json()
    assert detail["view"]["end"]["rule"] == "R18" and detail["allowed_for_me"] == []
    actions = [d["action"] for d in detail["decisions"]]
    # The upload is in the project's own record, as every change of its content is.
    assert actions[:4] == ["attach_document", "submit", "admit", "county_approve"]
    assert detail["decisions"][0]["payload"]["sha256"] == report
    assert actions[-2:] == ["record_disbursement", "supervision_ended"]
    assert [d["sha256"] for d in detail["view"]["documents"]] == [report, archive]
    assert archive in str(detail["decisions"])

    for which in ("selected", "accepted"):  # 公布: passed 公示; passed acceptance
        r = await auditor.get(f"/batches/{batch_id}/announcement.csv", params={"which": which})
        assert [x["project_id"] for x in csv.DictReader(
            io.StringIO(r.text.lstrip("\ufeff")))] == [pid], r.text
    r = await auditor.get(f"/batches/{batch_id}/results.csv")
    lines = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [(row["project_id"], row["stage"], row["subsidy_amount_cny"]) for row in lines] == [
        (pid, "completed", "1000000.0")]
    r = await city.get(f"/batches/{batch_id}/recommendation-summary.xlsx",
                       params={"city_code": CITY})
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[1][0] == 1 and rows[1][4] == lead.credit_code and rows[1][7] == "是"


async def advance_to(ts: Harness, pid: str, instant: datetime) -> None:
    """Move the project's workflow clock (the server's time skipping; not an API call)."""
    handle = ts.env.client.get_workflow_handle(f"project-{pid}")
    await ts.env.fast_forward(handle, instant - await ts.env.get_current_time(handle))


async def _wait_stage(caller: Caller, pid: str, stage: str) -> dict:  # type: ignore[type-arg]
    import asyncio

    for _ in range(100):
        detail = (await caller.get(f"/projects/{pid}")).json()
        if detail["view"]["stage"] == stage:
            return detail  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{pid} never reached {stage}: {detail['view']['stage']}")
