"""The authorization matrix, generated from the route table: every route × every role ×
inside / outside the role's jurisdiction.

A role the route lists (`x-roles`) inside its jurisdiction passes authorization (any
answer but the API's 401/403/404: a 409 from the workflow is an authorized refusal); a
role the route does not list gets 403; a listed role outside its jurisdiction gets 404
where the route targets a project or a city. A new route is in the matrix the moment it
exists; a route the request builder does not know fails the test until it is taught.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from api.app import create_app
from domain.clock import SHANGHAI
from domain.project import payload_example
from domain.roles import Role
from models import UnitPenalty
from tests import support
from tests.api_support import token
from tests.driver import Drive, Harness

API_RULES = {"AUTH", "ROLE", "NOT_FOUND", "JURISDICTION"}
ROLES = [r for r in Role if r is not Role.SYSTEM]
SEE_ALL = {Role.PROVINCE, Role.PROVINCE_FINANCE, Role.OPERATOR, Role.AUDITOR}


def route_table() -> list[tuple[str, str, list[str]]]:
    """Every operation of the app, from the OpenAPI document its routes generate."""
    out = []
    for path, operations in create_app(state=None).openapi()["paths"].items():
        for method, op in operations.items():
            roles = op.get("x-roles")
            assert roles, f"{method.upper()} {path} declares no x-roles"
            out.append((method.upper(), path, roles))
    return out


ROUTES = [row for row in route_table() if row[2] != ["public"]]
# Roles a route answers 404 even "inside": an expert sees units only through the projects
# assigned to them (the project's detail), never in the unit registry (R19).
NEVER_INSIDE: dict[tuple[str, str], set[Role]] = {("GET", "/units/{credit_code}"): {Role.EXPERT}}


@dataclass
class World:
    drive: Drive
    project_id: str
    batch_id: str
    applicant_unit: str
    stranger_unit: str
    expert: str
    penalty_id: int
    tag: str


@pytest.fixture(scope="module")
async def world(ts: Harness, http: httpx.AsyncClient) -> World:
    """A 2026 project in provincial review, with an expert assigned, in 370102 / 3701."""
    d = await ts.start("2026")
    await d.to_provincial_review()
    expert = f"expert-{uuid.uuid4().hex[:6]}"
    await d.do("assign_experts", experts=[{"user_id": expert}])
    stranger = support.unit("service_provider", region="370202")
    r = await http.post("/units", json={"credit_code": stranger.credit_code, "name": "外单位",
                                        "kind": "service_provider", "region_code": "370202"},
                        headers=token("applicant", "stranger", "3702", stranger.credit_code))
    assert r.status_code == 200, r.text
    with ts.db.begin() as s:  # an R18 penalty for the province to lift
        row = UnitPenalty(unit_code=stranger.credit_code, project_id=d.project.project_id,
                          decision_seq=1, decision_ref="矩阵测试〔2026〕1号",
                          starts_on=datetime.now(SHANGHAI).date(), batch_ids=[],
                          reason="矩阵测试", recorded_by="prov-x",
                          recorded_at=datetime.now(SHANGHAI))
        s.add(row)
        s.flush()
        penalty_id = row.id
    return World(d, d.project.project_id, d.project.batch.batch_id, d.project.applicant_unit,
                 stranger.credit_code, expert, penalty_id, uuid.uuid4().hex[:6])


def principal(role: Role, inside: bool, w: World) -> dict[str, str]:
    if role is Role.APPLICANT:
        unit = w.applicant_unit if inside else w.stranger_unit
        return token("applicant", f"app-{inside}", "3701" if inside else "3702", unit)
    if role is Role.COUNTY:
        return token("county", "county-x", support.COUNTY if inside else "370103")
    if role in (Role.CITY, Role.CITY_FINANCE):
        return token(role.value, f"{role.value}-x", support.CITY if inside else "3702")
    if role is Role.EXPERT:
        return token("expert", w.expert if inside else "expert-unassigned")
    return token(role.value, f"{role.value}-x")


def build(method: str, path: str, w: World) -> tuple[dict[str, Any], bool, bool]:
    """(request kwargs, targets a project or city, answers per item)."""
    pid, bid = w.project_id, w.batch_id
    url = path.replace("{project_id}", pid).replace("{batch_id}", bid)
    later = (w.drive.close_at + timedelta(days=1)).isoformat()
    if "/decisions/" in path and path.startswith("/projects/"):
        action = path.rsplit("/", 1)[-1]
        return {"url": url, "json": {"reason": "矩阵测试", "payload": payload_example(action)}}, \
            True, False
    if path.endswith("/bulk"):
        action = path.split("/")[2]
        return {"url": url, "json": {"items": [{"project_id": pid, "reason": "矩阵测试",
                                                "payload": payload_example(action)}]}}, True, True
    fixed: dict[tuple[str, str], tuple[dict[str, Any], bool, bool]] = {
        ("POST", "/projects"): ({"url": url, "json": {
            "batch_id": bid, "task_code": "T1", "title": "矩阵测试项目", "county_code": "370102"}},
            False, False),
        ("GET", "/projects"): ({"url": url}, False, False),
        ("GET", "/projects/{project_id}"): ({"url": url}, True, False),
        ("PUT", "/projects/{project_id}/application"): (
            {"url": url, "json": {"application": {"declared_investment_cny": 1}}}, True, False),
        ("POST", "/projects/{project_id}/documents"): (
            {"url": url, "files": {"file": ("a.pdf", b"%PDF matrix", "application/pdf")},
             "data": {"kind": "archive"}}, True, False),
        ("POST", "/units"): ({"url": url, "json_factory": _new_unit}, False, False),
        ("GET", "/units/{credit_code}"): (
            {"url": url.replace("{credit_code}", w.applicant_unit)}, True, False),
        ("PUT", "/units/{credit_code}/facts"): (
            {"url": url.replace("{credit_code}", w.stranger_unit),
             "json": {"reason": "矩阵测试", "abnormal_operation": False}}, False, False),
        ("POST", "/units/import"): (
            {"url": url, "files": {"file": ("认定清单.csv", (
                "统一社会信用代码,省属国企\n" f"{w.stranger_unit},否\n").encode(), "text/csv")}},
            False, False),
        ("POST", "/batches/{batch_id}/winners"): (
            {"url": f"/batches/matrix-{w.tag}-2025-1/winners", "files": {"file": (
                "入围名单.csv", ("项目编号,任务编号,项目名称,统一社会信用代码,角色\n"
                              f"M-1,T1,矩阵往期项目,{w.stranger_unit},牵头\n").encode(),
                "text/csv")}}, False, False),
        ("POST", "/penalties/{penalty_id}/lift"): (
            {"url": f"/penalties/{w.penalty_id}/lift",
             "json": {"reason": "矩阵测试", "decision_ref": "矩阵测试〔2026〕2号"}}, False, False),
        ("GET", "/projects/{project_id}/consortium"): ({"url": url}, True, False),
        ("POST", "/projects/{project_id}/consortium/{credit_code}/consent"): (
            {"url": url.replace("{credit_code}", w.applicant_unit), "json": {"agree": True}},
            True, False),
        ("POST", "/units/{credit_code}/flag"): (
            {"url": url.replace("{credit_code}", w.stranger_unit), "json": {"reason": "测试"}},
            False, False),
        ("POST", "/batches"): ({"url": url, "json_factory": _new_batch}, False, False),
        ("GET", "/batches/{batch_id}"): ({"url": url}, False, False),
        ("POST", "/batches/{batch_id}/deadline"): (
            {"url": url, "json": {"new_deadline": later, "reason": "延期"}}, False, False),
        ("POST", "/batches/{batch_id}/local-deadline"): (
            {"url": url, "json": {"new_deadline": w.drive.close_at.isoformat(),
                                  "reason": "本地截止"}}, False, False),
        ("POST", "/batches/{batch_id}/recommendations"): (
            {"url": url, "json": {"items": [{"project_id": pid, "rank": 1}]}}, True, False),
        ("POST", "/batches/{batch_id}/award-list"): (
            {"url": url, "json": {"awards": [{"project_id": pid, "rank": 1,
                                              "amount_cny": 500_000}], "reason": "矩阵测试"}},
            False, False),
        ("GET", "/batches/{batch_id}/award-list"): ({"url": url}, False, False),
        ("GET", "/batches/{batch_id}/award-list.csv"): ({"url": url}, False, False),
        ("POST", "/batches/{batch_id}/publicity"): (
            {"url": url, "json": {"project_ids": [pid]}}, False, True),
        ("GET", "/batches/{batch_id}/recommendation-summary.xlsx"): (
            {"url": url, "params": {"city_code": support.CITY}}, True, False),
        ("GET", "/batches/{batch_id}/publicity-list.xlsx"): ({"url": url}, False, False),
        ("GET", "/batches/{batch_id}/quotas"): ({"url": url}, False, False),
        ("GET", "/batches/{batch_id}/results.csv"): ({"url": url}, False, False),
        ("GET", "/batches/{batch_id}/ranking.csv"): ({"url": url}, False, False),
        ("GET", "/batches/{batch_id}/baselines.csv"): ({"url": url}, False, False),
        ("GET", "/batches/{batch_id}/reserve-pool.csv"): ({"url": url}, False, False),
        ("GET", "/batches/{batch_id}/announcement.csv"): ({"url": url}, False, False),
        ("GET", "/audit/projects/{project_id}/timeline"): ({"url": url}, False, False),
        ("GET", "/audit/projects/{project_id}/replay"): ({"url": url}, False, False),
        ("GET", "/audit/projects/{project_id}/verify"): ({"url": url}, False, False),
        ("GET", "/audit/projects/{project_id}/audit-file"): ({"url": url}, False, False),
        ("GET", "/operator/stages"): ({"url": url, "params": {"batch_id": bid}}, False, False),
        ("GET", "/operator/deadlines"): ({"url": url}, False, False),
        ("GET", "/operator/projects/{project_id}/history"): ({"url": url}, False, False),
        ("POST", "/operator/archive"): ({"url": url}, False, False),
        ("POST", "/operator/projects/{project_id}/reproject"): ({"url": url}, True, False),
        ("GET", "/operator/stuck"): ({"url": url}, False, False),
        ("GET", "/operator/archives-overdue"): ({"url": url, "params": {"batch_id": bid}},
                                                False, False),
        ("GET", "/operator/read-model"): ({"url": url, "params": {"batch_id": bid}}, False,
                                          False),
        ("GET", "/operator/cosigns-overdue"): ({"url": url, "params": {"batch_id": bid}},
                                               False, False),
        ("POST", "/batches/{batch_id}/acceptance-rounds/halfyear"): (
            {"url": url, "json": {"reason": "半年期"}}, False, False),
    }
    assert (method, path) in fixed, f"teach the matrix how to call {method} {path}"
    return fixed[method, path]


def _new_unit() -> dict[str, Any]:
    u = support.unit("manufacturer")
    return {"credit_code": u.credit_code, "name": u.name, "kind": u.kind,
            "region_code": u.region_code}


def _new_batch() -> dict[str, Any]:
    close = (datetime.now(SHANGHAI) + timedelta(days=30)).isoformat()
    return {"batch_id": f"m-{uuid.uuid4().hex[:8]}", "name": "矩阵批次", "year": 2026,
            "preset": "2026", "close_at": close}


async def call(http: httpx.AsyncClient, method: str, spec: dict[str, Any],
               headers: dict[str, str]) -> httpx.Response:
    kw = {k: v for k, v in spec.items() if k not in ("url", "json_factory")}
    if "json_factory" in spec:
        kw["json"] = spec["json_factory"]()
    return await http.request(method, spec["url"], headers=headers, **kw)


def verdict(r: httpx.Response, per_item: bool) -> tuple[int, str | None]:
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if per_item and r.status_code == 200:
        item = body[0]
        return (200 if item["ok"] else item["status"]), item.get("rule")
    return r.status_code, body.get("rule") if isinstance(body, dict) else None


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_route_authorization(method: str, path: str, roles: list[str], world: World,
                                   http: httpx.AsyncClient) -> None:
    spec, targets, per_item = build(method, path, world)
    problems = []
    for role in ROLES:
        for inside in (True, False):
            if not inside and role in SEE_ALL:
                continue  # no project is outside their jurisdiction
            r = await call(http, method, spec, principal(role, inside, world))
            assert r.status_code < 500, f"{role} {inside}: {r.status_code} {r.text}"
            status, rule = verdict(r, per_item)
            if role.value not in roles:
                ok = status == 403 and rule == "ROLE"
            elif role in NEVER_INSIDE.get((method, path), ()):
                ok = status == 404 and rule == "NOT_FOUND"
            elif inside or not targets:
                ok = not (status in (401, 403, 404) and rule in API_RULES)
            else:
                ok = status == 404 and rule == "NOT_FOUND"
            if not ok:
                problems.append(f"{role.value} inside={inside}: {status} {rule} {r.text[:200]}")
    assert not problems, "\n".join(problems)


def test_matrix_covers_every_route_and_role() -> None:
    app_routes = route_table()
    assert len(ROUTES) == len(app_routes) - 1  # all but /health
    cells = sum(len(ROLES) * 2 - len(SEE_ALL) for _ in ROUTES)
    assert cells >= 40 * 14


async def test_unit_visibility(world: World, http: httpx.AsyncClient) -> None:
    """R19: a unit is seen by itself, by officials with jurisdiction over a project it takes
    part in, and by the province, finance, auditors and operators; experts and everyone
    else get 404 (its existence is not leaked)."""
    url = f"/units/{world.applicant_unit}"
    for role in ROLES:
        for inside in (True, False):
            r = await http.get(url, headers=principal(role, inside, world))
            visible = role in SEE_ALL or (inside and role is not Role.EXPERT)
            assert r.status_code == (200 if visible else 404), (role, inside, r.text)
            if not visible:
                assert r.json()["rule"] == "NOT_FOUND" and "flagged_by_province" not in r.text
