"""The test command: pytest, then exit with its status without interpreter teardown.

A process that used a Temporal client can abort while the interpreter finalizes, after
all its work succeeded (`PyGILState_Release ... finalizing`, exit 134;
temporalio/sdk-python#300). Exiting with os._exit once pytest has printed its summary
keeps the real status. pytest's 'no tests collected' (5) counts as a failure here: a
suite that ran nothing has proved nothing.

The database tests run against the machine's PostgreSQL (127.0.0.1:5432, trust auth),
each run in a database of its own; this command starts the cluster if it is down.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PG_HOST, PG_PORT = "127.0.0.1", 5432


def _pg_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((PG_HOST, PG_PORT)) == 0


def ensure_postgres() -> bool:
    """Reach the machine's PostgreSQL, starting its cluster once if it is down."""
    if _pg_up():
        return True
    versions = sorted(Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").exists() else []
    if versions and shutil.which("pg_ctlcluster"):
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main",
                        "start"], check=False, capture_output=True)
        for _ in range(30):
            if _pg_up():
                return True
            time.sleep(1)
    return False


def main(argv: list[str] | None = None) -> None:
    import pytest

    if os.environ.get("GONGFU_TEST_PG") is None and not ensure_postgres():
        print(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} and could not be started "
              "(pg_ctlcluster). The database tests need it: start it, or point "
              "GONGFU_TEST_PG at one (postgresql+psycopg2://user@host:port/db).",
              file=sys.stderr)
        os._exit(2)
    status = int(pytest.main(argv if argv is not None else sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
