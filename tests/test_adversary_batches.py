"""Adversary: creating a batch with the rules-3 fields (county_review_close, direct_cities,
the co-signature's working days), and the deadlines a batch carries, through HTTP.

Each case is something a province, city or county official can type into the console or
send to the API; the definition of done says it gets a clear 4xx naming what is wrong
(rule, kind, Chinese and English) and changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.clock import SHANGHAI
from domain.stages import Stage
from models import Batch, LocalDeadline
from services.drafts import policy_of
from tests.api_support import Caller, token
from tests.driver import Harness, next_close


def _batch(**kw: Any) -> dict[str, Any]:
    body = {"batch_id": f"adv-{uuid.uuid4().hex[:8]}", "name": "对抗测试批次", "year": 2026,
            "preset": "2026",
            "close_at": next_close(datetime.now(SHANGHAI), days=10).isoformat(),
            "quotas": {"3701": 3}}
    body.update(kw)
    return body


def _clear_4xx(r: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["rule"] and body["kind"] and body["message_zh"] and body["message_en"], body
    return body


def _exists(ts: Harness, batch_id: str) -> bool:
    with ts.db() as s:
        return s.get(Batch, batch_id) is not None


@pytest.mark.parametrize("field", [
    {"close_at": "9999-12-31T23:59:59-10:00"},  # year 10000 in UTC
    {"close_at": "0001-01-01T00:30:00+08:00"},  # year 0 in UTC
    {"county_review_close": {"3701": "0001-01-01T00:30:00+08:00"}},
])
async def test_an_instant_out_of_range_is_a_4xx_and_creates_nothing(
    ts: Harness, http: httpx.AsyncClient, field: dict[str, Any],
) -> None:
    """Was a 500 (OverflowError converting to UTC for the database, or to +08:00 for the
    batch's stored policy)."""
    province = Caller(http, token("province", "prov-adv-range"))
    body = _batch(**field)
    r = await province.post("/batches", body)
    refusal = _clear_4xx(r)
    assert "2000" in refusal["message_zh"] and "2100" in refusal["message_en"], refusal
    assert not _exists(ts, body["batch_id"])


async def test_a_deadline_out_of_range_is_a_4xx(ts: Harness, http: httpx.AsyncClient) -> None:
    """The same instants as a batch extension or a local deadline: was a 500."""
    province = Caller(http, token("province", "prov-adv-range"))
    body = _batch()
    assert (await province.post("/batches", body)).status_code == 201
    city = Caller(http, token("city", "city-adv-range", "3701"))
    bid = body["batch_id"]
    r = await province.post(f"/batches/{bid}/deadline",
                            {"new_deadline": "9999-12-31T23:59:59-10:00", "reason": "延期"})
    _clear_4xx(r)
    r = await city.post(f"/batches/{bid}/local-deadline",
                        {"new_deadline": "0001-01-01T00:30:00+08:00", "reason": "提前"})
    _clear_4xx(r)
    with ts.db() as s:
        batch = s.get(Batch, bid)
        assert batch is not None
        assert batch.close_at == datetime.fromisoformat(body["close_at"])


async def test_creating_an_existing_batch_again_with_other_settings_is_refused(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """Was 201 'created' while nothing changed: the official believes 3702 is now a direct
    city and its county deadline set, and the batch (and its projects' workflows) still
    have the first settings."""
    province = Caller(http, token("province", "prov-adv-again"))
    body = _batch(direct_cities=["3701"])
    assert (await province.post("/batches", body)).status_code == 201
    again = {**body, "name": "改名后的批次", "direct_cities": ["3702"],
             "county_review_close": {"3701": body["close_at"]}}
    refusal = _clear_4xx(await province.post("/batches", again), 409)
    assert body["batch_id"] in refusal["message_zh"], refusal
    with ts.db() as s:
        batch = s.get(Batch, body["batch_id"])
        assert batch is not None
        assert batch.name == body["name"] and policy_of(batch).direct_cities == ["3701"]
    # The same request again with its Idempotency-Key is answered as the first time.
    key = f"again-{uuid.uuid4().hex[:6]}"
    other = _batch()
    first = await province.post("/batches", other, key=key)
    replay = await province.post("/batches", other, key=key)
    assert first.status_code == replay.status_code == 201
    assert replay.headers.get("idempotent-replayed") == "true"


async def test_a_county_review_close_already_past_is_refused(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """Was 201: a deadline for the counties' reviews that has already passed skips the
    county step for the city's every project (its submissions go straight to the city),
    which is what direct_cities says, not a deadline."""
    province = Caller(http, token("province", "prov-adv-past"))
    past = datetime.now(SHANGHAI) - timedelta(days=3)
    body = _batch(county_review_close={"3701": past.isoformat()})
    refusal = _clear_4xx(await province.post("/batches", body))
    assert "3701" in refusal["message_zh"], refusal
    assert not _exists(ts, body["batch_id"])


async def test_a_local_deadline_already_past_is_refused_and_ends_no_draft(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """Was 200: a city official's typo (a day or a year already past) ended every draft
    of the city at once (expired, R10, irreversible), and every draft created in the city
    afterwards at its creation (services.drafts applies stored local deadlines)."""
    d = await ts.start("2026")
    bid = d.project.batch.batch_id
    city = Caller(http, token("city", "city-adv-past", "3701"))
    for when in (datetime.now(SHANGHAI) - timedelta(days=3),
                 datetime(2002, 4, 13, 17, 0, tzinfo=SHANGHAI)):
        r = await city.post(f"/batches/{bid}/local-deadline",
                            {"new_deadline": when.isoformat(), "reason": "本市提前截止"})
        refusal = _clear_4xx(r, 409)
        assert refusal["rule"] == "R10", refusal
    await asyncio.sleep(0.3)
    assert await d.stage() is Stage.DRAFT
    with ts.db() as s:
        assert s.query(LocalDeadline).filter(LocalDeadline.batch_id == bid).count() == 0
    # A deadline still ahead is taken, as before.
    ahead = d.close_at - timedelta(days=1)
    r = await city.post(f"/batches/{bid}/local-deadline",
                        {"new_deadline": ahead.isoformat(), "reason": "本市提前截止"})
    assert r.status_code == 200 and r.json()["signalled"] == 1, r.text


async def test_a_task_or_counted_batch_given_twice_is_named(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """Was 409 CONFLICT 'a conflicting record exists or was written at the same time' (a
    primary key violated in the database): the official could not tell what to change."""
    province = Caller(http, token("province", "prov-adv-twice"))
    earlier = _batch()
    assert (await province.post("/batches", earlier)).status_code == 201
    tasks = [{"code": "T1", "direction": "technology", "title_zh": "5G工厂"},
             {"code": "T1", "direction": "chain", "title_zh": "产业链"}]
    for body, named in ((_batch(tasks=tasks), "T1"),
                        (_batch(counts=[earlier["batch_id"]] * 2), earlier["batch_id"])):
        refusal = _clear_4xx(await province.post("/batches", body))
        assert refusal["rule"] == "INPUT" and named in refusal["message_zh"], refusal
        assert named in refusal["message_en"] and not _exists(ts, body["batch_id"])
