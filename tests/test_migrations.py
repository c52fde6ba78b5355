"""The schema is made only by migrations: they must agree with the models, and go up from
an empty PostgreSQL database to head and back down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, make_url, select, text

import models
from models import Region
from runtime.db import downgrade, migrate, sessions
from tests.conftest import PG_ADMIN_URL

SPEC_CITIES = {
    "3701": "济南市", "3702": "青岛市", "3703": "淄博市", "3704": "枣庄市", "3705": "东营市",
    "3706": "烟台市", "3707": "潍坊市", "3708": "济宁市", "3709": "泰安市", "3710": "威海市",
    "3711": "日照市", "3713": "临沂市", "3714": "德州市", "3715": "聊城市", "3716": "滨州市",
    "3717": "菏泽市",
}


@pytest.fixture
def empty_db() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"gongfu_mig_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), models.Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_upgrade_from_empty_to_head_and_back_down(empty_db: str) -> None:
    engine = create_engine(empty_db)
    try:
        migrate(empty_db)
        tables = set(inspect(engine).get_table_names())
        assert set(models.Base.metadata.tables) <= tables
        downgrade(empty_db, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        migrate(empty_db)
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from region")).scalar() == 153
    finally:
        engine.dispose()


def test_regions_are_shandongs_16_cities_and_136_counties(engine: Engine) -> None:
    with sessions(engine)() as s:
        regions = s.scalars(select(Region)).all()
    cities = {r.code: r.name for r in regions if r.level == "city"}
    counties = [r for r in regions if r.level == "county"]
    assert cities == SPEC_CITIES
    assert len(counties) == 136
    assert all(c.parent_code in cities and c.code.startswith(c.parent_code) for c in counties)
    assert {"历下区", "市南区", "张店区"} <= {c.name for c in counties}
