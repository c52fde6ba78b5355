"""Adversary: 2024's half-year acceptance round (rules 3) through HTTP: who can apply,
who can be pulled into the round, other presets and batches, and the round opened again
after it was held."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx

from domain.clock import SHANGHAI
from domain.roles import Role
from domain.stages import Stage
from tests import support
from tests.api_support import Caller, token
from tests.driver import Harness, next_close


async def test_the_round_takes_only_units_that_applied_once(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    b = support.batch("2024", next_close(datetime.now(SHANGHAI)))
    applied, silent = await ts.start(batch=b), await ts.start(batch=b)
    await asyncio.gather(applied.to_implementation(rank=1), silent.to_implementation(rank=2))
    A, S = applied.project.project_id, silent.project.project_id
    tag = uuid.uuid4().hex[:6]
    province = Caller(http, token("province", f"prov-{tag}"))
    url = f"/batches/{b.batch_id}/acceptance-rounds/halfyear"

    # The applicant of another unit cannot apply for this project (not even see it).
    stranger = Caller(http, token("applicant", f"app-{tag}", support.CITY,
                                  support.credit_code(support.COUNTY)))
    r = await stranger.post(f"/projects/{S}/decisions/apply_for_acceptance",
                            {"reason": "申请半年期验收"})
    assert r.status_code == 404, r.text
    # Nor can the province apply for the unit.
    r = await province.post(f"/projects/{S}/decisions/apply_for_acceptance",
                            {"reason": "代为申请"})
    assert r.status_code == 403, r.text
    # A project that did not apply is not pulled into the round, even named one by one.
    r = await province.post("/decisions/open_halfyear_round/bulk",
                            {"items": [{"project_id": S, "reason": "半年期验收"}]})
    assert r.status_code == 200 and r.json()[0]["status"] == 409, r.text
    assert r.json()[0]["rule"] == "R16"
    assert await silent.stage() is Stage.IMPLEMENTATION

    await applied.do("apply_for_acceptance")
    await ts.projected(A, "apply_for_acceptance")
    r = await province.post(url, {"reason": "半年期集中验收"}, key=f"round-1-{tag}")
    assert r.status_code == 200, r.text
    assert [(x["project_id"], x["ok"]) for x in r.json()] == [(A, True)]
    assert await silent.stage() is Stage.IMPLEMENTATION

    # Not ready at the round: implementation goes on, towards the one-year round.
    await applied.do("not_ready", months=3)
    await ts.projected(A, "not_ready")
    assert await applied.stage() is Stage.IMPLEMENTATION
    # The round opened again (another key: a new request) has no candidates. It listed
    # the project that was held as refused, "the unit has not applied for the half-year
    # acceptance round", which is untrue, each time the round was opened.
    r = await province.post(url, {"reason": "再次组织半年期验收"}, key=f"round-2-{tag}")
    assert r.status_code == 200, r.text
    assert r.json() == [], r.json()
    # Nor can the unit apply again: the round was held.
    applicant = applied.actors[Role.APPLICANT]
    again = Caller(http, token("applicant", applicant.user_id, applicant.region,
                               applicant.unit_code))
    r = await again.post(f"/projects/{A}/decisions/apply_for_acceptance",
                         {"reason": "再次申请"})
    assert r.status_code == 409 and r.json()["rule"] == "R16", r.text


async def test_the_round_of_another_preset_or_batch(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    province = Caller(http, token("province", "prov-adv-round"))
    r = await province.post(f"/batches/{d.project.batch.batch_id}/acceptance-rounds/halfyear",
                            {"reason": "半年期"})
    assert r.status_code == 409 and r.json()["rule"] == "R16", r.text
    assert r.json()["message_zh"] and r.json()["message_en"]
    for batch_id in ("none-such", "x" * 200, "a%27%20OR%20%271%27%3D%271"):
        r = await province.post(f"/batches/{batch_id}/acceptance-rounds/halfyear", {})
        assert r.status_code == 404, (batch_id, r.text)
    r = await province.post(f"/batches/{d.project.batch.batch_id}/acceptance-rounds/halfyear",
                            {"reason": "x" * 2001})
    assert r.status_code == 422 and r.json()["rule"] == "INPUT", r.text
