"""ProjectWorkflow on a real Temporal dev server with server-side time skipping.

Each test moves its own workflow's clock with `fast_forward`; nothing is mocked.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import holidays
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.notify import MemorySink
from domain.batch import CalendarAdjustments
from domain.clock import SHANGHAI, add_months, at_local
from domain.decisions import DeadlineChange
from domain.roles import Role
from domain.stages import Stage
from services.projects import change_batch_deadline
from tests import support
from tests.driver import Drive, Harness, next_close


def _now() -> datetime:
    """A new workflow's virtual clock starts at the real time."""
    return datetime.now(SHANGHAI)


async def event_types(d: Drive) -> list[EventType.ValueType]:
    return [e.event_type async for e in d.handle.fetch_history_events()]


# -- happy paths ---------------------------------------------------------------------------


async def test_2026_lifecycle_to_subsidy_disbursed(ts: Harness,
                                                   sink: MemorySink) -> None:
    d = await ts.start("2026")
    first = await d.do("submit", evidence=[support.SHA])
    assert first.stage is Stage.COUNTY_REVIEW and first.stage_before is Stage.DRAFT
    assert first.allowed["county"] == ["county_approve", "county_return", "county_reject"]
    view = await d.to_implementation()
    assert view.implementation_started_at is not None
    await d.do("submit_archive", title="第一期过程档案", evidence=[support.SHA])
    start_impl = view.implementation_started_at
    await d.advance_to(add_months(start_impl, 12) + timedelta(minutes=1))
    view = await d.wait_stage(Stage.FINAL_ACCEPTANCE)
    assert view.archives_overdue == [2, 3, 4]  # one archive of four periods was filed
    await d.do("pass_acceptance", verified_investment_cny=2_600_000)
    out = await d.do("decide_subsidy", amount_cny=800_000)
    assert out.stage is Stage.SUBSIDY and out.allowed == {
        "province": ["retract", "terminate", "revoke"],
        "province_finance": ["concur", "dissent"]}
    await d.do("concur", Role.PROVINCE_FINANCE)
    done = await d.do("record_disbursement", amount_cny=800_000, reference="鲁财拨1号")
    assert done.stage is Stage.SUPERVISION  # R18: revocable for the batch's period (0 here)
    end = await d.result()
    assert (end.stage, end.rule) == (Stage.COMPLETED, "R18")
    log = await d.handle.query("decision_log")
    stages = [r["stage_after"] for r in log]
    assert stages[:4] == ["submitted", "county_review", "city_review", "city_review"]
    assert "provincial_review" in stages and "publicity" in stages
    for record in log:
        assert record["actor"]["user_id"] and record["at"]
    mine = [n for n in sink.sent if n.project_id == d.project.project_id]
    assert {n.kind for n in mine} == {"archive_reminder", "archive_overdue", "project_ended"}
    assert sum(n.kind == "archive_overdue" for n in mine) == 3
    events = await event_types(d)
    print(f"history: {len(events)} events, {len(log)} decision records")
    assert len(events) <= 300  # a year-long project stays far from history limits


async def test_2024_lifecycle_with_half_year_and_one_year_acceptance(
    ts: Harness,
) -> None:
    d = await ts.start("2024")
    out = await d.do("submit")
    assert out.stage is Stage.CITY_REVIEW  # 2024: no county level
    await d.do("city_recommend", rank=1)  # 2024: no finance co-signature
    assert await d.stage() is Stage.RECOMMENDED
    await d.advance_to(d.close_at + timedelta(minutes=1))
    await d.wait_stage(Stage.PROVINCIAL_REVIEW)
    await d.do("assign_experts", experts=[{"user_id": "expert-1"}])
    await d.do("score", score=91)
    assert (await d.do("select")).stage is Stage.SELECTED
    await d.do("open_publicity")
    publicity_end = (await d.view()).publicity_end
    assert publicity_end is not None
    await d.advance_to(publicity_end + timedelta(minutes=1))
    view = await d.wait_stage(Stage.IMPLEMENTATION)
    started = view.implementation_started_at
    assert started is not None
    # R16 (2024, rules 3): the half-year round is on the unit's application; the province
    # opens it for the projects that applied.
    await d.advance_to(add_months(started, 6) - timedelta(days=10))
    assert (await d.view()).stage is Stage.IMPLEMENTATION  # no timer opened it
    await d.do("apply_for_acceptance")
    out = await d.do("open_halfyear_round")
    assert out.stage is Stage.HALFYEAR_ACCEPTANCE
    # R16 (2024): passing the half-year round completes acceptance.
    passed = await d.do("pass_halfyear_acceptance", verified_investment_cny=1_500_000)
    assert passed.stage is Stage.SUBSIDY
    assert (await d.do("decide_subsidy", amount_cny=500_000)).stage is Stage.SUBSIDY
    await d.do("record_disbursement")
    assert (await d.result()).stage is Stage.COMPLETED


# -- every end -----------------------------------------------------------------------------


async def _withdrawn(d: Drive) -> None:
    await d.do("submit")
    await d.do("withdraw", reason="企业决定不再申报")


async def _expired(d: Drive) -> None:
    await d.advance_to(d.close_at + timedelta(minutes=1))


async def _returned_not_resubmitted(d: Drive) -> None:
    await d.do("submit")
    await d.do("county_return", reason="可行性报告缺少投资明细")
    await d.advance_to(d.close_at + timedelta(minutes=1))


async def _not_recommended_at_close(d: Drive) -> None:
    await d.do("submit")
    await d.advance_to(d.close_at + timedelta(minutes=1))


async def _county_rejects(d: Drive) -> None:
    await d.do("submit")
    await d.do("county_reject", reason="不符合产业政策")


async def _not_selected(d: Drive) -> None:
    await d.to_provincial_review()
    await d.do("assign_experts", experts=[{"user_id": "expert-1"}])
    await d.do("score", score=41)
    await d.do("not_select", reason="专家评分未达线")
    await d.do("concur", Role.PROVINCE_FINANCE)


async def _removed_in_publicity(d: Drive) -> None:
    await d.to_selected()
    await d.do("open_publicity")
    await d.do("raise_objection", reason="举报：示范场景不在省内")
    await d.do("uphold_objection", reason="经核实异议成立")


async def _failed_acceptance(d: Drive) -> None:
    await d.to_implementation()
    await d.do("request_early_acceptance")
    await d.do("accept_early_acceptance")
    await d.do("fail_acceptance", reason="专账投资未达申报额")


async def _revoked(d: Drive) -> None:
    await d.to_implementation()
    await d.do("revoke", reason="发现伪造证明材料（R18）")


ENDS = [
    (_withdrawn, Stage.WITHDRAWN, "WITHDRAWN"),
    (_expired, Stage.EXPIRED, "R10"),
    (_returned_not_resubmitted, Stage.RETURNED_NOT_RESUBMITTED, "R10"),
    (_not_recommended_at_close, Stage.NOT_RECOMMENDED, "R10"),
    (_county_rejects, Stage.NOT_RECOMMENDED, "DECISION"),
    (_not_selected, Stage.NOT_SELECTED, "R12"),
    (_removed_in_publicity, Stage.REMOVED_IN_PUBLICITY, "R13"),
    (_failed_acceptance, Stage.FAILED_ACCEPTANCE, "R16"),
    (_revoked, Stage.REVOKED, "R18"),
]


@pytest.mark.parametrize(("drive", "stage", "rule"), ENDS, ids=[s.value for _, s, _ in ENDS])
async def test_every_end_says_which_rule_or_decision_caused_it(
    ts: Harness, drive, stage: Stage, rule: str
) -> None:
    d = await ts.start("2026")
    await drive(d)
    end = await d.result()
    assert (end.stage, end.rule) == (stage, rule)
    assert end.label_zh == stage.label_zh
    refusal = await d.refused("revoke", reason="迟到的决定")
    assert refusal.rule in ("LIFECYCLE", "R10")


# -- process -------------------------------------------------------------------------------


async def test_return_and_resubmit_starts_again_at_the_first_level(
    ts: Harness,
) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    assert (await d.do("county_return", reason="补充证明材料")).stage is Stage.RETURNED
    await d.do("edit_application", evidence=[support.SHA])
    assert (await d.do("resubmit")).stage is Stage.COUNTY_REVIEW
    await d.do("county_approve")
    assert (await d.do("city_return", reason="投资额与合同不符")).stage is Stage.RETURNED
    assert (await d.do("resubmit")).stage is Stage.COUNTY_REVIEW  # R9: first level again
    log = await d.handle.query("decision_log")
    assert [r["action"] for r in log] == [
        "submit", "admit", "county_return", "edit_application", "resubmit", "admit",
        "county_approve", "city_return", "resubmit", "admit",
    ]


async def test_return_at_1659_works_and_resubmit_at_1701_is_refused_r10(
    ts: Harness,
) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    await d.advance_to(d.close_at - timedelta(minutes=1))
    assert (await d.do("county_return", reason="请补充")).stage is Stage.RETURNED
    await d.advance(timedelta(minutes=2))
    refusal = await d.refused("resubmit")
    assert refusal.rule == "R10" and "17:00" in refusal.message_zh
    end = await d.result()
    assert (end.stage, end.rule) == (Stage.RETURNED_NOT_RESUBMITTED, "R10")


async def test_recommendation_one_minute_after_the_close_is_refused_r10(
    ts: Harness,
) -> None:
    d = await ts.start("2026")
    await d.to_city_review()
    await d.advance_to(d.close_at + timedelta(minutes=1))
    refusal = await d.refused("city_recommend", rank=1)
    assert refusal.rule == "R10" and refusal.kind == "deadline"
    assert (await d.result()).stage is Stage.NOT_RECOMMENDED


async def test_a_refused_decision_leaves_no_trace_in_the_history(
    ts: Harness,
) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    before = await event_types(d)
    refusal = await d.refused("city_recommend", rank=1)
    assert refusal.rule == "LIFECYCLE" and refusal.allowed == []
    assert (await d.refused("county_approve", Role.CITY)).rule == "ROLE"
    assert await event_types(d) == before
    assert len(await d.handle.query("decision_log")) == 2


async def test_province_extension_moves_the_live_timer_of_every_open_project(
    ts: Harness,
) -> None:
    now = _now()
    b = support.batch("2026", next_close(now))
    a = await ts.start(batch=b)
    c = await ts.start(batch=b)
    await a.do("submit")
    new_close = b.close_at + timedelta(days=2)
    change = DeadlineChange(request_id="ext-1", actor=support.ACTORS[Role.PROVINCE],
                            scope="batch", new_deadline=new_close, reason="系统故障，延期两天")
    sent = 0
    for _ in range(50):  # visibility is eventually consistent
        sent = await change_batch_deadline(ts.env.client, b.batch_id, change)
        if sent == 2:
            break
    assert sent == 2
    for d in (a, c):
        await d.advance_to(b.close_at + timedelta(hours=1))
    assert await a.stage() is Stage.COUNTY_REVIEW  # the old 17:00 no longer closes it
    assert await c.stage() is Stage.DRAFT
    assert (await c.do("submit")).stage is Stage.COUNTY_REVIEW
    assert EventType.EVENT_TYPE_TIMER_CANCELED in await event_types(a)
    await a.advance_to(new_close + timedelta(minutes=1))
    end = await a.result()
    assert (end.stage, end.rule) == (Stage.NOT_RECOMMENDED, "R10")


def _quiet_week_after(day: date) -> date:
    """A Monday after `day` with no public holiday in the 12 days from it."""
    monday = day + timedelta(days=(7 - day.weekday()) % 7 or 7)
    while any(monday + timedelta(days=i) in holidays.China(years=[monday.year, monday.year + 1])
              for i in range(12)):
        monday += timedelta(days=7)
    return monday


async def test_publicity_spans_a_holiday_and_an_adjusted_working_weekend(
    ts: Harness,
) -> None:
    """Five working days from Monday M, with a (noticed) holiday Wed-Fri and Saturday M+5
    an adjusted working day: M, M+1, M+5, M+7, M+8 -> the period ends at 24:00 of M+8.

    The dates lie in the server's future, past what the package's official schedule
    knows, so the holiday comes in as the province's CalendarAdjustments (the product's
    way to enter a State Council notice the package lacks). The package-only calendar
    is tested on the real 2026 Spring Festival and National Day in test_calendar.py."""
    now = _now()
    close = next_close(now)
    monday = _quiet_week_after(close.date() + timedelta(days=1))
    adj = CalendarAdjustments(
        holidays=[monday + timedelta(days=i) for i in (2, 3, 4)],
        workdays=[monday + timedelta(days=5)],
    )
    d = await ts.start(batch=support.batch("2026", close, calendar=adj))
    await d.to_selected()
    await d.advance_to(at_local(monday, 10))
    await d.do("open_publicity")
    view = await d.view()
    expected_end = at_local(monday + timedelta(days=9))
    assert view.publicity_end == expected_end
    await d.advance_to(expected_end - timedelta(minutes=1))
    assert await d.stage() is Stage.PUBLICITY
    await d.advance(timedelta(minutes=2))
    await d.wait_stage(Stage.IMPLEMENTATION)


async def test_objection_dismissed_after_the_period_lets_the_project_proceed(
    ts: Harness,
) -> None:
    d = await ts.start("2026")
    await d.to_selected()
    await d.do("open_publicity")
    await d.do("raise_objection", reason="匿名举报：投资额虚高")
    end = (await d.view()).publicity_end
    assert end is not None
    await d.advance_to(end + timedelta(days=1))
    view = await d.view()
    assert view.stage is Stage.PUBLICITY and view.waiting_on == ["province"]
    assert (await d.refused("open_publicity")).rule == "LIFECYCLE"
    await d.do("dismiss_objection", reason="经核查投资额属实")
    view = await d.wait_stage(Stage.IMPLEMENTATION)
    assert [o.status for o in view.objections] == ["dismissed"]


async def test_early_acceptance_on_request_2026(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.to_implementation()
    out = await d.do("request_early_acceptance", reason="项目已具备验收条件")
    assert out.stage is Stage.IMPLEMENTATION and "province" in out.allowed  # a request (R16)
    declined = await d.do("decline_early_acceptance", reason="示范场景尚未投用")
    assert declined.stage is Stage.IMPLEMENTATION
    await d.do("request_early_acceptance", reason="已投用")
    assert (await d.do("accept_early_acceptance")).stage is Stage.FINAL_ACCEPTANCE
    assert (await d.view()).early_acceptance
    assert (await d.do("pass_acceptance", verified_investment_cny=1_200_000)).stage is Stage.SUBSIDY


async def test_early_acceptance_is_not_in_the_2024_preset(ts: Harness) -> None:
    d = await ts.start("2024")
    await d.to_implementation()
    refusal = await d.refused("request_early_acceptance")
    assert refusal.rule == "LIFECYCLE" and "2024" in refusal.message_zh


async def test_duplicate_request_id_has_one_effect_and_returns_the_first_answer(
    ts: Harness,
) -> None:
    d = await ts.start("2026")
    submit = d.decision("submit", request_id="dup-1")
    first = await d.send(submit)
    await d.do("county_approve")  # the stage moves on
    again = await d.send(submit)
    assert again == first and again.stage is Stage.COUNTY_REVIEW
    log = await d.handle.query("decision_log")
    assert [r["request_id"] for r in log].count("dup-1") == 1
    accepted = [e for e in await event_types(d)
                if e == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
    assert len(accepted) == 2  # submit once, county_approve once
    refusal = await d.refused("withdraw", request_id="dup-1")
    assert refusal.rule == "IDEMPOTENCY"


async def test_queries_show_deadlines_and_allowed_decisions(ts: Harness) -> None:
    d = await ts.start("2026")
    view = await d.view()
    kinds = {dl.kind: dl.at for dl in view.deadlines}
    assert kinds["batch_close"] == d.close_at and kinds["applicant_close"] == d.close_at
    assert view.next_deadline == d.close_at
    assert view.allowed == {"applicant": ["edit_application", "attach_document", "submit",
                                          "withdraw"],
                            "province": ["revoke"]}
    assert await d.handle.query("allowed", "county") == []


async def test_java_time_skipping_server_expires_an_unsubmitted_draft(
    java_env: WorkflowEnvironment, db: sessionmaker[Session],
) -> None:
    """The same workflow on the Java test server: timers only, skipped automatically."""
    from worker import build_worker

    b = support.batch("2024", next_close(datetime.now(SHANGHAI), days=30))
    async with build_worker(java_env.client, "java-projects", db=db):
        d = await Drive.start(java_env, b, "java-projects", db)
        end = await d.result()
    assert (end.stage, end.rule) == (Stage.EXPIRED, "R10")
    assert end.at >= b.close_at

