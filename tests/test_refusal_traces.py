"""What a refused decision leaves in the workflow history, exactly (docs/design.md,
"Refusals"): a refusal the project judges alone comes from the update's validator and
leaves nothing; a refusal that needs the database (R1-R8) is decided after the update was
accepted, so its update and check activity are in the history, but no decision record."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType

from models import Unit
from tests.driver import Harness


async def _updates(d) -> list[str]:  # type: ignore[no-untyped-def]
    names = []
    async for e in d.handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            names.append(e.workflow_execution_update_accepted_event_attributes
                         .accepted_request.input.name)
    return names


async def test_validator_refusals_leave_nothing_database_refusals_leave_no_record(
    ts: Harness,
) -> None:
    d = await ts.start("2026")
    refusal = await d.refused("county_approve")  # the stage does not allow it
    assert refusal.rule == "LIFECYCLE"
    assert await _updates(d) == []
    with ts.db.begin() as s:
        unit = s.get(Unit, d.project.applicant_unit)
        assert unit is not None
        unit.serious_dishonesty = True
    refusal = await d.refused("submit")
    assert refusal.rule == "R5"
    assert await _updates(d) == ["submit"]  # accepted, checked, refused by the handler
    log = await d.handle.query("decision_log")
    assert [r["action"] for r in log] == []


async def test_standing_is_checked_again_at_selection_r5(ts: Harness) -> None:
    """Rules 2: a unit the province flagged after the submission is refused at selection."""
    d = await ts.start("2026")
    await d.to_provincial_review()
    await d.do("assign_experts", experts=[{"user_id": "expert-1"}])
    await d.do("score", score=88)
    with ts.db.begin() as s:
        unit = s.get(Unit, d.project.applicant_unit)
        assert unit is not None
        unit.abnormal_operation = True
    refusal = await d.refused("select")
    assert refusal.rule == "R5"
    assert (await d.view()).stage.value == "provincial_review"
