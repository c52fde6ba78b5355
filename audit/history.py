"""Reading what a workflow history holds: decoded decisions, outcomes, timers, signals,
the stage at each search-attribute upsert, and the end."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from domain import search_attributes as sa
from domain.clock import Instant

E = EventType
_converter = pydantic_data_converter.payload_converter


def decode(payloads: list[Payload] | Any, types: list[type] | None = None) -> list[Any]:
    return list(_converter.from_payloads(list(payloads), types))


def stage_of_upsert(event: HistoryEvent) -> str | None:
    attrs = event.upsert_workflow_search_attributes_event_attributes
    fields = attrs.search_attributes.indexed_fields
    if sa.STAGE.name in fields:
        return str(json.loads(fields[sa.STAGE.name].data))
    return None


def stages(history: WorkflowHistory) -> list[str]:
    """The stages the project went through, as the workflow published them."""
    out: list[str] = []
    for event in history.events:
        stage = None
        if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            fields = event.workflow_execution_started_event_attributes.search_attributes
            if sa.STAGE.name in fields.indexed_fields:
                stage = str(json.loads(fields.indexed_fields[sa.STAGE.name].data))
        elif event.event_type == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            stage = stage_of_upsert(event)
        if stage and (not out or out[-1] != stage):
            out.append(stage)
    return out


def end(history: WorkflowHistory) -> dict[str, Any] | None:
    for event in reversed(history.events):
        if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            result = event.workflow_execution_completed_event_attributes.result.payloads
            return decode(result)[0] if result else None
    return None


class ClosedOutside(BaseModel):
    """A project's workflow closed by Temporal, not by the programme: terminated (by an
    operator, or by a reset, which terminates the run it replaces), canceled (by code
    older than the cancel patch), failed or timed out. Its last stage stays the last the
    programme knew; `end_rule` in the read model says `WF_<status>`."""

    workflow_id: str
    status: str  # TERMINATED | CANCELED | FAILED | TIMED_OUT
    closed_at: Instant | None = None
    reason: str = ""
    identity: str = ""
    event_id: int | None = None

    def summary(self) -> str:
        by = f" by {self.identity}" if self.identity else ""
        why = f": {self.reason}" if self.reason else ""
        at = f" at {self.closed_at.isoformat()}" if self.closed_at else ""
        return f"workflow {self.status.lower()}{by}{at}{why} (outside the programme)"


def closed_outside(workflow_id: str, events: Iterable[HistoryEvent]) -> ClosedOutside | None:
    """From a history (or only its close event): how Temporal closed it, if not by the
    workflow completing."""
    identities: dict[str, str] = {}
    found = None
    attrs: Any  # each event kind has its own attributes
    for ev in events:
        t = ev.event_type
        if t == E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            attrs = ev.workflow_execution_cancel_requested_event_attributes
            identities["cancel"] = attrs.identity
            identities["cause"] = attrs.cause
        at = ev.event_time.ToDatetime().replace(tzinfo=UTC)
        if t == E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            attrs = ev.workflow_execution_terminated_event_attributes
            found = ClosedOutside(workflow_id=workflow_id, status="TERMINATED", closed_at=at,
                                  reason=attrs.reason, identity=attrs.identity,
                                  event_id=ev.event_id)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            found = ClosedOutside(workflow_id=workflow_id, status="CANCELED", closed_at=at,
                                  reason=identities.get("cause", ""),
                                  identity=identities.get("cancel", ""), event_id=ev.event_id)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            attrs = ev.workflow_execution_failed_event_attributes
            found = ClosedOutside(workflow_id=workflow_id, status="FAILED", closed_at=at,
                                  reason=attrs.failure.message, event_id=ev.event_id)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
            found = ClosedOutside(workflow_id=workflow_id, status="TIMED_OUT", closed_at=at,
                                  event_id=ev.event_id)
    return found
