"""No 5xx, and a clear error, for anything a user can send: the requests a tester sent
that once failed, each answered with its 4xx, its rule, a Chinese and an English message,
and nothing changed. Instants in answers carry +08:00."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
import pytest

from domain.roles import Role
from domain.stages import Stage
from tests.api_support import Caller, token
from tests.driver import Drive, Harness
from tests.test_api_behaviour import as_role
from workflows.project import ProjectWorkflow

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
PLUS_EIGHT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?\+08:00$")


def clear_error(r: httpx.Response, status: int, rule: str | None = None) -> dict[str, object]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"status", "rule", "kind", "message_zh", "message_en"}, body
    assert body["status"] == status and body["message_zh"] and body["message_en"]
    assert CJK.search(str(body["message_zh"])), f"message_zh is not Chinese: {body}"
    assert not CJK.search(str(body["message_en"])), f"Chinese in message_en: {body}"
    if rule is not None:
        assert body["rule"] == rule, body
    return body  # type: ignore[no-any-return]


async def decisions(d: Drive) -> int:
    return len(await d.handle.query(ProjectWorkflow.decision_log))


@pytest.mark.parametrize("evidence", [["abc"], ["A" * 64], [""], ["../../etc/passwd"],
                                      ["a" * 63 + "g"], "a" * 64, [1]])
async def test_evidence_that_is_not_a_sha256_is_refused(
    ts: Harness, http: httpx.AsyncClient, evidence: object,
) -> None:
    d = await ts.start("2026")
    applicant = as_role(http, d, Role.APPLICANT)
    r = await applicant.post(f"/projects/{d.project.project_id}/decisions/submit",
                             {"reason": "提交", "evidence": evidence})
    clear_error(r, 422, "INPUT")
    county = as_role(http, d, Role.COUNTY)
    r = await county.post("/decisions/county_approve/bulk", {"items": [
        {"project_id": d.project.project_id, "evidence": evidence}]})
    clear_error(r, 422, "INPUT")
    assert await decisions(d) == 0


async def test_deep_and_large_bodies_are_refused_before_anything_runs(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    county = as_role(http, d, Role.COUNTY)
    deep: object = "x"
    for _ in range(500):
        deep = {"k": deep}
    r = await county.post("/decisions/county_approve/bulk", {"items": [
        {"project_id": d.project.project_id, "payload": deep}]})
    clear_error(r, 422, "INPUT")
    nested = "[" * 100_000 + "]" * 100_000  # too deep even for the JSON parser
    r = await http.post("/decisions/county_approve/bulk", content=nested.encode(),
                        headers={**county.headers, "Content-Type": "application/json"})
    assert r.status_code in (413, 422), r.text
    clear_error(r, r.status_code)
    big = {"note": "字" * 750_000}  # about 2.2 MB of JSON
    r = await county.post("/decisions/county_approve/bulk", {"items": [
        {"project_id": d.project.project_id, "payload": big}]})
    clear_error(r, 413, "INPUT")
    medium = {"note": "x" * 20_000}  # under the body limit, over a decision's payload limit
    r = await county.post("/decisions/county_approve/bulk", {"items": [
        {"project_id": d.project.project_id, "payload": medium}]})
    assert r.status_code == 200 and r.json()[0]["status"] == 422, r.text
    assert r.json()[0]["rule"] == "INPUT"
    assert await decisions(d) == 0


async def test_upload_names_and_framework_errors_are_clear(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    applicant = as_role(http, d, Role.APPLICANT)
    url = f"/projects/{d.project.project_id}/documents"
    for name in ("a\x00b.pdf", "../x.pdf", "a\\b.pdf", "x" * 300 + ".pdf"):
        r = await http.post(url, files={"file": (name, b"%PDF-1.4 x", "application/pdf")},
                            data={"kind": "proof"}, headers=applicant.headers)
        clear_error(r, 422, "INPUT")
    clear_error(await applicant.get("/no/such/route"), 404)
    r = await http.post(f"/projects/{d.project.project_id}/decisions/submit",
                        content=b"{not json", headers={**applicant.headers,
                                                      "Content-Type": "application/json"})
    clear_error(r, 422, "INPUT")
    r = await http.post(url, content=b"--x\r\nbroken", headers={
        **applicant.headers, "Content-Type": "multipart/form-data; boundary=x"})
    assert 400 <= r.status_code < 500
    clear_error(r, r.status_code)
    clear_error(await http.get("/projects"), 401, "AUTH")
    assert (await http.get("/projects")).json()["kind"] == "auth"
    r = await Caller(http, token("operator", "op")).post("/batches/x/deadline", {
        "new_deadline": "2026-05-01T17:00:00+08:00", "reason": "x"})
    body = clear_error(r, 403, "ROLE")
    assert body["message_en"] == "the role operator may not take this batch action"
    r = await Caller(http, token("county", "c9", "370103")).get(
        f"/projects/{d.project.project_id}")
    body = clear_error(r, 404, "NOT_FOUND")
    assert "project" in str(body["message_en"])
    assert await decisions(d) == 0


async def test_messages_after_the_close_carry_no_chinese_in_english(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    applicant = as_role(http, d, Role.APPLICANT)
    await applicant.decide(d.project.project_id, "submit")
    await d.advance_to(d.close_at + timedelta(minutes=1))
    await d.wait_stage(Stage.NOT_RECOMMENDED)  # the close has fired (R10)
    county = as_role(http, d, Role.COUNTY)
    r = await county.post(f"/projects/{d.project.project_id}/decisions/county_approve",
                          {"reason": "晚了"})
    clear_error(r, 409, "R10")


async def test_every_instant_in_answers_carries_plus_eight(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    applicant = as_role(http, d, Role.APPLICANT)
    await applicant.decide(d.project.project_id, "submit")
    county = as_role(http, d, Role.COUNTY)
    detail = (await county.get(f"/projects/{d.project.project_id}")).json()
    instants = [detail["view"]["next_deadline"], *(x["at"] for x in detail["decisions"]),
                *(x["at"] for x in detail["view"]["deadlines"])]
    for _ in range(100):  # the list reads the read model: wait for the projection
        page = (await county.get("/projects", params={"batch_id": d.project.batch.batch_id}
                                 )).json()
        if page["items"] and page["items"][0]["stage"] == "county_review":
            break
    instants.append(page["items"][0]["next_deadline"])
    batch = (await county.get(f"/batches/{d.project.batch.batch_id}")).json()
    instants.append(batch["close_at"])
    assert all(isinstance(x, str) and PLUS_EIGHT.match(x) for x in instants), instants
    assert datetime.fromisoformat(instants[0]) == d.close_at


async def test_a_batch_filter_that_could_change_a_visibility_query_is_a_422(
    http: httpx.AsyncClient,
) -> None:
    operator = Caller(http, token("operator", "op-probe"))
    for path in ("/operator/stages", "/operator/deadlines", "/operator/archives-overdue"):
        r = await operator.get(path, params={"batch_id": "x' OR WorkflowType != 'y"})
        clear_error(r, 422)
