"""Database engines and migrations. PostgreSQL (psycopg2) in production and tests;
SQLite for the zero-setup demo."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker


def _ensure_sqlite_folder(url: str) -> None:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, pool_size: int = 10, *, max_overflow: int | None = None,
                pre_ping: bool = True) -> Engine:
    """pre_ping tests each connection as it leaves the pool (one round trip), so that a
    request after a database restart does not fail; callers that retry anyway (the
    worker's activities) turn it off and rely on SQLAlchemy invalidating the whole pool
    at the first disconnect it sees."""
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # let BEGIN below decide
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
            dbapi_conn.execute("PRAGMA journal_mode=WAL")

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # SQLite has no SELECT ... FOR UPDATE: take the write lock at BEGIN so the
            # limit checks (R2, R3, R8) are serialized as on PostgreSQL.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=pool_size,
                         max_overflow=pool_size * 2 if max_overflow is None else max_overflow,
                         pool_pre_ping=pre_ping)


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """The migrations are located through the installed `migrations` package, so this
    works from a source checkout and from the application image alike."""
    import migrations

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ini interpolation
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    _ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


ADMIN_URL_ENV = "GONGFU_TEST_PG"
DEFAULT_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(prefix: str, admin_url: str | None = None) -> Iterator[str]:
    """A PostgreSQL database of its own, migrated to head, dropped afterwards: for the
    tests, the benchmarks and the history recorder (each run stands alone)."""
    admin_url = admin_url or os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
