"""The console's own helpers, without a browser: decision forms generated from the
payload schemas, payloads parsed back from the forms, deadlines shown in +08:00 with the
time left or overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.routes import _left, _overdue, _when, form_fields, parse_payload
from domain.lifecycle import SYSTEM_TRIGGERS, TRIGGERS, spec_of


def test_every_decision_has_a_form_whose_answer_fits_its_schema() -> None:
    examples = {"integer": "3", "number": "2.5", "string": "说明", "experts":
                "expert-1: 91370102MA000000X1, 91370102MA000000X2\nexpert-2"}
    for action in TRIGGERS:
        if action in SYSTEM_TRIGGERS:
            continue
        fields = form_fields(action)
        form = {f"f_{f.name}": f.options[0] if f.kind == "enum" else examples.get(f.kind, "")
                for f in fields if f.kind != "json"}
        payload = parse_payload(action, form)
        if action not in ("edit_application", "attach_document"):
            spec = spec_of(action)
            assert spec is not None
            spec.payload.model_validate(payload)
    experts = parse_payload("assign_experts", {"f_experts": examples["experts"]})["experts"]
    assert experts == [{"user_id": "expert-1", "declared_conflicts": [
        "91370102MA000000X1", "91370102MA000000X2"]},
        {"user_id": "expert-2", "declared_conflicts": []}]
    assert [f.kind for f in form_fields("score")] == ["number", "enum"]


def test_deadlines_are_shown_in_shanghai_time_with_the_time_left() -> None:
    soon = datetime.now(UTC) + timedelta(days=2, hours=3, minutes=30)
    assert _when(datetime(2026, 4, 13, 9, 0, tzinfo=UTC)) == "2026-04-13 17:00+08:00"
    assert _left(soon, "zh").startswith("剩2天3小时") and not _overdue(soon)
    late = datetime.now(UTC) - timedelta(hours=5, minutes=10)
    assert _left(late, "zh").startswith("已逾期5小时") and _overdue(late)
    assert _left(late, "en").startswith("overdue by 5 h")
