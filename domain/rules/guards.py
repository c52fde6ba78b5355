"""Guards: conditions a move needs besides its stage, each naming the rule that decides
it. A guard is an object with its check, so the lifecycle table refers to it directly
(a misspelt guard is an import error, not a KeyError at run time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain.actions import DeadlineKind
from domain.project_data import ProjectData

_PENDING_CHANGE = frozenset({"awaiting_city", "awaiting_province"})


@dataclass(frozen=True)
class Guard:
    name: str
    rule: str
    zh: str
    en: str
    check: Callable[[ProjectData, datetime], bool]

    def holds(self, data: ProjectData, now: datetime) -> bool:
        return self.check(data, now)


APPLICANT_CAN_RESUBMIT = Guard(
    "applicant_can_resubmit", "R9", "申报单位的提交截止时间已过，退回后无法重新提交",
    "the applicant's submission deadline has passed, so a returned application could not "
    "be resubmitted",
    # Rules 2 (E6): a return is possible until the system closes, and reopens the
    # applicant's window until then (ProjectData.deadline).
    lambda d, now: now < (d.close_at if d.rules >= 2 else d.deadline(DeadlineKind.APPLICANT)))
AWAITING_COSIGN = Guard(
    "awaiting_cosign", "LIFECYCLE", "当前没有待会签的决定",
    "there is no decision awaiting co-signature",
    lambda d, _now: d.pending_cosign is not None)
NO_COSIGN_PENDING = Guard(
    "no_cosign_pending", "LIFECYCLE", "已有决定在等待会签",
    "another decision is awaiting co-signature",
    lambda d, _now: d.pending_cosign is None)
EXPERTS_REVIEWED = Guard(
    "experts_reviewed", "R12", "须先完成专家评审（已分配专家且全部评分）",
    "expert review must come first: experts assigned and every one has scored",
    lambda d, _now: bool(d.experts) and all(s is not None for s in d.experts.values()))
OBJECTION_PENDING = Guard(
    "objection_pending", "R13", "当前没有待调查的异议", "no objection is under investigation",
    lambda d, _now: d.objection_pending())
NO_OBJECTION_PENDING = Guard(
    "no_objection_pending", "R13", "有异议尚在调查，公示不能结束",
    "an objection is still being investigated",
    lambda d, _now: not d.objection_pending())
HALFYEAR_NOT_PASSED = Guard(
    "halfyear_not_passed", "R16", "半年期验收已通过",
    "the half-year acceptance has already been passed",
    lambda d, _now: not d.halfyear_passed)
CHANGE_AWAITING_CITY = Guard(
    "change_awaiting_city", "R15", "没有待市级审核的重大变更",
    "no major change is waiting for the city",
    lambda d, _now: "awaiting_city" in d.change_statuses())
CHANGE_AWAITING_PROVINCE = Guard(
    "change_awaiting_province", "R15", "没有经市级同意、待省级审批的重大变更",
    "no major change approved by the city is waiting for the province",
    lambda d, _now: "awaiting_province" in d.change_statuses())
CHANGE_PENDING = Guard(
    "change_pending", "R15", "没有待审批的重大变更", "no major change is pending",
    lambda d, _now: bool(d.change_statuses() & _PENDING_CHANGE))
NO_CHANGE_PENDING = Guard(
    "no_change_pending", "R15", "已有重大变更在审批中",
    "a major change is already awaiting approval",
    lambda d, _now: not d.change_statuses() & _PENDING_CHANGE)
SUBSIDY_DECIDED = Guard(
    "subsidy_decided", "R17", "补助金额尚未核定", "the subsidy amount has not been decided yet",
    lambda d, _now: d.subsidy_amount_cny is not None)
SUBSIDY_NOT_DECIDED = Guard(
    "subsidy_not_decided", "R17", "补助金额已核定", "the subsidy amount has already been decided",
    lambda d, _now: d.subsidy_amount_cny is None and d.award is None)
EARLY_ACCEPTANCE_REQUESTED = Guard(
    "early_acceptance_requested", "R16", "没有待决定的提前验收申请",
    "no request for early acceptance is waiting",
    lambda d, _now: d.early_acceptance_requested)
NO_EARLY_ACCEPTANCE_REQUESTED = Guard(
    "no_early_acceptance_requested", "R16", "已申请提前验收，等待省级决定",
    "early acceptance has already been requested",
    lambda d, _now: not d.early_acceptance_requested)
_TERMINATION_PENDING = frozenset({"awaiting_city", "awaiting_province"})
NO_TERMINATION_PENDING = Guard(
    "no_termination_pending", "R21", "已有终止申请在审批中",
    "a request to terminate is already awaiting approval",
    lambda d, _now: d.termination is None or d.termination.status not in _TERMINATION_PENDING)
TERMINATION_AWAITING_CITY = Guard(
    "termination_awaiting_city", "R21", "没有待市级审核的终止申请",
    "no request to terminate is waiting for the city",
    lambda d, _now: d.termination is not None and d.termination.status == "awaiting_city")
TERMINATION_AWAITING_PROVINCE = Guard(
    "termination_awaiting_province", "R21", "没有经市级同意、待省级批准的终止申请",
    "no request to terminate approved by the city is waiting for the province",
    lambda d, _now: d.termination is not None and d.termination.status == "awaiting_province")
TERMINATION_PENDING = Guard(
    "termination_pending", "R21", "没有待审批的终止申请", "no request to terminate is pending",
    lambda d, _now: d.termination is not None and d.termination.status in _TERMINATION_PENDING)



def _county_step_closed(d: ProjectData, now: datetime) -> bool:
    """Rules 3: no county review for this application: its city takes applications
    directly, or the city's deadline for its counties has passed (a resubmission after it
    goes straight to the city; R9's first level is then the city)."""
    city = d.project.city_code
    if not d.batch.county_step(city):
        return True
    return city in d.batch.county_review_close and now >= d.county_review_close()


COUNTY_STEP_OPEN = Guard(
    "county_step_open", "R9", "本市不经县级审核，或县级审核推荐截止时间已过",
    "the city has no county step, or its deadline for county reviews has passed",
    lambda d, now: not _county_step_closed(d, now))
COUNTY_STEP_CLOSED = Guard(
    "county_step_closed", "R9", "本项目须先经县级审核",
    "the application passes a county review first",
    _county_step_closed)
MAY_APPLY_FOR_ACCEPTANCE = Guard(
    "may_apply_for_acceptance", "R16", "已申请或已参加半年期集中验收",
    "the half-year acceptance round has already been applied for or held",
    lambda d, _now: not d.acceptance_applied and not d.halfyear_held and not d.halfyear_passed)
ACCEPTANCE_APPLIED = Guard(
    "acceptance_applied", "R16", "揭榜单位未申请参加半年期集中验收",
    "the unit has not applied for the half-year acceptance round",
    lambda d, _now: d.acceptance_applied and not d.halfyear_held)

ALL_GUARDS: tuple[Guard, ...] = (
    APPLICANT_CAN_RESUBMIT, AWAITING_COSIGN, NO_COSIGN_PENDING, EXPERTS_REVIEWED,
    OBJECTION_PENDING, NO_OBJECTION_PENDING, HALFYEAR_NOT_PASSED, CHANGE_AWAITING_CITY,
    CHANGE_AWAITING_PROVINCE, CHANGE_PENDING, NO_CHANGE_PENDING, SUBSIDY_DECIDED,
    SUBSIDY_NOT_DECIDED, EARLY_ACCEPTANCE_REQUESTED, NO_EARLY_ACCEPTANCE_REQUESTED,
    NO_TERMINATION_PENDING, TERMINATION_AWAITING_CITY, TERMINATION_AWAITING_PROVINCE,
    TERMINATION_PENDING, COUNTY_STEP_OPEN, COUNTY_STEP_CLOSED, MAY_APPLY_FOR_ACCEPTANCE,
    ACCEPTANCE_APPLIED,
)
