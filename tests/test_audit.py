"""The auditor's view: a timeline read from the workflow history, and the replay proof."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType

from audit.replay import replay_proof
from audit.timeline import timeline
from tests.changed_workflow import ProjectWorkflowThatForgetsItsSearchAttributes
from tests.driver import Harness
from tests.test_projection import complete_2026


async def test_timeline_of_a_complete_lifecycle_matches_the_decisions_field_by_field(
    ts: Harness,
) -> None:
    d = await ts.start("2026")
    await complete_2026(d)
    history = await d.handle.fetch_history()
    entries = timeline(history)
    decisions = [e for e in entries if e.kind == "decision"]
    assert len(decisions) == len(d.sent)
    for entry, (sent, outcome) in zip(decisions, d.sent, strict=True):
        assert (entry.request_id, entry.action, entry.actor, entry.reason, entry.evidence,
                entry.payload) == (sent.request_id, sent.action, sent.actor, sent.reason,
                                   sent.evidence, sent.payload)
        assert (entry.stage_before, entry.stage_after) == (outcome.stage_before.value,
                                                           outcome.stage.value)
        assert entry.at.endswith("+08:00")
    fired = [e.action for e in entries if e.kind == "timer"]
    assert fired == ["recommendation_closed", "publicity_ended"]


async def test_replay_proof_passes_for_a_recorded_lifecycle(ts: Harness) -> None:
    d = await ts.start("2024")
    await d.do("submit")
    await d.do("withdraw", reason="不再申报")
    await d.result()
    proof = await replay_proof(await d.handle.fetch_history())
    assert proof.replays, proof.reason
    assert proof.stages == ["draft", "city_review", "withdrawn"]
    assert proof.end is not None and proof.end["stage"] == "withdrawn"
    assert proof.summary().startswith("replays: same stages, same end")


async def test_replay_proof_names_the_event_where_changed_code_diverges(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("withdraw", reason="不再申报")
    await d.result()
    history = await d.handle.fetch_history()
    proof = await replay_proof(history, (ProjectWorkflowThatForgetsItsSearchAttributes,))
    assert not proof.replays
    assert proof.diverged_at_event is not None
    # The changed code makes no upsert: the event named is one the code no longer makes.
    named = history.events[proof.diverged_at_event - 1]
    assert named.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, proof.reason
    assert "diverges at event" in proof.summary()


def test_entries_are_serialisable() -> None:
    sample: dict[str, Any] = {"event_id": 1, "at": "2026-04-13T17:00:00+08:00",
                              "kind": "timer", "action": "x"}
    from audit.timeline import TimelineEntry

    assert TimelineEntry(**sample).model_dump(mode="json")["kind"] == "timer"


async def test_verify_detects_a_changed_stored_decision(ts: Harness) -> None:
    from sqlalchemy import select, update

    from audit.chain import GENESIS, link, verify
    from models import DecisionRow

    d = await ts.start("2026")
    await complete_2026(d)
    history = await d.handle.fetch_history()
    pid = d.project.project_id
    with ts.db() as s:
        clean = verify(s, pid, history)
    assert clean.ok and clean.chain_intact and clean.matches_history
    assert clean.records == len(await d.handle.query("decision_log"))

    with ts.db.begin() as s:  # someone edits the database behind the system's back
        s.execute(update(DecisionRow).where(DecisionRow.project_id == pid, DecisionRow.seq == 3)
                  .values(reason="篡改后的理由"))
    with ts.db() as s:
        tampered = verify(s, pid, history)
    assert not tampered.ok and tampered.first_broken_seq == 3
    assert any("seq 3 reason" in x for x in tampered.differences)

    with ts.db.begin() as s:  # ...and recomputes every hash to cover the edit
        prev = GENESIS
        for row in s.scalars(select(DecisionRow).where(DecisionRow.project_id == pid)
                             .order_by(DecisionRow.seq)):
            row.prev_hash, row.hash = prev, link(prev, row)
            prev = row.hash
    with ts.db() as s:
        covered = verify(s, pid, history)
    assert covered.chain_intact and not covered.matches_history and not covered.ok
