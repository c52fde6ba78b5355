"""Benchmark 5: the worker's memory with many open projects waiting on decisions.

The worker runs as its own process (`gongfu worker`, as in production), configured only
through its settings (GONGFU_WORKER_MAX_CACHED_WORKFLOWS). Projects are started and left
in draft, waiting for the applicant, with their deadline timer running; once every one has
answered a query (so its workflow has run in this worker), the worker's resident memory
is read from /proc. Each cache size gets its own worker and its own projects."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from temporalio.service import RPCError

from bench.report import Line, Result
from bench.world import (
    BenchProject,
    Stack,
    cpu_seconds,
    register_batch,
    run_all,
    spawn_worker,
)
from domain.stages import Stage
from services.projects import start_project
from workflows.project import ProjectWorkflow


def rss_mb(pid: int) -> dict[str, float]:
    status = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


async def resident(st: Stack, projects: list[BenchProject]) -> None:
    """Until every project's workflow has run in the worker: a query is answered only
    from the workflow's state in the worker (loaded into its cache, or replayed into it).
    The search attributes are no signal here: they are set when the workflow starts."""
    async def ask(bp: BenchProject) -> None:
        handle = st.client.get_workflow_handle(bp.workflow_id)
        for _ in range(20):  # a worker whose cache is smaller than n replays to answer
            try:
                view = await handle.query(ProjectWorkflow.view, rpc_timeout=timedelta(seconds=60))
                break
            except RPCError:
                await asyncio.sleep(1)
        else:
            raise TimeoutError(f"{bp.workflow_id} never answered")
        assert view.stage is Stage.DRAFT

    await run_all([ask(bp) for bp in projects], 20)


async def until_idle(pid: int, quiet_s: float = 5.0) -> None:
    """Until the worker has used no CPU for `quiet_s`: every start has been handled."""
    last, quiet = cpu_seconds(pid), 0.0
    while quiet < quiet_s:
        await asyncio.sleep(1)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - last < 0.1 else 0.0  # pollers use a little
        last = now


async def one_setting(st: Stack, n: int, cache: int) -> dict[str, float]:
    queue = f"bench-memory-{cache}"
    log = Path(f"/tmp/{st.server_db.stem}-worker-{cache}.log")
    worker = spawn_worker(st, queue, cache=cache, log=log)
    try:
        await asyncio.sleep(5)  # imports done, pollers up
        idle = rss_mb(worker.pid)
        projects = register_batch(st, n, register=False)
        t0 = time.perf_counter()
        await run_all([start_project(st.client, bp.project, queue) for bp in projects], 100)
        if cache >= n:
            await resident(st, projects)
        else:  # querying through a small cache replays without end: wait until idle
            await until_idle(worker.pid)
        started_s = time.perf_counter() - t0
        await asyncio.sleep(3)
        loaded = rss_mb(worker.pid)
        row = {"cache": cache, "open_projects": n, "idle_rss_mb": idle["VmRSS"],
               "rss_mb": loaded["VmRSS"], "peak_rss_mb": loaded["VmHWM"],
               "kb_per_cached_project": (loaded["VmRSS"] - idle["VmRSS"]) * 1024 / min(n, cache),
               "start_s": started_s,
               # The SDK's deadlock detector: a workflow task that held its thread > 2 s.
               "tmprl1101": log.read_text(errors="replace").count("TMPRL1101")}
        print({k: round(v, 2) for k, v in row.items()}, flush=True)
        return row
    finally:
        worker.kill()
        worker.wait(timeout=30)


async def worker_memory(st: Stack, n: int = 10_000,
                        caches: tuple[int, ...] = (10_000, 1_000)) -> Result:
    rows = [await one_setting(st, n, c) for c in caches]
    lines = []
    for r in rows:
        rss = {"min": r["rss_mb"], "median": r["rss_mb"]}
        lines.append(Line(f"worker RSS, {n:,} open, cache {int(r['cache']):,} (peak "
                          f"{r['peak_rss_mb']:.0f} MB)", rss,
                          {"min": r["idle_rss_mb"], "median": r["idle_rss_mb"]},
                          target="≤ 1,126 MB", met=r["rss_mb"] <= 1126, unit=" MB"))
        kb = {"min": r["kb_per_cached_project"], "median": r["kb_per_cached_project"]}
        lines.append(Line(f"KB per cached open project, cache {int(r['cache']):,}", kb,
                          target="≤ 100 KB", met=kb["median"] <= 100, unit=" KB"))
        fired = {"min": r["tmprl1101"], "median": r["tmprl1101"]}
        lines.append(Line(f"TMPRL1101 (deadlock detector) warnings, cache {int(r['cache']):,}",
                          fired, target="never", met=r["tmprl1101"] == 0))
    return Result(
        name="worker_memory", title="5 worker memory",
        params={"open_projects": n, "caches": ",".join(map(str, caches))}, rows=rows,
        lines=lines,
        notes=["One run per cache size (memory is not noisy the way time is); the floor "
               "column is the same worker process idle, before any project. Cache = "
               "GONGFU_WORKER_MAX_CACHED_WORKFLOWS; a project outside the cache is replayed "
               "from its history on its next decision or timer. TMPRL1101 = the SDK's deadlock "
               "detector's warnings in the worker's stderr during the run."])
