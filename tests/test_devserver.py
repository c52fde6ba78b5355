"""On the plain Temporal dev server (real time, no skipping): operators find projects by
their search attributes, which the workflow keeps current at every stage change."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio.client import Client

from domain.clock import SHANGHAI
from domain.roles import Role
from domain.stages import Stage
from tests import support
from tests.conftest import DEV_QUEUE
from tests.driver import Harness


async def ids_where(client: Client, query: str, expect: int, timeout: float = 15.0) -> list[str]:
    """Visibility is eventually consistent: poll until `expect` rows or the timeout."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        ids = [wf.id async for wf in client.list_workflows(query)]
        if len(ids) == expect or loop.time() > end:
            return ids
        await asyncio.sleep(0.2)


async def test_stage_is_read_back_through_a_search_attribute_query(dev: Harness) -> None:
    dev_env = dev.env
    b = support.batch("2026", datetime.now(SHANGHAI) + timedelta(days=10))
    d = await dev.start(batch=b)
    other = await dev.start(batch=b)
    await d.do("submit")
    await d.do("county_approve")
    wid = d.handle.id
    in_city_review = (
        f"GfBatch = '{b.batch_id}' AND GfStage = '{Stage.CITY_REVIEW.value}' "
        f"AND GfCity = '{support.CITY}' AND GfCounty = '{support.COUNTY}' AND GfTask = 'T1'"
    )
    assert await ids_where(dev_env.client, in_city_review, 1) == [wid]
    waiting_on_city = f"GfBatch = '{b.batch_id}' AND GfWaitingOn = 'city'"
    assert await ids_where(dev_env.client, waiting_on_city, 1) == [wid]
    drafts = f"GfBatch = '{b.batch_id}' AND GfStage = 'draft'"
    assert await ids_where(dev_env.client, drafts, 1) == [other.handle.id]
    soon = (b.close_at + timedelta(minutes=1)).isoformat()
    due = f"GfBatch = '{b.batch_id}' AND GfNextDeadline < '{soon}'"
    assert sorted(await ids_where(dev_env.client, due, 2)) == sorted([wid, other.handle.id])
    await d.do("city_recommend", rank=1)
    await d.do("concur", Role.CITY_FINANCE)
    recommended = f"GfBatch = '{b.batch_id}' AND GfStage = 'recommended'"
    assert await ids_where(dev_env.client, recommended, 1) == [wid]
    assert await ids_where(dev_env.client, in_city_review, 0) == []


async def test_demo_batch_is_idempotent_when_run_twice(dev: Harness) -> None:
    from datetime import UTC

    from tools.demo import run_demo

    now = datetime.now(UTC)
    first = await run_demo(dev.env.client, DEV_QUEUE, now, dev.db)
    again = await run_demo(dev.env.client, DEV_QUEUE, now, dev.db)
    assert first == again
    assert dict(first)[first[0][0]] == "recommended"
    handle = dev.env.client.get_workflow_handle(first[0][0])
    log = await handle.query("decision_log")
    assert len({r["request_id"] for r in log}) == len(log) == 5
