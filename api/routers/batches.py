"""Batch-wide work: creating a batch, deadlines, a city's ranked list, decisions in bulk,
公示 for the selected list, the province's merit list of awards (择优奖补名单), and the
exports officials file (推荐汇总表, 公示名单, results, 奖补名单)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from openpyxl import Workbook
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from api.deps import (
    ERRORS,
    OFFICIALS,
    AppState,
    BatchDep,
    IdempotencyKey,
    PrincipalDep,
    StateDep,
    allow,
    deciders,
    request_id,
)
from api.errors import ApiError, bad_input, not_found
from api.schemas import (
    BulkRequest,
    BulkResult,
    DeadlineIn,
    PublicityIn,
    RecommendationList,
    RequestInstant,
)
from domain.actions import Action
from domain.award_list import AwardList
from domain.batch import BatchPolicy
from domain.catalogue import CARRIER_TASKS_2026, TASKS_2026
from domain.clock import Instant, iso_local
from domain.lifecycle import ACTION_LABELS_ZH, BULK_ACTIONS
from domain.payloads import ChangeKind
from domain.presets import PresetName
from domain.refusals import RefusalKind, describe_error, refusal
from domain.roles import Role
from models import Batch, CityQuota, DecisionRow, Project, Recommendation, Region, Task, Unit
from services.acceptance_rounds import open_halfyear_round
from services.award_list import AwardListOutcome, AwardLists, award_lists, decide_award_list
from services.deadlines import extend_batch_close, set_local_deadline
from services.decisions import BulkItem, make_decisions
from services.projects import handle_for
from services.recommendations import recommend_ranked
from services.registry import TaskDef, ensure_batch
from workflows.project import ProjectWorkflow

router = APIRouter(tags=["batches 批次"])
_BATCH_ACTION = {"what_en": "take this batch action", "what_zh": "此批次操作"}
_PROVINCE = allow(Role.PROVINCE, **_BATCH_ACTION)
_OVERSIGHT = allow(Role.PROVINCE, Role.PROVINCE_FINANCE, Role.AUDITOR, **_BATCH_ACTION)


class BatchIn(BaseModel):
    batch_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = Field(min_length=2, max_length=200)
    year: int = Field(ge=2020, le=2100)
    preset: PresetName
    close_at: RequestInstant
    notice_date: date | None = None
    publicity_working_days: int = Field(default=5, ge=1, le=30)
    tasks: list[TaskDef] = Field(default=[TaskDef(code=c, direction=d, title_zh=t)
                                          for c, d, t in TASKS_2026])
    quotas: dict[str, Annotated[int, Field(ge=0, le=1000)]] = Field(
        default={}, description="city code -> quota (R8), 0 to 1000")
    halfyear_after_months: int = Field(default=6, ge=1, le=36,
                                       description="half-year acceptance, months after start")
    final_after_months: int = Field(default=12, ge=1, le=60,
                                    description="one-year acceptance, months after start")
    supervision_years: int = Field(default=3, ge=0, le=10,
                                   description="supervision after completion (R18)")
    counts: list[str] = Field(default=[], max_length=20,
                              description="earlier batches counting for R2")
    cosign_reminder_working_days: int = Field(
        default=3, ge=1, le=30,
        description="rules 3: the finance bureau is reminded of a pending co-signature "
                    "after this many working days")
    cosign_overdue_working_days: int = Field(
        default=5, ge=1, le=60,
        description="rules 3: a pending co-signature is overdue after this many working days")
    county_review_close: dict[str, RequestInstant] = Field(
        default={}, max_length=16,
        description="2026, rules 3: city code -> the city's deadline for its counties' "
                    "reviews (县级审核推荐至市), never later than close_at")
    direct_cities: list[str] = Field(
        default=[], max_length=16,
        description="2026, rules 3: cities that take applications without a county step")

    # The batch's own rules (half-year before one-year, city settings) are
    # domain.batch.BatchPolicy's; create_batch answers them as a 422.

    model_config = {"json_schema_extra": {"examples": [{
        "batch_id": "2026-main", "name": "2026年度工赋百景揭榜挂帅", "year": 2026,
        "preset": "2026", "close_at": "2026-04-13T17:00:00+08:00", "quotas": {"3701": 8},
        "counts": ["2025-1", "2025-2"]}]}}


class BatchOut(BaseModel):
    batch_id: str
    name: str
    year: int
    preset: str
    close_at: Instant
    tasks: list[TaskDef]


class FanOut(BaseModel):
    # Open projects that took the change; those that refused it (closed meanwhile, or
    # the change outside their limits), by workflow id.
    signalled: int
    deadline: Instant
    refused: list[str] = []


@router.post("/batches", response_model=BatchOut, status_code=201, responses=ERRORS,
             summary="创建申报批次 (create a batch)", **_PROVINCE)
def create_batch(body: BatchIn, state: StateDep) -> BatchOut:
    carriers = [t.code for t in body.tasks if t.direction == "carrier"] or (
        list(CARRIER_TASKS_2026) if body.preset is PresetName.P2026 else [])
    try:
        policy = BatchPolicy(
            batch_id=body.batch_id, name=body.name, year=body.year, preset=body.preset,
            close_at=body.close_at, publicity_working_days=body.publicity_working_days,
            halfyear_after_months=body.halfyear_after_months,
            final_after_months=body.final_after_months,
            supervision_years=body.supervision_years, carrier_tasks=carriers,
            cosign_reminder_working_days=body.cosign_reminder_working_days,
            cosign_overdue_working_days=body.cosign_overdue_working_days,
            county_review_close=body.county_review_close, direct_cities=body.direct_cities)
    except ValidationError as exc:  # the batch's own rules (domain.batch), as a 422
        zh, en = describe_error(exc.errors()[0])
        raise bad_input(f"批次设置不符合要求：{zh}", f"the batch is invalid: {en}") from None
    for what_zh, what_en, given in (("揭榜任务编号", "task code", [t.code for t in body.tasks]),
                                    ("往期批次", "counted batch", body.counts)):
        twice = next((x for i, x in enumerate(given) if x in given[:i]), None)
        if twice is not None:
            raise bad_input(f"{what_zh}重复：{twice}", f"the {what_en} {twice} is given twice")
    now = datetime.now(UTC)
    for city, at in sorted(body.county_review_close.items()):
        # A deadline already past is no deadline: the city's every project would skip its
        # county step (which is what direct_cities says).
        if at <= now:
            raise bad_input(f"市{city}的县级审核推荐截止时间{iso_local(at)}已过",
                            f"the county-review deadline of {city} ({iso_local(at)}) has "
                            "already passed", rule="R10")
    with state.db.begin() as s:
        if s.get(Batch, body.batch_id) is not None:
            # Created once: its settings are in its projects' workflows (changing them is
            # not built), so a second creation would answer 201 and change nothing.
            raise ApiError(409, refusal(
                "CONFLICT", RefusalKind.RULE, f"批次{body.batch_id}已存在，不能再次创建",
                f"the batch {body.batch_id} already exists; it cannot be created again"))
        for code in {*body.quotas, *body.county_review_close, *body.direct_cities}:
            region = s.get(Region, code)
            if region is None or region.level != "city":
                raise bad_input(f"未知的市级代码：{code}", f"unknown city code {code}")
        for counted in body.counts:
            if s.get(Batch, counted) is None:
                raise bad_input(f"未知的往期批次：{counted}", f"unknown batch {counted}")
        ensure_batch(s, policy, body.tasks, body.quotas, counts=body.counts,
                     notice_date=body.notice_date, illustrative=False)
    return _batch_out(state, body.batch_id)


@router.get("/batches/{batch_id}", response_model=BatchOut, responses=ERRORS,
            summary="批次信息 (a batch)",
            **allow(*OFFICIALS, what_en="read batches", what_zh="查看批次"))
def get_batch(batch: BatchDep, state: StateDep) -> BatchOut:
    return _batch_out(state, batch.id)


def _batch_out(state: AppState, batch_id: str) -> BatchOut:
    with state.db() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None
        tasks = [TaskDef(code=t.code, direction=t.direction, title_zh=t.title_zh)
                 for t in s.scalars(select(Task).where(Task.batch_id == batch_id))]
    return BatchOut(batch_id=batch.id, name=batch.name, year=batch.year, preset=batch.preset,
                    close_at=batch.close_at, tasks=tasks)


@router.post("/batches/{batch_id}/deadline", response_model=FanOut, responses=ERRORS,
             summary="延长批次截止时间 (the province extends the batch close)", **_PROVINCE)
async def extend_deadline(batch_id: str, body: DeadlineIn, p: PrincipalDep, state: StateDep,
                          key: IdempotencyKey = None) -> FanOut:
    n, refused = await extend_batch_close(
        client=state.client, db=state.db, seal_secret=_secret(state), batch_id=batch_id,
        actor=p.actor, new_close=body.new_deadline, reason=body.reason,
        request_id=request_id(p, key))
    return FanOut(signalled=n, deadline=body.new_deadline, refused=refused)


@router.post("/batches/{batch_id}/local-deadline", response_model=FanOut, responses=ERRORS,
             summary="设定本地提前截止时间 (a city's or county's earlier deadline)",
             **allow(Role.CITY, Role.COUNTY, **_BATCH_ACTION))
async def local_deadline(batch_id: str, body: DeadlineIn, p: PrincipalDep, state: StateDep,
                         key: IdempotencyKey = None) -> FanOut:
    n, refused = await set_local_deadline(
        client=state.client, db=state.db, seal_secret=_secret(state), batch_id=batch_id,
        actor=p.actor, deadline=body.new_deadline, reason=body.reason,
        request_id=request_id(p, key))
    return FanOut(signalled=n, deadline=body.new_deadline, refused=refused)


def _secret(state: AppState) -> str:
    return state.settings.seal_secret.get_secret_value()


@router.post("/batches/{batch_id}/recommendations", response_model=list[BulkResult],
             responses=ERRORS, summary="市级推荐排序名单 (a city's ranked list, within quota, R8)",
             **allow(Role.CITY, **_BATCH_ACTION))
async def recommend(batch_id: str, body: RecommendationList, p: PrincipalDep, state: StateDep,
                    key: IdempotencyKey = None) -> list[BulkResult]:
    return await recommend_ranked(
        client=state.client, db=state.db, who=p, actor=p.actor, batch_id=batch_id,
        ranked=[(i.project_id, i.rank) for i in body.items], reason=body.reason,
        request_id=request_id(p, key))


@router.post("/batches/{batch_id}/award-list", response_model=AwardListOutcome,
             responses=ERRORS,
             summary="省级择优奖补名单 (the province's merit list: ranked awards, no awards, R17)",
             description="Judged whole before anything changes (a wrong entry refuses the "
                         "list and is named); then each project gets its own decide_subsidy "
                         "(its rank in the payload) or decide_no_award, reported per project. "
                         "Ranks run 1..n in a batch's first list and continue in later ones. "
                         "A retry with the same Idempotency-Key decides nothing again.",
             **_PROVINCE)
async def post_award_list(batch_id: str, body: AwardList, p: PrincipalDep, state: StateDep,
                          key: IdempotencyKey = None) -> AwardListOutcome:
    return await decide_award_list(
        client=state.client, db=state.db, who=p, actor=p.actor, batch_id=batch_id, body=body,
        request_id=request_id(p, key))


_AWARD_READERS = allow(*OFFICIALS, what_en="read the award lists", what_zh="查看奖补名单")


@router.get("/batches/{batch_id}/award-list", response_model=AwardLists, responses=ERRORS,
            summary="择优奖补名单 (the batch's merit lists and its undecided candidates)",
            description="Each entry within the caller's jurisdiction, with what became of it "
                        "(decided, awaiting_cosign, lapsed, refused, in_progress).",
            **_AWARD_READERS)
def get_award_list(batch: BatchDep, p: PrincipalDep, state: StateDep) -> AwardLists:
    return award_lists(state.db, p, batch.id)


@router.post("/batches/{batch_id}/publicity", response_model=list[BulkResult], responses=ERRORS,
             summary="对入围名单开始公示 (open 公示 for the selected list)", **_PROVINCE)
async def open_publicity(batch: BatchDep, body: PublicityIn, p: PrincipalDep, state: StateDep,
                         key: IdempotencyKey = None) -> list[BulkResult]:
    payload: dict[str, object] = ({"working_days": body.working_days}
                                  if body.working_days else {})
    return await make_decisions(
        client=state.client, db=state.db, who=p, actor=p.actor, action=Action.OPEN_PUBLICITY,
        items=[BulkItem(project_id=pid, reason=body.reason, payload=payload)
               for pid in body.project_ids],
        base_request_id=request_id(p, key))


class RoundIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


@router.post("/batches/{batch_id}/acceptance-rounds/halfyear", response_model=list[BulkResult],
             responses=ERRORS,
             summary="组织半年期集中验收 (2024: open the half-year round for the projects that "
                     "applied, R16)", **_PROVINCE)
async def halfyear_round(batch_id: str, body: RoundIn, p: PrincipalDep, state: StateDep,
                         key: IdempotencyKey = None) -> list[BulkResult]:
    return await open_halfyear_round(
        client=state.client, db=state.db, who=p, actor=p.actor, batch_id=batch_id,
        reason=body.reason or "半年期集中验收", request_id=request_id(p, key))


def _add_bulk_route(action: str) -> None:
    async def endpoint(body: BulkRequest, p: PrincipalDep, state: StateDep,
                       key: IdempotencyKey = None) -> list[BulkResult]:
        return await make_decisions(
            client=state.client, db=state.db, who=p, actor=p.actor, action=action,
            items=[BulkItem(project_id=i.project_id, reason=i.reason, evidence=i.evidence,
                            payload=i.payload) for i in body.items],
            base_request_id=request_id(p, key))

    router.add_api_route(
        f"/decisions/{action}/bulk", endpoint, methods=["POST"],
        response_model=list[BulkResult], responses=ERRORS,
        summary=f"批量{ACTION_LABELS_ZH[action]} (bulk {action})",
        operation_id=f"bulk_{action}",
        description="Each item is decided on its own and reported; one refusal does not "
                    "stop or hide the others.",
        **deciders(action),
    )


for _action in BULK_ACTIONS:
    _add_bulk_route(_action.value)


# -- exports ----------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_RESPONSES = {**ERRORS, 200: {"content": {XLSX: {}, "text/csv": {}},
                                  "description": "the file"}}


# A spreadsheet (Excel, WPS) reads a cell that starts with one of these as a formula:
# HYPERLINK and WEBSERVICE send the sheet's data out, DDE runs commands. Titles,
# descriptions and reasons are typed by applicants and officials, so every exported text
# is kept as text (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: object) -> object:
    """A CSV cell: a text that would start a formula gets a leading apostrophe, which
    spreadsheets show as text; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _xlsx(title: str, header: list[str], rows: list[list[object]], filename: str) -> Response:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    ws.append(header)
    for row in rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            # openpyxl writes a text starting with "=" as a formula: keep it a string.
            if cell.data_type == "f":
                cell.data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    return Response(buf.getvalue(), media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename={filename}"})


def _names(state: AppState) -> tuple[dict[str, str], dict[str, str]]:
    with state.db() as s:
        regions = {r.code: r.name for r in s.scalars(select(Region))}
        units = {u.credit_code: u.name for u in s.scalars(select(Unit))}
    return regions, units


class QuotaRow(BaseModel):
    city_code: str
    city_name: str
    quota: int
    used: int = Field(description="recommendations that take a place (R8)")
    exempt: int = Field(description="recommendations of central / provincial SOEs (no place)")


@router.get("/batches/{batch_id}/quotas", response_model=list[QuotaRow], responses=ERRORS,
            summary="推荐名额使用情况 (each city's quota and its use, R8)",
            **allow(Role.CITY, Role.CITY_FINANCE, Role.PROVINCE, Role.PROVINCE_FINANCE,
                    Role.AUDITOR, **_BATCH_ACTION))
def quotas(batch: BatchDep, p: PrincipalDep, state: StateDep) -> list[QuotaRow]:
    """A city official sees their own city's row; the province and auditors every city's."""
    batch_id = batch.id
    regions, _ = _names(state)
    query = select(CityQuota).where(CityQuota.batch_id == batch_id)
    if p.role in (Role.CITY, Role.CITY_FINANCE):
        query = query.where(CityQuota.city_code == p.region)
    with state.db() as s:
        rows = list(s.scalars(query.order_by(CityQuota.city_code)))
        recs = list(s.scalars(select(Recommendation).where(Recommendation.batch_id == batch_id)))
    return [QuotaRow(city_code=q.city_code, city_name=regions.get(q.city_code, q.city_code),
                     quota=q.quota,
                     used=sum(1 for r in recs if r.city_code == q.city_code and not r.exempt),
                     exempt=sum(1 for r in recs if r.city_code == q.city_code and r.exempt))
            for q in rows]


@router.get("/batches/{batch_id}/recommendation-summary.xlsx", responses=FILE_RESPONSES,
            response_class=Response, summary="推荐汇总表 (a city's recommendation summary)",
            **allow(Role.CITY, Role.CITY_FINANCE, Role.PROVINCE, Role.PROVINCE_FINANCE,
                    Role.AUDITOR, **_BATCH_ACTION))
def recommendation_summary(batch: BatchDep, p: PrincipalDep, state: StateDep,
                           city_code: Annotated[str, Query(pattern=r"^37\d{2}$")]) -> Response:
    if p.role in (Role.CITY, Role.CITY_FINANCE) and p.region != city_code:
        raise not_found("城市", city_code)
    batch_id = batch.id
    regions, units = _names(state)
    with state.db() as s:
        tasks = {t.code: t.title_zh for t in s.scalars(select(Task).where(
            Task.batch_id == batch_id))}
        recs = s.execute(select(Recommendation, Project).join(
            Project, Project.id == Recommendation.project_id).where(
            Recommendation.batch_id == batch_id, Recommendation.city_code == city_code)
            .order_by(Recommendation.rank)).all()
    rows: list[list[object]] = [
        [rec.rank, pr.title, tasks.get(pr.task_code, pr.task_code), units.get(pr.applicant_code),
         pr.applicant_code, regions.get(pr.county_code), (pr.declared_investment_cny or 0) / 10_000,
         "否" if rec.exempt else "是", pr.stage_label_zh]
        for rec, pr in recs
    ]
    return _xlsx("推荐汇总表", ["排序", "项目名称", "揭榜任务", "牵头单位", "统一社会信用代码",
                               "所在县（市、区）", "预期投入（万元）", "占用推荐名额", "当前阶段"],
                 rows, f"recommendation-{batch.id}-{city_code}.xlsx")


@router.get("/batches/{batch_id}/publicity-list.xlsx", responses=FILE_RESPONSES,
            response_class=Response, summary="公示名单 (the publicity list)", **_OVERSIGHT)
async def publicity_list(batch: BatchDep, state: StateDep) -> Response:
    batch_id = batch.id
    regions, units = _names(state)
    with state.db() as s:
        projects = list(s.scalars(select(Project).where(
            Project.batch_id == batch_id, Project.stage == "publicity").order_by(Project.id)))
    rows: list[list[object]] = []
    for i, pr in enumerate(projects, 1):
        view = await handle_for(state.client, pr.id).query(ProjectWorkflow.view)
        rows.append([i, pr.title, pr.task_code, units.get(pr.applicant_code),
                     regions.get(pr.city_code), regions.get(pr.county_code),
                     iso_local(view.publicity_end) if view.publicity_end else ""])
    header = ["序号", "项目名称", "揭榜任务", "牵头单位", "所在市", "所在县（市、区）", "公示截止"]
    return _xlsx("公示名单", header, rows, f"publicity-{batch_id}.xlsx")


def _csv(header: list[str], rows: list[list[object]], filename: str) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows([_text(v) for v in row] for row in rows)
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


@router.get("/batches/{batch_id}/baselines.csv", responses=FILE_RESPONSES,
            response_class=Response,
            summary="项目基线版本 (each project's baseline versions: the application as "
                    "selected, then each approved change, R15)", **_OVERSIGHT)
def baselines_csv(batch: BatchDep, state: StateDep) -> Response:
    with state.db() as s:
        projects = [pr for pr in s.scalars(select(Project).where(
            Project.batch_id == batch.id).order_by(Project.id)) if pr.baselines]
        made_at = {(r.project_id, r.seq): r.at for r in s.scalars(select(DecisionRow).where(
            DecisionRow.project_id.in_([pr.id for pr in projects]),
            DecisionRow.action == Action.PROVINCE_APPROVE_CHANGE.value))}
    rows: list[list[object]] = []
    for pr in projects:
        rows.append([pr.id, pr.title, pr.city_code, 1, "申报书（入围时）", "", "", "", ""])
        for b in pr.baselines:
            at = made_at.get((pr.id, b["seq"]))
            rows.append([pr.id, pr.title, pr.city_code, b["version"],
                         ChangeKind(b["kind"]).label_zh, b["description"],
                         b.get("extend_months") or "", b["seq"], iso_local(at) if at else ""])
    return _csv(["项目编号", "项目名称", "所在市", "基线版本", "变更类型", "变更内容",
                 "延长实施期（月）", "批准记录序号", "批准时间"],
                rows, f"baselines-{batch.id}.csv")


@router.get("/batches/{batch_id}/ranking.csv", responses=FILE_RESPONSES,
            response_class=Response, summary="专家评分排名 (the expert ranking per task, R12)",
            **_OVERSIGHT)
def ranking_csv(batch: BatchDep, state: StateDep) -> Response:
    """Projects in or past provincial review, ranked within their task by the average of
    their experts' scores (the province's selection may follow it); unscored projects last."""
    with state.db() as s:
        projects = [pr for pr in s.scalars(select(Project).where(Project.batch_id == batch.id))
                    if pr.scores]
    rows: list[list[object]] = []
    for task in sorted({pr.task_code for pr in projects}):
        scored = []
        for pr in (p for p in projects if p.task_code == task):
            given = [v for v in (pr.scores or {}).values() if v is not None]
            scored.append((sum(given) / len(given) if given else None, len(given),
                           len(pr.scores or {}), pr))
        scored.sort(key=lambda x: (x[0] is None, -(x[0] or 0), x[3].id))
        for rank, (avg, n, assigned, pr) in enumerate(scored, 1):
            rows.append([task, rank, pr.id, pr.title, pr.city_code,
                         f"{avg:.2f}" if avg is not None else "", f"{n}/{assigned}", pr.stage])
    return _csv(["task_code", "rank", "project_id", "title", "city_code", "average_score",
                 "scored", "stage"], rows, f"ranking-{batch.id}.csv")


@router.get("/batches/{batch_id}/reserve-pool.csv", responses=FILE_RESPONSES,
            response_class=Response,
            summary="储备库登记 (the reserve pool register of task 9 projects, R14)",
            **_OVERSIGHT)
def reserve_pool_csv(batch: BatchDep, state: StateDep) -> Response:
    """Listed 载体赋能 projects enter the promotion centre's reserve pool; a revoked or
    terminated one leaves it."""
    with state.db() as s:
        projects = list(s.scalars(select(Project).where(
            Project.batch_id == batch.id, Project.reserve_pool.is_(True)).order_by(Project.id)))
    return _csv(["project_id", "title", "task_code", "city_code", "county_code",
                 "applicant_code", "stage"],
                [[pr.id, pr.title, pr.task_code, pr.city_code, pr.county_code,
                  pr.applicant_code, pr.stage] for pr in projects],
                f"reserve-pool-{batch.id}.csv")


# After 公示: the list published (公布) — listed and not removed; and acceptance passed.
_PUBLISHED = ("implementation", "halfyear_acceptance", "final_acceptance", "rectification",
              "subsidy", "supervision", "clawback", "completed", "failed_acceptance")
_ACCEPTED = ("subsidy", "supervision", "clawback", "completed")


@router.get("/batches/{batch_id}/announcement.csv", responses=FILE_RESPONSES,
            response_class=Response,
            summary="公布名单 (the list published after 公示, R13; and acceptance passed, R16)",
            **_OVERSIGHT)
def announcement_csv(batch: BatchDep, state: StateDep,
                     which: Annotated[str, Query(pattern="^(selected|accepted)$")] = "selected",
                     ) -> Response:
    """`selected`: the projects that passed 公示 and go on (their stage says how far);
    `accepted`: the projects that passed acceptance (R16's 公布)."""
    with state.db() as s:
        projects = [pr for pr in s.scalars(select(Project).where(
            Project.batch_id == batch.id).order_by(Project.task_code, Project.id))
            if pr.stage in (_PUBLISHED if which == "selected" else _ACCEPTED)]
    return _csv(["project_id", "title", "task_code", "city_code", "county_code",
                 "applicant_code", "stage", "verified_investment_cny"],
                [[pr.id, pr.title, pr.task_code, pr.city_code, pr.county_code,
                  pr.applicant_code, pr.stage, pr.verified_investment_cny or ""]
                 for pr in projects], f"announcement-{which}-{batch.id}.csv")


@router.get("/batches/{batch_id}/results.csv", responses=FILE_RESPONSES,
            response_class=Response, summary="结果 CSV (results of a batch)", **_OVERSIGHT)
def results_csv(batch: BatchDep, state: StateDep) -> Response:
    batch_id = batch.id
    with state.db() as s:
        projects = list(s.scalars(select(Project).where(Project.batch_id == batch_id)
                                  .order_by(Project.city_code, Project.id)))
    rows: list[list[object]] = []
    for pr in projects:
        scores = [v for v in (pr.scores or {}).values() if v is not None]
        rows.append([pr.id, pr.title, pr.city_code, pr.county_code, pr.task_code, pr.stage,
                     pr.stage_label_zh, pr.end_rule or "", pr.city_rank or "",
                     f"{sum(scores) / len(scores):.2f}" if scores else "",
                     pr.verified_investment_cny or "", pr.subsidy_amount_cny or "",
                     "yes" if pr.reserve_pool else ""])
    return _csv(["project_id", "title", "city_code", "county_code", "task_code", "stage",
                 "stage_label_zh", "end_rule", "city_rank", "average_score",
                 "verified_investment_cny", "subsidy_amount_cny", "reserve_pool"],
                rows, f"results-{batch_id}.csv")


AWARD_STATE_ZH = {"decided": "已生效", "awaiting_cosign": "待省财政厅会签",
                  "lapsed": "未生效（不同意、撤回或阶段变更）", "refused": "被拒绝",
                  "in_progress": "处理中"}


@router.get("/batches/{batch_id}/award-list.csv", responses=FILE_RESPONSES,
            response_class=Response, summary="择优奖补名单 CSV (the merit lists as a file)",
            **_AWARD_READERS)
def award_list_csv(batch: BatchDep, p: PrincipalDep, state: StateDep) -> Response:
    out = award_lists(state.db, p, batch.id)
    rows: list[list[object]] = [
        [e.list_id, iso_local(lst.decided_at), e.rank or "", e.project_id, e.title, e.task_code,
         e.city_code, "奖补" if e.kind == "award" else "不予奖补",
         _cny(e.amount_cny), e.scenes or "", e.recipient or "", _cny(e.verified_investment_cny),
         e.reason, AWARD_STATE_ZH[e.state], e.rule or ""]
        for lst in out.lists for e in lst.entries]
    return _csv(["名单编号", "决定时间", "排名", "项目编号", "项目名称", "揭榜任务", "所在市",
                 "决定", "奖补金额（元）", "场景数", "奖补对象（统一社会信用代码）",
                 "验收核定投资（元）", "理由", "状态", "拒绝规则"],
                rows, f"award-list-{batch.id}.csv")


def _cny(amount: float | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


__all__ = ["router"]
