"""Jurisdiction: who sees which project. An official sees only their region's projects,
an applicant only its unit's, an expert only those assigned to them; the province,
the finance department, auditors and operators see all (and the last two decide nothing)."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.errors import not_found
from domain.roles import Role
from models import ConsortiumMember, Project

SEE_ALL = frozenset({Role.PROVINCE, Role.PROVINCE_FINANCE, Role.AUDITOR, Role.OPERATOR})


def restrict(query: Select[tuple[Project]], p: Principal) -> Select[tuple[Project]]:
    """Add the principal's jurisdiction to a query over projects (experts: see `sees`)."""
    if p.role in SEE_ALL or p.role is Role.EXPERT:
        return query
    if p.role is Role.COUNTY:
        return query.where(Project.county_code == p.region)
    if p.role in (Role.CITY, Role.CITY_FINANCE):
        return query.where(Project.city_code == p.region)
    if p.role is Role.APPLICANT:
        member = select(ConsortiumMember.project_id).where(
            ConsortiumMember.unit_code == p.unit_code)
        return query.where(or_(Project.applicant_code == p.unit_code, Project.id.in_(member)))
    return query.where(Project.id.is_(None))


def sees(p: Principal, project: Project) -> bool:
    """The same rule for one loaded project (experts: their assignments)."""
    if p.role is Role.EXPERT:
        return p.user_id in (project.scores or {})
    return True  # the query already applied `restrict`


async def check_visible(db: sessionmaker[Session], p: Principal, project_id: str) -> None:
    """`load_visible` for async handlers: the database read runs on the thread pool, so
    it never stalls the event loop that also carries the Temporal calls."""

    def check() -> None:
        with db() as session:
            load_visible(session, p, project_id)

    await run_in_threadpool(check)


def load_visible(session: Session, p: Principal, project_id: str) -> Project:
    project = session.scalars(restrict(select(Project).where(Project.id == project_id), p)).first()
    if project is None or not sees(p, project):
        raise not_found("项目", project_id)
    return project
