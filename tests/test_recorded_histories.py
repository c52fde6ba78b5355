"""Every recorded lifecycle (tests/histories/, from real runs) replays against the current
workflow code to the same stages and end. A change that would break running projects
fails here. See tests/histories/record.py for how they were made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from audit.replay import replay_proof
from audit.timeline import timeline

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

HISTORIES = Path(__file__).resolve().parent / "histories"
INDEX = json.loads((HISTORIES / "index.json").read_text())


def test_the_main_lifecycles_are_recorded() -> None:
    ends = {v["end"]["stage"] for v in INDEX.values()}
    assert {"completed", "not_recommended", "removed_in_publicity", "revoked",
            "not_selected", "terminated"} <= ends
    assert {v["end"]["stage"] for k, v in INDEX.items() if "2024" in k} == {"completed",
                                                                           "revoked"}
    # Rules 2's new paths: rectification and re-acceptance, supervision, clawback.
    paths = {s for v in INDEX.values() for s in v["stages"]}
    assert {"rectification", "supervision", "clawback", "terminated"} <= paths


def test_each_rules_version_has_recorded_histories() -> None:
    """Rules 1, 2 and 3 histories all replay: open projects of each version go on."""
    def marked(scenario: str, patch: str) -> bool:
        history = WorkflowHistory.from_json(INDEX[scenario]["workflow_id"],
                                            (HISTORIES / f"{scenario}.json").read_text())
        return any(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
                   == json.dumps({"id": patch, "deprecated": False},
                                 separators=(",", ":")).encode()
                   for e in history.events
                   if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                   and "patch-data" in e.marker_recorded_event_attributes.details)

    v3 = {k for k in INDEX if marked(k, "lifecycle-rules-3")}
    v2 = {k for k in INDEX if marked(k, "lifecycle-rules-2")} - v3
    v1 = set(INDEX) - v2 - v3
    assert {"halfyear_round_2024", "cosign_overdue_2026", "county_deadline_2026"} <= v3
    assert {"rectified_then_passed_2026", "terminated_2026"} <= v2
    assert v1


@pytest.mark.parametrize("scenario", sorted(INDEX))
async def test_recorded_history_replays_to_the_same_stages_and_end(scenario: str) -> None:
    expected = INDEX[scenario]
    history = WorkflowHistory.from_json(expected["workflow_id"],
                                        (HISTORIES / f"{scenario}.json").read_text())
    proof = await replay_proof(history)
    assert proof.replays, proof.reason
    assert proof.stages == expected["stages"]
    assert proof.end is not None and proof.end["stage"] == expected["end"]["stage"]
    assert proof.end["rule"] == expected["end"]["rule"]
    print(f"{scenario}: {proof.events} events replayed in {proof.seconds * 1000:.0f} ms")
    assert any(e.kind == "decision" for e in timeline(history))


def _projection_results(scenario: str) -> list[object]:
    """What each projection returned, as the history's local-activity markers hold it."""
    history = WorkflowHistory.from_json(INDEX[scenario]["workflow_id"],
                                        (HISTORIES / f"{scenario}.json").read_text())
    out = []
    for e in history.events:
        marker = e.marker_recorded_event_attributes
        if e.event_type != EventType.EVENT_TYPE_MARKER_RECORDED or "result" not in marker.details:
            continue
        data = json.loads(marker.details["data"].payloads[0].data)
        if data.get("activity_type") == "project_state":
            out.append(json.loads(marker.details["result"].payloads[0].data))
    return out


def test_both_forms_of_the_projections_result_are_recorded() -> None:
    """The projection returned a count of new records, and now returns the chain head;
    projects started before the change are still open for a year, so a history of each
    form is kept and replayed (above)."""
    before, after = _projection_results("complete_2026"), _projection_results("complete_2026_head")
    assert before and all(isinstance(r, int) for r in before)
    assert after and all(set(r) == {"seq", "hash"} for r in after)  # type: ignore[arg-type]
    assert [r["seq"] for r in after] == sorted(r["seq"] for r in after)  # type: ignore[index]
