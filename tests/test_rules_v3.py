"""Rules version 3 (issue 16, second part): co-signature reminders and overdue, the 2024
half-year acceptance round on application, a city's deadline for its counties' reviews and
cities without a county step. Pure tests of the project state; the workflow and API tests
drive the same moves on a Temporal server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.actions import RULES_V2, RULES_V3, Action
from domain.batch import BatchPolicy
from domain.clock import SHANGHAI
from domain.project import ProjectState
from domain.roles import Role
from domain.stages import Stage
from tests.support import ACTORS, CITY, batch, decision, project

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

CLOSE = datetime(2026, 4, 13, 17, 0, tzinfo=SHANGHAI)
EARLY = CLOSE - timedelta(days=20)
REMIND, OVERDUE = EARLY + timedelta(days=3), EARLY + timedelta(days=7)


def state(preset: str = "2026", rules: int = RULES_V3, **kw: Any) -> ProjectState:
    return ProjectState(project(batch(preset, CLOSE, **kw)), EARLY - timedelta(days=1), rules)


def do(s: ProjectState, action: str, at: datetime = EARLY, role: Role | None = None,
       dues: tuple[datetime, datetime] | None = None, **kw: object) -> None:
    s.apply(decision(action, role, **kw), at, cosign_dues=dues)  # type: ignore[arg-type]
    if s.stage is Stage.SUBMITTED:
        s.fire_system(s.admission(at), at)


def fire_next(s: ProjectState) -> str:
    alarm = s.next_alarm()
    assert alarm is not None
    s.fire_system(alarm.trigger, alarm.at, alarm.key)
    return str(alarm.trigger)


def to_city_review(s: ProjectState, at: datetime = EARLY) -> None:
    do(s, "submit", at)
    if s.stage is Stage.COUNTY_REVIEW:
        do(s, "county_approve", at)


def to_provincial_review_scored(s: ProjectState) -> None:
    """2026: recommended (co-signed), past the close, one expert assigned who scored."""
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    do(s, "concur", role=Role.CITY_FINANCE)
    s.fire_system("recommendation_closed", CLOSE)
    do(s, "assign_experts", CLOSE, experts=[{"user_id": "expert-1"}])
    do(s, "score", CLOSE, score=90)


# -- co-signature reminders and overdue (R8, R17) -----------------------------------------


def test_a_pending_cosignature_reminds_the_cosigner_then_is_overdue() -> None:
    s = state()
    to_city_review(s)
    do(s, "city_recommend", dues=(REMIND, OVERDUE), rank=1)
    assert s.pending_cosign is not None and s.pending_cosign.overdue_at == OVERDUE
    assert s.next_alarm() is not None and s.next_alarm().at == REMIND  # type: ignore[union-attr]
    # The reminder is not a deadline; the overdue instant is.
    assert s.next_deadline() == OVERDUE
    s.drain_outbox()
    assert fire_next(s) == Action.COSIGN_REMINDER
    told = s.drain_outbox()
    assert [(n.to_role, n.kind) for n in told] == [(Role.CITY_FINANCE, "cosign_reminder")]
    assert s.pending_cosign.reminded and not s.pending_cosign.overdue
    assert fire_next(s) == Action.COSIGN_OVERDUE
    assert s.pending_cosign.overdue
    assert {n.to_role for n in s.drain_outbox()} == {Role.CITY_FINANCE, Role.CITY}
    view = s.view(OVERDUE)
    assert view.pending_cosign is not None and view.pending_cosign.overdue
    assert view.waiting_on == ["city_finance"]
    assert "cosign_overdue" in {d.kind for d in view.deadlines}
    # Overdue is a report, not an end: the bureau can still co-sign, and the timers stop.
    do(s, "concur", OVERDUE + timedelta(days=1), role=Role.CITY_FINANCE)
    assert s.stage is Stage.RECOMMENDED and s.pending_cosign is None
    assert s.next_alarm() is not None
    assert s.next_alarm().trigger == Action.RECOMMENDATION_CLOSED  # type: ignore[union-attr]


def test_a_retracted_or_voided_cosignature_stops_its_timers() -> None:
    s = state()
    to_city_review(s)
    do(s, "city_recommend", dues=(REMIND, OVERDUE), rank=1)
    do(s, "retract", role=Role.CITY)
    assert all(a.trigger not in (Action.COSIGN_REMINDER, Action.COSIGN_OVERDUE)
               for a in s.alarms())
    do(s, "city_recommend", dues=(REMIND, OVERDUE), rank=1)
    do(s, "city_return", EARLY + timedelta(days=1))  # a return while it is pending
    assert s.stage is Stage.RETURNED and s.pending_cosign is None  # E1: voided
    assert all(a.trigger != Action.COSIGN_REMINDER for a in s.alarms())


def test_the_province_finance_cosignature_has_the_same_timers() -> None:
    s = state()
    to_provincial_review_scored(s)
    do(s, "select", CLOSE, dues=(CLOSE + timedelta(days=3), CLOSE + timedelta(days=7)))
    assert fire_next(s) == Action.COSIGN_REMINDER
    assert fire_next(s) == Action.COSIGN_OVERDUE
    assert s.pending_cosign is not None and s.pending_cosign.cosigner is Role.PROVINCE_FINANCE


def test_without_dues_or_before_rules_3_there_are_no_cosignature_timers() -> None:
    for s, dues in ((state(), None), (state(rules=RULES_V2), (REMIND, OVERDUE))):
        to_city_review(s)
        do(s, "city_recommend", dues=dues, rank=1)
        assert s.pending_cosign is not None and s.pending_cosign.overdue_at is None
        assert [a.trigger for a in s.alarms()] == [Action.RECOMMENDATION_CLOSED]


def test_cosignature_working_days_are_batch_data_and_validated() -> None:
    with pytest.raises(ValidationError):
        batch("2026", CLOSE, cosign_reminder_working_days=5, cosign_overdue_working_days=5)
    with pytest.raises(ValidationError):
        batch("2026", CLOSE, cosign_reminder_working_days=0)


# -- 2024: the half-year round on application (R16) ---------------------------------------


def to_implementation_2024(s: ProjectState) -> datetime:
    do(s, "submit")
    do(s, "city_recommend", rank=1)
    s.fire_system("recommendation_closed", CLOSE)
    do(s, "assign_experts", CLOSE, experts=[{"user_id": "expert-1"}])
    do(s, "score", CLOSE, score=90)
    do(s, "select", CLOSE)
    s.apply(decision("open_publicity"), CLOSE, publicity_end=CLOSE + timedelta(days=7))
    started = CLOSE + timedelta(days=7)
    s.fire_system("publicity_ended", started)
    assert s.stage is Stage.IMPLEMENTATION
    return started


def test_2024_half_year_round_opens_for_units_that_applied() -> None:
    s = state("2024")
    started = to_implementation_2024(s)
    # No timer opens the half-year round any more: the next alarm is the one-year round.
    assert [a.trigger for a in s.alarms()] == [Action.OPEN_FINAL_ACCEPTANCE]
    later = started + timedelta(days=150)
    refusal = s.assess(decision("open_halfyear_round"), later)
    assert refusal is not None and refusal.rule == "R16" and "申请" in refusal.message_zh
    assert "province" not in s.waiting_on(later)
    do(s, "apply_for_acceptance", later, role=Role.APPLICANT)
    assert s.data.acceptance_applied and "province" in s.waiting_on(later)
    assert [n.kind for n in s.drain_outbox()][-1] == "acceptance_applied"
    again = s.assess(decision("apply_for_acceptance", Role.APPLICANT), later)
    assert again is not None and again.rule == "R16"
    do(s, "open_halfyear_round", later + timedelta(days=30))
    assert s.stage is Stage.HALFYEAR_ACCEPTANCE
    do(s, "pass_halfyear_acceptance", later + timedelta(days=40),
       verified_investment_cny=2_000_000)
    assert s.stage is Stage.SUBSIDY  # passing the half-year round completes acceptance


def test_2024_a_unit_that_never_applies_goes_to_the_one_year_round() -> None:
    s = state("2024")
    to_implementation_2024(s)
    assert fire_next(s) == Action.OPEN_FINAL_ACCEPTANCE
    assert s.stage is Stage.FINAL_ACCEPTANCE


def test_2024_an_application_the_province_never_answers_is_not_stranded() -> None:
    s = state("2024")
    started = to_implementation_2024(s)
    do(s, "apply_for_acceptance", started + timedelta(days=100), role=Role.APPLICANT)
    assert fire_next(s) == Action.OPEN_FINAL_ACCEPTANCE


def test_2026_has_no_half_year_round() -> None:
    s = state("2026")
    assert not s.lifecycle.knows("apply_for_acceptance")
    assert not s.lifecycle.knows("open_halfyear_round")


# -- a city's deadline for its counties, and cities without a county step (R9, R10) --------


def test_county_decisions_close_at_the_citys_county_deadline() -> None:
    county_close = CLOSE - timedelta(days=5)
    s = state(county_review_close={CITY: county_close})
    do(s, "submit")
    assert s.stage is Stage.COUNTY_REVIEW
    assert s.next_alarm() is not None
    assert (s.next_alarm().at, s.next_alarm().trigger) == (  # type: ignore[union-attr]
        county_close, Action.COUNTY_REVIEW_CLOSED)
    late = s.assess(decision("county_approve"), county_close)
    assert late is not None and late.rule == "R10" and "县级审核" in late.message_zh
    assert s.allowed(Role.COUNTY, county_close) == []
    assert "county_review_close" in {d.kind for d in s.view(EARLY).deadlines}
    fire_next(s)
    assert s.stage is Stage.NOT_RECOMMENDED and s.end is not None and s.end.rule == "R10"


def test_after_the_county_deadline_a_resubmission_goes_straight_to_the_city() -> None:
    county_close = CLOSE - timedelta(days=5)
    s = state(county_review_close={CITY: county_close})
    to_city_review(s)
    do(s, "city_return", county_close + timedelta(hours=1), role=Role.CITY)
    do(s, "resubmit", county_close + timedelta(hours=2))
    assert s.stage is Stage.CITY_REVIEW
    assert s.log[-1].action == Action.ADMIT_TO_CITY


def test_a_direct_city_reviews_applications_without_a_county_step() -> None:
    s = state(direct_cities=[CITY])
    do(s, "submit")
    assert s.stage is Stage.CITY_REVIEW and s.log[-1].action == Action.ADMIT_TO_CITY
    other = state(direct_cities=["3702"])
    do(other, "submit")
    assert other.stage is Stage.COUNTY_REVIEW


def test_without_city_settings_rules_3_admits_as_before() -> None:
    s = state()
    do(s, "submit")
    assert s.stage is Stage.COUNTY_REVIEW and s.log[-1].action == Action.ADMIT
    assert [a.trigger for a in s.alarms()] == [Action.RECOMMENDATION_CLOSED]


@pytest.mark.parametrize("bad", [
    {"county_review_close": {CITY: CLOSE + timedelta(minutes=1)}},  # later than the close
    {"county_review_close": {"1101": EARLY}},  # not a Shandong city
    {"direct_cities": ["37"]},
    {"direct_cities": [CITY], "county_review_close": {CITY: EARLY}},
])
def test_city_settings_are_validated(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        batch("2026", CLOSE, **bad)


def test_city_settings_need_a_county_step_preset() -> None:
    with pytest.raises(ValidationError):
        BatchPolicy(batch_id="b", name="b", year=2024, preset="2024", close_at=CLOSE,
                    direct_cities=[CITY])


def test_a_concurrence_waits_while_the_selection_no_longer_holds() -> None:
    """Found by the exhaustive liveness search: the province removes an expert while its
    selection waits for the finance department; the concurrence must be refused (the
    selection's own rule, R12), not fail the workflow, and succeed once the panel is
    complete again."""
    s = state()
    to_provincial_review_scored(s)
    do(s, "select", CLOSE)
    do(s, "remove_expert", CLOSE, user_id="expert-1", why="recusal")
    refused = s.assess(decision("concur", Role.PROVINCE_FINANCE), CLOSE)
    assert refused is not None and refused.rule == "R12" and "待会签" in refused.message_zh
    assert s.stage is Stage.PROVINCIAL_REVIEW and s.pending_cosign is not None
    do(s, "assign_experts", CLOSE, experts=[{"user_id": "expert-9"}])
    s.apply(decision("score", actor=ACTORS[Role.EXPERT].model_copy(
        update={"user_id": "expert-9"}), score=80), CLOSE)
    do(s, "concur", CLOSE, role=Role.PROVINCE_FINANCE)
    assert s.stage is Stage.SELECTED
