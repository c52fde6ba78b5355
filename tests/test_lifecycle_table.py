"""Every (stage, trigger) pair of both presets: allowed exactly as written here, or refused.

The expected table is written out by hand from SPEC.md's lifecycle, independently of
`domain.lifecycle.MOVES`, so a change to the table that the spec does not call for fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from transitions import MachineError

from domain.actions import CURRENT_RULES, RULES_V1, RULES_V2
from domain.batch import BatchPolicy, ProjectInput
from domain.clock import SHANGHAI
from domain.decisions import Actor, Decision
from domain.lifecycle import SYSTEM_TRIGGERS, TRIGGERS, build_machine, lifecycle_for
from domain.presets import PRESETS, PresetName
from domain.project import ProjectState
from domain.refusals import RefusalKind
from domain.roles import Role
from domain.stages import Stage

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

OPEN_2024 = [
    "draft", "submitted", "returned", "city_review", "recommended", "provincial_review",
    "selected", "publicity", "implementation", "halfyear_acceptance", "final_acceptance",
    "subsidy",
]
OPEN_2026 = [
    "draft", "submitted", "returned", "county_review", "city_review", "recommended",
    "provincial_review", "selected", "publicity", "implementation", "final_acceptance",
    "subsidy",
]
# trigger -> {source stage: destination}; "=" means recorded without a stage change.
COMMON: dict[str, dict[str, str]] = {
    "edit_application": {"draft": "=", "returned": "="},
    "submit": {"draft": "submitted"},
    "resubmit": {"returned": "submitted"},
    "city_recommend": {"city_review": "recommended"},
    "city_return": {"city_review": "returned"},
    "city_reject": {"city_review": "not_recommended"},
    "submission_closed": {"draft": "expired", "returned": "returned_not_resubmitted"},
    "assign_experts": {"provincial_review": "="},
    "score": {"provincial_review": "="},
    "select": {"provincial_review": "selected"},
    "not_select": {"provincial_review": "not_selected"},
    "open_publicity": {"selected": "publicity"},
    "raise_objection": {"publicity": "="},
    "uphold_objection": {"publicity": "removed_in_publicity"},
    "dismiss_objection": {"publicity": "="},
    "publicity_ended": {"publicity": "implementation"},
    "request_change": {"implementation": "="},
    "city_approve_change": {"implementation": "="},
    "province_approve_change": {"implementation": "="},
    "reject_change": {"implementation": "="},
    "open_final_acceptance": {"implementation": "final_acceptance"},
    "pass_acceptance": {"final_acceptance": "subsidy"},
    "decide_subsidy": {"subsidy": "="},
    "record_disbursement": {"subsidy": "completed"},
}
EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    "2024": {
        **COMMON,
        "withdraw": {s: "withdrawn" for s in ("draft", "returned", "city_review")},
        "admit": {"submitted": "city_review"},
        "recommendation_closed": {
            "submitted": "not_recommended", "city_review": "not_recommended",
            "recommended": "provincial_review",
        },
        "open_halfyear_acceptance": {"implementation": "halfyear_acceptance"},
        "pass_halfyear_acceptance": {"halfyear_acceptance": "implementation"},
        "fail_acceptance": {
            "halfyear_acceptance": "failed_acceptance", "final_acceptance": "failed_acceptance",
        },
        "revoke": {s: "revoked" for s in OPEN_2024},
        "attach_document": {s: "=" for s in ("draft", "returned", "implementation",
                                             "halfyear_acceptance", "final_acceptance")},
    },
    "2026": {
        **COMMON,
        "withdraw": {s: "withdrawn" for s in ("draft", "returned", "county_review", "city_review")},
        "admit": {"submitted": "county_review"},
        "county_approve": {"county_review": "city_review"},
        "county_return": {"county_review": "returned"},
        "county_reject": {"county_review": "not_recommended"},
        "concur": {"city_review": "=", "provincial_review": "=", "subsidy": "="},
        "dissent": {"city_review": "=", "provincial_review": "=", "subsidy": "="},
        "recommendation_closed": {
            "submitted": "not_recommended", "county_review": "not_recommended",
            "city_review": "not_recommended", "recommended": "provincial_review",
        },
        "submit_archive": {"implementation": "="},
        "archive_reminder": {"implementation": "="},
        "archive_overdue": {"implementation": "="},
        "request_early_acceptance": {"implementation": "final_acceptance"},
        "fail_acceptance": {"final_acceptance": "failed_acceptance"},
        "revoke": {s: "revoked" for s in OPEN_2026},
        "attach_document": {s: "=" for s in ("draft", "returned", "implementation",
                                             "final_acceptance")},
    },
}



def _v2(preset: str) -> dict[str, dict[str, str]]:
    """Rules version 2 (issue 16): the moves added or changed, from the notices and R16-R21."""
    halfyear = ["halfyear_acceptance"] if preset == "2024" else []
    acceptance = [*halfyear, "final_acceptance"]
    terminable = ["recommended", "provincial_review", "selected", "publicity",
                  "implementation", *acceptance, "rectification"]
    open_stages = (OPEN_2024 if preset == "2024" else OPEN_2026) + ["rectification"]
    change_in = ["implementation", *acceptance, "rectification"]
    out = {
        **EXPECTED_V1[preset],
        "attach_document": {s: "=" for s in ("draft", "returned", "implementation",
                                             *acceptance, "rectification")},
        "city_approve_change": {s: "=" for s in change_in},
        "province_approve_change": {s: "=" for s in change_in},
        "reject_change": {s: "=" for s in change_in},
        "remove_expert": {"provincial_review": "="},
        "expert_review_overdue": {"provincial_review": "="},
        "record_finding": {s: "=" for s in ("provincial_review", "implementation",
                                            *acceptance, "rectification", "supervision")},
        "declare_ineligible": {"provincial_review": "not_selected"},
        "rectify": {s: "rectification" for s in acceptance},
        "submit_rectification": {"rectification": "final_acceptance"},
        "rectification_due": {"rectification": "final_acceptance"},
        "not_ready": {s: "implementation" for s in acceptance},
        "decide_no_award": {"subsidy": "supervision"},
        "record_disbursement": {"subsidy": "supervision"},
        "supervision_ended": {"supervision": "completed"},
        "request_termination": {s: "=" for s in terminable},
        "endorse_termination": {s: "=" for s in terminable},
        "approve_termination": {s: "terminated" for s in terminable},
        "reject_termination": {s: "=" for s in terminable},
        "terminate": {s: "terminated" for s in (*terminable, "subsidy")},
        "revoke": {**{s: "revoked" for s in open_stages}, "supervision": "clawback"},
        "record_repayment": {"clawback": "="},
        "province_reminder": {s: "=" for s in ("provincial_review", "selected", *acceptance,
                                                "subsidy", "clawback")},
        "settle_clawback": {"clawback": "revoked"},
        "refer_clawback": {"clawback": "revoked"},
    }
    if preset == "2024":
        out["pass_halfyear_acceptance"] = {"halfyear_acceptance": "subsidy"}
    else:
        out["retract"] = {"city_review": "=", "provincial_review": "=", "subsidy": "="}
        out["request_early_acceptance"] = {"implementation": "="}
        out["accept_early_acceptance"] = {"implementation": "final_acceptance"}
        out["decline_early_acceptance"] = {"implementation": "="}
    return out


def _v3(preset: str) -> dict[str, dict[str, str]]:
    """Rules version 3 (issue 16, second part): co-signature timers, the 2024 half-year
    round on application, the city's county-review deadline and direct cities."""
    out = dict(EXPECTED_V2[preset])
    if preset == "2024":
        del out["open_halfyear_acceptance"]  # opened by the province, on application
        out["apply_for_acceptance"] = {"implementation": "="}
        out["open_halfyear_round"] = {"implementation": "halfyear_acceptance"}
    else:
        out["admit_to_city"] = {"submitted": "city_review"}
        out["county_review_closed"] = {"county_review": "not_recommended"}
        out["cosign_reminder"] = {s: "=" for s in ("city_review", "provincial_review",
                                                   "subsidy")}
        out["cosign_overdue"] = out["cosign_reminder"]
    return out


EXPECTED_V1 = EXPECTED
EXPECTED_V2 = {preset: _v2(preset) for preset in ("2024", "2026")}
EXPECTED = {preset: _v3(preset) for preset in ("2024", "2026")}
EXPECTED_BY_RULES = {RULES_V1: EXPECTED_V1, RULES_V2: EXPECTED_V2, CURRENT_RULES: EXPECTED}
ALL_STAGES = [s.value for s in Stage]
CLOSE = datetime(2026, 4, 13, 17, 0, tzinfo=SHANGHAI)


class _Model:
    state: str


def _machine_at(preset: str, stage: str) -> _Model:
    model = _Model()
    build_machine(lifecycle_for(PRESETS[PresetName(preset)]), model, Stage(stage),
                  lambda _name: lambda: True)
    return model


@pytest.mark.parametrize("preset", ["2024", "2026"])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_every_stage_trigger_pair_matches_the_table(preset: str, trigger: str) -> None:
    expected = EXPECTED[preset].get(trigger, {})
    for stage in ALL_STAGES:
        model = _machine_at(preset, stage) if stage in _stages(preset) else None
        if stage not in expected:
            if model is not None and hasattr(model, trigger):
                with pytest.raises(MachineError):
                    model.trigger(trigger)  # type: ignore[attr-defined]
                assert model.state == stage
            continue
        assert model is not None, f"{stage} should exist in {preset}"
        assert model.trigger(trigger)  # type: ignore[attr-defined]
        dest = expected[stage]
        assert model.state == (stage if dest == "=" else dest), (preset, trigger, stage)


def _stages(preset: str) -> set[str]:
    lc = lifecycle_for(PRESETS[PresetName(preset)])
    return {s.value for m in lc.moves for s in m.sources} | {
        m.dest.value for m in lc.moves if m.dest
    }


@pytest.mark.parametrize("rules", [RULES_V1, RULES_V2, CURRENT_RULES])
@pytest.mark.parametrize("preset", ["2024", "2026"])
def test_table_has_no_move_the_spec_does_not(preset: str, rules: int) -> None:
    """Projects started before issue 16 keep the first table (rules 1); new ones the
    current one."""
    lc = lifecycle_for(PRESETS[PresetName(preset)], rules)
    actual: dict[str, dict[str, str]] = {}
    for move in lc.moves:
        for source in move.sources:
            actual.setdefault(move.trigger, {})[source.value] = (
                "=" if move.dest is None else move.dest.value
            )
    assert actual == EXPECTED_BY_RULES[rules][preset]


@pytest.mark.parametrize("preset", ["2024", "2026"])
def test_decisions_outside_the_table_are_refused_by_stage_and_change_nothing(
    preset: str,
) -> None:
    """Through the project state: a person's decision the stage does not allow is refused
    with the LIFECYCLE rule (or R11 / R10), and the stage and log stay as they were."""
    batch = BatchPolicy(batch_id="b", name="b", year=2026, preset=PresetName(preset),
                        close_at=CLOSE)
    project = ProjectInput(project_id="p", title="t", batch=batch, task_code="T1",
                           city_code="3701", county_code="370102", applicant_unit="U1")
    before_close = CLOSE - timedelta(days=1)
    lc = lifecycle_for(batch.policy)
    for stage in sorted(_stages(preset)):
        for trigger in TRIGGERS:
            if trigger in SYSTEM_TRIGGERS or not lc.knows(trigger):
                continue
            if stage in EXPECTED[preset].get(trigger, {}):
                continue
            state = ProjectState(project, before_close - timedelta(days=10))
            state.data.stage = Stage(stage)  # place the project in `stage` for the probe
            role = sorted(lc.roles_for(trigger))[0]
            refusal = state.assess(_decision(trigger, role), before_close)
            assert refusal is not None, (stage, trigger)
            if Stage(stage).is_end:
                assert refusal.rule == "LIFECYCLE" or refusal.kind is RefusalKind.STAGE
            else:
                assert refusal.kind in (RefusalKind.STAGE, RefusalKind.RULE), (stage, trigger)
                assert refusal.rule in ("LIFECYCLE", "R11"), (stage, trigger, refusal)
            assert state.stage.value == stage and state.log == []


def _decision(action: str, role: Role) -> Decision:
    region = {Role.COUNTY: "370102", Role.CITY: "3701", Role.CITY_FINANCE: "3701"}.get(role, "37")
    return Decision(request_id=f"r-{action}", action=action,
                    actor=Actor(user_id="u", role=role, region=region, unit_code="U1"),
                    reason="r")


def test_stage_labels_are_chinese() -> None:
    for stage in Stage:
        assert stage.label_zh and all("\u4e00" <= ch <= "\u9fff" or ch in "（）" for ch in
                                      stage.label_zh)
