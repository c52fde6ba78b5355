"""What operators ask of the running system, answered from Temporal's visibility (the
search attributes the workflows publish), not from the read model: right even when a
projection lags."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus

from domain import search_attributes as sa


class StageCount(BaseModel):
    batch: str
    city: str
    stage: str
    count: int


class DeadlineRow(BaseModel):
    workflow_id: str
    stage: str
    waiting_on: list[str]
    next_deadline: datetime
    missed: bool


def _query(batch_id: str | None, extra: str = "") -> str:
    parts = ["WorkflowType = 'ProjectWorkflow'"]
    if batch_id:
        parts.append(f"{sa.BATCH.name} = '{batch_id.replace(chr(39), '')}'")
    if extra:
        parts.append(extra)
    return " AND ".join(parts)


async def stage_counts(client: Client, batch_id: str | None = None) -> list[StageCount]:
    counts: Counter[tuple[str, str, str]] = Counter()
    async for wf in client.list_workflows(_query(batch_id)):
        attrs = wf.typed_search_attributes
        counts[(attrs.get(sa.BATCH) or "", attrs.get(sa.CITY) or "",
                attrs.get(sa.STAGE) or "")] += 1
    return [StageCount(batch=b, city=c, stage=s, count=n)
            for (b, c, s), n in sorted(counts.items())]


async def deadlines(client: Client, within: timedelta, batch_id: str | None = None,
                    now: datetime | None = None) -> list[DeadlineRow]:
    """Open projects whose next deadline is within `within`, or already passed (missed:
    the timer should have fired; the workflow may be stuck)."""
    now = now or datetime.now(UTC)
    horizon = (now + within).isoformat()
    out = []
    query = _query(batch_id, f"ExecutionStatus = 'Running' AND {sa.NEXT_DEADLINE.name} <= "
                             f"'{horizon}'")
    async for wf in client.list_workflows(query):
        attrs = wf.typed_search_attributes
        due = attrs.get(sa.NEXT_DEADLINE)
        if due is None or wf.status != WorkflowExecutionStatus.RUNNING:
            continue
        out.append(DeadlineRow(workflow_id=wf.id, stage=attrs.get(sa.STAGE) or "",
                               waiting_on=list(attrs.get(sa.WAITING_ON) or []),
                               next_deadline=due, missed=due < now))
    return sorted(out, key=lambda r: r.next_deadline)
