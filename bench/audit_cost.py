"""Benchmark 4: what an auditor's proof costs. Events and bytes of a full 2026 history,
and the time to produce a replay proof per event, beside the Replayer's time for the
floor workflow's history on the same runner."""

from __future__ import annotations

import statistics
import time

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from audit.replay import replay_proof
from bench.floor import FloorWorkflow
from bench.floor_plan import FloorPlan
from bench.lifecycle import plan_from_one_lifecycle
from bench.report import Line, Result, spread
from bench.world import Stack, floor_lifecycle, real_lifecycle, register_batch, run_all
from workflows import sandbox


def size(history: WorkflowHistory) -> dict[str, float]:
    proto = history.to_json()  # what `gongfu audit` exports and the archive stores
    return {"events": len(history.events), "json_kb": len(proto.encode()) / 1024}


async def floor_replay(history: WorkflowHistory) -> float:
    sandbox.precompile([FloorWorkflow])
    replayer = Replayer(workflows=[FloorWorkflow], data_converter=pydantic_data_converter,
                        workflow_runner=sandbox.runner())
    t0 = time.perf_counter()
    await replayer.replay_workflow(history)
    return time.perf_counter() - t0


async def audit_cost(st: Stack, histories: int = 10, reps: int = 3) -> Result:
    plan: FloorPlan
    plan, _ = await plan_from_one_lifecycle(st)
    real = await run_all([real_lifecycle(st, bp) for bp in register_batch(st, histories)], 10)
    floor = await run_all([floor_lifecycle(st, plan, f"audit-{i}-{time.monotonic_ns()}")
                           for i in range(histories)], 10)
    real_h = [await h.fetch_history() for h in real]
    floor_h = [await h.fetch_history() for h in floor]
    real_size = [size(h) for h in real_h]
    floor_size = [size(h) for h in floor_h]
    rows = []
    for rep in range(reps):
        proofs = [await replay_proof(h) for h in real_h]
        assert all(p.replays and p.end is not None for p in proofs)
        floor_s = [await floor_replay(h) for h in floor_h]
        row = {
            "rep": rep + 1,
            "proof_ms": statistics.median(p.seconds for p in proofs) * 1000,
            "floor_ms": statistics.median(floor_s) * 1000,
            "proof_us_per_event": statistics.median(
                p.seconds / p.events for p in proofs) * 1e6,
            "floor_us_per_event": statistics.median(
                s / len(h.events) for s, h in zip(floor_s, floor_h, strict=True)) * 1e6,
        }
        row["ratio_per_event"] = row["proof_us_per_event"] / row["floor_us_per_event"]
        print({k: round(v, 3) for k, v in row.items()}, flush=True)
        rows.append(row)
    events = max(s["events"] for s in real_size)
    kb = max(s["json_kb"] for s in real_size)
    one = {"min": events, "median": statistics.median(s["events"] for s in real_size)}
    size_kb = {"min": kb, "median": statistics.median(s["json_kb"] for s in real_size)}
    ratio = spread(rows, "ratio_per_event")
    return Result(
        name="audit_cost", title="4 audit",
        params={"histories": histories, "reps": reps},
        rows=[*rows, {"real_sizes": real_size, "floor_sizes": floor_size}],
        lines=[
            Line("events per full history (max / median)", one,
                 {"min": max(s["events"] for s in floor_size),
                  "median": statistics.median(s["events"] for s in floor_size)},
                 target="≤ 300", met=events <= 300),
            Line("history size, JSON export (max / median)", size_kb,
                 {"min": max(s["json_kb"] for s in floor_size),
                  "median": statistics.median(s["json_kb"] for s in floor_size)},
                 target="≤ 256 KB", met=kb <= 256, unit=" KB"),
            Line("replay time per history", spread(rows, "proof_ms"), spread(rows, "floor_ms"),
                 spread(rows, "ratio_per_event"), unit=" ms"),
            Line("replay time per event", spread(rows, "proof_us_per_event"),
                 spread(rows, "floor_us_per_event"), ratio, "≤ 1.5×",
                 ratio["median"] <= 1.5, " µs"),
        ],
        notes=["The proof is `audit.replay.replay_proof` (a fresh Replayer on the worker's "
               "sandbox runner, plus reading the stages and end from the history); the floor "
               "is a bare Replayer on the same runner. Sizes are of the JSON export that "
               "`gongfu audit` downloads and the archive keeps; the first column of the size "
               "rows is the largest history, judged against the target."])
