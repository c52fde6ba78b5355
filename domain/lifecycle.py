"""The lifecycle table: every decision of the programme and every legal move, once.

`DECISIONS` is the single definition. Each entry is one decision (an `Action`) with
everything it needs: its payload model, whether it needs a reason, whether it only
waits (passive: a project is not "waiting on" a role for it), whether it may be bulk,
an example, its effect, its content checks, and its moves. A move names the stages it
may start from, where it leads (`None`: recorded, stage unchanged), who may make it,
which preset flag switches it on, which deadline closes it, the guards that must hold
(objects with their check), the co-signer, and the rule it enforces. Adding a decision
is one `Action` member and one entry here (plus its tests).

The rules are checked by `domain.project.ProjectState` with the clock passed in; the
`transitions` machine is built once per preset from the same table (`Lifecycle.machine`):
`docs/lifecycle.md` is drawn from it and a test checks that it agrees with the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from pydantic import BaseModel
from transitions import Machine

from domain import payloads as p
from domain.actions import CURRENT_RULES, RULES_V1, RULES_V2, RULES_V3, Action, DeadlineKind
from domain.presets import Preset
from domain.roles import Role
from domain.rules import checks as c
from domain.rules import effects as e
from domain.rules import guards as g
from domain.rules.checks import Check
from domain.rules.effects import Effect
from domain.rules.guards import Guard
from domain.stages import OPEN_STAGES, Stage

__all__ = ["DECISIONS", "MOVES", "Action", "DeadlineKind", "DecisionSpec", "Lifecycle", "Move"]


@dataclass(frozen=True)
class Move:
    sources: tuple[Stage, ...]
    dest: Stage | None
    roles: frozenset[Role]
    label_zh: str
    rule: str
    # Preset flag that switches the move on; '!flag' switches it on when the flag is off.
    preset: str | None = None
    deadline: DeadlineKind | None = None
    guards: tuple[Guard, ...] = ()
    # The co-signer whose concurrence makes the decision final, when `cosign_flag` is on.
    cosigner: Role | None = None
    cosign_flag: str | None = None
    # The rules versions the move belongs to (domain.actions: RULES_V1 .. CURRENT_RULES):
    # a move changed by issue 16 keeps its old form for projects started before it.
    since: int = RULES_V1
    until: int | None = None
    # Filled in from the decision the move belongs to.
    trigger: Action = Action.SUBMIT

    def applies_to(self, preset: Preset, rules: int = CURRENT_RULES) -> bool:
        if rules < self.since or (self.until is not None and rules > self.until):
            return False
        if self.preset is None:
            return True
        if self.preset.startswith("!"):
            return not preset.flag(self.preset[1:])
        return preset.flag(self.preset)

    def needs_cosign(self, preset: Preset) -> bool:
        return self.cosigner is not None and self.cosign_flag is not None and preset.flag(
            self.cosign_flag
        )


@dataclass(frozen=True)
class DecisionSpec:
    action: Action
    moves: tuple[Move, ...]
    payload: type[BaseModel] = p.Empty
    reason_required: bool = False
    # A decision that is always open to its role but never what the project waits for
    # (withdraw, revoke, objections, uploads): it does not make the role "waiting on".
    passive: bool = False
    # Offered as a bulk decision over many projects (/decisions/{action}/bulk).
    bulk: bool = False
    example: Mapping[str, Any] = field(default_factory=dict)
    effect: Effect | None = None
    checks: tuple[Check, ...] = ()

    @property
    def label_zh(self) -> str:
        return self.moves[0].label_zh

    @property
    def system(self) -> bool:
        """Made by the system when a timer fires or a submission arrives, never by a person."""
        return all(m.roles == _SYSTEM for m in self.moves)


S = Stage
R = Role
_APPLICANT = frozenset({R.APPLICANT})
_COUNTY = frozenset({R.COUNTY})
_CITY = frozenset({R.CITY})
_PROVINCE = frozenset({R.PROVINCE})
_SYSTEM = frozenset({R.SYSTEM})
_CITY_FINANCE = frozenset({R.CITY_FINANCE})
_PROVINCE_FINANCE = frozenset({R.PROVINCE_FINANCE})
_APPLICANT_CLOSE = DeadlineKind.APPLICANT
_BATCH_CLOSE = DeadlineKind.BATCH
_COUNTY_CLOSE = DeadlineKind.COUNTY_REVIEW
V2 = RULES_V2
V3 = RULES_V3
# R21: stages from which a selected or recommended project can be ended without fraud.
_TERMINABLE = (S.RECOMMENDED, S.PROVINCIAL_REVIEW, S.SELECTED, S.PUBLICITY, S.IMPLEMENTATION,
               S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE, S.RECTIFICATION)
# R15: a change can be decided while acceptance has not ended (none is stranded).
_CHANGE_DECIDED_IN = (S.IMPLEMENTATION, S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE,
                      S.RECTIFICATION)
_REVOCABLE = tuple(s for s in OPEN_STAGES if s not in (S.SUPERVISION, S.CLAWBACK))


def _cosign_timer_moves(label_zh: str) -> tuple[Move, Move]:
    """Rules 3: where a decision waits for a finance bureau (R8 city, R12/R17 province)."""
    return (Move((S.CITY_REVIEW,), None, _SYSTEM, label_zh, "R8", preset="city_finance_cosign",
                 guards=(g.AWAITING_COSIGN,), since=V3),
            Move((S.PROVINCIAL_REVIEW, S.SUBSIDY), None, _SYSTEM, label_zh, "R17",
                 preset="province_finance_cosign", guards=(g.AWAITING_COSIGN,), since=V3))


def _decision(action: Action, *moves: Move, **spec: Any) -> DecisionSpec:
    return DecisionSpec(action=action, moves=tuple(replace(m, trigger=action) for m in moves),
                        **spec)


_TABLE: tuple[DecisionSpec, ...] = (
    # -- application (applicant) ---------------------------------------------------------
    _decision(Action.EDIT_APPLICATION,
              Move((S.DRAFT, S.RETURNED), None, _APPLICANT, "修改申报材料", "R11",
                   deadline=_APPLICANT_CLOSE),
              payload=p.EditApplication, passive=True, effect=e.edit_application,
              example={"title": "汽车零部件5G全连接工厂（修改）",
                       "application": {"declared_investment_cny": 3_500_000}}),
    # Documents: the application's while it may change (R11); during implementation and
    # acceptance, process archives and acceptance materials (the check looks at the kind).
    _decision(Action.ATTACH_DOCUMENT,
              Move((S.DRAFT, S.RETURNED), None, _APPLICANT, "上传申报材料", "R11",
                   deadline=_APPLICANT_CLOSE),
              Move((S.IMPLEMENTATION, S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE), None,
                   _APPLICANT, "上传过程及验收材料", "R15", until=RULES_V1),
              Move((S.IMPLEMENTATION, S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE,
                    S.RECTIFICATION), None, _APPLICANT, "上传过程、验收及整改材料", "R15",
                   since=V2),
              payload=p.AttachDocument, passive=True, effect=e.attach_document,
              checks=(c.document_is_new_and_in_time,),
              example={"sha256": "a" * 64, "kind": "feasibility_report",
                       "media_type": "application/pdf", "size": 1024,
                       "filename": "可行性研究报告.pdf"}),
    _decision(Action.SUBMIT,
              Move((S.DRAFT,), S.SUBMITTED, _APPLICANT, "提交申报", "R10",
                   deadline=_APPLICANT_CLOSE)),
    _decision(Action.RESUBMIT,
              Move((S.RETURNED,), S.SUBMITTED, _APPLICANT, "修改后重新提交", "R9",
                   deadline=_APPLICANT_CLOSE)),
    _decision(Action.WITHDRAW,
              Move((S.DRAFT, S.RETURNED, S.COUNTY_REVIEW, S.CITY_REVIEW), S.WITHDRAWN,
                   _APPLICANT, "撤回申报", "WITHDRAWN"),
              passive=True),
    # The system admits a submission to its first review level (R9: after a return,
    # review starts again at the first level).
    _decision(Action.ADMIT,
              Move((S.SUBMITTED,), S.COUNTY_REVIEW, _SYSTEM, "进入县级审核", "R9",
                   preset="county_review", until=V2),
              Move((S.SUBMITTED,), S.COUNTY_REVIEW, _SYSTEM, "进入县级审核", "R9",
                   preset="county_review", guards=(g.COUNTY_STEP_OPEN,), since=V3),
              Move((S.SUBMITTED,), S.CITY_REVIEW, _SYSTEM, "进入市级审核", "R9",
                   preset="!county_review")),
    # Rules 3 (2026): a city that takes applications directly, or whose deadline for its
    # counties has passed, reviews the application first.
    _decision(Action.ADMIT_TO_CITY,
              Move((S.SUBMITTED,), S.CITY_REVIEW, _SYSTEM, "直接进入市级审核", "R9",
                   preset="county_review", guards=(g.COUNTY_STEP_CLOSED,), since=V3)),
    # -- county review (2026) ------------------------------------------------------------
    # Rules 3: the county's decisions close at its city's deadline for county reviews
    # (县级审核推荐至市), the batch close when the city set none.
    _decision(Action.COUNTY_APPROVE,
              Move((S.COUNTY_REVIEW,), S.CITY_REVIEW, _COUNTY, "县级审核通过，推荐至市", "R10",
                   preset="county_review", deadline=_BATCH_CLOSE, until=V2),
              Move((S.COUNTY_REVIEW,), S.CITY_REVIEW, _COUNTY, "县级审核通过，推荐至市", "R10",
                   preset="county_review", deadline=_COUNTY_CLOSE, since=V3),
              bulk=True),
    _decision(Action.COUNTY_RETURN,
              Move((S.COUNTY_REVIEW,), S.RETURNED, _COUNTY, "县级退回修改", "R9",
                   preset="county_review", deadline=_BATCH_CLOSE,
                   guards=(g.APPLICANT_CAN_RESUBMIT,), until=V2),
              Move((S.COUNTY_REVIEW,), S.RETURNED, _COUNTY, "县级退回修改", "R9",
                   preset="county_review", deadline=_COUNTY_CLOSE,
                   guards=(g.APPLICANT_CAN_RESUBMIT,), since=V3),
              reason_required=True, bulk=True),
    _decision(Action.COUNTY_REJECT,
              Move((S.COUNTY_REVIEW,), S.NOT_RECOMMENDED, _COUNTY, "县级审核不通过", "DECISION",
                   preset="county_review", deadline=_BATCH_CLOSE, until=V2),
              Move((S.COUNTY_REVIEW,), S.NOT_RECOMMENDED, _COUNTY, "县级审核不通过", "DECISION",
                   preset="county_review", deadline=_COUNTY_CLOSE, since=V3),
              reason_required=True, bulk=True),
    _decision(Action.COUNTY_REVIEW_CLOSED,
              Move((S.COUNTY_REVIEW,), S.NOT_RECOMMENDED, _SYSTEM,
                   "县级审核推荐截止时未推荐至市", "R10", preset="county_review", since=V3)),
    # -- city review and recommendation --------------------------------------------------
    _decision(Action.CITY_RECOMMEND,
              Move((S.CITY_REVIEW,), S.RECOMMENDED, _CITY, "市级推荐至省", "R8",
                   deadline=_BATCH_CLOSE, guards=(g.NO_COSIGN_PENDING,),
                   cosigner=R.CITY_FINANCE, cosign_flag="city_finance_cosign"),
              payload=p.Recommend, effect=e.recommend, example={"rank": 1}),
    _decision(Action.CITY_RETURN,
              Move((S.CITY_REVIEW,), S.RETURNED, _CITY, "市级退回修改", "R9",
                   deadline=_BATCH_CLOSE, guards=(g.APPLICANT_CAN_RESUBMIT,)),
              reason_required=True, bulk=True),
    _decision(Action.CITY_REJECT,
              Move((S.CITY_REVIEW,), S.NOT_RECOMMENDED, _CITY, "市级不予推荐", "DECISION",
                   deadline=_BATCH_CLOSE),
              reason_required=True, bulk=True),
    # -- co-signature by the finance departments (2026) ----------------------------------
    _decision(Action.CONCUR,
              Move((S.CITY_REVIEW,), None, _CITY_FINANCE, "财政部门会签同意", "LIFECYCLE",
                   preset="city_finance_cosign", deadline=_BATCH_CLOSE,
                   guards=(g.AWAITING_COSIGN,)),
              Move((S.PROVINCIAL_REVIEW, S.SUBSIDY), None, _PROVINCE_FINANCE,
                   "财政部门会签同意", "LIFECYCLE", preset="province_finance_cosign",
                   guards=(g.AWAITING_COSIGN,)),
              bulk=True),
    _decision(Action.DISSENT,
              Move((S.CITY_REVIEW,), None, _CITY_FINANCE, "财政部门不同意", "LIFECYCLE",
                   preset="city_finance_cosign", deadline=_BATCH_CLOSE,
                   guards=(g.AWAITING_COSIGN,)),
              Move((S.PROVINCIAL_REVIEW, S.SUBSIDY), None, _PROVINCE_FINANCE,
                   "财政部门不同意", "LIFECYCLE", preset="province_finance_cosign",
                   guards=(g.AWAITING_COSIGN,)),
              reason_required=True),
    _decision(Action.RETRACT,
              Move((S.CITY_REVIEW,), None, _CITY, "撤回待会签的推荐", "R8",
                   preset="city_finance_cosign", deadline=_BATCH_CLOSE,
                   guards=(g.AWAITING_COSIGN,), since=V2),
              Move((S.PROVINCIAL_REVIEW, S.SUBSIDY), None, _PROVINCE, "撤回待会签的决定", "R12",
                   preset="province_finance_cosign", guards=(g.AWAITING_COSIGN,), since=V2),
              reason_required=True, checks=(c.own_pending_decision,)),
    # Rules 3: a pending co-signature reminds the co-signer after some working days and
    # shows as overdue in the operator views after more (batch data).
    _decision(Action.COSIGN_REMINDER,
              *_cosign_timer_moves("提醒财政部门会签"), effect=e.cosign_reminder),
    _decision(Action.COSIGN_OVERDUE,
              *_cosign_timer_moves("会签逾期"), effect=e.cosign_overdue),
    # -- the system closes (R10) ---------------------------------------------------------
    _decision(Action.SUBMISSION_CLOSED,
              Move((S.DRAFT,), S.EXPIRED, _SYSTEM, "截止时未提交", "R10"),
              Move((S.RETURNED,), S.RETURNED_NOT_RESUBMITTED, _SYSTEM, "截止时退回未重新提交",
                   "R10")),
    _decision(Action.RECOMMENDATION_CLOSED,
              Move((S.SUBMITTED, S.COUNTY_REVIEW, S.CITY_REVIEW), S.NOT_RECOMMENDED, _SYSTEM,
                   "截止时未获推荐", "R10"),
              Move((S.RECOMMENDED,), S.PROVINCIAL_REVIEW, _SYSTEM, "系统关闭，进入省级评审",
                   "R10")),
    # -- provincial review (R12) ---------------------------------------------------------
    _decision(Action.ASSIGN_EXPERTS,
              Move((S.PROVINCIAL_REVIEW,), None, _PROVINCE, "分配评审专家", "R12"),
              payload=p.AssignExperts, effect=e.assign_experts,
              checks=(c.experts_without_conflict,),
              example={"experts": [{"user_id": "expert-1", "declared_conflicts": []}]}),
    _decision(Action.SCORE,
              Move((S.PROVINCIAL_REVIEW,), None, frozenset({R.EXPERT}), "专家评分", "R12"),
              payload=p.Score, effect=e.score, checks=(c.expert_assigned_once,),
              example={"score": 86.5, "method": "online_defence"}),
    _decision(Action.SELECT,
              Move((S.PROVINCIAL_REVIEW,), S.SELECTED, _PROVINCE, "确定入围", "R12",
                   guards=(g.EXPERTS_REVIEWED, g.NO_COSIGN_PENDING),
                   cosigner=R.PROVINCE_FINANCE, cosign_flag="province_finance_cosign"),
              bulk=True),
    _decision(Action.NOT_SELECT,
              Move((S.PROVINCIAL_REVIEW,), S.NOT_SELECTED, _PROVINCE, "不予入围", "R12",
                   guards=(g.EXPERTS_REVIEWED, g.NO_COSIGN_PENDING),
                   cosigner=R.PROVINCE_FINANCE, cosign_flag="province_finance_cosign"),
              reason_required=True, bulk=True),
    _decision(Action.REMOVE_EXPERT,
              Move((S.PROVINCIAL_REVIEW,), None, _PROVINCE,
                   "撤换评审专家（回避、因病、未按时评审）", "R12", since=V2),
              payload=p.RemoveExpert, reason_required=True, effect=e.remove_expert,
              checks=(c.expert_is_assigned,),
              example={"user_id": "expert-1", "why": "recusal"}),
    _decision(Action.EXPERT_REVIEW_OVERDUE,
              Move((S.PROVINCIAL_REVIEW,), None, _SYSTEM, "评审期限已过，报告未评分专家", "R12",
                   since=V2),
              effect=e.expert_review_overdue),
    _decision(Action.RECORD_FINDING,
              Move((S.PROVINCIAL_REVIEW, S.IMPLEMENTATION, S.HALFYEAR_ACCEPTANCE,
                    S.FINAL_ACCEPTANCE, S.RECTIFICATION, S.SUPERVISION), None, _PROVINCE,
                   "记录实地核查或第三方专业机构意见", "R12", since=V2),
              payload=p.Finding, passive=True, effect=e.record_finding,
              example={"source": "site_check", "summary": "现场核查设备已到位"}),
    _decision(Action.DECLARE_INELIGIBLE,
              Move((S.PROVINCIAL_REVIEW,), S.NOT_SELECTED, _PROVINCE,
                   "认定不符合申报条件，不予入围", "R12", since=V2),
              payload=p.DeclareIneligible, reason_required=True, example={"rule": "R6"}),
    # -- publicity (R13) -----------------------------------------------------------------
    _decision(Action.OPEN_PUBLICITY,
              Move((S.SELECTED,), S.PUBLICITY, _PROVINCE, "开始公示", "R13"),
              payload=p.OpenPublicity, effect=e.open_publicity, example={"working_days": 5}),
    _decision(Action.RAISE_OBJECTION,
              Move((S.PUBLICITY,), None, _PROVINCE, "登记公示异议", "R13"),
              reason_required=True, passive=True, effect=e.raise_objection),
    _decision(Action.UPHOLD_OBJECTION,
              Move((S.PUBLICITY,), S.REMOVED_IN_PUBLICITY, _PROVINCE, "异议成立，取消入围",
                   "R13", guards=(g.OBJECTION_PENDING,)),
              reason_required=True, effect=e.uphold_objection),
    _decision(Action.DISMISS_OBJECTION,
              Move((S.PUBLICITY,), None, _PROVINCE, "异议不成立", "R13",
                   guards=(g.OBJECTION_PENDING,)),
              reason_required=True, effect=e.dismiss_objection),
    _decision(Action.PUBLICITY_ENDED,
              Move((S.PUBLICITY,), S.IMPLEMENTATION, _SYSTEM, "公示期满无异议，公布并实施", "R13",
                   guards=(g.NO_OBJECTION_PENDING,)),
              effect=e.start_implementation),
    # -- implementation (R15) ------------------------------------------------------------
    _decision(Action.SUBMIT_ARCHIVE,
              Move((S.IMPLEMENTATION,), None, _APPLICANT, "提交过程档案", "R15",
                   preset="process_archives"),
              payload=p.Archive, passive=True, effect=e.submit_archive,
              checks=(c.archive_has_documents,), example={"title": "第一季度实施进展"}),
    _decision(Action.REQUEST_CHANGE,
              Move((S.IMPLEMENTATION,), None, _APPLICANT, "申请重大变更", "R15",
                   guards=(g.NO_CHANGE_PENDING,)),
              payload=p.RequestChange, passive=True, effect=e.request_change,
              example={"kind": "investment_amount", "description": "设备采购调整"}),
    _decision(Action.CITY_APPROVE_CHANGE,
              Move((S.IMPLEMENTATION,), None, _CITY, "市级同意变更", "R15",
                   guards=(g.CHANGE_AWAITING_CITY,), until=RULES_V1),
              Move(_CHANGE_DECIDED_IN, None, _CITY, "市级同意变更", "R15",
                   guards=(g.CHANGE_AWAITING_CITY,), since=V2),
              effect=e.city_approve_change),
    _decision(Action.PROVINCE_APPROVE_CHANGE,
              Move((S.IMPLEMENTATION,), None, _PROVINCE, "省级批准变更", "R15",
                   guards=(g.CHANGE_AWAITING_PROVINCE,), until=RULES_V1),
              Move(_CHANGE_DECIDED_IN, None, _PROVINCE, "省级批准变更（形成新的基线版本）", "R15",
                   guards=(g.CHANGE_AWAITING_PROVINCE,), since=V2),
              effect=e.province_approve_change),
    _decision(Action.REJECT_CHANGE,
              Move((S.IMPLEMENTATION,), None, frozenset({R.CITY, R.PROVINCE}), "不同意变更",
                   "R15", guards=(g.CHANGE_PENDING,), until=RULES_V1),
              Move(_CHANGE_DECIDED_IN, None, frozenset({R.CITY, R.PROVINCE}), "不同意变更",
                   "R15", guards=(g.CHANGE_PENDING,), since=V2),
              reason_required=True, effect=e.reject_change, checks=(c.change_at_own_level,)),
    _decision(Action.ARCHIVE_REMINDER,
              Move((S.IMPLEMENTATION,), None, _SYSTEM, "过程档案提交提醒", "R15",
                   preset="process_archives"),
              effect=e.archive_reminder),
    _decision(Action.ARCHIVE_OVERDUE,
              Move((S.IMPLEMENTATION,), None, _SYSTEM, "过程档案逾期", "R15",
                   preset="process_archives"),
              effect=e.archive_overdue),
    # -- acceptance (R16) ----------------------------------------------------------------
    _decision(Action.OPEN_HALFYEAR_ACCEPTANCE,
              Move((S.IMPLEMENTATION,), S.HALFYEAR_ACCEPTANCE, _SYSTEM, "半年期验收开始", "R16",
                   preset="halfyear_acceptance", guards=(g.HALFYEAR_NOT_PASSED,), until=V2),
              effect=e.halfyear_opened),
    # 2024, rules 3: "根据项目实施实际情况和揭榜单位申请，于半年期和1年期末进行两次集中验收
    # 评估": the unit applies, and the province opens the half-year round for those that
    # did. The one-year round still opens for every project at its end (timer).
    _decision(Action.APPLY_FOR_ACCEPTANCE,
              Move((S.IMPLEMENTATION,), None, _APPLICANT, "申请参加半年期集中验收", "R16",
                   preset="halfyear_acceptance", guards=(g.MAY_APPLY_FOR_ACCEPTANCE,),
                   since=V3),
              passive=True, effect=e.apply_for_acceptance),
    _decision(Action.OPEN_HALFYEAR_ROUND,
              Move((S.IMPLEMENTATION,), S.HALFYEAR_ACCEPTANCE, _PROVINCE,
                   "组织半年期集中验收（已申请的项目）", "R16", preset="halfyear_acceptance",
                   guards=(g.ACCEPTANCE_APPLIED,), since=V3),
              bulk=True, effect=e.halfyear_opened),
    _decision(Action.PASS_HALFYEAR_ACCEPTANCE,
              Move((S.HALFYEAR_ACCEPTANCE,), S.IMPLEMENTATION, _PROVINCE, "半年期验收通过", "R16",
                   preset="halfyear_acceptance", until=RULES_V1),
              # 2024: passing the half-year round completes the project's acceptance.
              Move((S.HALFYEAR_ACCEPTANCE,), S.SUBSIDY, _PROVINCE, "半年期验收通过（验收完成）",
                   "R16", preset="halfyear_acceptance", since=V2),
              payload=p.HalfyearAcceptance, effect=e.pass_halfyear,
              example={"verified_investment_cny": 2_600_000}),
    _decision(Action.OPEN_FINAL_ACCEPTANCE,
              Move((S.IMPLEMENTATION,), S.FINAL_ACCEPTANCE, _SYSTEM, "一年期验收开始", "R16")),
    _decision(Action.REQUEST_EARLY_ACCEPTANCE,
              Move((S.IMPLEMENTATION,), S.FINAL_ACCEPTANCE, _APPLICANT, "申请提前验收", "R16",
                   preset="early_acceptance", guards=(g.NO_CHANGE_PENDING,), until=RULES_V1),
              # 2026: earlier on request when ready; the province accepts or declines.
              Move((S.IMPLEMENTATION,), None, _APPLICANT, "申请提前验收", "R16",
                   preset="early_acceptance",
                   guards=(g.NO_CHANGE_PENDING, g.NO_EARLY_ACCEPTANCE_REQUESTED), since=V2),
              passive=True, effect=e.early_acceptance),
    _decision(Action.ACCEPT_EARLY_ACCEPTANCE,
              Move((S.IMPLEMENTATION,), S.FINAL_ACCEPTANCE, _PROVINCE, "同意提前验收", "R16",
                   preset="early_acceptance", guards=(g.EARLY_ACCEPTANCE_REQUESTED,), since=V2),
              effect=e.accept_early_acceptance),
    _decision(Action.DECLINE_EARLY_ACCEPTANCE,
              Move((S.IMPLEMENTATION,), None, _PROVINCE, "不同意提前验收", "R16",
                   preset="early_acceptance", guards=(g.EARLY_ACCEPTANCE_REQUESTED,), since=V2),
              reason_required=True, effect=e.decline_early_acceptance),
    _decision(Action.PASS_ACCEPTANCE,
              Move((S.FINAL_ACCEPTANCE,), S.SUBSIDY, _PROVINCE, "验收通过", "R16"),
              payload=p.Acceptance, effect=e.pass_acceptance,
              example={"verified_investment_cny": 2_600_000}),
    _decision(Action.RECTIFY,
              Move((S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE), S.RECTIFICATION, _PROVINCE,
                   "限期整改", "R16", since=V2),
              payload=p.Rectify, reason_required=True, effect=e.rectify, example={"days": 60}),
    _decision(Action.SUBMIT_RECTIFICATION,
              Move((S.RECTIFICATION,), S.FINAL_ACCEPTANCE, _APPLICANT, "提交整改报告，重新验收",
                   "R16", since=V2),
              effect=e.rectification_over, checks=(c.rectification_has_documents,)),
    _decision(Action.RECTIFICATION_DUE,
              Move((S.RECTIFICATION,), S.FINAL_ACCEPTANCE, _SYSTEM, "整改期满，重新验收", "R16",
                   since=V2),
              effect=e.rectification_over),
    _decision(Action.NOT_READY,
              Move((S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE), S.IMPLEMENTATION, _PROVINCE,
                   "尚不具备验收条件，继续实施", "R16", since=V2),
              payload=p.NotReady, reason_required=True, effect=e.not_ready,
              example={"months": 3}),
    _decision(Action.FAIL_ACCEPTANCE,
              Move((S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE), S.FAILED_ACCEPTANCE, _PROVINCE,
                   "验收不通过", "R16"),
              reason_required=True),
    # -- subsidy (R17) -------------------------------------------------------------------
    _decision(Action.DECIDE_SUBSIDY,
              Move((S.SUBSIDY,), None, _PROVINCE, "核定补助金额", "R17",
                   guards=(g.SUBSIDY_NOT_DECIDED, g.NO_COSIGN_PENDING),
                   cosigner=R.PROVINCE_FINANCE, cosign_flag="province_finance_cosign"),
              payload=p.Subsidy, effect=e.decide_subsidy, checks=(c.subsidy_on_merit,),
              example={"amount_cny": 800_000, "scenes": 1}),
    _decision(Action.DECIDE_NO_AWARD,
              Move((S.SUBSIDY,), S.SUPERVISION, _PROVINCE, "择优不予奖补", "R17",
                   guards=(g.SUBSIDY_NOT_DECIDED, g.NO_COSIGN_PENDING),
                   cosigner=R.PROVINCE_FINANCE, cosign_flag="province_finance_cosign",
                   since=V2),
              reason_required=True, effect=e.decide_no_award),
    _decision(Action.RECORD_DISBURSEMENT,
              Move((S.SUBSIDY,), S.COMPLETED, _PROVINCE, "补助已拨付", "R17",
                   guards=(g.SUBSIDY_DECIDED,), until=RULES_V1),
              # A completed project stays open to supervision (R18) for the batch's period.
              Move((S.SUBSIDY,), S.SUPERVISION, _PROVINCE, "补助已拨付，进入监管期", "R17",
                   guards=(g.SUBSIDY_DECIDED,), since=V2),
              payload=p.Disbursement, effect=e.record_disbursement, bulk=True,
              example={"amount_cny": 800_000, "reference": "鲁财拨〔2027〕12号"}),
    _decision(Action.PROVINCE_REMINDER,
              Move((S.PROVINCIAL_REVIEW, S.SELECTED, S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE,
                    S.SUBSIDY, S.CLAWBACK), None, _SYSTEM, "提醒省级及时决定", "LIFECYCLE",
                   since=V2),
              effect=e.province_reminder),
    _decision(Action.SUPERVISION_ENDED,
              Move((S.SUPERVISION,), S.COMPLETED, _SYSTEM, "监管期满，项目完成", "R18", since=V2)),
    # -- ending without fraud (R21) ------------------------------------------------------
    _decision(Action.REQUEST_TERMINATION,
              Move(_TERMINABLE, None, _APPLICANT, "申请主动终止", "R21",
                   guards=(g.NO_TERMINATION_PENDING,), since=V2),
              reason_required=True, passive=True, effect=e.request_termination),
    _decision(Action.ENDORSE_TERMINATION,
              Move(_TERMINABLE, None, _CITY, "市级同意终止", "R21",
                   guards=(g.TERMINATION_AWAITING_CITY,), since=V2),
              effect=e.endorse_termination),
    _decision(Action.APPROVE_TERMINATION,
              Move(_TERMINABLE, S.TERMINATED, _PROVINCE, "省级批准主动终止", "R21",
                   guards=(g.TERMINATION_AWAITING_PROVINCE,), since=V2),
              effect=e.approve_termination),
    _decision(Action.REJECT_TERMINATION,
              Move(_TERMINABLE, None, frozenset({R.CITY, R.PROVINCE}), "不同意终止", "R21",
                   guards=(g.TERMINATION_PENDING,), since=V2),
              reason_required=True, effect=e.reject_termination,
              checks=(c.termination_at_own_level,)),
    _decision(Action.TERMINATE,
              Move((*_TERMINABLE, S.SUBSIDY), S.TERMINATED, _PROVINCE,
                   "未按要求实施，终止项目", "R21", since=V2),
              reason_required=True, passive=True),
    # -- revocation at any stage (R18), and clawback after completion -------------------
    _decision(Action.REVOKE,
              Move(_REVOCABLE, S.REVOKED, _PROVINCE, "撤销（弄虚作假等）", "R18"),
              Move((S.SUPERVISION,), S.CLAWBACK, _PROVINCE, "监管期内撤销，追回补助", "R18",
                   since=V2),
              payload=p.Revoke, reason_required=True, passive=True, effect=e.revoke,
              example={"grounds": "fraud", "decision_ref": "鲁工信〔2027〕1号",
                       "penalties": []}),
    _decision(Action.RECORD_REPAYMENT,
              Move((S.CLAWBACK,), None, frozenset({R.PROVINCE, R.PROVINCE_FINANCE}),
                   "登记退回补助", "R18", since=V2),
              payload=p.Repayment, effect=e.record_repayment, example={"amount_cny": 800_000}),
    _decision(Action.SETTLE_CLAWBACK,
              Move((S.CLAWBACK,), S.REVOKED, _PROVINCE, "补助追回完毕", "R18", since=V2),
              effect=e.settle_clawback),
    _decision(Action.REFER_CLAWBACK,
              Move((S.CLAWBACK,), S.REVOKED, _PROVINCE, "逾期未退回，移送有关部门处理", "R18",
                   since=V2),
              reason_required=True, effect=e.refer_clawback),
)

DECISIONS: Mapping[Action, DecisionSpec] = {spec.action: spec for spec in _TABLE}
MOVES: tuple[Move, ...] = tuple(m for spec in _TABLE for m in spec.moves)
TRIGGERS: tuple[str, ...] = tuple(a.value for a in DECISIONS)
# Decisions the system makes on its own when a timer fires; people never send these.
SYSTEM_TRIGGERS = frozenset(a.value for a, spec in DECISIONS.items() if spec.system)
BULK_ACTIONS: tuple[Action, ...] = tuple(a for a, spec in DECISIONS.items() if spec.bulk)
ACTION_LABELS_ZH: dict[str, str] = {a.value: spec.label_zh for a, spec in DECISIONS.items()}


def roles_of(action: str) -> frozenset[Role]:
    """Who may make the decision in any preset and rules version (a project checks its
    own)."""
    return frozenset(r for m in MOVES if m.trigger == action for r in m.roles)


def spec_of(action: str) -> DecisionSpec | None:
    """The decision's entry, or None for a name that is no decision."""
    try:
        return DECISIONS[Action(action)]
    except ValueError:
        return None


def payload_example(action: str) -> dict[str, Any]:
    """An example payload for docs and the demo."""
    spec = spec_of(action)
    return dict(spec.example) if spec is not None else {}


class Lifecycle:
    """The moves of one preset, indexed for the questions the workflow asks."""

    def __init__(self, preset: Preset, rules: int = CURRENT_RULES) -> None:
        self.preset = preset
        self.rules = rules
        applicable = [m for m in MOVES if m.applies_to(preset, rules)]
        # A stage the preset switches off (no county review in 2024, no half-year
        # acceptance in 2026) is unreachable; moves out of it are dropped too, so each
        # preset's machine holds exactly its own moves.
        reachable = _reachable(applicable)
        kept = []
        for move in applicable:
            sources = tuple(s for s in move.sources if s in reachable)
            if sources:
                kept.append(replace(move, sources=sources))
        self.moves: tuple[Move, ...] = tuple(kept)
        self._by_trigger_and_stage: dict[tuple[str, Stage], Move] = {}
        for move in self.moves:
            for source in move.sources:
                if (move.trigger, source) in self._by_trigger_and_stage:
                    raise ValueError(f"two moves for {move.trigger} from {source}")
                self._by_trigger_and_stage[move.trigger, source] = move
        # Asked for every role on every change (allowed decisions, waiting-on): indexed.
        self._from: dict[Stage, tuple[Move, ...]] = {
            stage: tuple(m for m in self.moves if stage in m.sources) for stage in Stage}

    @cached_property
    def machine(self) -> Machine:
        """The preset's state machine, built once per process (`lifecycle_for` keeps one
        Lifecycle per preset): for drawing and for the test that checks it against the
        table. Projects do not each build one; they are data (`ProjectData`)."""
        return build_machine(self)

    def move(self, trigger: str, stage: Stage) -> Move | None:
        return self._by_trigger_and_stage.get((trigger, stage))

    def moves_from(self, stage: Stage) -> tuple[Move, ...]:
        return self._from[stage]

    def knows(self, trigger: str) -> bool:
        return any(m.trigger == trigger for m in self.moves)

    def roles_for(self, trigger: str) -> frozenset[Role]:
        return frozenset(r for m in self.moves if m.trigger == trigger for r in m.roles)

    def deadline_of(self, trigger: str) -> DeadlineKind | None:
        """The deadline that closes this decision, whatever stage it is tried in."""
        kinds = {m.deadline for m in self.moves if m.trigger == trigger and m.deadline}
        return next(iter(kinds)) if len(kinds) == 1 else None


_LIFECYCLES: dict[tuple[str, int], Lifecycle] = {}


def lifecycle_for(preset: Preset, rules: int = CURRENT_RULES) -> Lifecycle:
    """One Lifecycle per preset and rules version for the life of the process (presets
    are immutable)."""
    key = (preset.name.value, rules)
    if key not in _LIFECYCLES:
        _LIFECYCLES[key] = Lifecycle(preset, rules)
    return _LIFECYCLES[key]


def machine_transitions(
    lifecycle: Lifecycle, guard: Callable[[Guard], object] = lambda g: g.name
) -> list[dict[str, object]]:
    """The moves as `transitions` configuration; `guard` maps a guard to what the machine
    should hold for it (its name, for drawing)."""
    return [
        {
            "trigger": move.trigger.value,
            "source": [s.value for s in move.sources],
            "dest": move.dest.value if move.dest else None,
            "conditions": [guard(g) for g in move.guards],
        }
        for move in lifecycle.moves
    ]


def build_machine(
    lifecycle: Lifecycle,
    model: object | None = None,
    initial: Stage = Stage.DRAFT,
    guard: Callable[[Guard], object] | None = None,
) -> Machine:
    """A `transitions` machine of the preset's moves. With no model, the machine only
    describes (the shared `Lifecycle.machine`); tests give a model to fire it."""
    return Machine(
        model=model,
        states=[s.value for s in stages_of(lifecycle)],
        transitions=machine_transitions(lifecycle, _conditions(model, guard)),
        initial=initial.value,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )


def _conditions(model: object | None,
                guard: Callable[[Guard], object] | None) -> Callable[[Guard], object]:
    if guard is not None:
        return guard
    if model is None:
        return lambda g: g.name
    return lambda _g: (lambda: True)


def _reachable(moves: list[Move]) -> set[Stage]:
    seen = {Stage.DRAFT}
    frontier: list[Stage] = [Stage.DRAFT]
    while frontier:
        stage = frontier.pop()
        for move in moves:
            if stage in move.sources and move.dest and move.dest not in seen:
                seen.add(move.dest)
                frontier.append(move.dest)
    return seen


def stages_of(lifecycle: Lifecycle) -> list[Stage]:
    """The stages a project of this preset can be in, in lifecycle order."""
    used = {s for m in lifecycle.moves for s in m.sources} | {
        m.dest for m in lifecycle.moves if m.dest
    }
    return [s for s in Stage if s in used]
