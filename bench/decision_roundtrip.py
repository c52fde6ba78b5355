"""Decision round trip: HTTP → token → jurisdiction → workflow update → validator → stage in
the response, with N concurrent officials over a batch of open projects, beside the bare
Temporal client's `execute_update` of the same decision on the same server at the same
concurrency. Both run in the same repetition, so the ratio is meaningful on a noisy
shared machine.

    .venv/bin/python -m bench.decision_roundtrip [--projects 500] [--clients 20] [--reps 3]

Writes bench/results/decision_roundtrip.json and .md. Needs the local PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import create_engine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import Principal, issue_token
from api.state import AppState
from domain import search_attributes as sa
from domain.batch import BatchPolicy, ConsortiumMember, ProjectInput
from domain.catalogue import TASKS_2026
from domain.decisions import Actor, Decision
from domain.eligibility import UnitFacts, with_check_char
from runtime.db import scratch_database, sessions
from runtime.logging import configure_logging
from runtime.settings import Settings
from runtime.temporal import SQLITE_PRAGMAS, temporal_cli
from services.projects import decide, start_project
from services.registry import TaskDef, ensure_batch, ensure_unit, register_project
from worker import build_worker

OUT = Path(__file__).resolve().parent / "results"
COUNTY, CITY = "370102", "3701"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    server = uvicorn.Server(uvicorn.Config(
        create_app(AppState(client=env.client, db=db, settings=cfg, task_queue="bench")),
        host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    county = Principal(user_id="bench-county", role="county", region=COUNTY)
    headers = {"Authorization": f"Bearer {issue_token(county, cfg.token_secret)}"}
    rows = []
    try:
        async with build_worker(env.client, "bench", db=db, max_cached_workflows=5000):
            while not server.started:
                await asyncio.sleep(0.05)
            limits = httpx.Limits(max_connections=clients)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                         timeout=60) as http:
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
        server.should_exit = True
        await serving
        await env.shutdown()
        engine.dispose()
        Path(f"/tmp/{name}.db").unlink(missing_ok=True)
    summary = {k: {"min": min(r[k] for r in rows), "median": statistics.median(r[k] for r in rows)}
               for k in rows[0] if k != "rep"}
    return {"projects": projects, "clients": clients, "reps": reps, "rows": rows,
            "summary": summary}


def markdown(result: dict[str, object]) -> str:
    s = result["summary"]  # type: ignore[index]
    lines = [f"Decision round trip, {result['clients']} concurrent officials, "
             f"{result['projects']} open projects, {result['reps']} repetitions "
             "(min / median over repetitions)", "",
             "| measure | through the API | bare execute_update | API ÷ bare |",
             "|---|---|---|---|"]
    for q in ("p50", "p99"):
        a, b, r = s[f"api_{q}_ms"], s[f"bare_{q}_ms"], s[f"ratio_{q}"]  # type: ignore[index]
        lines.append(f"| {q} latency (ms) | {a['min']:.1f} / {a['median']:.1f} | "
                     f"{b['min']:.1f} / {b['median']:.1f} | {r['min']:.2f} / {r['median']:.2f} |")
    a, b = s["api_decisions_per_s"], s["bare_decisions_per_s"]  # type: ignore[index]
    lines.append(f"| decisions/s | {a['min']:.1f} / {a['median']:.1f} | "
                 f"{b['min']:.1f} / {b['median']:.1f} | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    configure_logging("console", "warning")
    result = asyncio.run(main(args.projects, args.clients, args.reps))
    OUT.mkdir(exist_ok=True)
    (OUT / "decision_roundtrip.json").write_text(json.dumps(result, indent=2))
    (OUT / "decision_roundtrip.md").write_text(markdown(result))
    print(markdown(result))
    sys.stdout.flush()
    os._exit(0)  # temporalio/sdk-python#300
