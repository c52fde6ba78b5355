"""Reading, for the workflow, what Temporal recorded of an action taken outside the
programme (domain.outside): who requested a cancel, with what reason, when.

A local activity: read-only, so it is safe to run in a workflow task that is never
committed, and its answer is recorded in the history for replay."""

from __future__ import annotations

from datetime import UTC

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from domain.outside import CANCEL_REQUEST, CancelRequest


class OutsideActivities:
    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name=CANCEL_REQUEST)
    async def cancel_request(self, workflow_id: str, run_id: str) -> CancelRequest:
        """The run's last WorkflowExecutionCancelRequested event."""
        handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
        found = CancelRequest()
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
                attrs = event.workflow_execution_cancel_requested_event_attributes
                found = CancelRequest(
                    identity=attrs.identity, reason=attrs.cause, event_id=event.event_id,
                    requested_at=event.event_time.ToDatetime().replace(tzinfo=UTC))
        return found
