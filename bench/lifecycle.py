"""Benchmarks 1 and 3: whole 2026 lifecycles per second, real `ProjectWorkflow` against
the floor workflow with the same Temporal commands, on the same server and worker
settings, in the same repetition (the order alternates, so neither always runs on a
warmer server)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType

from bench.floor_plan import FloorPlan
from bench.report import Line, Result, spread
from bench.world import (
    Stack,
    cpu_seconds,
    floor_lifecycle,
    postgres_cpu_seconds,
    real_lifecycle,
    register_batch,
    run_all,
)

PROCESSES = ("server", "worker", "drivers", "postgres")


def cpu_lines(rows: list[dict[str, Any]]) -> list[Line]:
    """CPU per lifecycle, real beside floor: less disturbed than wall time by other work
    on a shared machine (PostgreSQL's is every backend's on the machine, so noisier)."""
    return [Line("CPU per lifecycle (server+worker+drivers+PG)", spread(rows, "real_cpu_ms_each"),
                 spread(rows, "floor_cpu_ms_each"), spread(rows, "cpu_ratio"), unit=" ms"),
            Line("worker CPU per lifecycle", spread(rows, "real_worker_cpu_ms_each"),
                 spread(rows, "floor_worker_cpu_ms_each"), spread(rows, "worker_cpu_ratio"),
                 unit=" ms")]


async def plan_from_one_lifecycle(st: Stack) -> tuple[FloorPlan, dict[str, list[int]]]:
    """Run one real and one floor lifecycle; the floor's plan comes from the real history,
    and the two histories' event counts are kept as evidence that they match."""
    (bp,) = register_batch(st, 1)
    real = [e async for e in (await real_lifecycle(st, bp)).fetch_history_events()]
    plan = FloorPlan.from_history(real)
    floor = [e async for e in (await floor_lifecycle(st, plan, "probe")).fetch_history_events()]
    a = Counter(EventType.Name(e.event_type) for e in real)
    b = Counter(EventType.Name(e.event_type) for e in floor)
    counts = {k.removeprefix("EVENT_TYPE_"): [a[k], b[k]] for k in sorted(set(a) | set(b))}
    return plan, counts


async def one_rep(st: Stack, plan: FloorPlan, n: int, concurrency: int, rep: int,
                  cities: int) -> dict[str, Any]:
    projects = register_batch(st, n, cities)

    server = st.server_pid()
    cpu: dict[str, float] = {}

    async def timed(kind: str, queue: str, coros: list[Any]) -> float:
        """Wall time, and CPU per lifecycle of each process: the server, the worker, the
        drivers (this process) and PostgreSQL."""
        worker = st.workers[queue]
        t0, s0, w0 = time.perf_counter(), cpu_seconds(server), cpu_seconds(worker)
        d0, p0 = time.process_time(), postgres_cpu_seconds()
        await run_all(coros, concurrency)
        cpu[f"{kind}_server_cpu_ms_each"] = (cpu_seconds(server) - s0) * 1000 / n
        cpu[f"{kind}_worker_cpu_ms_each"] = (cpu_seconds(worker) - w0) * 1000 / n
        cpu[f"{kind}_drivers_cpu_ms_each"] = (time.process_time() - d0) * 1000 / n
        cpu[f"{kind}_postgres_cpu_ms_each"] = (postgres_cpu_seconds() - p0) * 1000 / n
        return n / (time.perf_counter() - t0)

    def real() -> Any:
        return timed("real", st.real_queue, [real_lifecycle(st, bp) for bp in projects])

    def floor() -> Any:
        return timed("floor", st.floor_queue,
                     [floor_lifecycle(st, plan, f"{rep}-{n}-{i}-{time.monotonic_ns()}")
                      for i in range(n)])

    if rep % 2 == 0:
        real_rate, floor_rate = await real(), await floor()
    else:
        floor_rate, real_rate = await floor(), await real()
    for kind in ("real", "floor"):  # CPU is what a lifecycle costs on a CPU-bound machine
        cpu[f"{kind}_cpu_ms_each"] = sum(cpu[f"{kind}_{p}_cpu_ms_each"] for p in PROCESSES)
    cpu["cpu_ratio"] = cpu["real_cpu_ms_each"] / cpu["floor_cpu_ms_each"]
    cpu["worker_cpu_ratio"] = cpu["real_worker_cpu_ms_each"] / cpu["floor_worker_cpu_ms_each"]
    row = {"rep": rep + 1, **cpu, "real_per_s": real_rate, "floor_per_s": floor_rate,
           "real_wall_s": n / real_rate, "floor_wall_s": n / floor_rate,
           "real_ms_each": 1000 / real_rate, "floor_ms_each": 1000 / floor_rate,
           "cost_ratio": floor_rate / real_rate, "rate_ratio": real_rate / floor_rate}
    print({k: round(v, 3) for k, v in row.items()}, flush=True)
    return row


async def lifecycle_cost(st: Stack, n: int = 100, reps: int = 3,
                         concurrency: int = 50) -> Result:
    """Benchmark 1: the real lifecycle's cost in multiples of the floor's (target ≤ 1.15×)."""
    plan, counts = await plan_from_one_lifecycle(st)
    rows = [await one_rep(st, plan, n, concurrency, rep, 16) for rep in range(reps)]
    ratio = spread(rows, "cost_ratio")
    return Result(
        name="lifecycle_cost", title="1 lifecycle cost",
        params={"lifecycles": n, "concurrency": concurrency, "reps": reps},
        rows=[*rows, {"event_counts_real_floor": counts}],
        lines=[Line("lifecycles/s", spread(rows, "real_per_s"), spread(rows, "floor_per_s"),
                    spread(rows, "rate_ratio")),
               Line("wall time per lifecycle", spread(rows, "real_ms_each"),
                    spread(rows, "floor_ms_each"), ratio, "≤ 1.15×", ratio["median"] <= 1.15,
                    " ms"), *cpu_lines(rows)],
        notes=[f"Floor = {plan.updates} updates, {plan.activities} activities, "
               f"{plan.local_activities} local activities, {plan.upserts} upserts, "
               f"{sum(p.fires for p in plan.phases)} timers fired and "
               f"{sum(not p.fires for p in plan.phases)} cancelled, counted from a real "
               "history in the same run; the two histories' event counts are in the JSON."])


async def provincial_batch(st: Stack, n: int = 2000, reps: int = 3,
                           concurrency: int = 100) -> Result:
    """Benchmark 3: a provincial batch across the 16 cities (target ≥ 0.85× the floor's
    rate)."""
    plan, _ = await plan_from_one_lifecycle(st)
    rows = [await one_rep(st, plan, n, concurrency, rep, 16) for rep in range(reps)]
    ratio = spread(rows, "rate_ratio")
    return Result(
        name="provincial_batch", title="3 provincial batch",
        params={"projects": n, "cities": 16, "concurrency": concurrency, "reps": reps},
        rows=rows,
        lines=[Line("wall time", spread(rows, "real_wall_s"), spread(rows, "floor_wall_s"),
                    spread(rows, "cost_ratio"), unit=" s"),
               Line("lifecycles/s", spread(rows, "real_per_s"), spread(rows, "floor_per_s"),
                    ratio, "≥ 0.85×", ratio["median"] >= 0.85), *cpu_lines(rows)],
        notes=["Whole 2026 lifecycles with the calendar compressed by per-workflow time "
               "skipping (each project's clock is moved past the batch close and the end "
               "of 公示; the timers really fire)."])
