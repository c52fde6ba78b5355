"""Reading what a workflow history holds: decoded decisions, outcomes, timers, signals,
the stage at each search-attribute upsert, and the end."""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from domain import search_attributes as sa

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
