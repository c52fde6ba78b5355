"""Cross-project limits against the running PostgreSQL, under real concurrency (R2, R3, R8)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.batch import BatchPolicy, ConsortiumMember
from domain.clock import SHANGHAI
from domain.eligibility import ApplicationFacts, UnitFacts
from domain.refusals import Refusal
from domain.stages import Stage
from domain.views import ReadModelView
from models import Place, Recommendation
from services.limits import check_submission, follow_state, recommend_list
from services.registry import ensure_batch, ensure_unit, register_project
from tests import support

CLOSE = datetime(2026, 4, 13, 17, 0, tzinfo=SHANGHAI)


def new_batch(db: sessionmaker[Session], preset: str = "2026", quotas: dict[str, int] | None = None,
              counts: list[str] | None = None) -> BatchPolicy:
    policy = support.batch(preset, CLOSE)
    with db.begin() as s:
        ensure_batch(s, policy, support.tasks_2026(), quotas or {"3701": 2}, counts=counts or [])
    return policy


def new_project(db: sessionmaker[Session], policy: BatchPolicy, lead: UnitFacts,
                scene: UnitFacts | None = None, city: str = "3701", county: str = "370102",
                task: str = "T1") -> str:
    pid = f"p-{uuid.uuid4().hex[:12]}"
    members = [ConsortiumMember(credit_code=lead.credit_code, name=lead.name, role="lead")]
    if scene is not None:
        members.append(ConsortiumMember(credit_code=scene.credit_code, name=scene.name,
                                        role="scene"))
    project = support.project(policy, project_id=pid, task_code=task).model_copy(
        update={"applicant_unit": lead.credit_code, "consortium": members,
                "city_code": city, "county_code": county})
    with db.begin() as s:
        for u in (lead, scene):
            if u is not None:
                ensure_unit(s, u)
        register_project(s, project, ApplicationFacts(declared_investment_cny=2_000_000))
    return pid


def submit(db: sessionmaker[Session], pid: str) -> Refusal | None:
    with db() as s, s.begin():
        problem = check_submission(s, pid)
        if problem is not None:
            s.rollback()
        return problem


def submit_all(db: sessionmaker[Session], pids: list[str]) -> list[Refusal | None]:
    with ThreadPoolExecutor(max_workers=len(pids)) as pool:
        return list(pool.map(lambda pid: submit(db, pid), pids))


def test_50_concurrent_submissions_with_one_enterprise_exactly_one_passes_r2(
    db: sessionmaker[Session],
) -> None:
    policy = new_batch(db)
    factory = support.unit("manufacturer")
    pids = [new_project(db, policy, support.unit("service_provider"), factory) for _ in range(50)]
    results = submit_all(db, pids)
    assert sum(r is None for r in results) == 1
    refused = [r for r in results if r is not None]
    assert len(refused) == 49 and {r.rule for r in refused} == {"R2"}
    assert "上限1个" in refused[0].message_zh
    with db() as s:
        holders = s.scalars(select(Place.project_id).where(
            Place.unit_code == factory.credit_code)).all()
    assert len(holders) == 1


def test_10_concurrent_submissions_for_one_provider_exactly_three_pass_r2(
    db: sessionmaker[Session],
) -> None:
    policy = new_batch(db)
    provider = support.unit("service_provider")
    pids = [new_project(db, policy, provider, support.unit("manufacturer")) for _ in range(10)]
    results = submit_all(db, pids)
    assert sum(r is None for r in results) == 3
    assert {r.rule for r in results if r is not None} == {"R2"}


def test_a_released_place_is_free_again_and_a_resubmission_keeps_its_own(
    db: sessionmaker[Session],
) -> None:
    policy = new_batch(db)
    factory = support.unit("manufacturer")
    first = new_project(db, policy, support.unit("service_provider"), factory)
    second = new_project(db, policy, support.unit("service_provider"), factory)
    assert submit(db, first) is None
    assert submit(db, first) is None  # resubmission after a return: same place
    assert submit(db, second).rule == "R2"  # type: ignore[union-attr]
    with db.begin() as s:
        follow_state(s, first, state_of(first, Stage.WITHDRAWN))
    assert submit(db, second) is None


def test_a_2025_selected_project_uses_up_its_providers_place_in_2026(
    db: sessionmaker[Session],
) -> None:
    earlier = new_batch(db)
    provider = support.unit("service_provider")
    old = [new_project(db, earlier, provider, support.unit("manufacturer")) for _ in range(2)]
    for pid in old:
        assert submit(db, pid) is None
    with db.begin() as s:
        follow_state(s, old[0], state_of(old[0], Stage.SELECTED))  # selected in 2025
        follow_state(s, old[1], state_of(old[1], Stage.NOT_SELECTED))  # not selected: no place
    current = new_batch(db, counts=[earlier.batch_id])
    pids = [new_project(db, current, provider, support.unit("manufacturer")) for _ in range(3)]
    results = [submit(db, pid) for pid in pids]
    assert [r is None for r in results] == [True, True, False]
    assert results[2] is not None and results[2].rule == "R2"
    unrelated = new_batch(db)  # a batch that does not count 2025 gives all three places
    assert all(submit(db, new_project(db, unrelated, provider, support.unit("manufacturer")))
               is None for _ in range(3))


def test_group_enterprises_take_at_most_five_tasks_r3(db: sessionmaker[Session]) -> None:
    policy = new_batch(db)
    group = f"G{uuid.uuid4().hex[:8]}"
    pids = [new_project(db, policy, support.unit("service_provider", group_code=group))
            for _ in range(6)]
    results = [submit(db, pid) for pid in pids]
    assert sum(r is None for r in results) == 5 and results[5].rule == "R3"  # type: ignore[union-attr]


def test_standing_consortium_and_r18_refusals_at_submission(db: sessionmaker[Session]) -> None:
    policy = new_batch(db)
    flagged = support.unit("manufacturer", serious_dishonesty=True)
    assert submit(db, new_project(db, policy, support.unit("service_provider"), flagged)
                  ).rule == "R5"  # type: ignore[union-attr]
    refused = support.unit("service_provider", refused_after_r18="2025年项目弄虚作假")
    assert submit(db, new_project(db, policy, refused)).rule == "R18"  # type: ignore[union-attr]
    group = f"G{uuid.uuid4().hex[:8]}"
    a = support.unit("service_provider", group_code=group)
    b = support.unit("manufacturer", group_code=group)
    assert submit(db, new_project(db, policy, a, b)).rule == "R1"  # type: ignore[union-attr]


def _recommendable(db: sessionmaker[Session], policy: BatchPolicy, n: int,
                   soe: int | None = None) -> list[str]:
    pids = []
    for i in range(n):
        lead = support.unit("service_provider", provincial_soe=(i == soe))
        pids.append(new_project(db, policy, lead, support.unit("manufacturer")))
    return pids


def test_city_recommending_quota_plus_one_is_refused_as_a_whole_r8(
    db: sessionmaker[Session],
) -> None:
    policy = new_batch(db, quotas={"3701": 3})
    pids = _recommendable(db, policy, 4)
    with db.begin() as s:
        ranked = [(p, i + 1) for i, p in enumerate(pids)]
        problem = recommend_list(s, policy.batch_id, "3701", ranked)
    assert problem is not None and problem.rule == "R8" and "名额3" in problem.message_zh
    with db() as s:
        assert s.scalars(select(Recommendation).where(
            Recommendation.batch_id == policy.batch_id)).all() == []


def test_a_provincial_soe_in_the_list_uses_no_quota_r8(db: sessionmaker[Session]) -> None:
    policy = new_batch(db, quotas={"3701": 3})
    pids = _recommendable(db, policy, 4, soe=2)
    with db.begin() as s:
        assert recommend_list(s, policy.batch_id, "3701",
                              [(p, i + 1) for i, p in enumerate(pids)]) is None
    with db() as s:
        rows = s.scalars(select(Recommendation).where(
            Recommendation.batch_id == policy.batch_id).order_by(Recommendation.rank)).all()
    assert [r.exempt for r in rows] == [False, False, True, False]
    more = _recommendable(db, policy, 1)
    with db.begin() as s:
        problem = recommend_list(s, policy.batch_id, "3701", [(more[0], 5)])
    assert problem is not None and problem.rule == "R8"


def test_concurrent_lists_cannot_both_fill_the_quota_r8(db: sessionmaker[Session]) -> None:
    policy = new_batch(db, quotas={"3701": 2})
    pids = _recommendable(db, policy, 4)

    def send(items: list[tuple[str, int]]) -> Refusal | None:
        with db() as s, s.begin():
            problem = recommend_list(s, policy.batch_id, "3701", items)
            if problem:
                s.rollback()
            return problem

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(send, [[(pids[0], 1), (pids[1], 2)], [(pids[2], 3), (pids[3], 4)]]))
    assert sorted(r is None for r in results) == [False, True]


def test_credit_code_of_every_unit_is_checked_r4(db: sessionmaker[Session]) -> None:
    policy = new_batch(db)
    bad = support.unit("service_provider")
    bad = bad.model_copy(update={"credit_code": bad.credit_code[:17] + (
        "1" if bad.credit_code[17] != "1" else "2")})
    assert submit(db, new_project(db, policy, bad)).rule == "R4"  # type: ignore[union-attr]


def state_of(project_id: str, stage: Stage, rank: int | None = None) -> ReadModelView:
    """A project's read-model view in `stage`, as far as places and quota rows go."""
    return ReadModelView(project_id=project_id, stage=stage, stage_label_zh=stage.label_zh,
                         end_rule=None, rank=rank, experts={}, verified_investment_cny=None,
                         subsidy_amount_cny=None, disbursed_at=None, reserve_pool=False,
                         waiting_on=[], next_deadline=None, quota_rank=rank,
                         was_selected=stage.is_selected)


def test_standing_is_checked_again_at_recommendation_r5(db: sessionmaker[Session]) -> None:
    """The province may flag a unit after the submission: the city's recommendation is
    then refused with R5 (issue 16, 'standing re-checked')."""
    from models import Unit
    from services.limits import reserve_recommendation

    policy = new_batch(db)
    lead = support.unit("service_provider")
    pid = new_project(db, policy, lead)
    assert submit(db, pid) is None
    with db.begin() as s:
        unit = s.get(Unit, lead.credit_code)
        assert unit is not None
        unit.serious_dishonesty = True
    with db.begin() as s:
        problem = reserve_recommendation(s, pid, 1)
    assert problem is not None and problem.rule == "R5"
