"""Every recorded lifecycle (tests/histories/, from real runs) replays against the current
workflow code to the same stages and end. A change that would break running projects
fails here. See tests/histories/record.py for how they were made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from audit.replay import replay_proof
from audit.timeline import timeline

HISTORIES = Path(__file__).resolve().parent / "histories"
INDEX = json.loads((HISTORIES / "index.json").read_text())


def test_the_main_lifecycles_are_recorded() -> None:
    ends = {v["end"]["stage"] for v in INDEX.values()}
    assert {"completed", "not_recommended", "removed_in_publicity", "revoked",
            "not_selected"} <= ends
    assert {v["end"]["stage"] for k, v in INDEX.items() if "2024" in k} == {"completed"}


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
