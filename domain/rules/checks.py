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


def subsidy_within_cap(_data: ProjectData, _d: Decision, payload: p.Subsidy) -> Refusal | None:
    if payload.amount_cny > p.MAX_SUBSIDY_CNY:
        return refusal(
            "R17", RefusalKind.RULE,
            f"单个场景补助不超过{p.MAX_SUBSIDY_CNY:,}元",
            f"the subsidy is at most {p.MAX_SUBSIDY_CNY:,} CNY per scene",
        )
    return None
