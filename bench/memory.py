"""Benchmark 5: the worker's memory with many open projects waiting on decisions.

The worker runs as its own process (`gongfu worker`, as in production), configured only
through its settings (GONGFU_WORKER_MAX_CACHED_WORKFLOWS). Projects are started and left
in draft, waiting for the applicant, with their deadline timer running; once every one has
had its first workflow task (its search attributes say so), the worker's resident memory
is read from /proc. Each cache size gets its own worker and its own projects."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.report import Line, Result
from bench.world import Stack, register_batch, run_all
from services.projects import start_project

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> dict[str, float]:
    status = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


def start_worker(st: Stack, queue: str, cache: int, db_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GONGFU_TEMPORAL_ADDRESS": st.client.service_client.config.target_host,
           "GONGFU_DATABASE_URL": db_url, "GONGFU_TASK_QUEUE": queue,
           "GONGFU_WORKER_MAX_CACHED_WORKFLOWS": str(cache), "GONGFU_LOG_LEVEL": "warning"}
    return subprocess.Popen([sys.executable, "-m", "tools.cli", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def settle(st: Stack, batch_id: str, n: int, timeout: float = 900) -> None:
    """Until every project's first task has run: it published its stage."""
    query = f"GfBatch = '{batch_id}' AND GfStage = 'draft'"
    deadline = time.monotonic() + timeout
    while (await st.client.count_workflows(query)).count < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} projects did not all start")
        await asyncio.sleep(1)


async def one_setting(st: Stack, n: int, cache: int) -> dict[str, float]:
    queue = f"bench-memory-{cache}"
    worker = start_worker(st, queue, cache, st.db_url)
    try:
        await asyncio.sleep(5)  # imports done, pollers up
        idle = rss_mb(worker.pid)
        projects = register_batch(st, n, register=False)
        t0 = time.perf_counter()
        await run_all([start_project(st.client, bp.project, queue) for bp in projects], 100)
        await settle(st, projects[0].project.batch.batch_id, n)
        started_s = time.perf_counter() - t0
        await asyncio.sleep(3)
        loaded = rss_mb(worker.pid)
        row = {"cache": cache, "open_projects": n, "idle_rss_mb": idle["VmRSS"],
               "rss_mb": loaded["VmRSS"], "peak_rss_mb": loaded["VmHWM"],
               "kb_per_cached_project": (loaded["VmRSS"] - idle["VmRSS"]) * 1024 / min(n, cache),
               "start_s": started_s}
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
                          target="≤ 1,024 MB", met=r["rss_mb"] <= 1024, unit=" MB"))
    return Result(
        name="worker_memory", title="5 worker memory",
        params={"open_projects": n, "caches": ",".join(map(str, caches))}, rows=rows,
        lines=lines,
        notes=["One run per cache size (memory is not noisy the way time is); the floor "
               "column is the same worker process idle, before any project. Cache = "
               "GONGFU_WORKER_MAX_CACHED_WORKFLOWS; a project outside the cache is replayed "
               "from its history on its next decision or timer."])
