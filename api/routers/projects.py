"""Projects: create a draft, read one (from its workflow) or many (from the read model),
edit the application, attach documents."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api.access import check_visible, restrict, sees
from api.auth import PrincipalDep
from api.errors import bad_input, forbidden_role, not_found
from api.routers.decisions import ERRORS, IdempotencyKey, request_id, run_decision
from api.schemas import (
    CreateProject,
    DocumentOut,
    EditApplication,
    MemberOut,
    Page,
    ProjectDetail,
    ProjectSummary,
)
from api.state import AppState, StateDep
from domain.batch import BatchPolicy, ConsortiumMember, ProjectInput
from domain.decisions import Actor, DeadlineChange
from domain.eligibility import check_credit_code
from domain.payloads import DOCUMENT_KINDS
from domain.roles import Role
from models import Batch, Document, LocalDeadline, Project, Region, Task, Unit
from models import ConsortiumMember as MemberRow
from services.projects import handle_for, start_project
from services.registry import register_project
from workflows.project import ProjectWorkflow

router = APIRouter(tags=["projects 项目"])

MEDIA_TYPES = {
    "application/pdf", "application/ofd", "image/jpeg", "image/png", "application/zip",
    "application/msword", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def policy_of(batch: Batch) -> BatchPolicy:
    return BatchPolicy.model_validate({
        **batch.calendar, "batch_id": batch.id, "name": batch.name, "year": batch.year,
        "preset": batch.preset, "close_at": batch.close_at,
        "publicity_working_days": batch.publicity_working_days,
    })


@router.post("/projects", response_model=ProjectDetail, status_code=201, responses=ERRORS,
             summary="创建申报草稿 (create a draft)", openapi_extra={"x-roles": ["applicant"]})
async def create_project(body: CreateProject, p: PrincipalDep, state: StateDep,
                         key: IdempotencyKey = None) -> ProjectDetail:
    if p.role is not Role.APPLICANT:
        raise forbidden_role(p.role.value, "create a draft", "创建申报草稿")
    assert p.unit_code is not None
    project_id = (f"p-{hashlib.sha256(request_id(p, key).encode()).hexdigest()[:16]}" if key
                  else f"p-{uuid.uuid4().hex[:16]}")
    with state.db.begin() as s:
        batch = s.get(Batch, body.batch_id)
        if batch is None or batch.historical:
            raise not_found("批次", body.batch_id)
        if s.get(Task, (batch.id, body.task_code)) is None:
            raise bad_input(f"本批次没有任务{body.task_code}", f"no task {body.task_code}")
        county = s.get(Region, body.county_code)
        if county is None or county.level != "county" or county.parent_code is None:
            raise bad_input(f"未知的县级行政区划代码：{body.county_code}",
                            f"unknown county code {body.county_code}")
        members = {m.credit_code: m.role for m in body.consortium}
        members.setdefault(p.unit_code, "lead")
        for code in members:
            r4 = check_credit_code(code)
            if r4 is not None:
                raise bad_input(r4.message_zh, r4.message_en, rule="R4")
            if s.get(Unit, code) is None:
                raise bad_input(f"单位{code}尚未登记，请先登记单位信息",
                                f"unit {code} is not registered; register it first")
        names = {u.credit_code: u.name for u in s.scalars(
            select(Unit).where(Unit.credit_code.in_(members)))}
        project = ProjectInput(
            project_id=project_id, title=body.title, batch=policy_of(batch),
            task_code=body.task_code, city_code=county.parent_code,
            county_code=body.county_code, applicant_unit=p.unit_code,
            consortium=[ConsortiumMember(credit_code=c, name=names[c], role=r)
                        for c, r in members.items()],
            application=body.application,
        )
        register_project(s, project, body.application)
        local = list(s.scalars(select(LocalDeadline).where(
            LocalDeadline.batch_id == batch.id,
            LocalDeadline.region_code.in_([project.city_code, project.county_code]))))
    handle = await start_project(state.client, project, state.task_queue)
    for row in local:  # earlier local deadlines set before this project existed
        await handle.signal(ProjectWorkflow.change_deadline, DeadlineChange(
            request_id=f"local-deadline:{row.id}:{row.deadline.isoformat()}",
            actor=Actor(user_id=row.set_by, role=Role.COUNTY if len(row.region_code) == 6
                        else Role.CITY, region=row.region_code),
            scope=row.region_code, new_deadline=row.deadline, reason="本地截止时间"))
    return await project_detail(project_id, p, state)


@router.get("/projects/{project_id}", response_model=ProjectDetail, responses=ERRORS,
            summary="项目详情 (project detail, from its workflow)",
            openapi_extra={"x-roles": [r.value for r in Role if r is not Role.SYSTEM]})
async def project_detail(project_id: str, p: PrincipalDep, state: StateDep) -> ProjectDetail:
    await check_visible(state.db, p, project_id)
    handle = handle_for(state.client, project_id)
    view = await handle.query(ProjectWorkflow.view)
    log = await handle.query(ProjectWorkflow.decision_log)
    return ProjectDetail(view=view, allowed_for_me=view.allowed.get(p.role.value, []),
                         decisions=log,
                         consortium=await run_in_threadpool(consortium_of, state, project_id))


def consortium_of(state: AppState, project_id: str) -> list[MemberOut]:
    with state.db() as s:
        rows = s.execute(select(MemberRow, Unit).join(
            Unit, Unit.credit_code == MemberRow.unit_code).where(
            MemberRow.project_id == project_id)).all()
    order = {"lead": 0, "scene": 1}
    return sorted((MemberOut(credit_code=u.credit_code, name=u.name, role=m.role,
                             central_enterprise_in_shandong=u.central_enterprise_in_shandong,
                             provincial_soe=u.provincial_soe) for m, u in rows),
                  key=lambda m: (order.get(m.role, 2), m.credit_code))


@router.get("/projects", response_model=Page[ProjectSummary], responses=ERRORS,
            summary="项目列表 (list, from the read model)",
            openapi_extra={"x-roles": [r.value for r in Role if r is not Role.SYSTEM]})
def list_projects(
    p: PrincipalDep, state: StateDep,
    batch_id: str | None = None, task_code: str | None = None, stage: str | None = None,
    city_code: str | None = None, county_code: str | None = None,
    waiting_on_me: Annotated[bool, Query(description="projects only you can move now")] = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ProjectSummary]:
    query = restrict(select(Project), p)
    for column, value in ((Project.batch_id, batch_id), (Project.task_code, task_code),
                          (Project.stage, stage), (Project.city_code, city_code),
                          (Project.county_code, county_code)):
        if value is not None:
            query = query.where(column == value)
    with state.db() as s:
        if p.role is Role.EXPERT or waiting_on_me:
            rows = [r for r in s.scalars(query.order_by(Project.id)) if sees(p, r) and (
                not waiting_on_me or p.role.value in (r.waiting_on or []))]
            total, items = len(rows), rows[(page - 1) * page_size: page * page_size]
        else:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            items = list(s.scalars(query.order_by(Project.id)
                                   .offset((page - 1) * page_size).limit(page_size)))
    return Page(items=[ProjectSummary.model_validate(r, from_attributes=True) for r in items],
                total=total, page=page, page_size=page_size)


@router.put("/projects/{project_id}/application", response_model=ProjectDetail,
            responses=ERRORS,
            summary="修改申报材料 (edit the application; frozen after recommendation, R11)",
            openapi_extra={"x-roles": ["applicant"]})
async def edit_application(project_id: str, body: EditApplication, p: PrincipalDep,
                           state: StateDep, key: IdempotencyKey = None) -> ProjectDetail:
    """The edit is a decision of the project's workflow (`edit_application`): it decides
    whether the application may still change (stage, deadline, R11), records it in the
    timeline, and the read model follows from it."""
    payload = {"title": body.title, "application": body.application.model_dump(mode="json")}
    await run_decision(state, p, project_id, "edit_application", body.reason, [],
                       payload, request_id(p, key))
    return await project_detail(project_id, p, state)


@router.post("/projects/{project_id}/documents", response_model=DocumentOut, responses=ERRORS,
             summary="上传文件 (upload a document: feasibility report, proof, archive…)",
             openapi_extra={"x-roles": ["applicant"]})
async def upload_document(
    project_id: str, p: PrincipalDep, state: StateDep,
    file: Annotated[UploadFile, File(description="the document")],
    kind: Annotated[str, Form(description=", ".join(sorted(DOCUMENT_KINDS)))],
    key: IdempotencyKey = None,
) -> DocumentOut:
    """The bytes are stored by their sha256; attaching them to the project is a decision
    of its workflow (`attach_document`), which refuses application documents once the
    application is frozen (R11) or the applicant's deadline has passed."""
    if p.role is not Role.APPLICANT:
        raise forbidden_role(p.role.value, "upload documents", "上传文件")
    if kind not in DOCUMENT_KINDS:
        raise bad_input(f"未知的文件类别：{kind}", f"unknown document kind {kind}")
    filename = file.filename or ""
    # A NUL sent by a client arrives percent-encoded (multipart file names are not decoded).
    if any(c in filename for c in "\x00/\\") or any(ord(c) < 32 or ord(c) == 127
                                                    for c in filename) or \
            "%00" in filename or len(filename) > 255:
        raise bad_input("文件名不能含有路径分隔符或控制字符，且不超过255个字符",
                        "the file name must not contain path separators or control "
                        "characters, and is at most 255 characters")
    media_type = (file.content_type or "").split(";")[0].strip()
    if media_type not in MEDIA_TYPES:
        raise bad_input(f"不支持的文件类型：{media_type or '未知'}",
                        f"unsupported media type {media_type or 'unknown'}")
    await check_visible(state.db, p, project_id)
    limit = state.settings.max_document_mb * 1024 * 1024
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise bad_input(f"文件超过{state.settings.max_document_mb}MB上限",
                        f"the file exceeds {state.settings.max_document_mb} MB")
    if not data:
        raise bad_input("文件为空", "the file is empty")
    digest = hashlib.sha256(data).hexdigest()
    view = await handle_for(state.client, project_id).query(ProjectWorkflow.view)
    if any(d.sha256 == digest and d.kind == kind for d in view.documents):
        return DocumentOut(sha256=digest, size=len(data), media_type=media_type, kind=kind,
                           new=False)
    await run_in_threadpool(store_document, state, data, digest, media_type, p.user_id)
    await run_decision(state, p, project_id, "attach_document", "", [], {
        "sha256": digest, "kind": kind, "media_type": media_type, "size": len(data),
        "filename": filename}, request_id(p, key))
    return DocumentOut(sha256=digest, size=len(data), media_type=media_type, kind=kind, new=True)


def store_document(state: AppState, data: bytes, digest: str, media_type: str,
                   user_id: str) -> None:
    """The bytes, once, under their sha256 (the same file uploaded twice is one)."""
    key = f"{digest[:2]}/{digest[2:4]}/{digest}"
    path = state.settings.storage_dir / key
    with state.db.begin() as s:
        if s.get(Document, digest) is not None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        s.add(Document(sha256=digest, size=len(data), media_type=media_type, storage_key=key,
                       uploaded_by=user_id, uploaded_at=datetime.now(UTC)))
