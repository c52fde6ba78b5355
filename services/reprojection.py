"""Rebuilding a project's read model from its committed history (`gongfu ops reproject`).

The history is replayed against the code and the read model is made equal to the state
it ends in: the decision records (sealed again from the first difference), the row, the
content, the places and the city's quota row. It repairs whatever the read model holds
that the history does not (a projection from a workflow task that was never committed,
a reset, a restored or edited database), and changes nothing when they already agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, WorkflowHistory

from audit.archive import load_history
from audit.chain import Verification, verify
from audit.history import closed_outside
from audit.replay import replayed_state
from domain.messages import GENESIS, ChainHead, Projection
from domain.project import ProjectState
from models import Project
from services.outside import mark
from services.projection import apply_projection


class Reprojected(BaseModel):
    project_id: str
    source: str  # temporal | archive
    records: int
    # What was wrong before (the verification's differences); empty: nothing changed.
    repaired: list[str]
    removed: list[int]
    inserted: list[int]
    ok_after: bool


def _rebuild(db: sessionmaker[Session], project_id: str, history: WorkflowHistory,
             state: ProjectState, source: str) -> Reprojected:
    projection = Projection(
        view=state.read_model(datetime.now(UTC)), records=list(state.log),
        head=ChainHead(seq=0, hash=GENESIS), content=state.content, places=True)
    with db() as s:
        before: Verification = verify(s, project_id, history, state)
    with db.begin() as s:
        written = apply_projection(s.connection(), projection, authoritative=True)
    with db() as s:
        after = verify(s, project_id, history, state)
    problems = before.differences + (
        [] if before.chain_intact else [f"hash chain broken at seq {before.first_broken_seq}"])
    return Reprojected(project_id=project_id, source=source, records=len(state.log),
                       repaired=problems, removed=written.removed, inserted=written.inserted,
                       ok_after=after.ok)


async def verify_history(*, db: sessionmaker[Session], project_id: str,
                         history: WorkflowHistory) -> Verification:
    """`audit verify`: the stored records against the history replayed (every record,
    the row, places, quota row); against the history's update events when it does not
    replay on this code (the verification then says `compared_by: timeline`)."""
    try:
        state: ProjectState | None = await replayed_state(history)
    except Exception as exc:  # a history this code cannot replay: still verify the chain
        structlog.get_logger().warning("verify.replay_failed", project_id=project_id,
                                       error=str(exc)[:300])
        state = None

    def check() -> Verification:
        with db() as s:
            return verify(s, project_id, history, state)

    result = await run_in_threadpool(check)
    closed = closed_outside(history.workflow_id, history.events)
    if closed is not None:
        result.closed_outside = closed.summary()
    return result


async def reproject(*, client: Client, db: sessionmaker[Session],
                    project_id: str) -> Reprojected:
    found = await load_history(client, db, project_id)
    if found is None:
        raise LookupError(f"no history for project {project_id}")
    history, source = found
    state = await replayed_state(history)
    result = await run_in_threadpool(_rebuild, db, project_id, history, state, source)
    closed = closed_outside(history.workflow_id, history.events)
    if closed is not None:  # the rebuild stated the last state; say how it was closed
        await run_in_threadpool(mark, db, project_id, closed)
    log = structlog.get_logger().bind(project_id=project_id, workflow_id=history.workflow_id)
    if result.repaired:
        log.warning("reproject.repaired", differences=result.repaired[:20],
                    removed_seqs=result.removed, inserted_seqs=result.inserted,
                    ok_after=result.ok_after)
    else:
        log.info("reproject.unchanged", records=result.records)
    return result


async def reproject_all(*, client: Client, db: sessionmaker[Session],
                        batch_id: str | None = None) -> list[Reprojected]:
    with db() as s:
        query = select(Project.id).order_by(Project.id)
        if batch_id is not None:
            query = query.where(Project.batch_id == batch_id)
        ids = list(s.scalars(query))
    return [await reproject(client=client, db=db, project_id=pid) for pid in ids]
