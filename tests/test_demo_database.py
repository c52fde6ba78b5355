"""The demo's SQLite database (the zero-setup default of `gongfu run`) takes the same
hand-built statements as PostgreSQL: the submission check with its place claims, the
city's recommendation, and the projection with its hash chain. PostgreSQL-only syntax
there would break the README's first command, and no other test runs on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from audit.chain import Verification, verify
from domain.decisions import Actor, DecisionRecord
from domain.messages import Projection
from domain.roles import Role
from domain.stages import Stage
from domain.views import ReadModelView
from models import Place, Project, Recommendation
from runtime.db import make_engine, migrate, sessions
from services.limits import check_submission, reserve_recommendation
from services.projection import apply_projection
from tests import support
from tests.test_limits import new_batch, new_project


@pytest.fixture
def demo_db(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'gongfu.db'}"
    migrate(url)
    engine = make_engine(url)
    yield sessions(engine)
    engine.dispose()


def record(seq: int, action: str, before: Stage, after: Stage) -> DecisionRecord:
    return DecisionRecord(seq=seq, request_id=f"r{seq}", action=action,
                          actor=Actor(user_id="u1", role=Role.APPLICANT, region="3701"),
                          at=datetime(2026, 4, 1, 9, seq, tzinfo=UTC), reason="演示",
                          stage_before=before, stage_after=after)


def view(pid: str, stage: Stage) -> ReadModelView:
    return ReadModelView(project_id=pid, stage=stage, stage_label_zh=stage.value,
                         end_rule=None, rank=None, experts={}, verified_investment_cny=None,
                         subsidy_amount_cny=None, disbursed_at=None, reserve_pool=False,
                         waiting_on=["county"], next_deadline=None)


def stored(db: sessionmaker[Session], pid: str) -> tuple[str, int, Verification]:
    """Where the read model stands for a project: its stage, its last projected seq, and
    its hash chain checked."""
    with db() as s:
        project = s.get(Project, pid)
        assert project is not None
        return project.stage, project.projected_seq, verify(s, pid, None)


def test_submission_recommendation_and_projection_run_on_sqlite(
    demo_db: sessionmaker[Session],
) -> None:
    policy = new_batch(demo_db, quotas={"3701": 1})
    factory = support.unit("manufacturer")
    first = new_project(demo_db, policy, support.unit("service_provider"), factory)
    second = new_project(demo_db, policy, support.unit("service_provider"), factory)
    with demo_db.begin() as s:
        assert check_submission(s.connection(), first) is None
    with demo_db.begin() as s:  # the enterprise's one place is taken (R2)
        refused = check_submission(s.connection(), second)
    assert refused is not None and refused.rule == "R2"
    with demo_db.begin() as s:
        assert check_submission(s.connection(), first) is None  # a resubmission takes it back
        assert reserve_recommendation(s.connection(), first, 1) is None
    with demo_db() as s:
        assert len(s.scalars(select(Place).where(Place.project_id == first)).all()) == 2
        assert s.get(Recommendation, first).rank == 1  # type: ignore[union-attr]

    log = [record(1, "submit", Stage.DRAFT, Stage.COUNTY_REVIEW),
           record(2, "county_approve", Stage.COUNTY_REVIEW, Stage.CITY_REVIEW)]
    run = {"run_id": "run-1"}
    with demo_db.begin() as s:
        assert apply_projection(s.connection(), Projection(
            view=view(first, Stage.COUNTY_REVIEW), records=log[:1], number=1,
            **run)).head.seq == 1
    with demo_db.begin() as s:
        head = apply_projection(s.connection(), Projection(
            view=view(first, Stage.CITY_REVIEW), records=log, number=2, **run)).head
    assert head.seq == 2
    with demo_db.begin() as s:  # stale: moves nothing back, answers with the stored head
        late = apply_projection(s.connection(), Projection(
            view=view(first, Stage.COUNTY_REVIEW), records=log[:1], number=1, **run))
    assert late.stale and late.head == head
    stage, seq, check = stored(demo_db, first)
    assert (stage, seq) == ("city_review", 2)
    assert check.chain_intact and check.records == 2
