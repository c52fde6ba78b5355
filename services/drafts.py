"""Creating a project: a draft registered in the read model and its workflow started.

The caller's unit applies; the project's region is derived from the registered units
(R19), every consortium unit must be registered and well identified (R4), and earlier
local deadlines for its region reach the new project as sealed deadline changes."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from domain.batch import BatchPolicy, ConsortiumMember, ProjectInput
from domain.decisions import Actor, DeadlineChange
from domain.eligibility import ApplicationFacts, check_credit_code
from domain.jurisdiction import local_official
from domain.refusals import INPUT, NotFound, RefusalKind, Refused, refusal
from models import Batch, LocalDeadline, Task, Unit
from services.consortium import derive_region
from services.projects import change_deadline, start_project
from services.registry import register_project


def policy_of(batch: Batch) -> BatchPolicy:
    """The batch as its projects' workflows are started with it."""
    return BatchPolicy.model_validate({
        **batch.calendar, "batch_id": batch.id, "name": batch.name, "year": batch.year,
        "preset": batch.preset, "close_at": batch.close_at,
        "publicity_working_days": batch.publicity_working_days,
    })


def project_id_for(user_id: str, request_id: str | None) -> str:
    """A retried creation (same idempotency key) names the same project."""
    if request_id is None:
        return f"p-{uuid.uuid4().hex[:16]}"
    return f"p-{hashlib.sha256(request_id.encode()).hexdigest()[:16]}"


def _input(zh: str, en: str, rule: str = INPUT) -> Refused:
    return Refused(refusal(rule, RefusalKind.INPUT, zh, en))


async def create_draft(*, client: Client, db: sessionmaker[Session], task_queue: str,
                       seal_secret: str, applicant_unit: str, project_id: str,
                       batch_id: str, task_code: str, title: str,
                       consortium: dict[str, str], requested_county: str | None,
                       application: ApplicationFacts) -> str:
    """Register the draft and start its workflow; returns the project id."""
    with db.begin() as s:
        batch = s.get(Batch, batch_id)
        if batch is None or batch.historical:
            raise NotFound("批次", batch_id)
        if s.get(Task, (batch.id, task_code)) is None:
            raise _input(f"本批次没有任务{task_code}", f"no task {task_code}")
        members = dict(consortium)
        members.setdefault(applicant_unit, "lead")
        for code in members:
            r4 = check_credit_code(code)
            if r4 is not None:
                raise _input(r4.message_zh, r4.message_en, rule="R4")
            if s.get(Unit, code) is None:
                raise _input(f"单位{code}尚未登记，请先登记单位信息",
                             f"unit {code} is not registered; register it first")
        # R19: the project belongs to the region of the unit the notice names.
        city_code, county_code = derive_region(
            s, preset=batch.preset, applicant_code=applicant_unit, members=members,
            requested_county=requested_county)
        names = {u.credit_code: u.name for u in s.scalars(
            select(Unit).where(Unit.credit_code.in_(members)))}
        project = ProjectInput(
            project_id=project_id, title=title, batch=policy_of(batch), task_code=task_code,
            city_code=city_code, county_code=county_code, applicant_unit=applicant_unit,
            consortium=[ConsortiumMember(credit_code=c, name=names[c], role=r)
                        for c, r in members.items()],
            application=application,
        )
        # R20: the other members confirm with their own tokens before submission.
        register_project(s, project, application, members_consent=True)
        local = list(s.scalars(select(LocalDeadline).where(
            LocalDeadline.batch_id == batch.id,
            LocalDeadline.region_code.in_([project.city_code, project.county_code]))))
    handle = await start_project(client, project, task_queue)
    for row in local:  # earlier local deadlines set before this project existed
        await change_deadline(client, handle.id, DeadlineChange(
            request_id=f"local-deadline:{row.id}:{row.deadline.isoformat()}",
            actor=Actor(user_id=row.set_by, role=local_official(row.region_code),
                        region=row.region_code),
            scope=row.region_code, new_deadline=row.deadline, reason="本地截止时间"),
            seal_secret)
    return project_id
