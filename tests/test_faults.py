"""Durability with a real process killed: the worker runs as its own process (`gongfu
worker`), is SIGKILLed in the middle of a run of projects, and started again. Every
project must reach its expected end with each decision applied exactly once, and the read
model must equal the workflows."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from domain.clock import SHANGHAI
from domain.decisions import Decision, DecisionOutcome
from domain.stages import Stage
from models import Project
from services.projects import decide
from tests import support
from tests.driver import Drive, Harness, next_close
from workflows.project import ProjectWorkflow

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "fault-projects"
PROJECTS = 60
STEPS = ("submit", "county_approve", "city_return", "resubmit", "county_approve", "city_reject")


def start_worker(ts: Harness, pg_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GONGFU_TEMPORAL_ADDRESS": ts.env.client.service_client.config.target_host,
           "GONGFU_DATABASE_URL": pg_url, "GONGFU_TASK_QUEUE": QUEUE,
           "GONGFU_LOG_LEVEL": "warning"}
    return subprocess.Popen([sys.executable, "-m", "tools.cli", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def send_until_answered(d: Drive, decision: Decision) -> DecisionOutcome:
    """A client that retries the same request (same update id) until it is answered."""
    for _ in range(120):
        try:
            return await asyncio.wait_for(
                decide(d.client, d.project.project_id, decision), timeout=15)
        except (TimeoutError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            await asyncio.sleep(0.5)
    raise AssertionError(f"{decision.action} on {d.project.project_id} never answered")


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
        await asyncio.wait_for(self.task, timeout=240)
        ends = await asyncio.gather(*(d.result() for d in self.drives))
        assert 0 < killed_at < len(self.drives) * len(STEPS)
        assert {(e.stage, e.rule) for e in ends} == {(Stage.NOT_RECOMMENDED, "DECISION")}
        for d in self.drives:  # queries need a live worker
            log = await d.handle.query(ProjectWorkflow.decision_log)
            assert [r.action for r in log] == EXPECTED_LOG, d.project.project_id


async def test_sigkill_the_worker_mid_run_loses_and_doubles_nothing(
    ts: Harness, pg_url: str,
) -> None:
    b = support.batch("2026", next_close(datetime.now(SHANGHAI), days=10))
    drives = [await Drive.start(ts.env, b, QUEUE, ts.db) for _ in range(PROJECTS)]
    worker = start_worker(ts, pg_url)
    try:
        run = Run(drives)
        await run.until_a_third_answered()
        worker.send_signal(signal.SIGKILL)  # mid-run: no goodbye, no flush
        worker.wait(timeout=10)
        killed_at = run.answered
        await asyncio.sleep(1)
        worker = start_worker(ts, pg_url)
        await run.finish_and_check(killed_at)
        for _ in range(100):  # the last projections may still be landing
            with ts.db() as s:
                stages = {s.get(Project, d.project.project_id).stage  # type: ignore[union-attr]
                          for d in drives}
            if stages == {"not_recommended"}:
                break
            await asyncio.sleep(0.1)
        assert stages == {"not_recommended"}
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)


async def test_dev_server_killed_and_restarted_mid_run_loses_nothing(
    ts: Harness, tmp_path: Path,
) -> None:
    """The Temporal server itself (its own process, SQLite file, the command `gongfu run`
    uses) is SIGKILLed mid-run and started again on the same file; the worker and the
    clients reconnect and carry on."""
    from types import SimpleNamespace

    from runtime.devserver import port_open, start_dev_server
    from runtime.temporal import connect
    from worker import build_worker

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = await start_dev_server(tmp_path, "127.0.0.1", port, port + 1)
    assert server is not None
    client = await connect(f"127.0.0.1:{port}")
    env = SimpleNamespace(client=client)
    b = support.batch("2026", next_close(datetime.now(SHANGHAI), days=10))
    drives = [await Drive.start(env, b, "restart-projects", ts.db)  # type: ignore[arg-type]
              for _ in range(30)]
    try:
        async with build_worker(client, "restart-projects", db=ts.db):
            run = Run(drives)
            await run.until_a_third_answered()
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            killed_at = run.answered
            while port_open("127.0.0.1", port):
                await asyncio.sleep(0.1)
            server = await start_dev_server(tmp_path, "127.0.0.1", port, port + 1)
            assert server is not None
            await run.finish_and_check(killed_at)
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
