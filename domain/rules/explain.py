"""The refusals that explain why a decision cannot be made now: wrong stage, past a
deadline, an ended project, outside one's jurisdiction, a reused request id. Each names
its rule and says it in Chinese and in English."""

from __future__ import annotations

from domain.actions import Action, DeadlineKind
from domain.clock import iso_local
from domain.project_data import ProjectData
from domain.refusals import (
    IDEMPOTENCY,
    INPUT,
    JURISDICTION,
    LIFECYCLE,
    ROLE,
    Refusal,
    RefusalKind,
    refusal,
)
from domain.roles import Role
from domain.stages import Stage

_CONTENT = (Action.EDIT_APPLICATION, Action.ATTACH_DOCUMENT)


def reused_request(request_id: str, first_action: str) -> Refusal:
    return refusal(
        IDEMPOTENCY, RefusalKind.IDEMPOTENCY,
        f"请求编号 {request_id} 已用于另一项决定（{first_action}）",
        f"request id {request_id} was already used for a different decision ({first_action})",
    )


def unknown_action(action: str, allowed: list[str]) -> Refusal:
    return refusal(INPUT, RefusalKind.INPUT, f"未知的决定类型：{action}",
                   f"unknown action: {action}", allowed)


def system_only() -> Refusal:
    return refusal(ROLE, RefusalKind.ROLE, "该事项由系统按时限自动执行，不能人工提交",
                   "this step is taken by the system when its time comes, not by a person")


def not_in_preset(data: ProjectData, action: str) -> Refusal:
    name = data.preset.name
    return refusal(LIFECYCLE, RefusalKind.STAGE, f"本批次（{name}年政策）没有此环节：{action}",
                   f"the {name} preset of this batch has no step {action}")


def wrong_role(role: Role, action: str) -> Refusal:
    return refusal(ROLE, RefusalKind.ROLE, f"{role.label_zh}无权作出此决定（{action}）",
                   f"the role {role.value} may not make the decision {action}")


def outside_jurisdiction() -> Refusal:
    return refusal(JURISDICTION, RefusalKind.JURISDICTION, "该项目不在您的管辖或单位范围内",
                   "this project is outside your region or unit")


def role_not_in_stage(data: ProjectData, role: Role, action: str,
                      allowed: list[str]) -> Refusal:
    """The role makes this decision, only not in this stage (the city finance bureau
    co-signs in city review, not in provincial review)."""
    return refusal(
        LIFECYCLE, RefusalKind.STAGE,
        f"在“{data.stage.label_zh}”阶段，{role.label_zh}不能作出此决定",
        f"in stage {data.stage.value} the role {role.value} may not {action}", allowed)


def ended(data: ProjectData) -> Refusal:
    end = data.end
    assert end is not None
    if end.rule == "R10":
        kind = (DeadlineKind.BATCH if end.action == Action.RECOMMENDATION_CLOSED
                else DeadlineKind.APPLICANT)
        return deadline_passed(data, kind, ended=end.stage)
    return refusal(
        LIFECYCLE, RefusalKind.STAGE, f"项目已结束（{end.label_zh}），不能再作决定",
        f"the project has ended ({end.stage.value}); no further decisions",
    )


def deadline_passed(data: ProjectData, kind: DeadlineKind,
                    ended: Stage | None = None) -> Refusal:
    at = iso_local(data.deadline(kind))
    what_zh, what_en = _CLOSING[kind]
    tail_zh = f"，项目已结束（{ended.label_zh}）" if ended else ""
    return refusal(
        "R10", RefusalKind.DEADLINE, f"{what_zh}已于{at}截止关闭{tail_zh}",
        f"the {what_en} closed at {at}"
        + (f"; the project has ended ({ended.value})" if ended else ""),
    )


_CLOSING = {
    DeadlineKind.APPLICANT: ("申报提交", "submission"),
    DeadlineKind.BATCH: ("申报系统", "system"),
    DeadlineKind.COUNTY_REVIEW: ("县级审核推荐（市级设定的期限）",
                                 "county review (the city's deadline)"),
}


def wrong_stage(data: ProjectData, action: str, allowed: list[str]) -> Refusal:
    if action in _CONTENT and data.stage.is_frozen:
        return refusal(
            "R11", RefusalKind.RULE, "项目已由市级推荐至省，申报材料不能再更改",
            "the city has recommended the project to the province; "
            "the application can no longer be changed",
        )
    return refusal(
        LIFECYCLE, RefusalKind.STAGE,
        f"当前阶段“{data.stage.label_zh}”不允许此决定（{action}）",
        f"the current stage {data.stage.value} does not allow {action}", allowed)
