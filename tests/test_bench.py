"""The benchmarks' floor must stay a fair floor: the same Temporal commands as a real
lifecycle. (Speed itself is measured by `python -m bench`, never by a test.)"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from google.protobuf.json_format import ParseDict
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History

from bench.floor_plan import FloorPlan
from bench.world import (
    Stack,
    counties,
    floor_lifecycle,
    floor_worker,
    real_lifecycle,
    register_batch,
)
from tests.conftest import TS_QUEUE
from tests.driver import Harness

HISTORIES = Path(__file__).parent / "histories"
COMMANDS = {EventType.Name(t).removeprefix("EVENT_TYPE_") for t in (
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, EventType.EVENT_TYPE_MARKER_RECORDED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_TIMER_FIRED, EventType.EVENT_TYPE_TIMER_CANCELED)}


def counts(events: list) -> Counter[str]:  # type: ignore[type-arg]
    """Commands by kind; a marker counts only as a local activity (not a patch marker)."""
    return Counter(n for e in events
                   if (n := EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")) in COMMANDS
                   and e.marker_recorded_event_attributes.marker_name != "core_patch")


def test_the_floor_plan_counts_a_recorded_lifecycle() -> None:
    doc = json.loads((HISTORIES / "complete_2026.json").read_text())
    history = ParseDict(doc, History(), ignore_unknown_fields=True)
    plan = FloorPlan.from_history(history.events)
    assert (plan.updates, plan.activities, plan.local_activities, plan.upserts) == (15, 3, 17, 16)
    assert [p.fires for p in plan.phases] == [False, True, False, True, False]


async def test_the_floor_issues_the_same_commands_as_a_real_lifecycle(
    ts: Harness, pg_url: str,
) -> None:
    st = Stack(ts.env, ts.db, counties(ts.db), Path("/nonexistent"), pg_url,
               real_queue=TS_QUEUE, floor_queue="floor-check")
    (project,) = register_batch(st, 1)
    real = [e async for e in (await real_lifecycle(st, project)).fetch_history_events()]
    async with floor_worker(ts.env.client, "floor-check"):
        plan = FloorPlan.from_history(real)
        floor = await floor_lifecycle(st, plan, "check")
        floor_events = [e async for e in floor.fetch_history_events()]
    assert counts(floor_events) == counts(real)
    # Workflow tasks group differently with the server's load; the commands do not.
    assert abs(len(floor_events) - len(real)) <= len(real) // 10
