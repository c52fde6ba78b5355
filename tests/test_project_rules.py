"""The rules the workflow applies, tested on the pure project state (no Temporal)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.actions import CURRENT_RULES, RULES_V1
from domain.clock import SHANGHAI
from domain.decisions import Actor
from domain.project import ProjectState
from domain.refusals import RefusalKind, Refused
from domain.roles import Role
from domain.stages import Stage
from domain.views import ReadModelView
from tests.support import ACTORS, COUNTY, SHA, batch, decision, project

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

CLOSE = datetime(2026, 4, 13, 17, 0, tzinfo=SHANGHAI)
EARLY = CLOSE - timedelta(days=20)


def state(preset: str = "2026", rules: int = CURRENT_RULES, **kw: object) -> ProjectState:
    """A project under the current rules, or under rules 1 (projects started before issue
    16, whose behaviour the tests marked 'rules 1' pin down)."""
    return ProjectState(project(batch(preset, CLOSE, **kw)), EARLY, rules)  # type: ignore[arg-type]


def do(s: ProjectState, action: str, at: datetime = EARLY, role: Role | None = None,
       **payload: object) -> None:
    d = decision(action, role, **payload)
    s.apply(d, at)
    if s.stage is Stage.SUBMITTED:
        s.fire_system("admit", at)


def to_city_review(s: ProjectState) -> None:
    do(s, "submit")
    if s.stage is Stage.COUNTY_REVIEW:
        do(s, "county_approve")


def to_provincial_review(s: ProjectState) -> None:
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    if s.pending_cosign:
        do(s, "concur", role=Role.CITY_FINANCE)
    s.fire_system("recommendation_closed", CLOSE)


def to_implementation(s: ProjectState, at: datetime = CLOSE) -> None:
    to_provincial_review(s)
    do(s, "assign_experts", experts=[{"user_id": "expert-1"}])
    do(s, "score", score=90)
    do(s, "select")
    if s.pending_cosign:
        do(s, "concur", role=Role.PROVINCE_FINANCE)
    s.apply(decision("open_publicity"), at, publicity_end=at + timedelta(days=7))
    s.fire_system("publicity_ended", at + timedelta(days=7))


def refusal_of(s: ProjectState, action: str, at: datetime = EARLY, role: Role | None = None,
               **payload: object):
    r = s.assess(decision(action, role, **payload), at)
    assert r is not None, f"{action} should be refused"
    return r


def test_return_at_1659_works_and_resubmit_at_1701_is_refused_with_r10() -> None:
    s = state()
    do(s, "submit")
    do(s, "county_return", at=CLOSE - timedelta(minutes=1))
    assert s.stage is Stage.RETURNED
    r = refusal_of(s, "resubmit", at=CLOSE + timedelta(minutes=1))
    assert (r.rule, r.kind) == ("R10", RefusalKind.DEADLINE)
    assert "2026-04-13T17:00+08:00" in r.message_zh


def test_the_close_is_an_instant_17_00_itself_is_too_late() -> None:
    s = state()
    do(s, "submit")
    assert s.assess(decision("county_approve"), CLOSE - timedelta(seconds=1)) is None
    assert refusal_of(s, "county_approve", at=CLOSE).rule == "R10"


def test_a_refused_decision_changes_nothing() -> None:
    s = state()
    do(s, "submit")
    log_before = list(s.log)
    with pytest.raises(Refused):
        s.apply(decision("city_recommend", rank=1), EARLY)
    assert s.stage is Stage.COUNTY_REVIEW and s.log == log_before


def test_application_is_frozen_after_the_city_recommends_r11() -> None:
    s = state("2024")
    to_city_review(s)
    do(s, "city_recommend", rank=2)
    assert s.stage is Stage.RECOMMENDED and s.data.rank == 2
    assert refusal_of(s, "edit_application").rule == "R11"


def test_roles_and_jurisdiction() -> None:
    s = state()
    do(s, "submit")
    assert refusal_of(s, "county_approve", role=Role.APPLICANT).rule == "ROLE"
    other_county = Actor(user_id="c2", role=Role.COUNTY, region="370103")
    r = s.assess(decision("county_approve", actor=other_county), EARLY)
    assert r is not None and r.rule == "JURISDICTION"
    other_unit = ACTORS[Role.APPLICANT].model_copy(update={"unit_code": "OTHER"})
    r = s.assess(decision("withdraw", actor=other_unit), EARLY)
    assert r is not None and r.rule == "JURISDICTION"
    for role in (Role.OPERATOR, Role.AUDITOR):
        assert refusal_of(s, "county_approve", role=role).rule == "ROLE"
    assert refusal_of(s, "recommendation_closed", role=Role.PROVINCE).rule == "ROLE"


def test_unknown_action_and_malformed_payload_are_input_errors() -> None:
    s = state()
    assert refusal_of(s, "approve_everything").kind is RefusalKind.INPUT
    to_city_review(s)
    r = refusal_of(s, "city_recommend", rank=0)
    assert (r.rule, r.kind) == ("INPUT", RefusalKind.INPUT)
    r = s.assess(decision("county_return", reason=" "), EARLY)
    assert r is None or r.rule != "INPUT"  # county_return is not allowed in city review


def test_return_needs_a_reason() -> None:
    s = state()
    do(s, "submit")
    d = decision("county_return")
    d = d.model_copy(update={"reason": "  "})
    r = s.assess(d, EARLY)
    assert r is not None and r.kind is RefusalKind.INPUT


def test_return_refused_when_the_applicant_could_not_resubmit_r9() -> None:
    """Rules 1; rules 2 follow the notice (E6, tests/test_rules_v2.py)."""
    s = state(rules=RULES_V1)
    do(s, "submit")
    county = ACTORS[Role.COUNTY]
    s.change_deadline("local-1", county, COUNTY, EARLY + timedelta(hours=1), "县级截止", EARLY)
    r = refusal_of(s, "county_return", at=EARLY + timedelta(hours=2))
    assert r.rule == "R9"
    assert s.assess(decision("county_approve"), EARLY + timedelta(hours=2)) is None


def test_city_recommendation_needs_the_finance_cosignature_in_2026() -> None:
    s = state("2026")
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    assert s.stage is Stage.CITY_REVIEW and s.pending_cosign is not None
    assert s.waiting_on(EARLY) == ["city_finance"]
    # The provincial finance department co-signs, but not a city's recommendation.
    wrong = refusal_of(s, "concur", role=Role.PROVINCE_FINANCE)
    assert (wrong.rule, wrong.kind) == ("LIFECYCLE", RefusalKind.STAGE)
    do(s, "dissent", role=Role.CITY_FINANCE, reason="预算不足")
    assert s.stage is Stage.CITY_REVIEW and s.pending_cosign is None and s.data.rank is None
    do(s, "city_recommend", rank=3)
    do(s, "concur", role=Role.CITY_FINANCE)
    assert s.stage is Stage.RECOMMENDED and s.data.rank == 3


def test_2024_recommendation_needs_no_cosignature() -> None:
    s = state("2024")
    to_city_review(s)
    assert s.stage is Stage.CITY_REVIEW  # 2024: no county level
    do(s, "city_recommend", rank=1)
    assert s.stage is Stage.RECOMMENDED
    assert refusal_of(s, "concur", role=Role.CITY_FINANCE).rule == "LIFECYCLE"


def test_expert_review_rules_r12() -> None:
    s = state("2024")
    to_provincial_review(s)
    assert refusal_of(s, "select").rule == "R12"  # no experts yet
    tied = {"user_id": "expert-9", "declared_conflicts": [s.project.applicant_unit]}
    r = refusal_of(s, "assign_experts", experts=[tied])
    assert r.rule == "R12"
    do(s, "assign_experts", experts=[{"user_id": "expert-1"}, {"user_id": "expert-2"}])
    stranger = Actor(user_id="expert-3", role=Role.EXPERT)
    r = s.assess(decision("score", actor=stranger, score=80), EARLY)
    assert r is not None and r.rule == "R12"
    do(s, "score", score=80)
    assert refusal_of(s, "score", score=81).rule == "R12"  # scored already
    assert refusal_of(s, "select").rule == "R12"  # expert-2 has not scored
    s.apply(decision("score", actor=ACTORS[Role.EXPERT].model_copy(
        update={"user_id": "expert-2"}), score=70), EARLY)
    do(s, "select")
    assert s.stage is Stage.SELECTED


def test_subsidy_cap_r17_and_reclaim_on_revocation_r18() -> None:
    """Rules 1 (the half-year round did not complete acceptance)."""
    s = state("2024", rules=RULES_V1)
    to_implementation(s)
    s.fire_system("open_halfyear_acceptance", CLOSE)
    do(s, "pass_halfyear_acceptance")
    s.fire_system("open_final_acceptance", CLOSE)
    do(s, "pass_acceptance", verified_investment_cny=3_000_000)
    assert refusal_of(s, "decide_subsidy", amount_cny=1_000_001).rule == "R17"
    assert refusal_of(s, "record_disbursement").rule == "R17"
    do(s, "decide_subsidy", amount_cny=1_000_000)
    do(s, "revoke", reason="发现虚报投资")
    assert s.stage is Stage.REVOKED and s.data.subsidy_to_reclaim
    assert s.end is not None and s.end.rule == "R18"


def test_same_request_id_is_one_decision_and_cannot_be_reused_for_another() -> None:
    s = state()
    d = decision("submit", request_id="once")
    s.apply(d, EARLY)
    s.fire_system("admit", EARLY)
    first = s.settle("once", EARLY)
    assert s.apply(d, EARLY).seq == 1 and s.settle("once", EARLY) == first
    assert len(s.log) == 2
    r = s.assess(decision("withdraw", request_id="once"), EARLY)
    assert r is not None and r.rule == "IDEMPOTENCY"
    same_action_other_reason = d.model_copy(update={"reason": "另一个理由"})
    r = s.assess(same_action_other_reason, EARLY)
    assert r is not None and r.rule == "IDEMPOTENCY"


def test_deadline_changes() -> None:
    s = state()
    province, city = ACTORS[Role.PROVINCE], ACTORS[Role.CITY]
    later = CLOSE + timedelta(days=2)
    s.change_deadline("x1", province, "batch", later, "延期", EARLY)
    assert s.data.close_at == later
    record = s.change_deadline("x2", province, "batch", CLOSE, "提前", EARLY)
    assert record is not None and record.note.startswith("ignored") and s.data.close_at == later
    s.change_deadline("x3", city, "3701", later + timedelta(days=1), "晚于全省", EARLY)
    assert s.data.local_deadlines == {}
    s.change_deadline("x4", city, "3701", CLOSE - timedelta(days=5), "市级提前", EARLY)
    s.change_deadline("x5", Actor(user_id="c", role=Role.CITY, region="3702"), "3702",
                      CLOSE - timedelta(days=9), "他市", EARLY)
    assert s.next_alarm() is not None
    assert s.next_alarm().at == CLOSE - timedelta(days=5)  # type: ignore[union-attr]
    assert [r.action for r in s.log] == ["extend_deadline"] * 2 + ["set_local_deadline"] * 3


def test_process_archives_reminders_and_overdue_2026() -> None:
    s = state("2026")
    to_implementation(s)
    start = s.data.implementation_started_at
    assert start is not None
    alarms = {(a.trigger, a.key): a.at for a in s.alarms()}
    due1 = start + timedelta(days=90)
    assert alarms[("archive_reminder", 1)] == due1 - timedelta(days=7)
    assert alarms[("archive_overdue", 1)] == due1
    s.fire_system("archive_reminder", due1 - timedelta(days=7), key=1)
    assert [n.kind for n in s.drain_outbox()] == ["archive_reminder"]
    s.fire_system("archive_overdue", due1, key=1)
    assert s.data.archives_overdue == {1}
    do(s, "submit_archive", at=due1 + timedelta(days=1), title="第一期档案", evidence=[SHA])
    keys = {(a.trigger, a.key) for a in s.alarms()}
    assert ("archive_overdue", 1) not in keys and ("archive_overdue", 2) in keys
    assert refusal_of(s, "submit_archive", title="无附件").kind is RefusalKind.INPUT


def test_carrier_task_enters_the_reserve_pool_r14() -> None:
    s = ProjectState(project(batch("2026", CLOSE), task_code="T9"), EARLY)
    to_implementation(s)
    assert s.data.reserve_pool
    s2 = state("2026")
    to_implementation(s2)
    assert not s2.data.reserve_pool


def test_major_change_goes_to_the_city_then_the_province_r15() -> None:
    """Rules 1 (early acceptance at the applicant's word)."""
    s = state("2026", rules=RULES_V1)
    to_implementation(s)
    assert refusal_of(s, "province_approve_change").rule == "R15"
    do(s, "request_change", kind="investment_amount", description="追加投资")
    assert refusal_of(s, "province_approve_change").rule == "R15"
    assert refusal_of(s, "request_early_acceptance").rule == "R15"
    do(s, "city_approve_change")
    do(s, "province_approve_change")
    assert s.data.changes[-1].status == "approved"
    do(s, "request_early_acceptance")
    assert s.stage is Stage.FINAL_ACCEPTANCE


def test_answers_follow_every_change_made_at_the_same_instant() -> None:
    """The open moves are computed once per state and instant; a change at the same
    instant (a decision, a co-signature, a deadline moved) must change the answers."""
    s = state("2026")
    assert s.allowed(Role.COUNTY, EARLY) == []
    do(s, "submit")
    assert "county_approve" in s.allowed(Role.COUNTY, EARLY)
    do(s, "county_approve")
    assert s.allowed(Role.COUNTY, EARLY) == []
    do(s, "city_recommend", rank=1)
    assert s.waiting_on(EARLY) == ["city_finance"]
    do(s, "concur", role=Role.CITY_FINANCE)
    assert s.waiting_on(EARLY) == []  # recommended: only the close moves it on
    s2 = state("2026", rules=RULES_V1)  # rules 2 refuse an extension after the close (E10)
    do(s2, "submit")
    do(s2, "county_return", at=CLOSE - timedelta(minutes=1))
    late = CLOSE + timedelta(minutes=1)
    assert s2.allowed(Role.APPLICANT, late) == ["withdraw"]
    s2.change_deadline("x1", ACTORS[Role.PROVINCE], "batch", CLOSE + timedelta(days=2), "延期",
                       late)
    assert "resubmit" in s2.allowed(Role.APPLICANT, late)


def test_the_read_model_row_is_the_view_cut_down() -> None:
    s = state("2026")
    rows = []
    for step in (lambda: None, lambda: to_implementation(s, CLOSE)):
        step()
        assert s.read_model(CLOSE) == ReadModelView.of(s.view(CLOSE))
        rows.append(s.read_model(CLOSE).stage)
    assert rows == [Stage.DRAFT, Stage.IMPLEMENTATION]
