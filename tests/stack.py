"""The production topology as processes on this machine, for the tests that kill them: a
Temporal dev server of its own (the command and pragmas `gongfu run` uses), PostgreSQL,
`gongfu worker` processes and `gongfu api` processes on ports of their own.

Each process can be SIGKILLed and started again; whatever still runs is killed when the
stack closes, and the server's last log lines are printed if the test failed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import httpx

from runtime.devserver import free_port, port_open, start_dev_server

ROOT = Path(__file__).resolve().parent.parent


class Stack:
    def __init__(self, data_dir: Path, pg_url: str, *, workers: int = 1, apis: int = 1,
                 queue: str = "stack-projects", server_args: Sequence[str] = ()) -> None:
        from tests.api_support import SETTINGS

        self.data_dir, self.pg_url, self.queue = data_dir, pg_url, queue
        self.server_args = list(server_args)  # e.g. the time skipping the benchmarks use
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.api_ports = [free_port() for _ in range(apis)]
        self.apis: list[subprocess.Popen[bytes] | None] = [None] * apis
        self.secret = SETTINGS.token_secret

    # -- processes ---------------------------------------------------------------------------

    def _env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "GONGFU_TEMPORAL_ADDRESS": self.address,
                "GONGFU_DATABASE_URL": self.pg_url, "GONGFU_TASK_QUEUE": self.queue,
                "GONGFU_TOKEN_SECRET": self.secret, "GONGFU_LOG_LEVEL": "warning",
                "GONGFU_STORAGE_DIR": str(self.data_dir / "documents"),
                "GONGFU_DEMO": "true", **extra}

    def start_worker(self, i: int = 0) -> None:
        self.workers[i] = subprocess.Popen(
            [sys.executable, "-m", "tools.cli", "worker"], cwd=ROOT, env=self._env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill_worker(self, i: int = 0) -> None:
        _kill(self.workers[i])
        self.workers[i] = None

    def start_api(self, i: int = 0) -> None:
        self.apis[i] = subprocess.Popen(
            [sys.executable, "-m", "tools.cli", "api"], cwd=ROOT,
            env=self._env(GONGFU_API_PORT=str(self.api_ports[i])),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill_api(self, i: int = 0) -> None:
        _kill(self.apis[i])
        self.apis[i] = None

    def api_url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.api_ports[i]}"

    async def healthy(self) -> None:
        """Every API answers /health with both services up."""
        async with httpx.AsyncClient(timeout=5) as http:
            for i in range(len(self.apis)):
                for _ in range(300):
                    try:
                        r = await http.get(f"{self.api_url(i)}/health")
                        if r.status_code == 200 and r.json()["status"] == "ok":
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"API {i} never became healthy")

    async def client(self) -> SimpleNamespace:
        """What `Drive.start` needs of an environment: its client."""
        from runtime.temporal import connect

        return SimpleNamespace(client=await connect(self.address))

    # -- the whole ---------------------------------------------------------------------------

    async def __aenter__(self) -> Stack:
        self.server = await start_dev_server(self.data_dir, "127.0.0.1", self.port,
                                             free_port(), extra=self.server_args)
        assert self.server is not None, f"something else listens on {self.address}"
        try:
            for i in range(len(self.workers)):
                self.start_worker(i)
            for i in range(len(self.apis)):
                self.start_api(i)
            await self.healthy()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.stop()
        log = self.data_dir / "temporal-server.log"
        if kind is not None and log.exists():  # pytest shows it with the failure
            print("temporal-server.log, last lines:",
                  *log.read_text(errors="replace").splitlines()[-40:], sep="\n")

    def stop(self) -> None:
        for proc in [*self.workers, *self.apis, self.server]:
            _kill(proc)
        while port_open("127.0.0.1", self.port):
            pass


def _kill(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)  # no goodbye, no flush
        proc.wait(timeout=10)
