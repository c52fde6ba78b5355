"""What officials see at the edges: deadlines, refusals' shape, retries, bulk, uploads."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx

from domain.clock import SHANGHAI
from domain.roles import Role
from tests import support
from tests.api_support import Caller, token
from tests.driver import Drive, Harness, next_close


def as_role(http: httpx.AsyncClient, d: Drive, role: Role) -> Caller:
    a = d.actors[role]
    return Caller(http, token(role.value, a.user_id, a.region, a.unit_code))


async def test_return_at_1659_works_and_resubmit_at_1701_is_refused_r10(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    applicant, county = as_role(http, d, Role.APPLICANT), as_role(http, d, Role.COUNTY)
    await applicant.decide(d.project.project_id, "submit")
    await d.advance_to(d.close_at - timedelta(minutes=1))
    out = await county.decide(d.project.project_id, "county_return", reason="请补充投资明细")
    assert out["stage"] == "returned" and out["allowed_for_me"] == []
    await d.advance(timedelta(minutes=2))
    r = await applicant.post(f"/projects/{d.project.project_id}/decisions/resubmit",
                             {"reason": "已补充"})
    assert r.status_code == 409
    body = r.json()
    assert body["rule"] == "R10" and body["kind"] == "deadline"
    assert "17:00" in body["message_zh"] and "closed" in body["message_en"]


async def test_refusals_have_one_shape(ts: Harness, http: httpx.AsyncClient) -> None:
    d = await ts.start("2026")
    pid = d.project.project_id
    r = await http.get(f"/projects/{pid}")
    assert r.status_code == 401 and r.json()["rule"] == "AUTH"
    r = await http.get(f"/projects/{pid}", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401
    county = as_role(http, d, Role.COUNTY)
    r = await county.post(f"/projects/{pid}/decisions/county_approve", {"reason": "x"})
    assert r.status_code == 409 and r.json()["rule"] == "LIFECYCLE"
    assert r.json()["message_zh"] and r.json()["message_en"]
    r = await county.post(f"/projects/{pid}/decisions/city_recommend",
                          {"payload": {"rank": 1}})
    assert r.status_code == 403 and r.json()["rule"] == "ROLE"
    city = as_role(http, d, Role.CITY)
    r = await city.post(f"/projects/{pid}/decisions/city_recommend", {"payload": {"rank": 0}})
    assert r.status_code == 422 and r.json()["rule"] == "INPUT" and "payload" in r.json()[
        "message_en"]
    other_county = Caller(http, token("county", "c2", "370103"))
    r = await other_county.get(f"/projects/{pid}")
    assert r.status_code == 404 and r.json()["rule"] == "NOT_FOUND"
    r = await county.get("/projects/no-such-project")
    assert r.status_code == 404


async def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    applicant = as_role(http, d, Role.APPLICANT)
    pid = d.project.project_id
    first = await applicant.decide(pid, "submit", key="k-1")
    await as_role(http, d, Role.COUNTY).decide(pid, "county_approve")
    again = await applicant.decide(pid, "submit", key="k-1")
    assert again == first
    r = await applicant.post(f"/projects/{pid}/decisions/withdraw", {"reason": "x"}, key="k-1")
    assert r.status_code == 409 and r.json()["rule"] == "IDEMPOTENCY"
    detail = (await applicant.get(f"/projects/{pid}")).json()
    assert [x["action"] for x in detail["decisions"]].count("submit") == 1


async def test_bulk_reports_each_item(ts: Harness, http: httpx.AsyncClient) -> None:
    b = support.batch("2026", next_close(datetime.now(SHANGHAI)))
    ready, draft = await ts.start(batch=b), await ts.start(batch=b)
    await ready.do("submit")
    county = as_role(http, ready, Role.COUNTY)
    items = [{"project_id": ready.project.project_id, "reason": "同意"},
             {"project_id": draft.project.project_id, "reason": "同意"},
             {"project_id": "p-does-not-exist", "reason": "同意"}]
    r = await county.post("/decisions/county_approve/bulk", {"items": items}, key="bulk-1")
    assert r.status_code == 200
    res = {x["project_id"]: x for x in r.json()}
    assert res[ready.project.project_id]["ok"] and res[ready.project.project_id]["stage"] == (
        "city_review")
    assert res[draft.project.project_id]["status"] == 409
    assert res["p-does-not-exist"]["status"] == 404


async def test_uploads_dedupe_and_refuse_bad_files(ts: Harness, http: httpx.AsyncClient) -> None:
    d = await ts.start("2026")
    applicant = as_role(http, d, Role.APPLICANT)
    url = f"/projects/{d.project.project_id}/documents"
    content = f"%PDF-1.4 {uuid.uuid4()}".encode()

    async def upload(data: bytes, media: str, kind: str = "proof") -> httpx.Response:
        return await http.post(url, files={"file": ("f.pdf", data, media)}, data={"kind": kind},
                               headers=applicant.headers)

    first, second = await upload(content, "application/pdf"), await upload(content,
                                                                           "application/pdf")
    assert first.json()["new"] and not second.json()["new"]
    assert first.json()["sha256"] == second.json()["sha256"]
    assert (await upload(b"MZ", "application/x-msdownload")).status_code == 422
    assert (await upload(b"", "application/pdf")).status_code == 422
    assert (await upload(content, "application/pdf", "secret")).status_code == 422
    await d.do("submit")
    await d.do("county_approve")
    await d.do("city_recommend", rank=1)
    await d.do("concur", Role.CITY_FINANCE)
    frozen = await upload(b"%PDF new proof", "application/pdf")
    assert frozen.status_code == 409 and frozen.json()["rule"] == "R11"


async def test_province_extension_through_the_api(ts: Harness, http: httpx.AsyncClient) -> None:
    d = await ts.start("2026")
    province = Caller(http, token("province", "prov-ext"))
    bid = d.project.batch.batch_id
    r = await province.post(f"/batches/{bid}/deadline",
                            {"new_deadline": (d.close_at - timedelta(days=1)).isoformat(),
                             "reason": "提前"})
    assert r.status_code == 409 and r.json()["rule"] == "R10"
    later = d.close_at + timedelta(days=1)
    for _ in range(50):  # visibility catches up with the new workflow
        r = await province.post(f"/batches/{bid}/deadline",
                                {"new_deadline": later.isoformat(), "reason": "系统维护延期"},
                                key="ext-1")
        if r.json().get("signalled"):
            break
        later += timedelta(minutes=1)
    assert r.status_code == 200 and r.json()["signalled"] == 1
    await d.advance_to(d.close_at + timedelta(hours=1))
    assert (await d.stage()).value == "draft"  # the old close no longer ends it


async def test_a_draft_created_after_a_local_deadline_follows_it(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    bid, county_code = d.project.batch.batch_id, support.COUNTY
    county = Caller(http, token("county", "county-local", county_code))
    earlier = d.close_at - timedelta(days=1)
    r = await county.post(f"/batches/{bid}/local-deadline",
                          {"new_deadline": earlier.isoformat(), "reason": "县里提前一天截止"})
    assert r.status_code == 200, r.text
    unit = support.unit("service_provider", region=county_code)
    applicant = Caller(http, token("applicant", "late-app", support.CITY, unit.credit_code))
    r = await applicant.post("/units", {"credit_code": unit.credit_code, "name": unit.name,
                                        "kind": unit.kind, "region_code": county_code})
    assert r.status_code == 200, r.text
    r = await applicant.post("/projects", {"batch_id": bid, "task_code": "T1",
                                           "title": "晚到的申报", "county_code": county_code})
    assert r.status_code == 201, r.text
    pid = r.json()["view"]["project_id"]
    for _ in range(50):
        view = (await applicant.get(f"/projects/{pid}")).json()["view"]
        closes = {x["kind"]: x["at"] for x in view["deadlines"]}
        if datetime.fromisoformat(closes["applicant_close"]) == earlier:
            break
    assert datetime.fromisoformat(closes["applicant_close"]) == earlier
    assert datetime.fromisoformat(closes["batch_close"]) == d.close_at
