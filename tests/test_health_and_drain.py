"""The API's /health answers 503 when Temporal or the database does not answer, and the
worker process drains and exits 0 on SIGTERM (docker stop, a pod rolled)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import create_engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from api.state import AppState
from runtime.db import sessions
from runtime.devserver import free_port
from tests.api_support import SETTINGS
from tests.driver import Harness

ROOT = Path(__file__).resolve().parent.parent


async def _health(client: Client, db) -> httpx.Response:  # type: ignore[no-untyped-def]
    app = create_app(AppState(client=client, db=db, settings=SETTINGS, task_queue="none"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        return await http.get("/health")


async def test_health_is_503_when_the_database_or_temporal_is_away(ts: Harness) -> None:
    ok = await _health(ts.env.client, ts.db)
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "temporal": "ok",
                                                   "database": "ok"}
    nowhere = create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/x",
                            connect_args={"connect_timeout": 2})
    r = await _health(ts.env.client, sessions(nowhere))
    assert r.status_code == 503
    assert r.json()["status"] == "degraded" and r.json()["temporal"] == "ok"
    assert r.json()["database"].startswith("unavailable")
    away = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True,
                                data_converter=pydantic_data_converter)
    r = await _health(away, ts.db)
    assert r.status_code == 503 and r.json()["temporal"].startswith("unavailable")
    assert r.json()["database"] == "ok"


async def test_the_worker_drains_and_exits_on_sigterm(ts: Harness, pg_url: str) -> None:
    env = {**os.environ, "GONGFU_TEMPORAL_ADDRESS": ts.env.client.service_client.config.target_host,
           "GONGFU_TEMPORAL_NAMESPACE": ts.env.client.namespace, "GONGFU_DATABASE_URL": pg_url,
           "GONGFU_TASK_QUEUE": "drain-test", "GONGFU_LOG_FORMAT": "json",
           "GONGFU_LOG_LEVEL": "info", "GONGFU_DEMO": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "tools.cli", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        loop = asyncio.get_running_loop()
        line = await asyncio.wait_for(loop.run_in_executor(None, proc.stderr.readline), 60)
        while '"worker.started"' not in line:
            assert line, "the worker ended before it started"
            line = await asyncio.wait_for(loop.run_in_executor(None, proc.stderr.readline), 60)
        proc.send_signal(signal.SIGTERM)
        rest, _ = await loop.run_in_executor(None, lambda: proc.communicate(timeout=60)[::-1])
        assert proc.returncode == 0, rest
        events = [json.loads(x)["event"] for x in rest.splitlines() if x.startswith("{")]
        assert events[-2:] == ["worker.draining", "worker.stopped"], rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
