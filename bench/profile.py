"""Where the worker's CPU goes during benchmark 1: py-spy samples the real worker process
(`gongfu worker`) while the drivers run real lifecycles, then the floor's worker process
while they run floor lifecycles; only samples where a thread holds the GIL count, so
waiting on PostgreSQL or the server is not counted.

    .venv/bin/python -m bench.profile [--n 60] [--seconds 20]

Writes bench/results/profile.md: the share of samples by kind of work, real beside floor,
and the project's own functions with the most samples.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import sysconfig
from collections import Counter
from pathlib import Path
from typing import Any

from bench.lifecycle import plan_from_one_lifecycle
from bench.report import OUT
from bench.world import Stack, floor_lifecycle, real_lifecycle, register_batch, run_all, stack
from runtime.logging import configure_logging

KINDS = {  # a sample counts for each kind whose frame is on its stack
    "workflow code in the sandbox": "_Instance.activate",
    "payload visiting (SDK, per payload)": "PayloadVisitor.visit",
    "database activities (threads)": "_execute_sync_activity",
    "sandbox instance creation": "_create_workflow_instance",
    "pydantic (de)serialisation": "pydantic",
}
OWN = re.compile(r"\((services|domain|activities|workflows|audit|runtime|models)/")


def py_spy() -> str:
    return str(Path(sysconfig.get_path("scripts")) / "py-spy")


async def sampled(pid: int, seconds: int, work: Any, out: Path) -> Counter[str]:
    """Record `seconds` of process `pid` while `work` runs; stacks → samples."""
    spy = subprocess.Popen([py_spy(), "record", "-p", str(pid), "-d", str(seconds),
                            "-r", "100", "--gil", "--threads", "-f", "raw", "-o", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    task = asyncio.ensure_future(work)
    while spy.poll() is None:
        await asyncio.sleep(0.2)
    await task
    stacks: Counter[str] = Counter()
    for line in out.read_text().splitlines():
        stack, n = line.rsplit(" ", 1)
        stacks[stack] += int(n)
    return stacks


def shares(stacks: Counter[str]) -> dict[str, float]:
    total = sum(stacks.values())
    return {kind: sum(n for s, n in stacks.items() if frame in s) / total
            for kind, frame in KINDS.items()}


def own_functions(stacks: Counter[str], top: int = 15) -> list[tuple[str, int]]:
    inclusive: Counter[str] = Counter()
    for s, n in stacks.items():
        for frame in {f for f in s.split(";") if OWN.search(f)}:
            inclusive[re.sub(r":\d+\)$", ")", frame)] += n
    return inclusive.most_common(top)


async def profile(st: Stack, n: int, seconds: int) -> str:
    plan, _ = await plan_from_one_lifecycle(st)
    real_projects = register_batch(st, n)
    real_work = run_all([real_lifecycle(st, bp) for bp in real_projects], 40)
    real = await sampled(st.workers[st.real_queue], seconds, real_work,
                         Path("/tmp/gongfu-profile-real.raw"))
    floor_work = run_all([floor_lifecycle(st, plan, f"prof-{i}") for i in range(n)], 40)
    floor = await sampled(st.workers[st.floor_queue], seconds, floor_work,
                          Path("/tmp/gongfu-profile-floor.raw"))
    r, f = shares(real), shares(floor)
    lines = ["# Worker profile during benchmark 1", "",
             f"py-spy on the worker process, {seconds} s at 100 Hz, GIL-holding samples only, "
             f"{n} lifecycles at concurrency 40. Samples: "
             f"real {sum(real.values())}, floor {sum(floor.values())}.", "",
             "| kind of work | real | floor |", "|---|---|---|"]
    lines += [f"| {k} | {r[k]:.0%} | {f[k]:.0%} |" for k in KINDS]
    lines += ["", "The project's own functions (inclusive samples, real lifecycles):", "",
              "| function | samples |", "|---|---|"]
    lines += [f"| `{name}` | {count} |" for name, count in own_functions(real)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    configure_logging("console", "warning")

    async def go() -> str:
        async with stack("gongfu_profile") as st:
            return await profile(st, args.n, args.seconds)

    text = asyncio.run(go())
    OUT.mkdir(exist_ok=True)
    (OUT / "profile.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)  # temporalio/sdk-python#300
