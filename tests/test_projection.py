"""The read model in PostgreSQL follows the workflow, and a retried projection is a no-op."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.messages import GENESIS, ChainHead, Projection
from domain.roles import Role
from domain.stages import Stage
from domain.views import ProjectContent, ReadModelView
from models import DecisionRow, Place, Project, Unit
from services.limits import check_submission
from services.projection import apply_projection, one_statement, project_chained
from tests import support
from tests.driver import Drive, Harness
from tests.test_demo_database import record, stored, view
from tests.test_limits import new_batch, new_project
from workflows.project import ProjectWorkflow


async def complete_2026(d: Drive) -> None:
    await d.to_implementation()
    await d.do("submit_archive", title="第一期过程档案", evidence=["b" * 64])
    await d.do("request_early_acceptance")
    await d.do("accept_early_acceptance")
    await d.do("pass_acceptance", verified_investment_cny=2_400_000)
    await d.do("decide_subsidy", amount_cny=900_000)
    await d.do("concur", Role.PROVINCE_FINANCE)
    await d.do("record_disbursement")
    await d.result()


def rows(db: sessionmaker[Session], project_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with db() as s:
        p = s.get(Project, project_id)
        assert p is not None
        project = {c.key: getattr(p, c.key) for c in Project.__table__.columns
                   if c.key != "projected_at"}
        decisions = [
            {c.key: getattr(r, c.key) for c in DecisionRow.__table__.columns}
            for r in s.scalars(select(DecisionRow).where(DecisionRow.project_id == project_id)
                               .order_by(DecisionRow.seq))
        ]
    return project, decisions


async def test_projection_after_a_complete_lifecycle_equals_the_workflow(ts: Harness) -> None:
    d = await ts.start("2026")
    await complete_2026(d)
    view = await d.handle.query(ProjectWorkflow.view)
    log = await d.handle.query(ProjectWorkflow.decision_log)
    project, decisions = rows(ts.db, d.project.project_id)
    assert project["stage"] == view.stage.value == "completed"
    assert project["stage_label_zh"] == view.stage_label_zh
    assert project["end_rule"] == "R18"  # completed after supervision (R18), 0 years here
    assert project["city_rank"] == view.rank == 1
    assert project["scores"] == view.experts
    assert project["verified_investment_cny"] == view.verified_investment_cny == 2_400_000
    assert project["subsidy_amount_cny"] == view.subsidy_amount_cny == 900_000
    assert project["disbursed_at"] == view.disbursed_at
    assert project["projected_seq"] == len(log)
    assert [(r["seq"], r["request_id"], r["action"], r["actor_user"], r["actor_role"],
             r["actor_region"], r["at"], r["stage_before"], r["stage_after"], r["rule"],
             r["note"], r["evidence"], r["payload"]) for r in decisions] == [
        (r.seq, r.request_id, r.action, r.actor.user_id, r.actor.role.value, r.actor.region,
         r.at, r.stage_before.value, r.stage_after.value, r.rule, r.note, r.evidence, r.payload)
        for r in log]
    with ts.db() as s:
        places = s.scalars(select(Place).where(Place.project_id == d.project.project_id)).all()
    assert len(places) == 2 and all(p.selected and p.released_at is None for p in places)

    # The last projection sent again (the same number, a retried attempt): nothing
    # changes. An earlier one of the same run arriving late changes nothing either.
    with ts.db() as s:
        row = s.get(Project, d.project.project_id)
        assert row is not None
        number, run = row.projection_no, row.run_id
    assert number is not None and run == (await d.handle.describe()).run_id
    head = ChainHead(seq=len(log), hash=decisions[-1]["hash"])
    again = Projection(view=ReadModelView.of(view), records=log, head=ChainHead(seq=0,
                       hash=GENESIS), number=number, run_id=run)
    with ts.db.begin() as s:
        written = apply_projection(s.connection(), again)
    assert written.head == head and not written.removed and not written.inserted
    old_view = view.model_copy(update={"stage": Stage.PUBLICITY, "stage_label_zh": "公示中"})
    stale = Projection(view=ReadModelView.of(old_view), records=log[:10],
                       head=ChainHead(seq=0, hash=GENESIS), number=number - 1, run_id=run)
    with ts.db.begin() as s:
        assert apply_projection(s.connection(), stale).stale
    assert rows(ts.db, d.project.project_id) == (project, decisions)


async def test_an_end_without_selection_releases_the_places(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("withdraw", reason="不再申报")
    await d.result()
    with ts.db() as s:
        places = s.scalars(select(Place).where(Place.project_id == d.project.project_id)).all()
        stage = s.get(Project, d.project.project_id).stage  # type: ignore[union-attr]
    assert stage == "withdrawn"
    assert places and all(p.released_at is not None for p in places)


async def test_submission_refused_by_the_database_check_changes_nothing(ts: Harness) -> None:
    d = await ts.start("2026")
    with ts.db.begin() as s:
        s.get(Unit, d.project.applicant_unit).abnormal_operation = True  # type: ignore[union-attr]
    refusal = await d.refused("submit")
    assert refusal.rule == "R5"
    view = await d.view()
    assert view.stage is Stage.DRAFT and view.decisions == 0


async def test_quota_refuses_a_recommendation_beyond_it_r8(ts: Harness) -> None:
    from datetime import datetime

    from domain.clock import SHANGHAI
    from models import CityQuota
    from tests import support
    from tests.driver import next_close

    b = support.batch("2024", next_close(datetime.now(SHANGHAI)))
    first, second = await ts.start(batch=b), await ts.start(batch=b)
    with ts.db.begin() as s:
        s.get(CityQuota, (b.batch_id, support.CITY)).quota = 1  # type: ignore[union-attr]
    for d in (first, second):
        await d.do("submit")
    assert (await first.do("city_recommend", rank=1)).stage is Stage.RECOMMENDED
    refusal = await second.refused("city_recommend", rank=2)
    assert refusal.rule == "R8"
    assert await second.stage() is Stage.CITY_REVIEW
    await second.advance_to(b.close_at + timedelta(minutes=1))
    assert (await second.result()).stage is Stage.NOT_RECOMMENDED



def test_one_statement_projection_moves_only_from_the_workflows_head(
    db: sessionmaker[Session],
) -> None:
    """The workflow sends back the head its last projection returned; the records are
    sealed onto it and go in with the row's move, in one statement, or not at all."""
    pid = new_project(db, new_batch(db), support.unit("service_provider"))
    log = [record(1, "submit", Stage.DRAFT, Stage.COUNTY_REVIEW),
           record(2, "county_approve", Stage.COUNTY_REVIEW, Stage.CITY_REVIEW),
           record(3, "note", Stage.CITY_REVIEW, Stage.CITY_REVIEW)]
    engine = db.kw["bind"]
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.begin() as conn:  # the first projection takes the transactional path
        first = apply_projection(conn, Projection(
            view=view(pid, Stage.COUNTY_REVIEW), records=log[:1], head=GENESIS_HEAD, **RUN,
            number=1)).head
    assert first.seq == 1
    second = Projection(view=view(pid, Stage.CITY_REVIEW), records=log[1:2], head=first,
                        number=2, places=False, **RUN)
    assert one_statement("postgresql", second) and not one_statement("sqlite", second)
    with autocommit.connect() as conn:
        after = project_chained(conn, second)
    assert after is not None and after.seq == 2
    with autocommit.connect() as conn:  # the same projection again: the row has moved
        assert project_chained(conn, second) is None
    with engine.begin() as conn:  # what the activity falls back to: nothing to change
        again = apply_projection(conn, second)
    assert again.head == after and not again.inserted and not again.removed
    # A head the read model is not at (the workflow missed a commit, or a rebuilt read
    # model): the one statement writes nothing.
    wrong = Projection(view=view(pid, Stage.CITY_REVIEW), records=log[2:], head=first,
                       number=3, places=False, **RUN)
    with autocommit.connect() as conn:
        assert project_chained(conn, wrong) is None
    stage, seq, check = stored(db, pid)
    assert (stage, seq) == ("city_review", 2)
    assert check.chain_intact and check.records == 2


def test_one_statement_only_for_records_and_the_view() -> None:
    base = Projection(view=view("p", Stage.CITY_REVIEW), head=GENESIS_HEAD, number=2,
                      records=[record(1, "submit", Stage.DRAFT, Stage.COUNTY_REVIEW)],
                      places=False, **RUN)
    assert one_statement("postgresql", base)
    for change in ({"places": True}, {"number": None}, {"head": None}, {"records": []},
                   {"content": ProjectContent(title="标题")}):
        assert not one_statement("postgresql", base.model_copy(update=change)), change


def test_a_projection_from_an_uncommitted_task_is_replaced_by_the_committed_one(
    db: sessionmaker[Session],
) -> None:
    """A workflow task accepted county_return and then withdraw, ran the projection and
    was never committed; its retry accepted county_approve. The two projections carry the
    same number: the committed one, landing second, leaves exactly its own records, the
    chain sealed again, and the places as its stage implies."""
    pid = new_project(db, new_batch(db), support.unit("service_provider"),
                      support.unit("manufacturer"))
    with db.begin() as s:
        assert check_submission(s.connection(), pid) is None  # places claimed
    submit = record(1, "submit", Stage.DRAFT, Stage.COUNTY_REVIEW)
    engine = db.kw["bind"]
    with engine.begin() as conn:
        head = apply_projection(conn, Projection(view=view(pid, Stage.COUNTY_REVIEW),
                                                 records=[submit], head=GENESIS_HEAD,
                                                 number=1, **RUN)).head
    phantom = [record(2, "county_return", Stage.COUNTY_REVIEW, Stage.RETURNED),
               record(3, "withdraw", Stage.RETURNED, Stage.WITHDRAWN)]
    with engine.begin() as conn:
        apply_projection(conn, Projection(view=view(pid, Stage.WITHDRAWN), records=phantom,
                                          head=head, number=2, **RUN))
    with db() as s:
        assert all(p.released_at is not None for p in places_of(s, pid))
    committed = [record(2, "county_approve", Stage.COUNTY_REVIEW, Stage.CITY_REVIEW)]
    with engine.begin() as conn:
        written = apply_projection(conn, Projection(view=view(pid, Stage.CITY_REVIEW),
                                                    records=committed, head=head, number=2,
                                                    **RUN))
    assert written.removed == [2, 3] and written.inserted == [2]
    stage, seq, check = stored(db, pid)
    assert (stage, seq) == ("city_review", 2) and check.chain_intact and check.records == 2
    with db() as s:
        actions = list(s.scalars(select(DecisionRow.action).where(DecisionRow.project_id == pid)
                                 .order_by(DecisionRow.seq)))
        assert actions == ["submit", "county_approve"]
        assert all(p.released_at is None for p in places_of(s, pid))  # held again


def test_a_head_the_read_model_does_not_hold_asks_for_the_whole_log(
    db: sessionmaker[Session],
) -> None:
    pid = new_project(db, new_batch(db), support.unit("service_provider"))
    engine = db.kw["bind"]
    log = [record(1, "submit", Stage.DRAFT, Stage.COUNTY_REVIEW),
           record(2, "county_approve", Stage.COUNTY_REVIEW, Stage.CITY_REVIEW)]
    with engine.begin() as conn:
        apply_projection(conn, Projection(view=view(pid, Stage.COUNTY_REVIEW), records=log[:1],
                                          head=GENESIS_HEAD, number=1, **RUN))
    forged = ChainHead(seq=1, hash="f" * 64)
    with engine.begin() as conn:
        written = apply_projection(conn, Projection(view=view(pid, Stage.CITY_REVIEW),
                                                    records=log[1:], head=forged, number=2,
                                                    **RUN))
    assert written.head.resend and not written.inserted
    assert stored(db, pid)[:2] == ("county_review", 1)
    with engine.begin() as conn:  # the whole log, as the workflow then sends it
        written = apply_projection(conn, Projection(view=view(pid, Stage.CITY_REVIEW),
                                                    records=log, head=GENESIS_HEAD, number=3,
                                                    **RUN))
    assert not written.head.resend and written.head.seq == 2
    assert stored(db, pid)[:2] == ("city_review", 2)


GENESIS_HEAD = ChainHead(seq=0, hash=GENESIS)
RUN = {"run_id": "run-1"}


def places_of(s: Session, pid: str) -> list[Place]:
    return list(s.scalars(select(Place).where(Place.project_id == pid)))
