"""Registering what projects refer to: batches with their tasks and quotas, units, and
the project itself (with its consortium and application) before its workflow starts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from domain.batch import BatchPolicy, ProjectInput, workflow_id_for
from domain.eligibility import ApplicationFacts, UnitFacts
from models import Batch, BatchCounting, CityQuota, ConsortiumMember, Project, Task, Unit, UnitGroup


class TaskDef(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")
    direction: str = Field(pattern="^(technology|chain|carrier|cluster)$")
    title_zh: str = Field(min_length=1, max_length=200)


def ensure_batch(
    session: Session, policy: BatchPolicy, tasks: list[TaskDef], quotas: dict[str, int],
    *, counts: Sequence[str] = (), notice_date: date | None = None, illustrative: bool = True,
    historical: bool = False,
) -> Batch:
    batch = session.get(Batch, policy.batch_id)
    if batch is None:
        calendar: dict[str, Any] = policy.model_dump(
            mode="json", exclude={"batch_id", "name", "year", "preset", "close_at",
                                  "publicity_working_days"})
        batch = Batch(id=policy.batch_id, name=policy.name, year=policy.year,
                      preset=policy.preset.value, notice_date=notice_date,
                      close_at=policy.close_at,
                      publicity_working_days=policy.publicity_working_days,
                      calendar=calendar, historical=historical)
        session.add(batch)
        session.flush()
        session.add_all(Task(batch_id=batch.id, code=t.code, direction=t.direction,
                             title_zh=t.title_zh) for t in tasks)
        session.add_all(CityQuota(batch_id=batch.id, city_code=c, quota=q,
                                  illustrative=illustrative) for c, q in quotas.items())
        session.add_all(BatchCounting(batch_id=batch.id, counts_batch_id=b) for b in counts)
    return batch


def ensure_unit(session: Session, facts: UnitFacts, group_name: str | None = None) -> Unit:
    unit = session.get(Unit, facts.credit_code)
    if unit is None:
        if facts.group_code and session.get(UnitGroup, facts.group_code) is None:
            session.add(UnitGroup(code=facts.group_code, name=group_name or facts.group_code))
            session.flush()
        unit = Unit(**facts.model_dump())
        session.add(unit)
        session.flush()
    return unit


def register_project(
    session: Session, project: ProjectInput, application: ApplicationFacts | None = None,
    *, members_consent: bool = False,
) -> Project:
    """The project row, written before the workflow starts; registering again is a no-op.

    `members_consent`: the members other than the applicant must still confirm their
    participation (R20; the API's drafts). Programme data registered by trusted code
    (the demo, tests, imports) is registered as agreed."""
    row = session.get(Project, project.project_id)
    if row is not None:
        return row
    app = application or ApplicationFacts()
    row = Project(
        id=project.project_id, workflow_id=workflow_id_for(project.project_id),
        batch_id=project.batch.batch_id, task_code=project.task_code,
        city_code=project.city_code, county_code=project.county_code,
        applicant_code=project.applicant_unit, title=project.title, **app.model_dump(),
    )
    session.add(row)
    session.flush()
    for m in project.consortium:
        pending = members_consent and m.credit_code != project.applicant_unit
        session.add(ConsortiumMember(project_id=row.id, unit_code=m.credit_code, role=m.role,
                                     consent="pending" if pending else "confirmed"))
    return row
