"""Jurisdiction over the read model: the SQL form of `domain.jurisdiction`.

`restrict` adds a person's scope (domain.jurisdiction.scope_of) to a query over
projects; `visible_project` loads one project within it or raises NotFound, so that a
project outside one's jurisdiction is indistinguishable from one that does not exist.
A test checks `restrict` against the in-memory `domain.jurisdiction.sees` for every role.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, sessionmaker

from domain.jurisdiction import Person, Place, Scope, scope_of, sees
from domain.refusals import NotFound
from models import ConsortiumMember, Project


def restrict(query: Select[Any], who: Person) -> Select[Any]:
    """The query's projects that `who` sees. Experts: their assignment is in the row's
    scores, which `sees_row` checks (JSON containment differs between the databases)."""
    scope = scope_of(who.role)
    if scope in (Scope.ALL, Scope.ASSIGNED):
        return query
    if scope is Scope.COUNTY:
        return query.where(Project.county_code == who.region)
    if scope is Scope.CITY:
        return query.where(Project.city_code == who.region)
    if scope is Scope.UNIT:
        member = select(ConsortiumMember.project_id).where(
            ConsortiumMember.unit_code == who.unit_code)
        return query.where(or_(Project.applicant_code == who.unit_code,
                               Project.id.in_(member)))
    return query.where(Project.id.is_(None))


def place_of(project: Project, members: frozenset[str] = frozenset()) -> Place:
    return Place(city_code=project.city_code, county_code=project.county_code,
                 applicant_unit=project.applicant_code, member_units=members,
                 experts=frozenset(project.scores or {}))


def sees_row(who: Person, project: Project) -> bool:
    """The part of the rule `restrict` leaves to the row: an expert's assignment."""
    if scope_of(who.role) is Scope.ASSIGNED:
        return sees(who, place_of(project))
    return True


def visible_project(session: Session, who: Person, project_id: str) -> Project:
    project: Project | None = session.scalars(restrict(
        select(Project).where(Project.id == project_id), who)).first()
    if project is None or not sees_row(who, project):
        raise NotFound("项目", project_id)
    return project


def check_visible(db: sessionmaker[Session], who: Person, project_id: str) -> None:
    with db() as session:
        visible_project(session, who, project_id)
