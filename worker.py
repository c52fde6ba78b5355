"""The worker: runs ProjectWorkflow and its activities on the project task queue.

Run it alone with `gongfu worker` (settings from GONGFU_* environment variables; the
database must be migrated: `gongfu migrate`), or let `gongfu run` start it beside the
dev server.
"""

from __future__ import annotations

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.calendar import publicity_period
from activities.notify import NotificationSink, NotifyActivities
from activities.programme import ProgrammeActivities
from activities.upkeep import UpkeepActivities
from runtime.db import make_engine, sessions
from runtime.logging import configure_logging
from runtime.settings import Settings, refuse_demo_secret, settings
from runtime.temporal import connect
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
) -> Worker:
    cfg = settings()
    sandbox.precompile([ProjectWorkflow, UpkeepWorkflow])
    return Worker(
        client,
        task_queue=task_queue or cfg.task_queue,
        workflows=[ProjectWorkflow, UpkeepWorkflow],
        activities=[publicity_period, NotifyActivities(sink).notify,
                    *ProgrammeActivities(db).all(), *UpkeepActivities(client, db).all()],
        # The database activities are synchronous: they run on these threads.
        activity_executor=ThreadPoolExecutor(
            max_workers=activity_threads or cfg.worker_activity_threads),
        workflow_runner=sandbox.runner(),
        max_cached_workflows=max_cached_workflows or cfg.worker_max_cached_workflows,
    )


async def main() -> None:
    cfg = settings()
    refuse_demo_secret(cfg, "worker")
    configure_logging(cfg.log_format, cfg.log_level)
    client = await connect(cfg.temporal_address, cfg.temporal_namespace)
    await build_worker(client, db=worker_sessions(cfg)).run()


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
