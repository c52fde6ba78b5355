"""The embedded Temporal dev server for the zero-setup run: SQLite under the data folder
(state survives restarts), web UI on, the custom search attributes registered."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from domain import search_attributes as sa
from runtime.temporal import SQLITE_PRAGMAS, temporal_cli


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def dev_server_command(data_dir: Path, host: str, port: int, ui_port: int,
                       extra: Sequence[str] = ()) -> list[str]:
    return [
        temporal_cli(), "server", "start-dev",
        "--db-filename", str(data_dir / "temporal.db"),
        "--ip", host, "--port", str(port), "--ui-port", str(ui_port),
        "--log-level", "warn",
        *sa.cli_flags(),
        *SQLITE_PRAGMAS,
        *extra,
    ]


async def start_dev_server(
    data_dir: Path, host: str, port: int, ui_port: int, timeout: float = 60.0,
    extra: Sequence[str] = (),
) -> subprocess.Popen[bytes] | None:
    """Start the dev server unless one already listens there (then reuse it: None); `extra`
    are more arguments (the benchmarks' dynamic config, e.g. time skipping)."""
    if port_open(host, port):
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "temporal-server.log").open("ab")
    proc = subprocess.Popen(
        dev_server_command(data_dir, host, port, ui_port, extra), stdout=log,
        stderr=subprocess.STDOUT,
    )
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not port_open(host, port):
        if proc.poll() is not None:
            raise RuntimeError(f"temporal dev server exited ({proc.returncode}); "
                               f"see {data_dir / 'temporal-server.log'}")
        if loop.time() > end:
            proc.terminate()
            raise TimeoutError("temporal dev server did not start in time")
        await asyncio.sleep(0.2)
    return proc
