"""How cost grows with the batch: lifecycles/s and CPU per lifecycle at several batch sizes,
real `ProjectWorkflow` beside the floor, each size on a fresh server and database (so a
size is not slowed by the earlier ones' closed workflows), drawn as a PNG.

    .venv/bin/python -m bench.growth [--sizes 250,1000,4000,8000] [--concurrency 100]
    .venv/bin/python -m bench.growth --plot-only   # redraw from bench/results/growth.json

Writes bench/results/growth.json (rows appended per size as they finish, so a long run
that is stopped keeps its finished sizes) and bench/results/growth.png. One repetition per
size: the point is the shape of the curve; the machine's load is recorded with each row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.lifecycle import one_rep, plan_from_one_lifecycle
from bench.report import OUT, machine
from bench.world import stack
from runtime.logging import configure_logging

JSON, PNG = OUT / "growth.json", OUT / "growth.png"


def load_avg() -> str:
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


async def one_size(n: int, concurrency: int) -> dict[str, Any]:
    async with stack(f"gongfu_growth_{n}") as st:
        plan, _ = await plan_from_one_lifecycle(st)
        before = load_avg()
        row = await one_rep(st, plan, n, concurrency, 0, 16)
    return {"n": n, "concurrency": concurrency, "load_before": before,
            "load_after": load_avg(), "at": datetime.now(UTC).isoformat(), **row}


def save(rows: list[dict[str, Any]]) -> None:
    JSON.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


def plot(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    rows = sorted(rows, key=lambda r: r["n"])
    ns = [r["n"] for r in rows]
    fig, (rate, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, style, color in (("real", "o-", "tab:blue"), ("floor", "s--", "tab:orange")):
        rate.plot(ns, [r[f"{kind}_per_s"] for r in rows], style, color=color, label=kind)
        cpu.plot(ns, [r[f"{kind}_cpu_ms_each"] for r in rows], style, color=color,
                 label=f"{kind}, all processes")
        cpu.plot(ns, [r[f"{kind}_worker_cpu_ms_each"] for r in rows], style, color=color,
                 alpha=0.45, label=f"{kind}, worker only")
    for ax, title, unit in ((rate, "lifecycles/s", "lifecycles/s"),
                            (cpu, "CPU per lifecycle (worker+server+PG+drivers)", "ms")):
        ax.set_xscale("log")
        ax.set_xticks(ns, [f"{n:,}" for n in ns])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("projects in the batch (whole 2026 lifecycles)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"gongfu: cost as the batch grows (1 run per size, concurrency "
                 f"{rows[0]['concurrency']}, 2 shared cores; noisy)", fontsize=10)
    fig.tight_layout()
    fig.savefig(PNG, dpi=110)


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| projects | real lifecycles/s | floor lifecycles/s | real ÷ floor rate | "
           "real CPU ms / lifecycle (worker) | floor CPU ms / lifecycle (worker) | "
           "load (1/5/15 min, before) |", "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["n"]):
        out.append(f"| {r['n']:,} | {r['real_per_s']:.2f} | {r['floor_per_s']:.2f} | "
                   f"{r['rate_ratio']:.2f}× | {r['real_cpu_ms_each']:.0f} "
                   f"({r['real_worker_cpu_ms_each']:.0f}) | {r['floor_cpu_ms_each']:.0f} "
                   f"({r['floor_worker_cpu_ms_each']:.0f}) | {r['load_before']} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.growth")
    parser.add_argument("--sizes", default="250,1000,4000,8000")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--plot-only", action="store_true")
    args = parser.parse_args()
    configure_logging("console", "warning")
    rows: list[dict[str, Any]] = json.loads(JSON.read_text())["rows"] if JSON.exists() else []
    if not args.plot_only:
        for n in (int(s) for s in args.sizes.split(",")):
            print(f"== growth n={n} ({datetime.now(UTC):%H:%M:%S} UTC)", flush=True)
            row = asyncio.run(one_size(n, args.concurrency))
            rows = [r for r in rows if r["n"] != n] + [row]
            save(rows)
            plot(rows)
    plot(rows)
    print(table(rows))
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)  # temporalio/sdk-python#300
