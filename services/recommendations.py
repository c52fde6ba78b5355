"""A city's ranked recommendation list (R8): the quota rows are reserved for the whole
list at once (refused whole when it exceeds the quota), then each project is recommended
by its workflow; a reservation whose decision was refused is given back."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from domain.actions import Action
from domain.decisions import Actor
from domain.jurisdiction import Person
from domain.refusals import NotFound, Refused
from models import Batch, Project, Recommendation
from services.decisions import BulkItem, BulkResult, make_decisions
from services.jurisdiction import restrict
from services.limits import recommend_list


async def recommend_ranked(*, client: Client, db: sessionmaker[Session], who: Person,
                           actor: Actor, batch_id: str, ranked: list[tuple[str, int]],
                           reason: str, request_id: str) -> list[BulkResult]:
    with db() as s, s.begin():
        if s.get(Batch, batch_id) is None:
            raise NotFound("批次", batch_id)
        visible = {pr.id for pr in s.scalars(restrict(
            select(Project).where(Project.id.in_([pid for pid, _ in ranked])), who))}
        missing = [pid for pid, _ in ranked if pid not in visible]
        if missing:
            raise NotFound("项目", missing[0])
        problem = recommend_list(s, batch_id, who.region, ranked)
        if problem is not None:
            s.rollback()
            raise Refused(problem)
    results = await make_decisions(
        client=client, db=db, who=who, actor=actor, action=Action.CITY_RECOMMEND,
        items=[BulkItem(project_id=pid, reason=reason, payload={"rank": rank})
               for pid, rank in ranked],
        base_request_id=request_id)
    failed = [r.project_id for r in results if not r.ok]
    if failed:  # a reservation whose decision was refused must not hold the quota
        with db.begin() as s:
            s.execute(delete(Recommendation).where(Recommendation.project_id.in_(failed)))
    return results
