"""Rules version 2 (issue 16): every real path has a way forward. Pure tests of the
project state; the workflow tests drive the same moves on a Temporal server."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from domain.actions import RULES_V1, RULES_V2
from domain.clock import SHANGHAI
from domain.lifecycle import DECISIONS, payload_example
from domain.places import PlaceHold, place_hold, quota_rank
from domain.project import ProjectState
from domain.roles import Role
from domain.stages import Stage
from tests.support import ACTORS, COUNTY, SHA, batch, decision, project

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

CLOSE = datetime(2026, 4, 13, 17, 0, tzinfo=SHANGHAI)
EARLY = CLOSE - timedelta(days=20)


def state(preset: str = "2026", rules: int = RULES_V2) -> ProjectState:
    return ProjectState(project(batch(preset, CLOSE, supervision_years=3)), EARLY, rules)


def do(s: ProjectState, action: str, at: datetime = EARLY, role: Role | None = None,
       **kw: object) -> None:
    s.apply(decision(action, role, **kw), at)  # type: ignore[arg-type]
    if s.stage is Stage.SUBMITTED:
        s.fire_system("admit", at)


def refused(s: ProjectState, action: str, at: datetime = EARLY, role: Role | None = None,
            **kw: object) -> str:
    r = s.assess(decision(action, role, **kw), at)  # type: ignore[arg-type]
    assert r is not None, f"{action} should be refused"
    return r.rule


def to_city_review(s: ProjectState) -> None:
    do(s, "submit")
    if s.stage is Stage.COUNTY_REVIEW:
        do(s, "county_approve")


def to_implementation(s: ProjectState) -> None:
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    if s.pending_cosign:
        do(s, "concur", role=Role.CITY_FINANCE)
    s.fire_system("recommendation_closed", CLOSE)
    do(s, "assign_experts", experts=[{"user_id": "expert-1"}])
    do(s, "score", score=90)
    do(s, "select")
    if s.pending_cosign:
        do(s, "concur", role=Role.PROVINCE_FINANCE)
    s.apply(decision("open_publicity"), CLOSE, publicity_end=CLOSE + timedelta(days=7))
    s.fire_system("publicity_ended", CLOSE + timedelta(days=7))


def to_final_acceptance(s: ProjectState) -> datetime:
    to_implementation(s)
    at = s.next_alarm()
    while s.stage is Stage.IMPLEMENTATION:
        alarm = s.next_alarm()
        assert alarm is not None
        s.fire_system(alarm.trigger, alarm.at, alarm.key)
        at = alarm.at
    assert at is not None
    return at if isinstance(at, datetime) else at.at


# -- errors ----------------------------------------------------------------------------


def test_e1_a_return_voids_the_pending_cosignature() -> None:
    s = state("2026")
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    assert s.waiting_on(EARLY) == ["city_finance"]
    do(s, "city_return", reason="材料不全")
    assert s.pending_cosign is None and s.quota_rank is None
    assert "作废" in s.log[-1].note
    assert "city_finance" not in s.waiting_on(EARLY)
    do(s, "resubmit")
    do(s, "county_approve")
    assert refused(s, "concur", role=Role.CITY_FINANCE) == "LIFECYCLE"  # nothing pending
    do(s, "city_recommend", rank=2)  # the city can recommend again
    do(s, "concur", role=Role.CITY_FINANCE)
    assert s.stage is Stage.RECOMMENDED and s.data.rank == 2 and s.quota_rank == 2


def test_rules_1_keep_the_pending_cosignature_as_they_did() -> None:
    s = state("2026", rules=RULES_V1)
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    do(s, "city_return", reason="材料不全")
    assert s.pending_cosign is not None


def test_e3_revoked_or_terminated_before_the_list_releases_places_and_quota() -> None:
    for stage in (Stage.REVOKED, Stage.TERMINATED):
        assert place_hold(stage, was_selected=False) is PlaceHold.RELEASED
        assert quota_rank(stage, rank=3, was_selected=False) is None
        assert place_hold(stage, was_selected=True) is PlaceHold.SELECTED
    s = state("2026")
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    do(s, "concur", role=Role.CITY_FINANCE)
    do(s, "revoke", reason="弄虚作假")
    assert s.stage is Stage.REVOKED and s.quota_rank is None and not s.was_selected


def test_e6_a_return_is_possible_until_the_system_closes_and_reopens_the_window() -> None:
    s = state("2026")
    do(s, "submit")
    s.change_deadline("local-1", ACTORS[Role.COUNTY], COUNTY, EARLY + timedelta(hours=1),
                      "县级截止", EARLY)
    later = EARLY + timedelta(days=2)  # past the county's deadline, before the close
    do(s, "county_return", at=later, reason="请补充材料")
    assert s.stage is Stage.RETURNED
    assert "resubmit" in s.allowed(Role.APPLICANT, later)
    assert s.next_alarm() is not None and s.next_alarm().at == CLOSE  # type: ignore[union-attr]
    do(s, "resubmit", at=later)
    assert s.stage is Stage.COUNTY_REVIEW
    assert refused(s, "county_return", at=CLOSE, reason="太晚") == "R10"


def test_e8_each_level_rejects_only_the_change_waiting_for_it() -> None:
    s = state("2026")
    to_implementation(s)
    do(s, "request_change", kind="investment_amount", description="追加投资")
    assert refused(s, "reject_change", role=Role.PROVINCE, reason="x") == "R15"
    do(s, "city_approve_change")
    assert refused(s, "reject_change", role=Role.CITY, reason="x") == "R15"
    do(s, "reject_change", role=Role.PROVINCE, reason="依据不足")
    assert s.data.changes[-1].status == "rejected_by_province"


def test_e10_the_batch_cannot_be_extended_after_it_closed() -> None:
    s = state("2026")
    do(s, "submit")
    late = CLOSE + timedelta(minutes=1)
    record = s.change_deadline("x", ACTORS[Role.PROVINCE], "batch", CLOSE + timedelta(days=2),
                               "延期", late)
    assert record is not None and record.note.startswith("ignored") and s.data.close_at == CLOSE
    before = s.change_deadline("y", ACTORS[Role.PROVINCE], "batch", CLOSE + timedelta(days=2),
                               "延期", EARLY)
    assert before is not None and s.data.close_at == CLOSE + timedelta(days=2)


def test_batch_data_is_validated() -> None:
    with pytest.raises(ValueError, match="halfyear"):
        batch("2024", CLOSE, halfyear_after_months=12, final_after_months=12)


# -- expert panels, co-signatures ------------------------------------------------------


def test_the_province_removes_an_expert_and_the_score_is_voided() -> None:
    s = state("2026")
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    do(s, "concur", role=Role.CITY_FINANCE)
    s.fire_system("recommendation_closed", CLOSE)
    do(s, "assign_experts", experts=[{"user_id": "expert-1"}])
    do(s, "score", score=40)
    do(s, "remove_expert", user_id="expert-1", why="recusal", reason="与申报单位存在关联")
    assert s.data.experts == {} and s.data.voided_scores[0].score == 40
    assert refused(s, "select") == "R12"  # experts must be assigned and have scored
    do(s, "record_finding", source="site_check", summary="现场核查：设备未到位",
       evidence=[SHA])
    do(s, "declare_ineligible", rule="R6", reason="投资额不足100万元")
    assert s.stage is Stage.NOT_SELECTED and s.end is not None


def test_the_decider_retracts_its_pending_decision_and_only_it() -> None:
    s = state("2026")
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    assert refused(s, "retract", role=Role.CITY_FINANCE, reason="x") in ("ROLE", "LIFECYCLE")
    do(s, "retract", role=Role.CITY, reason="排序有误")
    assert s.pending_cosign is None and s.quota_rank is None
    do(s, "city_recommend", rank=2)
    assert s.quota_rank == 2


# -- acceptance outcomes (R16) ---------------------------------------------------------


def test_rectify_by_a_deadline_then_re_acceptance_passes() -> None:
    s = state("2026")
    at = to_final_acceptance(s)
    do(s, "rectify", at=at, days=30, reason="专账不完整")
    assert s.stage is Stage.RECTIFICATION
    assert refused(s, "submit_rectification", at=at) == "INPUT"  # needs the report
    do(s, "submit_rectification", at=at + timedelta(days=10), evidence=[SHA])
    assert s.stage is Stage.FINAL_ACCEPTANCE
    do(s, "pass_acceptance", at=at + timedelta(days=11), verified_investment_cny=2_000_000)
    assert s.stage is Stage.SUBSIDY


def test_rectification_deadline_brings_the_project_back_to_acceptance() -> None:
    s = state("2026")
    at = to_final_acceptance(s)
    do(s, "rectify", at=at, days=30, reason="专账不完整")
    alarm = s.next_alarm()
    assert alarm is not None and alarm.trigger == "rectification_due"
    s.fire_system(alarm.trigger, alarm.at)
    assert s.stage is Stage.FINAL_ACCEPTANCE
    do(s, "fail_acceptance", at=alarm.at, reason="整改不到位")
    assert s.stage is Stage.FAILED_ACCEPTANCE


def test_not_ready_continues_implementation_and_acceptance_opens_again_later() -> None:
    s = state("2026")
    at = to_final_acceptance(s)
    do(s, "not_ready", at=at, months=3, reason="设备尚未全部投用")
    assert s.stage is Stage.IMPLEMENTATION
    reopens = next(a for a in s.alarms() if a.trigger == "open_final_acceptance")
    assert reopens.at > at + timedelta(days=85)


def test_2024_passing_the_half_year_round_completes_acceptance() -> None:
    s = state("2024")
    to_implementation(s)
    alarm = s.next_alarm()
    assert alarm is not None and alarm.trigger == "open_halfyear_acceptance"
    s.fire_system(alarm.trigger, alarm.at)
    do(s, "pass_halfyear_acceptance", at=alarm.at, verified_investment_cny=1_500_000)
    assert s.stage is Stage.SUBSIDY and s.data.verified_investment_cny == 1_500_000


def test_2024_half_year_not_ready_goes_on_to_the_one_year_round() -> None:
    s = state("2024")
    to_implementation(s)
    alarm = s.next_alarm()
    assert alarm is not None
    s.fire_system(alarm.trigger, alarm.at)
    do(s, "not_ready", at=alarm.at, months=1, reason="未完成")
    nxt = s.next_alarm()
    assert nxt is not None and nxt.trigger == "open_final_acceptance"


def test_2026_early_acceptance_is_a_request_the_province_accepts_or_declines() -> None:
    s = state("2026")
    to_implementation(s)
    do(s, "request_early_acceptance")
    assert s.stage is Stage.IMPLEMENTATION and s.data.early_acceptance_requested
    assert "province" in s.waiting_on(EARLY)
    do(s, "decline_early_acceptance", reason="尚未完成建设内容")
    assert not s.data.early_acceptance_requested
    do(s, "request_early_acceptance")
    do(s, "accept_early_acceptance")
    assert s.stage is Stage.FINAL_ACCEPTANCE


# -- subsidy on merit (R17), supervision and clawback (R18) ----------------------------


def _to_subsidy(s: ProjectState, verified: float = 2_000_000) -> datetime:
    at = to_final_acceptance(s)
    if s.stage is Stage.HALFYEAR_ACCEPTANCE:  # 2024: the half-year round completes it
        do(s, "pass_halfyear_acceptance", at=at, verified_investment_cny=verified)
    else:
        do(s, "pass_acceptance", at=at, verified_investment_cny=verified)
    assert s.stage is Stage.SUBSIDY
    return at


def test_award_is_capped_per_scene_and_by_verified_investment() -> None:
    s = state("2024")
    at = _to_subsidy(s, verified=1_200_000)
    assert refused(s, "decide_subsidy", at=at, amount_cny=1_100_000) == "R17"  # 1 scene
    assert refused(s, "decide_subsidy", at=at, amount_cny=1_300_000, scenes=2) == "R17"
    do(s, "decide_subsidy", at=at, amount_cny=1_200_000, scenes=2)
    assert s.data.award is not None and s.data.award.recipient == s.project.applicant_unit


def test_no_award_with_a_reason_then_supervision_then_completed() -> None:
    s = state("2026")
    at = _to_subsidy(s)
    do(s, "decide_no_award", at=at, reason="择优：成效不突出")
    do(s, "concur", at=at, role=Role.PROVINCE_FINANCE)
    assert s.stage is Stage.SUPERVISION and s.data.award is not None
    alarm = s.next_alarm()
    assert alarm is not None and alarm.trigger == "supervision_ended"
    assert alarm.at.year == at.year + 3
    s.fire_system(alarm.trigger, alarm.at)
    assert s.stage is Stage.COMPLETED


def test_fraud_found_in_supervision_is_revoked_with_clawback() -> None:
    s = state("2024")
    at = _to_subsidy(s)
    do(s, "decide_subsidy", at=at, amount_cny=800_000)
    do(s, "record_disbursement", at=at, amount_cny=800_000, reference="鲁财拨1号")
    assert s.stage is Stage.SUPERVISION and s.data.disbursement is not None
    do(s, "revoke", at=at + timedelta(days=200), reason="虚报投资")
    assert s.stage is Stage.CLAWBACK and s.data.clawback is not None
    assert s.data.clawback.amount_cny == 800_000
    do(s, "record_repayment", at=at + timedelta(days=220), amount_cny=800_000)
    do(s, "settle_clawback", at=at + timedelta(days=221))
    assert s.stage is Stage.REVOKED and s.end is not None and s.end.rule == "R18"
    assert s.data.clawback.returned_cny == 800_000 and s.data.clawback.status == "settled"


# -- ending without fraud (R21) --------------------------------------------------------


def test_voluntary_termination_city_then_province() -> None:
    s = state("2026")
    to_implementation(s)
    do(s, "request_termination", reason="企业经营调整，主动终止")
    assert refused(s, "approve_termination") == "R21"  # the city first
    do(s, "endorse_termination")
    do(s, "approve_termination")
    assert s.stage is Stage.TERMINATED and s.end is not None and s.end.rule == "R21"
    assert s.was_selected  # its places were used (R2)


def test_the_province_terminates_for_non_performance() -> None:
    s = state("2026")
    to_implementation(s)
    do(s, "terminate", reason="长期未按计划实施")
    assert s.stage is Stage.TERMINATED and s.end is not None and s.end.rule == "R21"


# -- changes take effect (R15) ---------------------------------------------------------


def test_an_approved_change_is_a_new_baseline_and_an_extension_moves_acceptance() -> None:
    s = state("2026")
    to_implementation(s)
    before = next(a for a in s.alarms() if a.trigger == "open_final_acceptance").at
    do(s, "request_change", kind="implementation_period", description="延期三个月",
       extend_months=3)
    do(s, "city_approve_change")
    do(s, "province_approve_change")
    assert [b.version for b in s.data.baselines] == [2]
    after = next(a for a in s.alarms() if a.trigger == "open_final_acceptance").at
    assert after > before + timedelta(days=85)


def test_a_change_pending_when_acceptance_opens_can_still_be_decided() -> None:
    s = state("2026")
    to_implementation(s)
    do(s, "request_change", kind="other", description="调整示范产线")
    at = to_final_acceptance_from_implementation(s)
    do(s, "city_approve_change", at=at)
    do(s, "province_approve_change", at=at)
    assert s.data.changes[-1].status == "approved"


def to_final_acceptance_from_implementation(s: ProjectState) -> datetime:
    while s.stage is Stage.IMPLEMENTATION:
        alarm = s.next_alarm()
        assert alarm is not None
        s.fire_system(alarm.trigger, alarm.at, alarm.key)
    assert s.log[-1].at is not None
    return s.log[-1].at


# -- liveness --------------------------------------------------------------------------


def _payload(action: str) -> dict[str, object]:
    return dict(payload_example(action))


@pytest.mark.parametrize("preset", ["2024", "2026"])
def test_no_reachable_state_leaves_nobody_able_to_act(preset: str) -> None:
    """Random walks over the decision table: in every open state some role can decide or
    a timer is set; every walk that runs long enough reaches an end."""
    rng = random.Random(20261203)
    ended = 0
    for walk in range(150):
        s = state(preset)
        now = EARLY
        for _step in range(120):
            if s.ended:
                ended += 1
                break
            by_role = s.allowed_by_role(now)
            alarm = s.next_alarm()
            assert by_role or alarm is not None, (walk, s.stage, s.data)
            choices = [(r, a) for r, acts in by_role.items() for a in acts]
            if alarm is not None and (not choices or rng.random() < 0.25):
                now = max(now, alarm.at)
                s.fire_system(alarm.trigger, now, alarm.key)
                continue
            role, action = rng.choice(choices)
            kw = _payload(action)
            evidence = [SHA] if action in ("submit_archive", "submit_rectification") else []
            if action == "attach_document":
                kw["sha256"] = f"{rng.getrandbits(256):064x}"
            d = decision(action, Role(role), evidence=evidence, reason=f"随机：{action}", **kw)
            if s.assess(d, now) is not None:
                continue  # a check beyond the guards (a cap, an assignment): try another
            s.apply(d, now, publicity_end=now + timedelta(days=7))
            if s.stage is Stage.SUBMITTED:
                s.fire_system("admit", now)
    assert ended > 100


def test_every_decision_has_what_it_needs() -> None:
    for action, spec in DECISIONS.items():
        assert spec.moves and all(m.trigger is action for m in spec.moves)
        spec.payload.model_validate(dict(spec.example))
        assert spec.label_zh
        if spec.system:
            assert not spec.bulk and not spec.passive


def test_a_stage_waiting_on_the_province_reminds_it_once_and_shows_as_a_deadline() -> None:
    s = state("2026")
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    do(s, "concur", role=Role.CITY_FINANCE)
    s.fire_system("recommendation_closed", CLOSE)  # provincial review: only the province acts
    reminder = next(a for a in s.alarms() if a.trigger == "province_reminder")
    assert reminder.at == CLOSE + timedelta(days=30) and s.next_deadline() == reminder.at
    s.fire_system(reminder.trigger, reminder.at)
    assert [n.to_role for n in s.drain_outbox()] == [Role.PROVINCE]
    assert all(a.trigger != "province_reminder" for a in s.alarms())  # once per stage
    assert s.stage is Stage.PROVINCIAL_REVIEW


def test_a_revoked_carrier_project_leaves_the_reserve_pool_r14() -> None:
    s = ProjectState(project(batch("2026", CLOSE), task_code="T9"), EARLY, RULES_V2)
    to_implementation(s)
    assert s.data.reserve_pool
    do(s, "revoke", reason="弄虚作假")
    assert not s.data.reserve_pool


def test_an_expert_who_has_not_scored_by_the_review_deadline_is_reported() -> None:
    s = state("2026")
    to_city_review(s)
    do(s, "city_recommend", rank=1)
    do(s, "concur", role=Role.CITY_FINANCE)
    s.fire_system("recommendation_closed", CLOSE)
    do(s, "assign_experts", at=CLOSE, review_days=10,
       experts=[{"user_id": "expert-1"}, {"user_id": "expert-2"}])
    do(s, "score", at=CLOSE, score=80)
    overdue = next(a for a in s.alarms() if a.trigger == "expert_review_overdue")
    assert overdue.at == CLOSE + timedelta(days=10)
    s.fire_system(overdue.trigger, overdue.at)
    notes = s.drain_outbox()
    assert [n.kind for n in notes] == ["expert_review_overdue"]
    assert "expert-2" in notes[0].message_en and "expert-1" not in notes[0].message_en
    assert all(a.trigger != "expert_review_overdue" for a in s.alarms())
