"""Decision round trip: HTTP → token → jurisdiction → workflow update → validator → stage in
the response, with N concurrent officials over a batch of open projects, beside the bare
Temporal client's `execute_update` of the same decision on the same server at the same
concurrency. Both run in the same repetition, so the ratio is meaningful on a noisy
shared machine.

Run by `python -m bench roundtrip` (sizes in bench/__main__.py); its result is written
with the others'. Needs the local PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.auth import Principal, issue_token
from bench.report import percentile
from domain import search_attributes as sa
from domain.batch import BatchPolicy, ConsortiumMember, ProjectInput
from domain.catalogue import TASKS_2026
from domain.decisions import Actor, Decision
from domain.eligibility import UnitFacts, with_check_char
from runtime.db import scratch_database, sessions
from runtime.devserver import free_port
from runtime.settings import Settings
from runtime.temporal import SQLITE_PRAGMAS, temporal_cli
from services.projects import decide, start_project
from services.registry import TaskDef, ensure_batch, ensure_unit, register_project
from worker import build_worker

OUT = Path(__file__).resolve().parent / "results"
COUNTY, CITY = "370102", "3701"


async def prepare(env: WorkflowEnvironment, db, queue: str, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    """n projects of a fresh batch, each submitted (so in county review)."""
    close = datetime.now(UTC) + timedelta(days=30)
    batch = BatchPolicy(batch_id=f"bench-{uuid.uuid4().hex[:6]}", name="bench", year=2026,
                        preset="2026", close_at=close)
    ids = []
    with db.begin() as s:
        ensure_batch(s, batch, [TaskDef(code=c, direction=d, title_zh=t) for c, d, t in TASKS_2026],
                     {CITY: n})
        for i in range(n):
            code = with_check_char(f"91{COUNTY}{uuid.uuid4().int % 10**9:09d}")
            lead = UnitFacts(credit_code=code, name=f"provider {i}", kind="service_provider",
                             region_code=COUNTY)
            ensure_unit(s, lead)
            project = ProjectInput(
                project_id=f"{batch.batch_id}-{i}", title=f"bench {i}", batch=batch,
                task_code="T1", city_code=CITY, county_code=COUNTY, applicant_unit=lead.credit_code,
                consortium=[ConsortiumMember(credit_code=lead.credit_code, name=lead.name,
                                             role="lead")])
            register_project(s, project)
            ids.append(project)
    sem = asyncio.Semaphore(20)

    async def start_and_submit(p: ProjectInput) -> str:
        async with sem:
            await start_project(env.client, p, queue)
            actor = Actor(user_id="bench-app", role="applicant", region=CITY,
                          unit_code=p.applicant_unit)
            await decide(env.client, p.project_id, Decision(
                request_id=f"submit-{p.project_id}", action="submit", actor=actor))
            return p.project_id

    return list(await asyncio.gather(*(start_and_submit(p) for p in ids)))


async def run_clients(ids: list[str], clients: int, one) -> list[float]:  # type: ignore[no-untyped-def]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for pid in ids:
        queue.put_nowait(pid)
    latencies: list[float] = []

    async def official() -> None:
        while not queue.empty():
            pid = queue.get_nowait()
            t0 = time.perf_counter()
            await one(pid)
            latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(official() for _ in range(clients)))
    return latencies


async def until_healthy(http: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await http.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the API did not start")


async def main(projects: int, clients: int, reps: int) -> dict[str, object]:
    with scratch_database("gongfu_bench") as url:
        return await measure(url, projects, clients, reps)


async def measure(url: str, projects: int, clients: int, reps: int) -> dict[str, object]:
    name = url.rsplit("/", 1)[-1]
    engine = create_engine(url, pool_size=40)
    db = sessions(engine)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(), search_attributes=sa.ALL,
        data_converter=pydantic_data_converter, dev_server_extra_args=SQLITE_PRAGMAS,
        dev_server_database_filename=f"/tmp/{name}.db")
    cfg = Settings(token_secret="bench-secret-" + "x" * 32)
    port = free_port()
    # The API in its own process (`gongfu api`), as production runs it: it does not share
    # an interpreter with the worker and the benchmark's clients.
    api = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "api"], cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ,
             "GONGFU_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
             "GONGFU_DATABASE_URL": url, "GONGFU_TASK_QUEUE": "bench",
             "GONGFU_TOKEN_SECRET": cfg.token_secret, "GONGFU_API_PORT": str(port),
             "GONGFU_LOG_LEVEL": "warning",
             "GONGFU_DEMO": "true"},  # the demo seal secret; the token secret is its own
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    county = Principal(user_id="bench-county", role="county", region=COUNTY)
    headers = {"Authorization": f"Bearer {issue_token(county, cfg.token_secret)}"}
    rows = []
    try:
        async with build_worker(env.client, "bench", db=db, max_cached_workflows=5000):
            limits = httpx.Limits(max_connections=clients)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                         timeout=60) as http:
                await until_healthy(http)
                for rep in range(reps):
                    api_ids = await prepare(env, db, "bench", projects)
                    bare_ids = await prepare(env, db, "bench", projects)

                    async def via_api(pid: str) -> None:
                        r = await http.post(f"/projects/{pid}/decisions/county_approve",
                                            json={"reason": "bench"}, headers=headers)
                        assert r.status_code == 200 and r.json()["stage"] == "city_review", r.text

                    async def bare(pid: str) -> None:
                        out = await decide(env.client, pid, Decision(
                            request_id=f"bare-{pid}", action="county_approve",
                            actor=county.actor, reason="bench"))
                        assert out.stage.value == "city_review"

                    t0 = time.perf_counter()
                    api_lat = await run_clients(api_ids, clients, via_api)
                    api_wall = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    bare_lat = await run_clients(bare_ids, clients, bare)
                    bare_wall = time.perf_counter() - t0
                    row = {
                        "rep": rep + 1,
                        "api_p50_ms": percentile(api_lat, 0.50),
                        "api_p99_ms": percentile(api_lat, 0.99),
                        "bare_p50_ms": percentile(bare_lat, 0.50),
                        "bare_p99_ms": percentile(bare_lat, 0.99),
                        "api_decisions_per_s": len(api_lat) / api_wall,
                        "bare_decisions_per_s": len(bare_lat) / bare_wall,
                    }
                    row["ratio_p50"] = row["api_p50_ms"] / row["bare_p50_ms"]
                    row["ratio_p99"] = row["api_p99_ms"] / row["bare_p99_ms"]
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        api.terminate()
        api.wait(timeout=30)
        await env.shutdown()
        engine.dispose()
        Path(f"/tmp/{name}.db").unlink(missing_ok=True)
    summary = {k: {"min": min(r[k] for r in rows), "median": statistics.median(r[k] for r in rows)}
               for k in rows[0] if k != "rep"}
    return {"projects": projects, "clients": clients, "reps": reps, "rows": rows,
            "summary": summary,
            "note": "The API runs as its own process (`gongfu api`); the worker and both "
                    "kinds of client share the benchmark's process."}
