"""The floor workflow's plan: how many of each Temporal command one real lifecycle issues.

A module of its own so that the floor's worker passes it through the sandbox, as the real
worker passes `domain` through: defined inside the workflow's module, its pydantic models
were rebuilt for every floor workflow run (py-spy: about 3% of the floor worker's
samples), a cost the real workflow does not pay.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent


class FloorPhase(BaseModel):
    """Updates the workflow waits for while one timer runs; a firing phase has none: the
    driver moves the clock past its timer instead."""

    updates: int = 0
    fires: bool = False


class FloorPlan(BaseModel):
    phases: list[FloorPhase]
    activities: int
    local_activities: int
    upserts: int

    @property
    def updates(self) -> int:
        return sum(p.updates for p in self.phases)

    @classmethod
    def from_history(cls, events: Iterable[HistoryEvent]) -> FloorPlan:
        """Same counts as a real lifecycle: the updates shared out over its cancelled
        timers, its fired timers between them in the order the real one fired them."""
        events = list(events)
        c = Counter(e.event_type for e in events)
        local = sum(e.marker_recorded_event_attributes.marker_name == "core_local_activity"
                    for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED)
        updates = c[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
        fired = c[EventType.EVENT_TYPE_TIMER_FIRED]
        cancelled = c[EventType.EVENT_TYPE_TIMER_CANCELED]
        share = [updates // cancelled + (i < updates % cancelled) for i in range(cancelled)]
        phases: list[FloorPhase] = []
        for i, n in enumerate(share):
            phases.append(FloorPhase(updates=n))
            if i < fired:
                phases.append(FloorPhase(fires=True))
        return cls(
            phases=phases,
            activities=c[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED],
            local_activities=local,  # not the workflow.patched marker
            upserts=c[EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES],
        )
