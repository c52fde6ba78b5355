"""Auditors and operators. Auditors (and the province) read a project's lifecycle from its
workflow history, live or archived: timeline, replay proof, verification of the stored
record, and all of it as one audit file. Operators see the running system: stage counts,
deadlines near and missed, raw histories; and trigger the archive sweep."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowHistory

from api.auth import PrincipalDep
from api.deps import ERRORS, allow
from api.errors import not_found
from api.state import AppState, StateDep
from audit.archive import SweepReport, load_history, sweep
from audit.chain import Verification
from audit.replay import ReplayProof, replay_proof
from audit.timeline import TimelineEntry, timeline
from domain.roles import Role
from models import Project
from services.operator import (
    ArchiveOverdue,
    CosignOverdue,
    DeadlineRow,
    ReadModelDifference,
    StageCount,
    Stuck,
    archives_overdue,
    compare_read_model,
    cosigns_overdue,
    deadlines,
    stage_counts,
    stuck,
)
from services.reprojection import Reprojected, reproject, verify_history

# A batch id as batches are named (services.visibility refuses anything else in a query).
BatchFilter = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.:+-]{1,64}$")]
router = APIRouter(tags=["audit and operations 审计与运维"])
AUDIT = (Role.AUDITOR, Role.PROVINCE)
_WHAT = {"what_en": "use the audit or operator functions", "what_zh": "审计或运维功能"}
_AUDIT = allow(*AUDIT, **_WHAT)
_OPERATOR = allow(Role.OPERATOR, **_WHAT)


async def _verify(state: AppState, project_id: str, history: WorkflowHistory) -> Verification:
    return await verify_history(db=state.db, project_id=project_id, history=history)


async def _history(state: AppState, project_id: str) -> WorkflowHistory:
    def known() -> bool:
        with state.db() as s:
            return s.get(Project, project_id) is not None

    if not await run_in_threadpool(known):
        raise not_found("项目", project_id)
    found = await load_history(state.client, state.db, project_id)
    if found is None:
        raise not_found("流程历史", project_id)
    return found[0]


@router.get("/audit/projects/{project_id}/timeline", response_model=list[TimelineEntry],
            responses=ERRORS, summary="生命周期时间线 (timeline from the workflow history)",
            **_AUDIT)
async def audit_timeline(project_id: str, p: PrincipalDep, state: StateDep) -> list[TimelineEntry]:
    return timeline(await _history(state, project_id))


@router.get("/audit/projects/{project_id}/replay", response_model=ReplayProof,
            responses=ERRORS, summary="重放证明 (replay the history against the code)",
            **_AUDIT)
async def audit_replay(project_id: str, p: PrincipalDep, state: StateDep) -> ReplayProof:
    return await replay_proof(await _history(state, project_id))


@router.get("/audit/projects/{project_id}/verify", response_model=Verification,
            responses=ERRORS, summary="核验决定记录 (hash chain and history agree)",
            **_AUDIT)
async def audit_verify(project_id: str, p: PrincipalDep, state: StateDep) -> Verification:
    return await _verify(state, project_id, await _history(state, project_id))


@router.get("/audit/projects/{project_id}/audit-file", response_class=Response,
            responses={**ERRORS, 200: {"content": {"application/zip": {}}}},
            summary="审计档案下载 (timeline, history, replay proof, verification in one zip)",
            **_AUDIT)
async def audit_file(project_id: str, p: PrincipalDep, state: StateDep) -> Response:
    history = await _history(state, project_id)
    proof = await replay_proof(history)
    verification = await _verify(state, project_id, history)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("history.json", history.to_json())
        z.writestr("timeline.json", json.dumps(
            [e.model_dump(mode="json") for e in timeline(history)], ensure_ascii=False, indent=2))
        z.writestr("replay-proof.json", proof.model_dump_json(indent=2))
        z.writestr("verification.json", verification.model_dump_json(indent=2))
    return Response(buf.getvalue(), media_type="application/zip", headers={
        "Content-Disposition": f"attachment; filename=audit-{project_id}.zip"})


@router.get("/operator/stages", response_model=list[StageCount], responses=ERRORS,
            summary="各阶段项目数 (projects by batch × city × stage, from Temporal)",
            **_OPERATOR)
async def operator_stages(p: PrincipalDep, state: StateDep,
                          batch_id: BatchFilter = None) -> list[StageCount]:
    return await stage_counts(state.client, batch_id)


@router.get("/operator/deadlines", response_model=list[DeadlineRow], responses=ERRORS,
            summary="临近与已过的截止时间 (deadlines near and missed)",
            **_OPERATOR)
async def operator_deadlines(p: PrincipalDep, state: StateDep,
                             hours: Annotated[int, Query(ge=1, le=24 * 365)] = 72,
                             batch_id: BatchFilter = None) -> list[DeadlineRow]:
    return await deadlines(state.client, timedelta(hours=hours), batch_id)


@router.get("/operator/projects/{project_id}/history", response_class=Response,
            responses={**ERRORS, 200: {"content": {"application/json": {}}}},
            summary="原始流程历史 (the raw workflow history, as Temporal exports it)",
            **_OPERATOR)
async def operator_history(project_id: str, p: PrincipalDep, state: StateDep) -> Response:
    history = await _history(state, project_id)
    return Response(history.to_json(), media_type="application/json")


@router.get("/operator/archives-overdue", response_model=list[ArchiveOverdue],
            responses=ERRORS, summary="过程档案逾期 (projects with overdue process archives)",
            **_OPERATOR)
async def operator_archives_overdue(p: PrincipalDep, state: StateDep,
                                    batch_id: BatchFilter = None) -> list[ArchiveOverdue]:
    return await archives_overdue(state.client, batch_id)


@router.get("/operator/cosigns-overdue", response_model=list[CosignOverdue],
            responses=ERRORS,
            summary="会签逾期 (decisions waiting for co-signature past their working days)",
            **_OPERATOR)
async def operator_cosigns_overdue(p: PrincipalDep, state: StateDep,
                                   batch_id: BatchFilter = None) -> list[CosignOverdue]:
    return await cosigns_overdue(state.client, batch_id)


@router.get("/operator/stuck", response_model=list[Stuck], responses=ERRORS,
            summary="卡住的流程 (failing workflow tasks, activities retrying long)",
            **_OPERATOR)
async def operator_stuck(p: PrincipalDep, state: StateDep) -> list[Stuck]:
    return await stuck(state.client)


@router.get("/operator/read-model", response_model=list[ReadModelDifference], responses=ERRORS,
            summary="读模型核对 (read model against the workflows: differences)",
            **_OPERATOR)
async def operator_read_model(p: PrincipalDep, state: StateDep, batch_id: BatchFilter = None,
                              sample: Annotated[int | None, Query(ge=1, le=100_000)] = None,
                              ) -> list[ReadModelDifference]:
    return await compare_read_model(state.client, state.db, batch_id, sample)


@router.post("/operator/archive", response_model=SweepReport, responses=ERRORS,
             summary="归档流程历史 (archive closed histories, snapshot long-open ones)",
             **_OPERATOR)
async def operator_archive(p: PrincipalDep, state: StateDep) -> SweepReport:
    return await sweep(state.client, state.db)


@router.post("/operator/projects/{project_id}/reproject", response_model=Reprojected,
             responses=ERRORS,
             summary="重建读模型 (rebuild the project's read model from its committed history)",
             **_OPERATOR)
async def operator_reproject(project_id: str, p: PrincipalDep, state: StateDep) -> Reprojected:
    """Idempotent: the read model is made equal to the history; the answer says what
    was wrong before (nothing, the second time)."""
    await _history(state, project_id)  # 404 for an unknown project
    return await reproject(client=state.client, db=state.db, project_id=project_id)
