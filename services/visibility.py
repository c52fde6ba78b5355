"""Temporal visibility queries over the projects, built in one place.

Every value goes through `literal`, which admits only the characters identifiers here
use (batch ids, region codes, workflow types, statuses) and quotes them: a value that
could change the query is refused instead of escaped, so no caller composes a query
from strings of its own."""

from __future__ import annotations

import re
from datetime import datetime

from domain import search_attributes as sa

_SAFE = re.compile(r"^[A-Za-z0-9_.:+-]{1,100}$")
WORKFLOW_TYPE = "ProjectWorkflow"
CLOSED_BY_TEMPORAL = ("Terminated", "Canceled", "Failed", "TimedOut")


def literal(value: str) -> str:
    if not _SAFE.match(value):
        raise ValueError(f"not a safe visibility value: {value!r}")
    return f"'{value}'"


def projects(*, batch_id: str | None = None, city: str | None = None,
             county: str | None = None, stage: str | None = None, running: bool = False,
             statuses: tuple[str, ...] = (), deadline_before: datetime | None = None,
             waiting_on: tuple[str, ...] = ()) -> str:
    parts = [f"WorkflowType = {literal(WORKFLOW_TYPE)}"]
    if batch_id is not None:
        parts.append(f"{sa.BATCH.name} = {literal(batch_id)}")
    if city is not None:
        parts.append(f"{sa.CITY.name} = {literal(city)}")
    if county is not None:
        parts.append(f"{sa.COUNTY.name} = {literal(county)}")
    if stage is not None:
        parts.append(f"{sa.STAGE.name} = {literal(stage)}")
    if running:
        parts.append("ExecutionStatus = 'Running'")
    if statuses:
        parts.append("(" + " OR ".join(f"ExecutionStatus = {literal(s)}" for s in statuses)
                     + ")")
    if waiting_on:
        parts.append(f"{sa.WAITING_ON.name} IN ("
                     + ", ".join(literal(r) for r in waiting_on) + ")")
    if deadline_before is not None:
        parts.append(f"{sa.NEXT_DEADLINE.name} <= {literal(deadline_before.isoformat())}")
    return " AND ".join(parts)
