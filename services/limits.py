"""Cross-project limits, enforced atomically in the database.

R2 (a service provider in at most 3 projects of a batch, a manufacturing enterprise in 1,
counting projects selected in the batches named as counting), R3 (a group's enterprises
in at most 5 tasks) and R8 (a city's recommendations within its quota).

Each check runs in one transaction that first locks the rows everyone competing for the
same place must lock too (the units and groups involved, the city's quota row), in a
fixed order, so concurrent submissions are serialized exactly where they conflict and
cannot both pass. On SQLite (the demo) the transaction takes the database write lock.

Which stages hold a place: from submission on, through returns and reviews, and for good
once the project is selected. A project that ends without entering the list (withdrawn,
expired, returned and not resubmitted, not recommended, not selected, removed in
publicity) releases its places. A draft holds none.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from domain.decisions import DecisionRecord
from domain.eligibility import (
    ApplicationFacts,
    Member,
    Ranked,
    UnitFacts,
    check_consortium,
    check_credit_code,
    check_letters,
    check_project_2024,
    check_ranked_list,
    check_standing,
)
from domain.presets import PRESETS, PresetName
from domain.refusals import Refusal, RefusalKind, refusal
from domain.stages import Stage
from models import (
    Batch,
    BatchCounting,
    CityQuota,
    ConsortiumMember,
    Place,
    Project,
    ProjectDocument,
    Recommendation,
    Task,
    Unit,
    UnitGroup,
)

PROVIDER_LIMIT = 3
ENTERPRISE_LIMIT = 1
GROUP_TASK_LIMIT = 5
LIMITS = {"service_provider": PROVIDER_LIMIT, "manufacturer": ENTERPRISE_LIMIT}

RELEASING_ENDS = frozenset({
    Stage.WITHDRAWN, Stage.EXPIRED, Stage.RETURNED_NOT_RESUBMITTED, Stage.NOT_RECOMMENDED,
    Stage.NOT_SELECTED, Stage.REMOVED_IN_PUBLICITY,
})
SELECTED_STAGES = frozenset({
    Stage.SELECTED, Stage.PUBLICITY, Stage.IMPLEMENTATION, Stage.HALFYEAR_ACCEPTANCE,
    Stage.FINAL_ACCEPTANCE, Stage.SUBSIDY, Stage.COMPLETED, Stage.FAILED_ACCEPTANCE,
    Stage.REVOKED,
})


def unit_facts(unit: Unit) -> UnitFacts:
    return UnitFacts.model_validate(unit, from_attributes=True)


def members_of(session: Session, project: Project, lock: bool = False) -> list[Member]:
    """The consortium (the applicant alone when it applies without one)."""
    roles = {
        m.unit_code: m.role
        for m in session.scalars(
            select(ConsortiumMember).where(ConsortiumMember.project_id == project.id)
        )
    }
    roles.setdefault(project.applicant_code, "lead")
    query = select(Unit).where(Unit.credit_code.in_(roles)).order_by(Unit.credit_code)
    if lock:
        query = query.with_for_update()
    units = list(session.scalars(query))
    return [Member(unit=unit_facts(u), role=roles[u.credit_code]) for u in units]


def check_submission(session: Session, project_id: str) -> Refusal | None:
    """Everything a submission must satisfy, and its places claimed, in one transaction.

    The caller commits (the places) when this returns None and rolls back otherwise."""
    project = session.get(Project, project_id)
    if project is None:
        return refusal("INPUT", RefusalKind.INPUT, f"项目{project_id}未登记",
                       f"project {project_id} is not registered")
    batch = session.get(Batch, project.batch_id)
    assert batch is not None
    preset = PRESETS[PresetName(batch.preset)]
    members = members_of(session, project, lock=True)  # row locks: the R2 serialization
    for m in members:
        problem = check_credit_code(m.unit.credit_code) or check_standing(m.unit)
        if problem:
            return problem
    problem = check_consortium(members, preset)
    if problem:
        return problem
    if preset.name is PresetName.P2024:
        app = ApplicationFacts.model_validate(project, from_attributes=True)
        problem = check_project_2024(app, batch.notice_date)
        if problem:
            return problem
    task = session.get(Task, (batch.id, project.task_code))
    if task is None:
        return refusal("INPUT", RefusalKind.INPUT, f"本批次没有任务{project.task_code}",
                       f"the batch has no task {project.task_code}")
    kinds = set(session.scalars(
        select(ProjectDocument.kind).where(ProjectDocument.project_id == project.id)))
    applicant = next(m.unit for m in members if m.unit.credit_code == project.applicant_code)
    problem = check_letters(task.direction, applicant, kinds)
    if problem:
        return problem
    return _claim_places(session, project, members)


def _claim_places(session: Session, project: Project, members: list[Member]) -> Refusal | None:
    groups = sorted({m.unit.group_code for m in members if m.unit.group_code})
    if groups:  # lock the groups too (R3), after the units, always in this order
        list(session.scalars(select(UnitGroup).where(UnitGroup.code.in_(groups))
                             .order_by(UnitGroup.code).with_for_update()))
    counting = [project.batch_id, *session.scalars(
        select(BatchCounting.counts_batch_id).where(BatchCounting.batch_id == project.batch_id))]
    active = Place.released_at.is_(None)
    for m in members:
        limit = LIMITS.get(m.unit.kind)
        if limit is None:
            continue
        used = session.scalar(
            select(func.count()).select_from(Place).where(
                Place.unit_code == m.unit.credit_code, Place.project_id != project.id, active,
                (Place.batch_id == project.batch_id)
                | (Place.batch_id.in_(counting[1:]) & Place.selected),
            )
        ) or 0
        if used + 1 > limit:
            what_zh = "服务商" if m.unit.kind == "service_provider" else "制造业企业"
            return refusal(
                "R2", RefusalKind.RULE,
                f"{m.unit.name}（{what_zh}）本批次参与项目已达上限{limit}个"
                "（含计入本批次的往期入围项目）",
                f"{m.unit.name} already takes part in {used} project(s) counting against this "
                f"batch; the limit is {limit}",
            )
    for group in groups:
        tasks = session.scalar(
            select(func.count(func.distinct(Place.project_id))).where(
                Place.group_code == group, Place.batch_id == project.batch_id,
                Place.project_id != project.id, active,
            )
        ) or 0
        if tasks + 1 > GROUP_TASK_LIMIT:
            return refusal("R3", RefusalKind.RULE,
                           f"同一集团内企业总揭榜任务不超过{GROUP_TASK_LIMIT}个（集团{group}）",
                           f"enterprises of one group take at most {GROUP_TASK_LIMIT} tasks "
                           f"(group {group})")
    for m in members:
        place = session.get(Place, (project.id, m.unit.credit_code))
        if place is None:
            session.add(Place(project_id=project.id, unit_code=m.unit.credit_code,
                              batch_id=project.batch_id, group_code=m.unit.group_code,
                              kind=m.unit.kind))
        else:
            place.released_at = None
    return None


def recommend_list(
    session: Session, batch_id: str, city_code: str, ranked: list[tuple[str, int]]
) -> Refusal | None:
    """The city's ranked list against its quota (R8): accepted whole or refused whole.

    Re-sending a list replaces the ranks of the projects in it (idempotent)."""
    quota = session.scalars(
        select(CityQuota).where(CityQuota.batch_id == batch_id, CityQuota.city_code == city_code)
        .with_for_update()
    ).first()
    if quota is None:
        return refusal("R8", RefusalKind.RULE, "本市本批次尚未设定推荐名额",
                       "no recommendation quota is set for this city and batch")
    ids = [pid for pid, _ in ranked]
    projects = {p.id: p for p in session.scalars(select(Project).where(Project.id.in_(ids)))}
    for pid in ids:
        p = projects.get(pid)
        if p is None or p.batch_id != batch_id or p.city_code != city_code:
            return refusal("JURISDICTION", RefusalKind.JURISDICTION, f"项目{pid}不属于本市本批次",
                           f"project {pid} is not in this city's batch")
    exempt = {
        u.credit_code
        for u in session.scalars(select(Unit).where(
            Unit.credit_code.in_({p.applicant_code for p in projects.values()})))
        if u.central_enterprise_in_shandong or u.provincial_soe
    }
    others = list(session.scalars(select(Recommendation).where(
        Recommendation.batch_id == batch_id, Recommendation.city_code == city_code,
        Recommendation.project_id.not_in(ids))))
    items = [Ranked(project_id=pid, rank=rank, exempt=projects[pid].applicant_code in exempt)
             for pid, rank in ranked]
    problem = check_ranked_list(items, quota.quota, sum(not r.exempt for r in others),
                                {r.rank for r in others})
    if problem:
        return problem
    session.execute(delete(Recommendation).where(Recommendation.project_id.in_(ids)))
    session.flush()
    session.add_all(Recommendation(project_id=i.project_id, batch_id=batch_id,
                                   city_code=city_code, rank=i.rank, exempt=i.exempt)
                    for i in items)
    return None


def reserve_recommendation(session: Session, project_id: str, rank: int) -> Refusal | None:
    """One project's recommendation (the workflow's city_recommend): already reserved by
    the city's list, or reserved now within the quota."""
    existing = session.get(Recommendation, project_id)
    if existing is not None and existing.rank == rank:
        return None
    project = session.get(Project, project_id)
    if project is None:
        return refusal("INPUT", RefusalKind.INPUT, f"项目{project_id}未登记",
                       f"project {project_id} is not registered")
    return recommend_list(session, project.batch_id, project.city_code, [(project_id, rank)])


# Bulk statements on rows this session has not loaded: nothing to synchronise.
_UNSYNCED = {"synchronize_session": False}


def moves_places(record: DecisionRecord) -> bool:
    """Whether a record can change places or recommendations: only a stage change, or a
    co-signer's dissent (which undoes a reservation without moving the stage)."""
    return record.stage_after != record.stage_before or record.action == "dissent"


def follow_stage(
    session: Session | Connection, project_id: str, stage: Stage, action: str,
) -> None:
    """What a stage change means for places and recommendations (called by the projection).

    Set-based statements, and none for the stages that change nothing: the projection
    calls this for every record, and it was a measurable share of a lifecycle's cost."""
    if stage in RELEASING_ENDS:
        session.execute(update(Place).where(Place.project_id == project_id).values(
            released_at=func.coalesce(Place.released_at, datetime.now(UTC)), selected=False),
            execution_options=_UNSYNCED)
    elif stage in SELECTED_STAGES:
        session.execute(update(Place).where(Place.project_id == project_id,
                                            Place.selected.is_(False)).values(selected=True),
                        execution_options=_UNSYNCED)
    if stage in RELEASING_ENDS or (action == "dissent" and stage is Stage.CITY_REVIEW) or (
        stage is Stage.RETURNED
    ):
        session.execute(delete(Recommendation).where(Recommendation.project_id == project_id))
