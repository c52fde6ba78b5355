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

from sqlalchemy import Connection, bindparam, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.clock import SHANGHAI
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
from domain.places import PlaceHold, place_hold
from domain.presets import PRESETS, PresetName
from domain.refusals import Refusal, RefusalKind, refusal
from domain.views import ReadModelView
from models import (
    Batch,
    BatchCounting,
    CityQuota,
    ConsortiumMember,
    EarlierWinnerUnit,
    Place,
    Project,
    ProjectDocument,
    Recommendation,
    Task,
    Unit,
    UnitGroup,
)
from models.base import table_of
from services.penalties import check_penalties

PROVIDER_LIMIT = 3
ENTERPRISE_LIMIT = 1
GROUP_TASK_LIMIT = 5
LIMITS = {"service_provider": PROVIDER_LIMIT, "manufacturer": ENTERPRISE_LIMIT}

# The statements below are Core, on whatever the caller holds (an ORM Session in the API
# and the tests, a Connection in the worker's activities): these checks run for every
# submission and recommendation, and the ORM's per-object work was most of their cost.
Executor = Session | Connection

_project, _batch, _task, _unit = (table_of(Project), table_of(Batch), table_of(Task),
                                  table_of(Unit))
_place, _member, _rec = table_of(Place), table_of(ConsortiumMember), table_of(Recommendation)
_winner = table_of(EarlierWinnerUnit)
_UNIT_FACTS = [_unit.c[name] for name in UnitFacts.model_fields]
_APPLICATION = [_project.c[name] for name in ApplicationFacts.model_fields]
# The project with what its submission is checked against: one round trip.
_SUBMISSION_HEAD = (
    select(_project.c.id, _project.c.batch_id, _project.c.applicant_code,
           _project.c.task_code, *_APPLICATION, _batch.c.preset, _batch.c.notice_date,
           _task.c.direction)
    .join(_batch, _batch.c.id == _project.c.batch_id)
    .outerjoin(_task, (_task.c.batch_id == _project.c.batch_id)
               & (_task.c.code == _project.c.task_code))
    .where(_project.c.id == bindparam("pid")))


def members_of(db: Executor, project_id: str, applicant_code: str,
               lock: bool = False) -> list[Member]:
    """The consortium (the applicant alone when it applies without one), in credit-code
    order: the order every submission locks them in."""
    roles: dict[str, str] = dict(db.execute(
        select(_member.c.unit_code, _member.c.role).where(
            _member.c.project_id == project_id, _member.c.consent != "declined")  # R20
    ).all())
    roles.setdefault(applicant_code, "lead")
    query = (select(*_UNIT_FACTS).where(_unit.c.credit_code.in_(roles))
             .order_by(_unit.c.credit_code))
    if lock:
        query = query.with_for_update()
    return [Member(unit=UnitFacts.model_validate(row._mapping), role=roles[row.credit_code])
            for row in db.execute(query)]


def check_submission(db: Executor, project_id: str) -> Refusal | None:
    """Everything a submission must satisfy, and its places claimed, in one transaction.

    The caller commits (the places) when this returns None and rolls back otherwise."""
    head = db.execute(_SUBMISSION_HEAD, {"pid": project_id}).first()
    if head is None:
        return refusal("INPUT", RefusalKind.INPUT, f"项目{project_id}未登记",
                       f"project {project_id} is not registered")
    preset = PRESETS[PresetName(head.preset)]
    pending = list(db.scalars(select(_member.c.unit_code).where(
        _member.c.project_id == project_id, _member.c.consent == "pending",
        _member.c.unit_code != head.applicant_code)))
    if pending:  # R20: no place is claimed for a member that has not agreed
        return refusal("R20", RefusalKind.RULE,
                       f"联合体成员尚未确认参与（联合体协议）：{'、'.join(sorted(pending))}",
                       "consortium members have not yet confirmed their participation: "
                       + ", ".join(sorted(pending)))
    # Row locks on the units: the R2 serialization.
    members = members_of(db, project_id, head.applicant_code, lock=True)
    for m in members:
        problem = check_credit_code(m.unit.credit_code) or check_standing(m.unit)
        if problem:
            return problem
    problem = check_penalties(db, [m.unit.credit_code for m in members], head.batch_id,
                              datetime.now(SHANGHAI).date())
    if problem:
        return problem
    problem = check_consortium(members, preset)
    if problem:
        return problem
    if preset.name is PresetName.P2024:
        app = ApplicationFacts.model_validate(head._mapping)
        problem = check_project_2024(app, head.notice_date)
        if problem:
            return problem
    if head.direction is None:
        return refusal("INPUT", RefusalKind.INPUT, f"本批次没有任务{head.task_code}",
                       f"the batch has no task {head.task_code}")
    kinds = set(db.scalars(select(ProjectDocument.kind)
                           .where(ProjectDocument.project_id == project_id)))
    applicant = next(m.unit for m in members if m.unit.credit_code == head.applicant_code)
    problem = check_letters(head.direction, applicant, kinds)
    if problem:
        return problem
    return _claim_places(db, project_id, head.batch_id, members)


def _claim_places(db: Executor, project_id: str, batch_id: str,
                  members: list[Member]) -> Refusal | None:
    groups = sorted({m.unit.group_code for m in members if m.unit.group_code})
    if groups:  # lock the groups too (R3), after the units, always in this order
        db.execute(select(table_of(UnitGroup).c.code).where(UnitGroup.code.in_(groups))
                   .order_by(UnitGroup.code).with_for_update()).all()
    active = _place.c.released_at.is_(None)
    limited = {m.unit.credit_code: m for m in members if m.unit.kind in LIMITS}
    if limited:
        counting = select(BatchCounting.counts_batch_id).where(
            BatchCounting.batch_id == batch_id).scalar_subquery()
        used: dict[str, int] = dict(db.execute(
            select(_place.c.unit_code, func.count()).where(
                _place.c.unit_code.in_(limited), _place.c.project_id != project_id, active,
                (_place.c.batch_id == batch_id)
                | (_place.c.batch_id.in_(counting) & _place.c.selected),
            ).group_by(_place.c.unit_code)).all())
        # Winners of counting batches imported from the province's lists (no workflow).
        for code, n in db.execute(
                select(_winner.c.unit_code, func.count()).where(
                    _winner.c.unit_code.in_(limited), _winner.c.batch_id.in_(counting))
                .group_by(_winner.c.unit_code)).all():
            used[code] = used.get(code, 0) + n
        for code, m in limited.items():
            limit, n = LIMITS[m.unit.kind], used.get(code, 0)
            if n + 1 > limit:
                what_zh = "服务商" if m.unit.kind == "service_provider" else "制造业企业"
                return refusal(
                    "R2", RefusalKind.RULE,
                    f"{m.unit.name}（{what_zh}）本批次参与项目已达上限{limit}个"
                    "（含计入本批次的往期入围项目）",
                    f"{m.unit.name} already takes part in {n} project(s) counting against "
                    f"this batch; the limit is {limit}",
                )
    if groups:
        tasks: dict[str, int] = dict(db.execute(
            select(_place.c.group_code, func.count(func.distinct(_place.c.project_id))).where(
                _place.c.group_code.in_(groups), _place.c.batch_id == batch_id,
                _place.c.project_id != project_id, active,
            ).group_by(_place.c.group_code)).all())
        for group in groups:
            if tasks.get(group, 0) + 1 > GROUP_TASK_LIMIT:
                return refusal("R3", RefusalKind.RULE,
                               f"同一集团内企业总揭榜任务不超过{GROUP_TASK_LIMIT}个（集团{group}）",
                               f"enterprises of one group take at most {GROUP_TASK_LIMIT} tasks "
                               f"(group {group})")
    # A resubmission takes back the places it held; a first submission inserts them.
    held = set(db.scalars(
        update(_place).where(_place.c.project_id == project_id,
                             _place.c.unit_code.in_([m.unit.credit_code for m in members]))
        .values(released_at=None).returning(_place.c.unit_code)))
    fresh = [{"project_id": project_id, "unit_code": m.unit.credit_code, "batch_id": batch_id,
              "group_code": m.unit.group_code, "kind": m.unit.kind, "selected": False,
              "released_at": None}
             for m in members if m.unit.credit_code not in held]
    if fresh:
        db.execute(insert(_place), fresh)
    return None


def recommend_list(
    db: Executor, batch_id: str, city_code: str, ranked: list[tuple[str, int]]
) -> Refusal | None:
    """The city's ranked list against its quota (R8): accepted whole or refused whole.

    Re-sending a list replaces the ranks of the projects in it (idempotent)."""
    quota = db.scalar(
        select(table_of(CityQuota).c.quota).where(CityQuota.batch_id == batch_id,
                                                   CityQuota.city_code == city_code)
        .with_for_update())
    if quota is None:
        return refusal("R8", RefusalKind.RULE, "本市本批次尚未设定推荐名额",
                       "no recommendation quota is set for this city and batch")
    ids = [pid for pid, _ in ranked]
    projects = {row.id: row for row in db.execute(
        select(_project.c.id, _project.c.batch_id, _project.c.city_code,
               (_unit.c.central_enterprise_in_shandong | _unit.c.provincial_soe)
               .label("exempt"))
        .join(_unit, _unit.c.credit_code == _project.c.applicant_code)
        .where(_project.c.id.in_(ids)))}
    for pid in ids:
        p = projects.get(pid)
        if p is None or p.batch_id != batch_id or p.city_code != city_code:
            return refusal("JURISDICTION", RefusalKind.JURISDICTION, f"项目{pid}不属于本市本批次",
                           f"project {pid} is not in this city's batch")
    others = db.execute(select(_rec.c.rank, _rec.c.exempt).where(
        _rec.c.batch_id == batch_id, _rec.c.city_code == city_code,
        _rec.c.project_id.not_in(ids))).all()
    items = [Ranked(project_id=pid, rank=rank, exempt=bool(projects[pid].exempt))
             for pid, rank in ranked]
    problem = check_ranked_list(items, quota, sum(not r.exempt for r in others),
                                {r.rank for r in others})
    if problem:
        return problem
    db.execute(delete(_rec).where(_rec.c.project_id.in_(ids)))
    db.execute(insert(_rec), [{"project_id": i.project_id, "batch_id": batch_id,
                               "city_code": city_code, "rank": i.rank, "exempt": i.exempt}
                              for i in items])
    return None


_RESERVATION_HEAD = (
    select(_project.c.batch_id, _project.c.city_code, _project.c.applicant_code, _rec.c.rank)
    .outerjoin(_rec, _rec.c.project_id == _project.c.id)
    .where(_project.c.id == bindparam("pid")))


def check_project_standing(db: Executor, project_id: str) -> Refusal | None:
    """R5 again (at selection): the province may have flagged a unit since."""
    head = db.execute(_RESERVATION_HEAD, {"pid": project_id}).first()
    if head is None:
        return refusal("INPUT", RefusalKind.INPUT, f"项目{project_id}未登记",
                       f"project {project_id} is not registered")
    for m in members_of(db, project_id, head.applicant_code):
        problem = check_standing(m.unit)
        if problem:
            return problem
    return None


def reserve_recommendation(db: Executor, project_id: str, rank: int) -> Refusal | None:
    """One project's recommendation (the workflow's city_recommend): already reserved by
    the city's list, or reserved now within the quota."""
    head = db.execute(_RESERVATION_HEAD, {"pid": project_id}).first()
    if head is None:
        return refusal("INPUT", RefusalKind.INPUT, f"项目{project_id}未登记",
                       f"project {project_id} is not registered")
    # R5 again: the province may have flagged a unit after the submission.
    problem = check_project_standing(db, project_id)
    if problem:
        return problem
    if head.rank == rank:
        return None
    return recommend_list(db, head.batch_id, head.city_code, [(project_id, rank)])


def follow_state(db: Executor, project_id: str, view: ReadModelView) -> None:
    """Set the project's places and its row in the city's quota to what its state implies
    (`domain.places`), whatever they were: the same state twice changes nothing, and the
    true state after a false one (a projection from a workflow task that was never
    committed) repairs what that one did. Only the rows that differ are written."""
    hold = place_hold(view.stage, was_selected=view.was_selected)
    mine = _place.c.project_id == project_id
    if hold is PlaceHold.RELEASED:
        db.execute(update(_place).where(mine, or_(_place.c.released_at.is_(None),
                                                  _place.c.selected))
                   .values(released_at=func.coalesce(_place.c.released_at, datetime.now(UTC)),
                           selected=False))
    elif hold is PlaceHold.SELECTED:
        db.execute(update(_place).where(mine, or_(_place.c.released_at.is_not(None),
                                                  _place.c.selected.is_(False)))
                   .values(released_at=None, selected=True))
    elif hold is PlaceHold.HELD:
        db.execute(update(_place).where(mine, or_(_place.c.released_at.is_not(None),
                                                  _place.c.selected))
                   .values(released_at=None, selected=False))
    rank = view.quota_rank
    if rank is None:
        db.execute(delete(_rec).where(_rec.c.project_id == project_id))
        return
    held = db.execute(select(_rec.c.rank).where(_rec.c.project_id == project_id)).first()
    if held is not None:
        if held.rank != rank:
            db.execute(update(_rec).where(_rec.c.project_id == project_id).values(rank=rank))
        return
    # The row is missing (an uncommitted projection removed it): take it back, unless
    # another project has taken the rank meanwhile, which `audit verify` then reports.
    source = (select(_project.c.id, _project.c.batch_id, _project.c.city_code,
                     literal(rank).label("rank"),
                     (_unit.c.central_enterprise_in_shandong | _unit.c.provincial_soe)
                     .label("exempt"))
              .join(_unit, _unit.c.credit_code == _project.c.applicant_code)
              .where(_project.c.id == project_id))
    dialect = db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    db.execute(make(_rec).from_select(["project_id", "batch_id", "city_code", "rank", "exempt"],
                                      source).on_conflict_do_nothing())
