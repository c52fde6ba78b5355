"""The worker: runs ProjectWorkflow and its activities on the project task queue.

Run it alone with `gongfu worker` (settings from GONGFU_* environment variables; the
database must be migrated: `gongfu migrate`), or let `gongfu run` start it beside the
dev server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.calendar import publicity_period, working_days_after
from activities.notify import NotificationSink, NotifyActivities
from activities.outside import OutsideActivities
from activities.programme import ProgrammeActivities
from activities.upkeep import UpkeepActivities
from domain import seal
from runtime.db import make_engine, sessions
from runtime.logging import configure_logging
from runtime.settings import Settings, refuse_demo_secret, settings
from runtime.temporal import connect_with
from workflows import sandbox
from workflows.project import ProjectWorkflow
from workflows.upkeep import UpkeepWorkflow


def build_worker(
    client: Client,
    task_queue: str | None = None,
    *,
    db: sessionmaker[Session],
    sink: NotificationSink | None = None,
    max_cached_workflows: int | None = None,
    activity_threads: int | None = None,
    graceful_shutdown: timedelta = timedelta(0),
) -> Worker:
    cfg = settings()
    sandbox.precompile([ProjectWorkflow, UpkeepWorkflow])
    seal.configure(cfg.seal_secret.get_secret_value())  # the set_deadline validator's key
    return Worker(
        client,
        task_queue=task_queue or cfg.task_queue,
        workflows=[ProjectWorkflow, UpkeepWorkflow],
        activities=[publicity_period, working_days_after, NotifyActivities(sink).notify,
                    *ProgrammeActivities(db).all(), *UpkeepActivities(client, db).all(),
                    OutsideActivities(client).cancel_request],
        # The database activities are synchronous: they run on these threads.
        activity_executor=ThreadPoolExecutor(
            max_workers=activity_threads or cfg.worker_activity_threads),
        workflow_runner=sandbox.runner(),
        max_cached_workflows=max_cached_workflows or cfg.worker_max_cached_workflows,
        graceful_shutdown_timeout=graceful_shutdown,
    )


# On SIGTERM (docker stop, a pod deleted or rolled) the worker stops polling, lets the
# activities in flight finish for this long, then cancels what is left (Temporal retries
# it elsewhere). Within Kubernetes' terminationGracePeriodSeconds (60) and compose's
# stop_grace_period (60s).
DRAIN = timedelta(seconds=45)


async def main() -> None:
    cfg = settings()
    refuse_demo_secret(cfg, "worker")
    configure_logging(cfg.log_format, cfg.log_level)
    log = structlog.get_logger()
    client = await connect_with(cfg)  # TLS / mTLS / API key from the settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = build_worker(client, db=worker_sessions(cfg), graceful_shutdown=DRAIN)
    async with worker:  # polls until the block ends, then shuts down gracefully
        log.info("worker.started", task_queue=worker.task_queue, namespace=client.namespace)
        await stop.wait()
        log.info("worker.draining", grace_seconds=DRAIN.total_seconds())
    log.info("worker.stopped")


def worker_sessions(cfg: Settings) -> sessionmaker[Session]:
    """One pooled connection per activity thread, kept open: with fewer, the threads
    beyond the pool opened and closed a connection per activity (a PostgreSQL backend
    forked each time), which was most of the database's CPU in benchmark 1. No
    pre-ping: an activity that meets a dead connection fails, the pool is invalidated,
    and Temporal retries the activity."""
    size = max(cfg.db_pool_size, cfg.worker_activity_threads)
    return sessions(make_engine(cfg.database_url, size, max_overflow=0, pre_ping=False))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: temporalio/sdk-python#300
