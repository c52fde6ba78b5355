"""Projects: create a draft, read one (from its workflow) or many (from the read model),
edit the application, attach documents. The use cases are in services/ (drafts,
documents, decisions); these routes parse, authorize and answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api.deps import (
    ERRORS,
    OFFICIALS,
    AppState,
    IdempotencyKey,
    PrincipalDep,
    StateDep,
    VisibleProject,
    allow,
    request_id,
)
from api.errors import bad_input
from api.schemas import (
    CreateProject,
    DocumentOut,
    EditApplication,
    MemberOut,
    Page,
    ProjectDetail,
    ProjectSummary,
)
from domain.actions import Action
from domain.payloads import DOCUMENT_KINDS
from domain.roles import Role
from models import Project
from services import consortium
from services.decisions import make_decision
from services.documents import MEDIA_TYPES, upload
from services.drafts import create_draft, project_id_for
from services.jurisdiction import restrict, sees_row
from services.projects import handle_for
from workflows.project import ProjectWorkflow

router = APIRouter(tags=["projects 项目"])
_APPLICANT = allow(Role.APPLICANT, what_en="act for an applicant", what_zh="以申报单位身份操作")
_EVERYONE = allow(*OFFICIALS, what_en="read projects", what_zh="查看项目")


@router.post("/projects", response_model=ProjectDetail, status_code=201, responses=ERRORS,
             summary="创建申报草稿 (create a draft)", **_APPLICANT)
async def create_project(body: CreateProject, p: PrincipalDep, state: StateDep,
                         key: IdempotencyKey = None) -> ProjectDetail:
    assert p.unit_code is not None
    project_id = await create_draft(
        client=state.client, db=state.db, task_queue=state.task_queue,
        seal_secret=state.settings.seal_secret.get_secret_value(), applicant_unit=p.unit_code,
        project_id=project_id_for(p.user_id, request_id(p, key) if key else None),
        batch_id=body.batch_id, task_code=body.task_code, title=body.title,
        consortium={m.credit_code: m.role for m in body.consortium},
        requested_county=body.county_code, application=body.application)
    return await project_detail(project_id, p, state)


@router.get("/projects/{project_id}", response_model=ProjectDetail, responses=ERRORS,
            summary="项目详情 (project detail, from its workflow)", **_EVERYONE)
async def project_detail(project_id: VisibleProject, p: PrincipalDep,
                         state: StateDep) -> ProjectDetail:
    handle = handle_for(state.client, project_id)
    view = await handle.query(ProjectWorkflow.view)
    log = await handle.query(ProjectWorkflow.decision_log)
    return ProjectDetail(view=view, allowed_for_me=view.allowed_for(p.role.value, p.user_id),
                         decisions=log,
                         consortium=await run_in_threadpool(consortium_of, state, project_id))


def consortium_of(state: AppState, project_id: str) -> list[MemberOut]:
    with state.db() as s:
        rows = consortium.members(s, project_id)
    order = {"lead": 0, "scene": 1}
    return sorted((MemberOut.of(m, u) for m, u in rows),
                  key=lambda m: (order.get(m.role, 2), m.credit_code))


@router.get("/projects", response_model=Page[ProjectSummary], responses=ERRORS,
            summary="项目列表 (list, from the read model)", **_EVERYONE)
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
            rows = [r for r in s.scalars(query.order_by(Project.id)) if sees_row(p, r) and (
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
            **_APPLICANT)
async def edit_application(project_id: VisibleProject, body: EditApplication,
                           p: PrincipalDep, state: StateDep,
                           key: IdempotencyKey = None) -> ProjectDetail:
    """The edit is a decision of the project's workflow (`edit_application`): it decides
    whether the application may still change (stage, deadline, R11), records it in the
    timeline, and the read model follows from it."""
    payload = {"title": body.title, "application": body.application.model_dump(mode="json")}
    await make_decision(client=state.client, db=state.db, project_id=project_id,
                        action=Action.EDIT_APPLICATION, actor=p.actor, reason=body.reason,
                        evidence=[], payload=payload, request_id=request_id(p, key))
    return await project_detail(project_id, p, state)


@router.post("/projects/{project_id}/documents", response_model=DocumentOut, responses=ERRORS,
             summary="上传文件 (upload a document: feasibility report, proof, archive…)",
             **_APPLICANT)
async def upload_document(
    project_id: VisibleProject, p: PrincipalDep, state: StateDep,
    file: Annotated[UploadFile, File(description="the document")],
    kind: Annotated[str, Form(description=", ".join(sorted(DOCUMENT_KINDS)))],
    key: IdempotencyKey = None,
) -> DocumentOut:
    """The bytes are stored by their sha256; attaching them to the project is a decision
    of its workflow (`attach_document`), which decides whether it may still change (R11)."""
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
    media_type = (file.content_type or "").split(";")[0].strip().lower()
    if media_type not in MEDIA_TYPES:
        raise bad_input(f"不支持的文件类型：{media_type or '未知'}",
                        f"unsupported media type {media_type or 'unknown'}")
    limit = state.settings.max_document_mb * 1024 * 1024
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise bad_input(f"文件超过{state.settings.max_document_mb}MB上限",
                        f"the file exceeds {state.settings.max_document_mb} MB")
    if not data:
        raise bad_input("文件为空", "the file is empty")
    stored = await upload(client=state.client, db=state.db,
                          storage_dir=state.settings.storage_dir, project_id=project_id,
                          actor=p.actor, data=data, filename=filename, media_type=media_type,
                          kind=kind, request_id=request_id(p, key))
    return DocumentOut(**stored.model_dump())
