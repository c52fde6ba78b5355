"""Many processes, here, with faults (issue 19 §2): the production topology as processes
on this machine, and whole lifecycles driven through it while a worker and an API are
SIGKILLed and started again.

    .venv/bin/python -m bench.many                      # 500 projects (about 10 min here)
    .venv/bin/python -m bench.many --projects 40 --no-save   # a smoke run

- one Temporal dev server (its own SQLite file, per-workflow time skipping enabled);
- PostgreSQL (a scratch database, migrated);
- 3 `gongfu worker` and 2 `gongfu api` processes (tests/stack.py);
- the officials' client (this process): every decision of every project goes over HTTP to
  one of the two APIs, in turn; a request that fails (connection refused, 429, 5xx) is
  sent again with the same Idempotency-Key to the other API. The calendar is the only
  thing not driven through an API: the client moves a project's clock past the batch close
  and past the end of 公示 with the server's fast-forward, as bench/world.py does.

Once a third of the decisions are answered, worker 0 and API 0 are SIGKILLed; after
`--down` seconds both are started again. Checks, each over every project:
1. it reaches its expected end (COMPLETED: the batch has no supervision period);
2. each decision an API accepted (a 200) is in exactly one history, once;
3. the read model equals the workflows (`services.operator.compare_read_model`) and every
   history verifies against the read model (`services.reprojection.verify_history`);
4. idempotency holds across the APIs: each project's first answered decision is sent
   again with its key to the other API, which must answer the same body with
   `Idempotent-Replayed: true`.
Writes bench/results/many_processes.json and many_processes.md (unless --no-save).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
from sqlalchemy import create_engine
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import TimeSkipper, TimeSkippingConfig

from bench.report import OUT, machine, percentile
from bench.world import LIFECYCLE_2026, TIME_SKIPPING, BenchProject, counties, register_batch
from domain.decisions import request_id_of
from domain.stages import Stage
from runtime.db import scratch_database, sessions
from runtime.logging import configure_logging
from services.operator import compare_read_model
from services.projects import start_project
from services.reprojection import verify_history
from tests.api_support import token
from tests.stack import Stack
from workflows.project import ProjectWorkflow

QUEUE = "many-projects"
T = TypeVar("T")
RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass
class Tally:
    accepted: dict[str, list[str]] = field(default_factory=dict)  # project → request ids
    statuses: Counter[int] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    per_api: Counter[int] = field(default_factory=Counter)  # 200s answered by each API
    replays_checked: int = 0
    problems: list[str] = field(default_factory=list)
    sent: int = 0

    @property
    def answered(self) -> int:
        return sum(len(v) for v in self.accepted.values())


class Client2:
    """The officials' side: two HTTP clients, requests spread over both APIs in turn."""

    def __init__(self, stack: Stack) -> None:
        self.http = [httpx.AsyncClient(base_url=stack.api_url(i), timeout=120)
                     for i in range(len(stack.apis))]
        self.turn = 0

    def next_api(self) -> int:
        self.turn = (self.turn + 1) % len(self.http)
        return self.turn

    async def close(self) -> None:
        for h in self.http:
            await h.aclose()


async def decide(c: Client2, bp: BenchProject, n: int, action: str, role: Any,
                 body: dict[str, Any], tally: Tally, *, check_replay: bool) -> dict[str, Any]:
    pid = bp.project.project_id
    actor = bp.officials.actors[role]
    headers = {**token(role.value, actor.user_id, actor.region, actor.unit_code),
               "Idempotency-Key": f"{pid}-{n}-{action}"}
    url = f"/projects/{pid}/decisions/{action}"
    api = c.next_api()
    tally.sent += 1
    t0 = time.perf_counter()
    for _ in range(2000):
        try:
            r = await c.http[api].post(url, json=body, headers=headers)
        except httpx.TransportError as exc:  # this API is down (killed), or overloaded
            tally.retries[f"transport {type(exc).__name__}"] += 1
            api = (api + 1) % len(c.http)
            await asyncio.sleep(0.2)
            continue
        if r.status_code in RETRYABLE:
            tally.retries[f"HTTP {r.status_code}"] += 1
            api = (api + 1) % len(c.http)
            await asyncio.sleep(min(2.0, float(r.headers.get("retry-after", "1")) / 2))
            continue
        break
    else:
        raise AssertionError(f"{action} on {pid} never answered")
    tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
    tally.statuses[r.status_code] += 1
    if r.status_code != 200:
        tally.problems.append(f"{pid} {action}: {r.status_code} {r.text[:300]}")
        return {}
    tally.per_api[api] += 1
    tally.accepted.setdefault(pid, []).append(request_id_of(actor.user_id, headers[
        "Idempotency-Key"]))
    if check_replay:  # the same request again, to the other API: the first answer
        other = (api + 1) % len(c.http)
        for _ in range(200):
            try:
                again = await c.http[other].post(url, json=body, headers=headers)
                break
            except httpx.TransportError:
                other = (other + 1) % len(c.http)  # back to the one that answered
                await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"replay of {action} on {pid} never answered")
        tally.replays_checked += 1
        if (again.status_code != 200 or again.headers.get("idempotent-replayed") != "true"
                or again.json() != r.json()):
            tally.problems.append(
                f"{pid} {action}: replay to API {other} answered {again.status_code}, "
                f"Idempotent-Replayed {again.headers.get('idempotent-replayed')}, same body "
                f"{again.json() == r.json() if again.status_code == 200 else False}; the "
                f"first answer took {tally.latencies_ms[-1]:.0f} ms")
    out: dict[str, Any] = r.json()
    return out


async def patiently(tally: Tally, call: Callable[[], Awaitable[T]]) -> T:
    """The client's own calls to Temporal (start, clock, queries): a query can time out
    while the workflow's task waits for a killed worker's sticky queue; ask again."""
    for _ in range(120):
        try:
            return await call()
        except RPCError as exc:
            tally.retries[f"temporal {exc.status.name}"] += 1
            await asyncio.sleep(1)
    raise AssertionError("Temporal never answered")


async def lifecycle(c: Client2, skipper: TimeSkipper, client: Client, bp: BenchProject,
                    tally: Tally) -> None:
    handle = await patiently(tally, lambda: start_project(client, bp.project, QUEUE))
    for n, step in enumerate(LIFECYCLE_2026):
        if step[0] is None:
            stage = step[1]
            due = ((await patiently(tally, lambda: handle.query(ProjectWorkflow.view)))
                   .publicity_end if stage is Stage.IMPLEMENTATION
                   else bp.project.batch.close_at)
            assert due is not None

            async def past(due: datetime = due) -> bool:
                """Once: a fast-forward that timed out may have moved the clock already."""
                now = await skipper.get_current_time(handle)
                if now <= due:
                    await skipper.fast_forward(handle, due - now + timedelta(minutes=1))
                return True
            await patiently(tally, past)
            for _ in range(3000):  # the timer is handled in the workflow's next task
                view = await patiently(tally, lambda: handle.query(ProjectWorkflow.view))
                if view.stage is stage:
                    break
                await asyncio.sleep(0.1)
            else:
                tally.problems.append(f"{bp.project.project_id} never reached {stage}")
                return
            continue
        action, role, payload = step
        payload = {"rank": bp.rank} if action == "city_recommend" else dict(payload)
        evidence = payload.pop("evidence", [])
        await decide(c, bp, n, action, role,
                     {"reason": f"多进程故障测试：{action}", "evidence": evidence,
                      "payload": payload}, tally, check_replay=n == 0)


async def run(projects: int, concurrency: int, down: float, data_dir: Path,
              pg_url: str) -> dict[str, Any]:
    engine = create_engine(pg_url, pool_size=10)
    db = sessions(engine)
    tally = Tally()
    kills: list[dict[str, Any]] = []
    async with Stack(data_dir, pg_url, workers=3, apis=2, queue=QUEUE,
                     server_args=TIME_SKIPPING) as stack:
        client = (await stack.client()).client
        skipper = TimeSkipper(client, config=TimeSkippingConfig(enabled=False))
        bps = register_batch(SimpleNamespace(db=db, counties=counties(db)), projects)  # type: ignore[arg-type]
        c = Client2(stack)
        sem = asyncio.Semaphore(concurrency)

        async def one(bp: BenchProject) -> None:
            async with sem:
                await lifecycle(c, skipper, client, bp, tally)

        decisions = projects * sum(1 for s in LIFECYCLE_2026 if s[0] is not None)
        t0 = time.perf_counter()
        load0 = Path("/proc/loadavg").read_text().split()[:3]
        task = asyncio.gather(*(one(bp) for bp in bps))
        while tally.answered < decisions // 3 and not task.done():
            await asyncio.sleep(0.05)
        at = time.perf_counter() - t0
        stack.kill_worker(0)
        stack.kill_api(0)
        kills.append({"killed_at_s": round(at, 1), "answered_then": tally.answered,
                      "what": "SIGKILL worker 0 and API 0"})
        await asyncio.sleep(down)
        stack.start_worker(0)
        stack.start_api(0)
        kills.append({"restarted_at_s": round(time.perf_counter() - t0, 1)})
        await asyncio.wait_for(task, timeout=3600)
        wall = time.perf_counter() - t0
        load1 = Path("/proc/loadavg").read_text().split()[:3]
        await c.close()
        checks = await check(client, db, bps, tally)
    engine.dispose()
    lat = tally.latencies_ms
    return {
        "measured_at": datetime.now(UTC).isoformat(), "machine": machine(),
        "params": {"projects": projects, "workers": 3, "apis": 2, "concurrency": concurrency,
                   "down_s": down},
        "load_before": " / ".join(load0), "load_after": " / ".join(load1),
        "wall_s": wall, "lifecycles_per_s": projects / wall,
        "decisions_accepted": tally.answered, "decisions_expected": decisions,
        "decisions_per_s": tally.answered / wall,
        "latency_ms": {"p50": percentile(lat, 0.5), "p90": percentile(lat, 0.9),
                       "p99": percentile(lat, 0.99), "max": max(lat)},
        "answered_by_api": {str(k): v for k, v in sorted(tally.per_api.items())},
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "retries": dict(tally.retries), "replays_checked": tally.replays_checked,
        "faults": kills, "checks": checks, "problems": tally.problems[:50],
        "ok": not tally.problems and all(v["ok"] for v in checks.values()),
    }


async def check(client: Client, db: Any, bps: list[BenchProject],
                tally: Tally) -> dict[str, dict[str, Any]]:
    ends: Counter[str] = Counter()
    once_bad: list[str] = []
    verify_bad: list[str] = []
    sem = asyncio.Semaphore(20)

    async def one(bp: BenchProject) -> None:
        async with sem:
            pid = bp.project.project_id
            handle = client.get_workflow_handle_for(ProjectWorkflow.run, bp.workflow_id)
            end = await handle.result()
            ends[end.stage.value] += 1
            log = await handle.query(ProjectWorkflow.decision_log)
            seen = Counter(r.request_id for r in log)
            accepted = tally.accepted.get(pid, [])
            wrong = [rid for rid in accepted if seen[rid] != 1]
            people = [r for r in log if r.actor.role.value != "system"]
            if wrong or len(people) != len(accepted):
                once_bad.append(f"{pid}: accepted {len(accepted)}, in the log by people "
                                f"{len(people)}, not once: {wrong[:3]}")
            v = await verify_history(db=db, project_id=pid, history=await handle.fetch_history())
            if not v.ok:
                verify_bad.append(f"{pid}: {v.differences}")

    await asyncio.gather(*(one(bp) for bp in bps))
    ours = {bp.project.project_id for bp in bps}
    diffs = [str(x) for x in await compare_read_model(client, db) if x.project_id in ours]
    return {
        "expected_end": {"ok": ends == Counter({Stage.COMPLETED.value: len(bps)}),
                         "ends": dict(ends)},
        "each_accepted_decision_once": {"ok": not once_bad, "bad": once_bad[:20]},
        "read_model_equals_workflows": {"ok": not diffs, "differences": diffs[:20]},
        "histories_verify": {"ok": not verify_bad, "bad": verify_bad[:20]},
        "idempotency_across_apis": {"ok": tally.replays_checked == len(bps) and not [
            p for p in tally.problems if "replay" in p], "replays": tally.replays_checked},
    }


def markdown(r: dict[str, Any]) -> str:
    p = r["params"]
    lat = r["latency_ms"]
    lines = [
        "# Many processes, with faults (issue 19 §2)", "",
        f"`python -m bench.many --projects {p['projects']}` at {r['measured_at'][:16]} UTC: "
        f"{p['workers']} workers, {p['apis']} APIs, one dev server, PostgreSQL, all on this "
        f"machine ({r['machine']['cpus']} cores, shared with other work: load "
        f"{r['load_before']} before, {r['load_after']} after).", "",
        f"**{'All checks passed' if r['ok'] else 'FAILED'}.**", "",
        "| figure | value |", "|---|---|",
        f"| projects, whole 2026 lifecycles | {p['projects']} |",
        f"| wall time | {r['wall_s']:.0f} s |",
        f"| lifecycles/s | {r['lifecycles_per_s']:.2f} |",
        f"| decisions accepted / expected | {r['decisions_accepted']} / "
        f"{r['decisions_expected']} |",
        f"| decisions/s | {r['decisions_per_s']:.1f} |",
        f"| decision latency p50 / p90 / p99 / max (incl. retries) | {lat['p50']:.0f} / "
        f"{lat['p90']:.0f} / {lat['p99']:.0f} / {lat['max']:.0f} ms |",
        f"| answered by API 0 / API 1 | {' / '.join(map(str, r['answered_by_api'].values()))} |",
        f"| retries (same key, other API) | {sum(r['retries'].values())}: "
        f"{json.dumps(r['retries'], ensure_ascii=False)} |",
        f"| faults | {'; '.join(json.dumps(k, ensure_ascii=False) for k in r['faults'])} |",
        "", "| check | passed |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {'yes' if v['ok'] else '**no**'} |"
              for k, v in r["checks"].items()]
    if r["problems"]:
        lines += ["", f"Problems ({len(r['problems'])}, the first 5):", ""]
        lines += [f"- `{p[:160]}`" for p in r["problems"][:5]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.many")
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--down", type=float, default=3.0, help="seconds the killed are down")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    configure_logging("console", "warning")

    async def go() -> dict[str, Any]:
        with scratch_database("gongfu_many") as url, tempfile.TemporaryDirectory() as tmp:
            return await run(args.projects, args.concurrency, args.down, Path(tmp), url)

    result = asyncio.run(go())
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1,
                     ensure_ascii=False))
    if not args.no_save:
        (OUT / "many_processes.json").write_text(json.dumps(result, indent=2,
                                                            ensure_ascii=False))
        (OUT / "many_processes.md").write_text(markdown(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)  # temporalio/sdk-python#300
