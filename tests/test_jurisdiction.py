"""Jurisdiction is one rule (domain.jurisdiction): its SQL form (services.jurisdiction)
must select exactly the projects the in-memory form says each person sees."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.decisions import Actor
from domain.jurisdiction import Place, may_decide, sees
from domain.roles import Role
from models import ConsortiumMember, Project
from services.jurisdiction import restrict, sees_row
from tests import support
from tests.test_limits import new_batch, new_project


def test_sql_restrict_selects_what_the_in_memory_rule_sees(db: sessionmaker[Session]) -> None:
    policy = new_batch(db)
    a, b, c = support.unit("service_provider"), support.unit(), support.unit(region="370203")
    ids = {new_project(db, policy, a, b), new_project(db, policy, c, city="3702",
                                                      county="370203")}
    with db.begin() as s:
        scored = s.get(Project, sorted(ids)[0])
        assert scored is not None
        scored.scores = {"expert-9": None}
    people = [
        Actor(user_id="p", role=Role.PROVINCE), Actor(user_id="f", role=Role.PROVINCE_FINANCE),
        Actor(user_id="au", role=Role.AUDITOR), Actor(user_id="op", role=Role.OPERATOR),
        Actor(user_id="cy", role=Role.COUNTY, region="370102"),
        Actor(user_id="cy2", role=Role.COUNTY, region="370203"),
        Actor(user_id="ct", role=Role.CITY, region="3701"),
        Actor(user_id="cf", role=Role.CITY_FINANCE, region="3702"),
        Actor(user_id="ap", role=Role.APPLICANT, region="3701", unit_code=a.credit_code),
        Actor(user_id="mb", role=Role.APPLICANT, region="3701", unit_code=b.credit_code),
        Actor(user_id="ot", role=Role.APPLICANT, region="3701",
              unit_code=support.unit().credit_code),
        Actor(user_id="expert-9", role=Role.EXPERT), Actor(user_id="expert-1", role=Role.EXPERT),
    ]
    with db() as s:
        rows = list(s.scalars(select(Project).where(Project.id.in_(ids))))
        members = {pid: frozenset(m.unit_code for m in s.scalars(
            select(ConsortiumMember).where(ConsortiumMember.project_id == pid))) for pid in ids}
        for who in people:
            by_sql = {r.id for r in s.scalars(restrict(select(Project).where(
                Project.id.in_(ids)), who)) if sees_row(who, r)}
            in_memory = {r.id for r in rows if sees(who, Place(
                city_code=r.city_code, county_code=r.county_code,
                applicant_unit=r.applicant_code, member_units=members[r.id],
                experts=frozenset(r.scores or {})))}
            assert by_sql == in_memory, who
    # Deciding is narrower than seeing: a consortium member sees, only the applicant decides.
    place = Place(city_code="3701", county_code="370102", applicant_unit=a.credit_code,
                  member_units=frozenset({b.credit_code}))
    member = people[9]
    assert sees(member, place) and not may_decide(member, place)
