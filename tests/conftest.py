"""Real Temporal servers for the tests, from the binaries the registry packages ship.

- `ts_env`: the dev server with server-side time skipping (temporalio's experimental
  `start_time_skipping_v2`): full updates and visibility, and each workflow's clock is
  moved on with `fast_forward`. Workflows start with skipping off, so time only jumps
  when a test says so.
- `dev_env`: the plain dev server, no time skipping, for search-attribute queries.
- `java_env`: the Java time-skipping test server (timers only; it is weak on updates).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment
from temporalio.worker import Worker

from activities.notify import MemorySink
from api.app import create_app
from api.state import AppState
from domain import search_attributes as sa
from runtime.db import ADMIN_URL_ENV, DEFAULT_ADMIN_URL, scratch_database, sessions
from runtime.logging import configure_logging
from runtime.temporal import temporal_cli, temporal_test_server
from tests.api_support import SETTINGS
from tests.driver import Harness
from worker import build_worker

TS_QUEUE = "ts-projects"
DEV_QUEUE = "dev-projects"
TIME_SKIPPING = ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]

configure_logging("console", "warning")

PG_ADMIN_URL = os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of its own for this test run, migrated to head, dropped at the end."""
    with scratch_database("gongfu_test") as url:
        yield url


@pytest.fixture(scope="session")
def engine(pg_url: str) -> Iterator[Engine]:
    eng = create_engine(pg_url, pool_size=60, max_overflow=10)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def db(engine: Engine) -> sessionmaker[Session]:
    return sessions(engine)


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=temporal_cli(),
        search_attributes=sa.ALL,
        data_converter=pydantic_data_converter,
        dev_server_extra_args=TIME_SKIPPING,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def sink() -> MemorySink:
    """A fake of the SMS / mail gateway, which is outside this system."""
    return MemorySink()


@pytest.fixture(scope="session")
async def ts_worker(
    ts_env: WorkflowEnvironment, sink: MemorySink, db: sessionmaker[Session]
) -> AsyncIterator[Worker]:
    async with build_worker(ts_env.client, TS_QUEUE, sink=sink, db=db) as worker:
        yield worker


@pytest.fixture(scope="session")
def ts(ts_env: WorkflowEnvironment, ts_worker: Worker, db: sessionmaker[Session]) -> Harness:
    return Harness(ts_env, db, TS_QUEUE)


@pytest.fixture(scope="session")
async def http(
    ts: Harness, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    """The API on the time-skipping dev server and the test database."""
    cfg = SETTINGS.model_copy(update={"storage_dir": tmp_path_factory.mktemp("documents")})
    app = create_app(AppState(client=ts.env.client, db=ts.db, settings=cfg, task_queue=ts.queue))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        search_attributes=sa.ALL,
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_worker(
    dev_env: WorkflowEnvironment, db: sessionmaker[Session]
) -> AsyncIterator[Worker]:
    async with build_worker(dev_env.client, DEV_QUEUE, db=db) as worker:
        yield worker


@pytest.fixture
def dev(dev_env: WorkflowEnvironment, dev_worker: Worker, db: sessionmaker[Session]) -> Harness:
    return Harness(dev_env, db, DEV_QUEUE)


@pytest.fixture
async def java_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(),
        data_converter=pydantic_data_converter,
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={k.name: k.indexed_value_type for k in sa.ALL},
        )
    )
    yield env
    await env.shutdown()
