"""All benchmarks, one command:

    .venv/bin/python -m bench                 # every benchmark, full size (about 1.5 h here)
    .venv/bin/python -m bench lifecycle audit # some of them
    .venv/bin/python -m bench --quick         # every one, small sizes: a smoke run (minutes)

Each writes bench/results/<name>.json; then bench/results/README.md is rewritten with one
table from the latest result of every benchmark, so a partial run keeps the others' rows.
Needs the local PostgreSQL (as the tests do); the Temporal dev server is started here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench.report import OUT, Line, Result, load, markdown, spread
from runtime.logging import configure_logging

ORDER = ("lifecycle_cost", "decision_roundtrip", "provincial_batch", "audit_cost",
         "worker_memory")
ALIASES = {"lifecycle": "lifecycle_cost", "roundtrip": "decision_roundtrip",
           "provincial": "provincial_batch", "audit": "audit_cost", "memory": "worker_memory"}
FULL: dict[str, dict[str, Any]] = {
    "lifecycle_cost": {"n": 100, "reps": 3}, "provincial_batch": {"n": 2000, "reps": 3},
    "audit_cost": {"histories": 10, "reps": 3},
    "worker_memory": {"n": 10_000, "caches": (10_000, 3_000, 1_000)},
    "decision_roundtrip": {"projects": 500, "clients": 20, "reps": 3},
}
QUICK: dict[str, dict[str, Any]] = {
    "lifecycle_cost": {"n": 10, "reps": 3}, "provincial_batch": {"n": 48, "reps": 3},
    "audit_cost": {"histories": 3, "reps": 3},
    "worker_memory": {"n": 300, "caches": (300, 100)},
    "decision_roundtrip": {"projects": 40, "clients": 20, "reps": 3},
}


def roundtrip_result(raw: dict[str, Any]) -> Result:
    """Benchmark 2 has its own stack (the API beside the bare client); same table."""
    rows = raw["rows"]
    lines = [Line(f"{q} latency", spread(rows, f"api_{q}_ms"), spread(rows, f"bare_{q}_ms"),
                  spread(rows, f"ratio_{q}"), "≤ 1.3×",
                  spread(rows, f"ratio_{q}")["median"] <= 1.3, " ms") for q in ("p50", "p99")]
    lines.append(Line("decisions/s", spread(rows, "api_decisions_per_s"),
                      spread(rows, "bare_decisions_per_s")))
    return Result(name="decision_roundtrip", title="2 decision round trip",
                  params={k: raw[k] for k in ("projects", "clients", "reps")}, rows=rows,
                  lines=lines, notes=[raw.get("note", "")])


async def run(names: list[str], sizes: dict[str, dict[str, Any]], quick: bool) -> list[Result]:
    """Each result is saved as soon as its benchmark ends: a later failure loses nothing."""
    from bench import audit_cost, decision_roundtrip, lifecycle, memory
    from bench.world import stack

    done: list[Result] = []
    if "decision_roundtrip" in names:
        raw = await decision_roundtrip.main(**sizes["decision_roundtrip"])
        done.append(keep(roundtrip_result(raw), quick))
    on_stack: dict[str, Callable[..., Awaitable[Result]]] = {
        "lifecycle_cost": lifecycle.lifecycle_cost, "provincial_batch": lifecycle.provincial_batch,
        "audit_cost": audit_cost.audit_cost, "worker_memory": memory.worker_memory}
    for name in names:
        if name not in on_stack:
            continue
        async with stack() as st:  # each benchmark on a fresh server and database
            print(f"== {name} ({datetime.now(UTC):%H:%M:%S} UTC)", flush=True)
            done.append(keep(await on_stack[name](st, **sizes[name]), quick))
    return done


def keep(result: Result, quick: bool) -> Result:
    if quick:
        result.params["quick"] = True
    result.save()
    return result


def extras() -> str:
    """The runs with commands of their own, kept in the README when `bench` rewrites it:
    how cost grows (`python -m bench.growth`) and the many-process fault run
    (`python -m bench.many`)."""
    import json

    from bench.growth import JSON, table

    out = ""
    if JSON.exists():
        out += ("\n## How cost grows\n\n`.venv/bin/python -m bench.growth --sizes "
                "250,1000,2000,4000` (one run per size, each on a fresh server and database, "
                "concurrency 100; CPU = worker + server + PostgreSQL + drivers, per lifecycle; "
                "the 2 cores are shared, so the load is shown):\n\n"
                + table(json.loads(JSON.read_text())["rows"]) + "\n![cost as the batch grows]"
                "(growth.png)\n")
    many = OUT / "many_processes.md"
    if many.exists():
        out += ("\n## Many processes, with faults\n\n`.venv/bin/python -m bench.many "
                "--projects 500` (3 workers, 2 APIs, a worker and an API SIGKILLed and "
                "restarted; the same run at 30 projects is `tests/test_many_processes.py`). "
                "Latest run, from `many_processes.md`:\n\n"
                + many.read_text().split("\n", 2)[2])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(ALIASES)}; default all")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--reps", type=int, help="repetitions, instead of each one's default")
    parser.add_argument("--caches", help="worker memory: cache sizes, e.g. 10000,3000")
    parser.add_argument("--open", type=int, help="worker memory: open projects (10,000)")
    parser.add_argument("--table-only", action="store_true",
                        help="run nothing: rewrite bench/results/README.md from the results")
    args = parser.parse_args()
    names = [ALIASES.get(n, n) for n in args.names] or list(ORDER)
    unknown = set(names) - set(ORDER)
    if unknown:
        parser.error(f"unknown benchmark: {', '.join(sorted(unknown))}")
    configure_logging("console", "warning")
    sizes = QUICK if args.quick else FULL
    if args.reps:
        sizes = {k: {**v, "reps": args.reps} if "reps" in v else v for k, v in sizes.items()}
    if args.caches:
        caches = tuple(int(c) for c in args.caches.split(","))
        sizes = {**sizes, "worker_memory": {**sizes["worker_memory"], "caches": caches}}
    if args.open:
        sizes = {**sizes, "worker_memory": {**sizes["worker_memory"], "n": args.open}}
    if not args.table_only:
        asyncio.run(run(names, sizes, args.quick))
    table = markdown([r for n in ORDER if (r := load(n)) is not None])
    (OUT / "README.md").write_text(
        "# Benchmark results\n\nWritten by `python -m bench`; each row is the latest run of "
        "its benchmark on this machine (2 cores). Min / median over repetitions; the "
        "target is judged on the median ratio.\n\n" + table + extras())
    print(table)
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)  # temporalio/sdk-python#300: skip interpreter teardown
