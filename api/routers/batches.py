"""Batch-wide work: creating a batch, deadlines, a city's ranked list, decisions in bulk,
公示 for the selected list, and the exports officials file (推荐汇总表, 公示名单, results)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from openpyxl import Workbook
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from temporalio.service import RPCError, RPCStatusCode

from api.access import restrict
from api.auth import Principal, PrincipalDep
from api.errors import ApiError, ErrorBody, bad_input, forbidden_role, not_found
from api.routers.decisions import ERRORS, IdempotencyKey, decision_roles, request_id, run_decision
from api.schemas import BulkRequest, BulkResult, DeadlineIn, PublicityIn, RecommendationList
from api.state import AppState, StateDep
from domain.batch import BatchPolicy
from domain.catalogue import CARRIER_TASKS_2026, TASKS_2026
from domain.clock import Instant, iso_local
from domain.decisions import DeadlineChange, request_id_of
from domain.lifecycle import ACTION_LABELS_ZH
from domain.presets import PresetName
from domain.refusals import RefusalKind, Refused, refusal
from domain.roles import Role
from models import (
    Batch,
    CityQuota,
    LocalDeadline,
    Project,
    Recommendation,
    Region,
    Task,
    Unit,
)
from services.limits import recommend_list
from services.projects import change_batch_deadline, handle_for
from services.registry import TaskDef, ensure_batch
from workflows.project import ProjectWorkflow

router = APIRouter(tags=["batches 批次"])
OFFICIALS = [r.value for r in Role if r is not Role.SYSTEM]


class BatchIn(BaseModel):
    batch_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = Field(min_length=2, max_length=200)
    year: int = Field(ge=2020, le=2100)
    preset: PresetName
    close_at: Instant
    notice_date: date | None = None
    publicity_working_days: int = Field(default=5, ge=1, le=30)
    tasks: list[TaskDef] = Field(default=[TaskDef(code=c, direction=d, title_zh=t)
                                          for c, d, t in TASKS_2026])
    quotas: dict[str, int] = Field(default={}, description="city code -> quota (R8)")
    counts: list[str] = Field(default=[], max_length=20,
                              description="earlier batches counting for R2")

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
    signalled: int
    deadline: Instant


def _require(p: Principal, *roles: Role) -> None:
    if p.role not in roles:
        raise forbidden_role(p.role.value, "take this batch action", "此批次操作")


def _batch(state: AppState, batch_id: str) -> Batch:
    with state.db() as s:
        batch = s.get(Batch, batch_id)
    if batch is None:
        raise not_found("批次", batch_id)
    return batch


@router.post("/batches", response_model=BatchOut, status_code=201, responses=ERRORS,
             summary="创建申报批次 (create a batch)", openapi_extra={"x-roles": ["province"]})
def create_batch(body: BatchIn, p: PrincipalDep, state: StateDep) -> BatchOut:
    _require(p, Role.PROVINCE)
    carriers = [t.code for t in body.tasks if t.direction == "carrier"] or (
        list(CARRIER_TASKS_2026) if body.preset is PresetName.P2026 else [])
    policy = BatchPolicy(batch_id=body.batch_id, name=body.name, year=body.year,
                         preset=body.preset, close_at=body.close_at,
                         publicity_working_days=body.publicity_working_days,
                         carrier_tasks=carriers)
    with state.db.begin() as s:
        for code in body.quotas:
            region = s.get(Region, code)
            if region is None or region.level != "city":
                raise bad_input(f"未知的市级代码：{code}", f"unknown city code {code}")
        for counted in body.counts:
            if s.get(Batch, counted) is None:
                raise bad_input(f"未知的往期批次：{counted}", f"unknown batch {counted}")
        ensure_batch(s, policy, body.tasks, body.quotas, counts=body.counts,
                     notice_date=body.notice_date, illustrative=False)
    return get_batch(body.batch_id, p, state)


@router.get("/batches/{batch_id}", response_model=BatchOut, responses=ERRORS,
            summary="批次信息 (a batch)", openapi_extra={"x-roles": OFFICIALS})
def get_batch(batch_id: str, p: PrincipalDep, state: StateDep) -> BatchOut:
    batch = _batch(state, batch_id)
    with state.db() as s:
        tasks = [TaskDef(code=t.code, direction=t.direction, title_zh=t.title_zh)
                 for t in s.scalars(select(Task).where(Task.batch_id == batch_id))]
    return BatchOut(batch_id=batch.id, name=batch.name, year=batch.year, preset=batch.preset,
                    close_at=batch.close_at, tasks=tasks)


@router.post("/batches/{batch_id}/deadline", response_model=FanOut, responses=ERRORS,
             summary="延长批次截止时间 (the province extends the batch close)",
             openapi_extra={"x-roles": ["province"]})
async def extend_deadline(batch_id: str, body: DeadlineIn, p: PrincipalDep, state: StateDep,
                          key: IdempotencyKey = None) -> FanOut:
    _require(p, Role.PROVINCE)
    batch = _batch(state, batch_id)
    if body.new_deadline <= batch.close_at:
        raise ApiError(409, refusal("R10", RefusalKind.RULE,
                                    f"只能延长截止时间（当前{iso_local(batch.close_at)}）",
                                    "the batch deadline can only be extended"))
    with state.db.begin() as s:
        row = s.get(Batch, batch_id)
        assert row is not None
        row.close_at = body.new_deadline
    change = DeadlineChange(request_id=request_id(p, key), actor=p.actor, scope="batch",
                            new_deadline=body.new_deadline, reason=body.reason)
    n = await change_batch_deadline(state.client, batch_id, change)
    return FanOut(signalled=n, deadline=body.new_deadline)


@router.post("/batches/{batch_id}/local-deadline", response_model=FanOut, responses=ERRORS,
             summary="设定本地提前截止时间 (a city's or county's earlier deadline)",
             openapi_extra={"x-roles": ["city", "county"]})
async def local_deadline(batch_id: str, body: DeadlineIn, p: PrincipalDep, state: StateDep,
                         key: IdempotencyKey = None) -> FanOut:
    _require(p, Role.CITY, Role.COUNTY)
    batch = _batch(state, batch_id)
    if body.new_deadline > batch.close_at:
        raise ApiError(409, refusal("R10", RefusalKind.RULE,
                                    f"本地截止时间不得晚于全省截止时间{iso_local(batch.close_at)}",
                                    "a local deadline is never later than the batch's"))
    with state.db.begin() as s:
        row = s.scalars(select(LocalDeadline).where(
            LocalDeadline.batch_id == batch_id, LocalDeadline.region_code == p.region)).first()
        if row is None:
            s.add(LocalDeadline(batch_id=batch_id, region_code=p.region,
                                deadline=body.new_deadline, set_by=p.user_id))
        else:
            row.deadline, row.set_by = body.new_deadline, p.user_id
    field = "GfCounty" if p.role is Role.COUNTY else "GfCity"
    query = (f"GfBatch = '{batch_id}' AND {field} = '{p.region}' "
             "AND ExecutionStatus = 'Running'")
    change = DeadlineChange(request_id=request_id(p, key), actor=p.actor, scope=p.region,
                            new_deadline=body.new_deadline, reason=body.reason)
    n = 0
    async for wf in state.client.list_workflows(query):
        await state.client.get_workflow_handle(wf.id).signal(ProjectWorkflow.change_deadline,
                                                             change)
        n += 1
    return FanOut(signalled=n, deadline=body.new_deadline)


async def _each(state: AppState, p: Principal, action: str, items: list[tuple[str, str, list[str],
                dict[str, object]]], base: str) -> list[BulkResult]:
    """Run one decision per item; one failure does not hide the others. A project busy
    with other decisions (Temporal's limit of updates in flight) is retried a few times
    before its item says 429."""
    out = []
    for project_id, reason, evidence, payload in items:
        try:
            for attempt in range(BUSY_RETRIES + 1):
                try:
                    r = await run_decision(state, p, project_id, action, reason, evidence,
                                           payload, request_id_of(base, project_id))
                    break
                except RPCError as exc:
                    if exc.status != RPCStatusCode.RESOURCE_EXHAUSTED or attempt == BUSY_RETRIES:
                        raise
                    await asyncio.sleep(0.2 * 2 ** attempt)
            out.append(BulkResult(project_id=project_id, ok=True, status=200, stage=r.stage))
        except RPCError as exc:
            busy = exc.status == RPCStatusCode.RESOURCE_EXHAUSTED
            out.append(BulkResult(
                project_id=project_id, ok=False, status=429 if busy else 503,
                rule="BUSY" if busy else "UNAVAILABLE",
                message_zh="该项目正在处理其他决定，请稍后重试" if busy
                else "流程服务暂时不可用，请稍后重试",
                message_en="the project is busy; retry later" if busy
                else "the workflow service is unavailable; retry later"))
        except (ApiError, Refused) as exc:
            ref = exc.refusal
            status = exc.status if isinstance(exc, ApiError) else {
                RefusalKind.ROLE: 403, RefusalKind.JURISDICTION: 403,
                RefusalKind.INPUT: 422}.get(ref.kind, 409)
            out.append(BulkResult(project_id=project_id, ok=False, status=status, rule=ref.rule,
                                  message_zh=ref.message_zh, message_en=ref.message_en))
    return out


@router.post("/batches/{batch_id}/recommendations", response_model=list[BulkResult],
             responses=ERRORS, summary="市级推荐排序名单 (a city's ranked list, within quota, R8)",
             openapi_extra={"x-roles": ["city"]})
async def recommend(batch_id: str, body: RecommendationList, p: PrincipalDep, state: StateDep,
                    key: IdempotencyKey = None) -> list[BulkResult]:
    _require(p, Role.CITY)
    _batch(state, batch_id)
    ranked = [(i.project_id, i.rank) for i in body.items]
    with state.db() as s, s.begin():
        visible = {pr.id for pr in s.scalars(restrict(
            select(Project).where(Project.id.in_([pid for pid, _ in ranked])), p))}
        missing = [pid for pid, _ in ranked if pid not in visible]
        if missing:
            raise not_found("项目", missing[0])
        problem = recommend_list(s, batch_id, p.region, ranked)
        if problem is not None:
            s.rollback()
            raise ApiError.of(problem)
    results = await _each(state, p, "city_recommend",
                          [(pid, body.reason, [], {"rank": rank}) for pid, rank in ranked],
                          request_id(p, key))
    failed = [r.project_id for r in results if not r.ok]
    if failed:  # a reservation whose decision was refused must not hold the quota
        with state.db.begin() as s:
            s.execute(delete(Recommendation).where(Recommendation.project_id.in_(failed)))
    return results


@router.post("/batches/{batch_id}/publicity", response_model=list[BulkResult], responses=ERRORS,
             summary="对入围名单开始公示 (open 公示 for the selected list)",
             openapi_extra={"x-roles": ["province"]})
async def open_publicity(batch_id: str, body: PublicityIn, p: PrincipalDep, state: StateDep,
                         key: IdempotencyKey = None) -> list[BulkResult]:
    _require(p, Role.PROVINCE)
    _batch(state, batch_id)
    payload: dict[str, object] = ({"working_days": body.working_days}
                                  if body.working_days else {})
    return await _each(state, p, "open_publicity",
                       [(pid, body.reason, [], payload) for pid in body.project_ids],
                       request_id(p, key))


BUSY_RETRIES = 4
BULK_ACTIONS = ("county_approve", "county_return", "county_reject", "city_return", "city_reject",
                "concur", "select", "not_select", "record_disbursement")


def _add_bulk_route(action: str) -> None:
    roles = sorted(r.value for r in decision_roles(action))

    async def endpoint(body: BulkRequest, p: PrincipalDep, state: StateDep,
                       key: IdempotencyKey = None) -> list[BulkResult]:
        if p.role not in decision_roles(action):
            raise forbidden_role(p.role.value, f"make the decision {action}",
                                 f"{ACTION_LABELS_ZH[action]}（{action}）")
        return await _each(state, p, action, [(i.project_id, i.reason, i.evidence, i.payload)
                                              for i in body.items], request_id(p, key))

    router.add_api_route(
        f"/decisions/{action}/bulk", endpoint, methods=["POST"],
        response_model=list[BulkResult], responses=ERRORS,
        summary=f"批量{ACTION_LABELS_ZH[action]} (bulk {action})",
        operation_id=f"bulk_{action}", openapi_extra={"x-roles": roles},
        description="Each item is decided on its own and reported; one refusal does not "
                    "stop or hide the others.",
    )


for _action in BULK_ACTIONS:
    _add_bulk_route(_action)


# -- exports ----------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_RESPONSES = {**ERRORS, 200: {"content": {XLSX: {}, "text/csv": {}},
                                  "description": "the file"}}


def _xlsx(title: str, header: list[str], rows: list[list[object]], filename: str) -> Response:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    ws.append(header)
    for row in rows:
        ws.append(row)
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
            openapi_extra={"x-roles": ["city", "city_finance", "province", "province_finance",
                                       "auditor"]})
def quotas(batch_id: str, p: PrincipalDep, state: StateDep) -> list[QuotaRow]:
    """A city official sees their own city's row; the province and auditors every city's."""
    _require(p, Role.CITY, Role.CITY_FINANCE, Role.PROVINCE, Role.PROVINCE_FINANCE, Role.AUDITOR)
    _batch(state, batch_id)
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
            openapi_extra={"x-roles": ["city", "city_finance", "province", "province_finance",
                                       "auditor"]})
def recommendation_summary(batch_id: str, p: PrincipalDep, state: StateDep,
                           city_code: Annotated[str, Query(pattern=r"^37\d{2}$")]) -> Response:
    _require(p, Role.CITY, Role.CITY_FINANCE, Role.PROVINCE, Role.PROVINCE_FINANCE, Role.AUDITOR)
    if p.role in (Role.CITY, Role.CITY_FINANCE) and p.region != city_code:
        raise not_found("城市", city_code)
    batch = _batch(state, batch_id)
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
            response_class=Response, summary="公示名单 (the publicity list)",
            openapi_extra={"x-roles": ["province", "province_finance", "auditor"]})
async def publicity_list(batch_id: str, p: PrincipalDep, state: StateDep) -> Response:
    _require(p, Role.PROVINCE, Role.PROVINCE_FINANCE, Role.AUDITOR)
    _batch(state, batch_id)
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


@router.get("/batches/{batch_id}/results.csv", responses=FILE_RESPONSES,
            response_class=Response, summary="结果 CSV (results of a batch)",
            openapi_extra={"x-roles": ["province", "province_finance", "auditor"]})
def results_csv(batch_id: str, p: PrincipalDep, state: StateDep) -> Response:
    _require(p, Role.PROVINCE, Role.PROVINCE_FINANCE, Role.AUDITOR)
    _batch(state, batch_id)
    with state.db() as s:
        projects = list(s.scalars(select(Project).where(Project.batch_id == batch_id)
                                  .order_by(Project.city_code, Project.id)))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["project_id", "title", "city_code", "county_code", "task_code", "stage",
                "stage_label_zh", "end_rule", "city_rank", "average_score",
                "verified_investment_cny", "subsidy_amount_cny", "reserve_pool"])
    for pr in projects:
        scores = [v for v in (pr.scores or {}).values() if v is not None]
        w.writerow([pr.id, pr.title, pr.city_code, pr.county_code, pr.task_code, pr.stage,
                    pr.stage_label_zh, pr.end_rule or "", pr.city_rank or "",
                    f"{sum(scores) / len(scores):.2f}" if scores else "",
                    pr.verified_investment_cny or "", pr.subsidy_amount_cny or "",
                    "yes" if pr.reserve_pool else ""])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=results-{batch_id}.csv"})


__all__ = ["ErrorBody", "router"]
