"""The README's example of changing workflow code safely: the end notification was added
behind `workflow.patched`. Old histories replay (no marker: old path), new runs carry the
marker and notify, and the same change made without `patched` breaks old histories."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from activities.notify import MemorySink
from audit.history import decode
from audit.replay import replay_proof
from tests.changed_workflow import ProjectWorkflowWithUnpatchedEndNotice
from tests.driver import Harness
from workflows.project import NOTIFY_END_PATCH

HISTORIES = Path(__file__).resolve().parent / "histories"
INDEX = json.loads((HISTORIES / "index.json").read_text())


def recorded(scenario: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(INDEX[scenario]["workflow_id"],
                                     (HISTORIES / f"{scenario}.json").read_text())


def patch_ids(history: WorkflowHistory) -> list[str]:
    out = []
    for e in history.events:
        attrs = e.marker_recorded_event_attributes
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and (
                attrs.marker_name == "core_patch"):
            for value in decode(attrs.details["patch-data"].payloads):
                out.append(str(value.get("id") if isinstance(value, dict) else value))
    return out


async def test_histories_from_before_the_change_replay_on_the_old_path() -> None:
    history = recorded("not_selected_2026")
    assert patch_ids(history) == []  # recorded before the patch existed
    assert (await replay_proof(history)).replays


async def test_new_runs_take_the_new_path_and_notify_the_applicant(
    ts: Harness, sink: MemorySink,
) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("withdraw", reason="不再申报")
    await d.result()
    history = await d.handle.fetch_history()
    assert NOTIFY_END_PATCH in patch_ids(history)
    ended = [n for n in sink.sent if n.project_id == d.project.project_id
             and n.kind == "project_ended"]
    assert len(ended) == 1 and "已撤回" in ended[0].message_zh
    assert (await replay_proof(history)).replays


async def test_the_same_change_without_patched_breaks_old_histories() -> None:
    proof = await replay_proof(recorded("not_selected_2026"),
                               (ProjectWorkflowWithUnpatchedEndNotice,))
    assert not proof.replays and proof.diverged_at_event is not None
