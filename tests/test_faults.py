"""Durability with a real process killed: the worker runs as its own process (`gongfu
worker`), is SIGKILLed in the middle of a run of projects, and started again. Every
project must reach its expected end with each decision applied exactly once, and the read
model must equal the workflows."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from domain.clock import SHANGHAI
from domain.decisions import Decision, DecisionOutcome
from domain.stages import Stage
from models import Project
from runtime.devserver import free_port, port_open, start_dev_server
from services.projects import decide
from tests import support
from tests.driver import Drive, Harness, next_close
from workflows.project import ProjectWorkflow

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "fault-projects"
# `make test` runs 200 projects × 6 decisions per kill test, to keep CI within its 30
# minutes beside the bursts, the property test and the browser tests; the size,
# 500, is `GONGFU_FAULT_PROJECTS=500 .venv/bin/python -m tools.run_tests tests/test_faults.py`
# (and `python -m bench.many --projects 500` kills a worker and an API among 3+2 processes).
PROJECTS = int(os.environ.get("GONGFU_FAULT_PROJECTS", "200"))
# How long one client waits for its answer before sending the same request again, and
# how long it keeps trying. With 500 projects deciding at once an answer can take 10-20 s
# on 2 cores: a shorter wait made every slow answer a second request.
ATTEMPT_SECONDS = 60
PATIENCE_SECONDS = 540
STEPS = ("submit", "county_approve", "city_return", "resubmit", "county_approve", "city_reject")


def start_worker(address: str, pg_url: str, queue: str = QUEUE) -> subprocess.Popen[bytes]:
    """`gongfu worker` as its own process, as in production: killing it is a real crash,
    and it does not share a GIL with the hundreds of clients driving the run."""
    env = {**os.environ, "GONGFU_TEMPORAL_ADDRESS": address,
           "GONGFU_DATABASE_URL": pg_url, "GONGFU_TASK_QUEUE": queue,
           "GONGFU_LOG_LEVEL": "warning", "GONGFU_DEMO": "true"}
    return subprocess.Popen([sys.executable, "-m", "tools.cli", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class OwnServer:
    """A dev server of the test's own (its SQLite file, the command and pragmas `gongfu
    run` uses), so a run of hundreds of projects is not slowed by every earlier test's
    workflows on the suite's shared server; and it can be killed."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = await start_dev_server(self.data_dir, "127.0.0.1", self.port,
                                           free_port())
        assert self.proc is not None, f"something else listens on {self.address}"

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        while port_open("127.0.0.1", self.port):
            await asyncio.sleep(0.1)

    async def client(self) -> SimpleNamespace:
        """What `Drive.start` needs of an environment: its client."""
        from runtime.temporal import connect

        return SimpleNamespace(client=await connect(self.address))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


async def send_until_answered(d: Drive, decision: Decision) -> DecisionOutcome:
    """A client that retries the same request (same update id) until it is answered."""
    loop = asyncio.get_running_loop()
    give_up, errors = loop.time() + PATIENCE_SECONDS, Counter[str]()
    while loop.time() < give_up:
        try:
            return await asyncio.wait_for(
                decide(d.client, d.project.project_id, decision), timeout=ATTEMPT_SECONDS)
        except (TimeoutError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
            errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
            await asyncio.sleep(0.5)
    raise AssertionError(f"{decision.action} on {d.project.project_id} not answered in "
                         f"{PATIENCE_SECONDS} s; attempts ended by {dict(errors)}")


EXPECTED_LOG = ["submit", "admit", "county_approve", "city_return", "resubmit", "admit",
                "county_approve", "city_reject"]


class Run:
    """Every project driven through STEPS at once by retrying clients; counts answers."""

    def __init__(self, drives: list[Drive]) -> None:
        self.drives, self.done = drives, Counter[Drive]()
        self.task = asyncio.gather(*(self._lifecycle(d) for d in drives))

    async def _lifecycle(self, d: Drive) -> None:
        for step in STEPS:
            decision = d.decision(step, reason=f"故障测试：{step}",
                                  request_id=f"{d.project.project_id}-{step}-{self.done[d] + 1}")
            await send_until_answered(d, decision)
            self.done[d] += 1

    @property
    def answered(self) -> int:
        return sum(self.done.values())

    async def until_a_third_answered(self) -> int:
        while self.answered < len(self.drives) * len(STEPS) // 3:
            await asyncio.sleep(0.05)
        return self.answered

    async def finish_and_check(self, killed_at: int) -> None:
        """Every project at its expected end, each decision applied exactly once."""
        await asyncio.wait_for(self.task, timeout=PATIENCE_SECONDS + 120)
        ends = await asyncio.gather(*(d.result() for d in self.drives))
        assert 0 < killed_at < len(self.drives) * len(STEPS)
        assert {(e.stage, e.rule) for e in ends} == {(Stage.NOT_RECOMMENDED, "DECISION")}
        for d in self.drives:  # queries need a live worker
            log = await d.handle.query(ProjectWorkflow.decision_log)
            assert [r.action for r in log] == EXPECTED_LOG, d.project.project_id


async def read_model_stages(ts: Harness, drives: list[Drive]) -> set[str]:
    with ts.db() as s:
        return {s.get(Project, d.project.project_id).stage for d in drives}  # type: ignore[union-attr]


class KillRun:
    """What both kill tests set up: a server of their own, PROJECTS projects on it, and
    `gongfu worker` serving them; whatever is still running is killed at the end."""

    def __init__(self, ts: Harness, pg_url: str, data_dir: Path, queue: str) -> None:
        self.ts, self.pg_url, self.queue = ts, pg_url, queue
        self.server = OwnServer(data_dir)
        self.worker: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> None:
        self.worker = start_worker(self.server.address, self.pg_url, self.queue)

    def kill_worker(self) -> None:
        if self.worker is not None:
            self.worker.send_signal(signal.SIGKILL)  # no goodbye, no flush
            self.worker.wait(timeout=10)

    async def __aenter__(self) -> Run:
        await self.server.start()
        try:
            env = await self.server.client()
            b = support.batch("2026", next_close(datetime.now(SHANGHAI), days=10))
            drives = [await Drive.start(env, b, self.queue, self.ts.db)  # type: ignore[arg-type]
                      for _ in range(PROJECTS)]
            self.start_worker()
        except BaseException:
            self.server.stop()
            raise
        return Run(drives)

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.kill_worker()
        self.server.stop()
        log = self.server.data_dir / "temporal-server.log"
        if kind is not None and log.exists():  # pytest shows it with the failure
            print("temporal-server.log, last lines:",
                  *log.read_text(errors="replace").splitlines()[-40:], sep="\n")


async def test_sigkill_the_worker_mid_run_loses_and_doubles_nothing(
    ts: Harness, pg_url: str, tmp_path: Path,
) -> None:
    fault = KillRun(ts, pg_url, tmp_path, QUEUE)
    async with fault as run:
        await run.until_a_third_answered()
        fault.kill_worker()  # mid-run
        killed_at = run.answered
        await asyncio.sleep(1)
        fault.start_worker()
        await run.finish_and_check(killed_at)
        for _ in range(100):  # the last projections may still be landing
            if await read_model_stages(ts, run.drives) == {"not_recommended"}:
                break
            await asyncio.sleep(0.1)
        assert await read_model_stages(ts, run.drives) == {"not_recommended"}


async def test_dev_server_killed_and_restarted_mid_run_loses_nothing(
    ts: Harness, pg_url: str, tmp_path: Path,
) -> None:
    """The Temporal server itself (its own process, SQLite file, the command `gongfu run`
    uses) is SIGKILLed mid-run and started again on the same file; the worker and the
    clients reconnect and carry on."""
    fault = KillRun(ts, pg_url, tmp_path, "restart-projects")
    async with fault as run:
        await run.until_a_third_answered()
        await fault.server.kill()
        killed_at = run.answered
        await fault.server.start()
        await run.finish_and_check(killed_at)


# -- PostgreSQL away during projection writes ------------------------------------------------


class CuttableLink:
    """A TCP proxy in front of PostgreSQL that can drop every connection and refuse new
    ones, then come back on the same port: the database as the worker sees it in an
    outage, without stopping the server the rest of the suite uses."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.links):
            w.transport.abort()
        await self.server.wait_closed()
        self.server = None

    async def _link(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            w.transport.abort()
            return
        self.links |= {w, uw}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()
                self.links.discard(dst)

        await asyncio.gather(pump(r, uw), pump(ur, w))


async def test_postgres_unreachable_during_projection_writes_then_restored(
    ts: Harness, pg_url: str,
) -> None:
    """Workflows keep taking decisions while the read model's database is away; the
    projection retries, and once the database is back the read model converges to the
    workflows: same stage, every record once, the hash chain intact."""
    from sqlalchemy.engine import make_url

    from audit.chain import verify
    from runtime.db import make_engine, sessions
    from worker import build_worker

    url = make_url(pg_url)
    link = CuttableLink((url.host or "127.0.0.1", url.port or 5432))
    await link.open()
    engine = make_engine(url.set(host="127.0.0.1", port=link.port)
                         .render_as_string(hide_password=False), pool_size=5)
    queue = "outage-projects"
    b = support.batch("2026", next_close(datetime.now(SHANGHAI), days=10))
    drives = [await Drive.start(ts.env, b, queue, ts.db) for _ in range(20)]
    try:
        async with build_worker(ts.env.client, queue, db=sessions(engine)):
            await asyncio.gather(*(d.do("submit") for d in drives))
            for _ in range(100):
                if await read_model_stages(ts, drives) == {"county_review"}:
                    break
                await asyncio.sleep(0.1)
            await link.cut()
            outcomes = await asyncio.gather(*(d.do("county_approve") for d in drives))
            outcomes += await asyncio.gather(*(d.do("city_return") for d in drives))
            assert {o.stage for o in outcomes} == {Stage.CITY_REVIEW, Stage.RETURNED}
            await asyncio.sleep(4)  # several projection attempts fail meanwhile
            assert await read_model_stages(ts, drives) == {"county_review"}
            for d in drives:
                assert (await d.handle.describe()).status.name == "RUNNING"
            await link.open()  # the database is back, on the same address
            for _ in range(600):
                if await read_model_stages(ts, drives) == {"returned"}:
                    break
                await asyncio.sleep(0.1)
            assert await read_model_stages(ts, drives) == {"returned"}
            for d in drives:
                history = await d.handle.fetch_history()
                with ts.db() as s:
                    check = verify(s, d.project.project_id, history)
                assert check.ok and check.records == len(await d.handle.query(
                    ProjectWorkflow.decision_log)), check
    finally:
        if link.server is not None:
            await link.cut()
        engine.dispose()


# -- the API killed during a burst of decisions ---------------------------------------------


def start_api(ts: Harness, pg_url: str, port: int, storage: Path) -> subprocess.Popen[bytes]:
    from tests.api_support import SETTINGS
    from tests.conftest import TS_QUEUE

    env = {**os.environ, "GONGFU_TEMPORAL_ADDRESS": ts.env.client.service_client.config.target_host,
           "GONGFU_DATABASE_URL": pg_url, "GONGFU_TASK_QUEUE": TS_QUEUE,
           "GONGFU_TOKEN_SECRET": SETTINGS.token_secret, "GONGFU_API_PORT": str(port),
           "GONGFU_STORAGE_DIR": str(storage), "GONGFU_LOG_LEVEL": "warning",
           "GONGFU_DEMO": "true"}
    return subprocess.Popen([sys.executable, "-m", "tools.cli", "api"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_api_killed_mid_burst_retries_with_the_same_key_have_one_effect(
    ts: Harness, pg_url: str, tmp_path: Path,
) -> None:
    """The API process is SIGKILLed while officials' requests are in flight, some of them
    already delivered to their workflows; clients retry with the same Idempotency-Key
    against the restarted API. Every decision takes effect exactly once."""
    import httpx

    from bench.decision_roundtrip import until_healthy
    from tests.api_support import token

    port = free_port()
    api = start_api(ts, pg_url, port, tmp_path)
    b = support.batch("2026", next_close(datetime.now(SHANGHAI), days=10))
    drives = [await ts.start(batch=b) for _ in range(40)]
    roles = {"submit": ("applicant", support.CITY), "resubmit": ("applicant", support.CITY),
             "county_approve": ("county", support.COUNTY), "city_return": ("city", support.CITY),
             "city_reject": ("city", support.CITY)}
    answered = Counter[str]()

    async def official(http: httpx.AsyncClient, d: Drive) -> None:
        pid = d.project.project_id
        for n, step in enumerate(STEPS):
            role, region = roles[step]
            unit = d.project.applicant_unit if role == "applicant" else None
            headers = {**token(role, f"{role}-1", region, unit), "Idempotency-Key": f"{pid}-{n}"}
            for _ in range(300):
                try:
                    r = await http.post(f"/projects/{pid}/decisions/{step}", headers=headers,
                                        json={"reason": f"故障测试：{step}"})
                except httpx.TransportError:  # the API is gone: retry, same key
                    await asyncio.sleep(0.1)
                    continue
                if r.status_code >= 500:
                    await asyncio.sleep(0.1)
                    continue
                assert r.status_code == 200, (step, r.text)
                answered[pid] += 1
                break
            else:
                raise AssertionError(f"{step} on {pid} never answered")

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await until_healthy(http)
            burst = asyncio.gather(*(official(http, d) for d in drives))
            while sum(answered.values()) < len(drives) * len(STEPS) // 3:
                await asyncio.sleep(0.02)
            api.send_signal(signal.SIGKILL)
            api.wait(timeout=10)
            killed_at = sum(answered.values())
            api = start_api(ts, pg_url, port, tmp_path)
            await asyncio.wait_for(burst, timeout=240)
        assert 0 < killed_at < len(drives) * len(STEPS)
        for d in drives:
            log = await d.handle.query(ProjectWorkflow.decision_log)
            assert [r.action for r in log] == EXPECTED_LOG, d.project.project_id
    finally:
        api.send_signal(signal.SIGKILL)
        api.wait(timeout=10)
