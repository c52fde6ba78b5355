"""Deadline changes over a batch: the province extends the close (R10), a city or county
sets an earlier local deadline for its own applicants. The batch row changes first; each
open project then takes the change as a sealed update that checks it as the rules do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from domain.clock import iso_local
from domain.decisions import Actor, DeadlineChange
from domain.refusals import NotFound, RefusalKind, Refused, refusal
from domain.roles import Role
from models import Batch, LocalDeadline
from services import visibility
from services.projects import change_deadlines, open_projects


def _refuse(zh: str, en: str, kind: RefusalKind = RefusalKind.RULE) -> Refused:
    return Refused(refusal("R10", kind, zh, en))


async def extend_batch_close(*, client: Client, db: sessionmaker[Session], seal_secret: str,
                             batch_id: str, actor: Actor, new_close: datetime, reason: str,
                             request_id: str, now: datetime | None = None
                             ) -> tuple[int, list[str]]:
    """(projects that took it, workflow ids that refused it)."""
    now = now or datetime.now(UTC)
    with db.begin() as s:
        batch = s.get(Batch, batch_id)
        if batch is None:
            raise NotFound("批次", batch_id)
        if now >= batch.close_at:
            # E10: the projects the close ended stay ended; an extension after it would
            # reopen some and not others.
            raise _refuse(f"批次已于{iso_local(batch.close_at)}关闭，不能再延长",
                          "the batch has closed; it can no longer be extended",
                          RefusalKind.DEADLINE)
        if new_close <= batch.close_at:
            raise _refuse(f"只能延长截止时间（当前{iso_local(batch.close_at)}）",
                          "the batch deadline can only be extended")
        batch.close_at = new_close
    change = DeadlineChange(request_id=request_id, actor=actor, scope="batch",
                            new_deadline=new_close, reason=reason)
    return await change_deadlines(client, open_projects(client, batch_id), change, seal_secret)


async def set_local_deadline(*, client: Client, db: sessionmaker[Session], seal_secret: str,
                             batch_id: str, actor: Actor, deadline: datetime, reason: str,
                             request_id: str, now: datetime | None = None
                             ) -> tuple[int, list[str]]:
    now = now or datetime.now(UTC)
    with db.begin() as s:
        batch = s.get(Batch, batch_id)
        if batch is None:
            raise NotFound("批次", batch_id)
        if deadline <= now:
            # A deadline already past would end every draft of the region at once
            # (expired, R10), and every draft created there afterwards: a typo no one
            # could undo.
            raise _refuse(f"本地截止时间{iso_local(deadline)}已过，只能设定此后的时间",
                          f"the local deadline {iso_local(deadline)} has already passed; "
                          "set one still ahead", RefusalKind.DEADLINE)
        if deadline > batch.close_at:
            raise _refuse(f"本地截止时间不得晚于全省截止时间{iso_local(batch.close_at)}",
                          "a local deadline is never later than the batch's")
        row = s.scalars(select(LocalDeadline).where(
            LocalDeadline.batch_id == batch_id,
            LocalDeadline.region_code == actor.region)).first()
        if row is None:
            s.add(LocalDeadline(batch_id=batch_id, region_code=actor.region,
                                deadline=deadline, set_by=actor.user_id))
        else:
            row.deadline, row.set_by = deadline, actor.user_id
    county = actor.role is Role.COUNTY
    query = visibility.projects(batch_id=batch_id, running=True,
                                county=actor.region if county else None,
                                city=None if county else actor.region)
    change = DeadlineChange(request_id=request_id, actor=actor, scope=actor.region,
                            new_deadline=deadline, reason=reason)

    async def listed() -> AsyncIterator[str]:
        async for wf in client.list_workflows(query):
            yield wf.id

    return await change_deadlines(client, listed(), change, seal_secret)
