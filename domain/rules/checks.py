"""Content checks: what a decision's own data must satisfy (beyond its payload schema
and reason, which the gate checks for every decision), per rule. The lifecycle table
names each decision's checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import payloads as p
from domain.decisions import Decision
from domain.project_data import ProjectData
from domain.refusals import INPUT, Refusal, RefusalKind, refusal

Check = Callable[[ProjectData, Decision, Any], Refusal | None]


def input_refusal(zh: str, en: str) -> Refusal:
    return refusal(INPUT, RefusalKind.INPUT, zh, en)


def document_is_new_and_in_time(data: ProjectData, _d: Decision,
                                doc: p.AttachDocument) -> Refusal | None:
    if any(x.sha256 == doc.sha256 and x.kind == doc.kind for x in data.content.documents):
        return input_refusal("该文件已上传", "this document is already attached")
    if doc.kind in p.APPLICATION_DOCUMENT_KINDS and not data.stage.awaits_submission:
        return refusal(
            "R11", RefusalKind.RULE,
            "申报材料只能在草稿或退回修改阶段上传（市级推荐后不能更改）",
            "application documents can only change in draft or returned "
            "(frozen from the city's recommendation on)")
    return None


def archive_has_documents(_data: ProjectData, d: Decision, _payload: Any) -> Refusal | None:
    if not d.evidence:
        return input_refusal("过程档案须附文件（sha256）", "a process archive needs its documents")
    return None


def experts_without_conflict(data: ProjectData, _d: Decision,
                             payload: p.AssignExperts) -> Refusal | None:
    units = data.project.unit_codes()
    for e in payload.experts:
        if units & set(e.declared_conflicts):
            return refusal(
                "R12", RefusalKind.RULE,
                f"专家 {e.user_id} 申报了与本项目单位的利益关联，不能分配",
                f"expert {e.user_id} declared a tie to a unit of this project",
            )
    return None


def expert_assigned_once(data: ProjectData, d: Decision, _payload: Any) -> Refusal | None:
    uid = d.actor.user_id
    if uid not in data.experts:
        return refusal("R12", RefusalKind.JURISDICTION, "您未被分配评审此项目",
                       "you are not assigned to review this project")
    if data.experts[uid] is not None:
        return refusal("R12", RefusalKind.RULE, "您已对此项目评分",
                       "you have already scored this project")
    return None


def subsidy_on_merit(data: ProjectData, _d: Decision, payload: p.Subsidy) -> Refusal | None:
    """R17 (rules 2): at most 1,000,000 CNY per scene, and never above the investment the
    acceptance verified (奖补 follows verified investment; an award above it is refused,
    not merely explained)."""
    return award_refusal(payload, rules=data.rules,
                         verified_investment_cny=data.verified_investment_cny)


def award_refusal(payload: p.Subsidy, *, rules: int,
                  verified_investment_cny: float | None) -> Refusal | None:
    """R17's amount rule, owned here: the decision's check above and the province's
    merit list (domain.award_list) both ask it. Rules 1: at most 1,000,000 CNY."""
    if rules < 2:
        if payload.amount_cny > p.MAX_SUBSIDY_CNY:
            return refusal(
                "R17", RefusalKind.RULE,
                f"单个场景补助不超过{p.MAX_SUBSIDY_CNY:,}元",
                f"the subsidy is at most {p.MAX_SUBSIDY_CNY:,} CNY per scene",
            )
        return None
    cap = p.MAX_SUBSIDY_CNY * payload.scenes
    if payload.amount_cny > cap:
        return refusal(
            "R17", RefusalKind.RULE,
            f"每个场景补助不超过{p.MAX_SUBSIDY_CNY:,}元（{payload.scenes}个场景，上限{cap:,}元）",
            f"the subsidy is at most {p.MAX_SUBSIDY_CNY:,} CNY per scene "
            f"({payload.scenes} scenes: {cap:,} CNY)")
    verified = verified_investment_cny
    if verified is not None and payload.amount_cny > verified:
        return refusal(
            "R17", RefusalKind.RULE,
            f"补助金额不得超过验收核定的实际投资（{verified:,.0f}元）",
            f"the award may not exceed the investment verified at acceptance "
            f"({verified:,.0f} CNY)")
    return None


def _at_own_level(status: str | None, role_value: str, what_zh: str,
                  what_en: str) -> Refusal | None:
    level = {"awaiting_city": "city", "awaiting_province": "province"}.get(status or "")
    if level is None or level == role_value:
        return None
    holder_zh = "市级" if level == "city" else "省级"
    return refusal("R15" if what_en == "change" else "R21", RefusalKind.RULE,
                   f"该{what_zh}正待{holder_zh}审核，只能由{holder_zh}作出决定",
                   f"the {what_en} is waiting for the {level}; only the {level} decides it now")


def change_at_own_level(data: ProjectData, d: Decision, _payload: Any) -> Refusal | None:
    """E8 (rules 2): the city rejects only what waits for the city, the province only what
    the city has approved."""
    if data.rules < 2:
        return None
    pending = next((c for c in reversed(data.changes)
                    if c.status in ("awaiting_city", "awaiting_province")), None)
    return _at_own_level(pending.status if pending else None, d.actor.role.value,
                         "重大变更", "change")


def termination_at_own_level(data: ProjectData, d: Decision, _payload: Any) -> Refusal | None:
    status = data.termination.status if data.termination else None
    return _at_own_level(status, d.actor.role.value, "终止申请", "request to terminate")


def own_pending_decision(data: ProjectData, d: Decision, _payload: Any) -> Refusal | None:
    pending = data.pending_cosign
    if pending is not None and pending.decided_by.role is not d.actor.role:
        return refusal("LIFECYCLE", RefusalKind.ROLE, "只能撤回本级作出的待会签决定",
                       "only the level that made a pending decision can withdraw it")
    return None


def rectification_has_documents(_data: ProjectData, d: Decision,
                                _payload: Any) -> Refusal | None:
    if not d.evidence:
        return input_refusal("整改报告须附文件（sha256）",
                             "a rectification report needs its documents")
    return None


def expert_is_assigned(data: ProjectData, _d: Decision, payload: p.RemoveExpert) -> Refusal | None:
    if payload.user_id not in data.experts:
        return input_refusal(f"专家 {payload.user_id} 未被分配评审此项目",
                             f"expert {payload.user_id} is not assigned to this project")
    return None
