"""What a project's workflow says about itself in the Temporal UI and `gongfu ops`: a
static summary fixed at start (title, city and county, batch) and current details
(the stage in Chinese, who it waits on, the next deadline in +08:00; an end said plainly).

Pure code (no I/O): the workflow sets the current details from its state on every
change (`workflow.set_current_details` is not a command, so histories replay unchanged)."""

from __future__ import annotations

from datetime import datetime

from domain.clock import iso_local
from domain.roles import Role
from domain.stages import Stage
from domain.views import EndInfo


def static_summary(title: str, city: str, county: str, batch: str) -> str:
    """One line: the project's name and place (Temporal shows it in lists and headers)."""
    return f"{title} · {city}{county} · {batch}"


def static_details(project_id: str, title: str, city: str, county: str, batch_name: str,
                   batch_id: str, task: str, applicant: str) -> str:
    return (f"**{title}**\n\n项目编号：{project_id}\n\n所在地：{city} {county}\n\n"
            f"批次：{batch_name}（{batch_id}）\n\n揭榜任务：{task}\n\n申报单位：{applicant}")


def current_details(stage: Stage, waiting_on: list[str], next_deadline: datetime | None,
                    end: EndInfo | None) -> str:
    if end is not None:
        return f"**已结束：{end.label_zh}**（{end.rule}，{iso_local(end.at)}）"
    waiting = "、".join(Role(r).label_zh for r in waiting_on) or "无"
    deadline = iso_local(next_deadline) if next_deadline else "无"
    return f"**阶段：{stage.label_zh}**\n\n等待：{waiting}\n\n下一截止：{deadline}"


def decision_summary(action_label: str, action: str, user: str, role: Role,
                     stage_before: Stage, stage_after: Stage, note: str = "") -> str:
    """A decision as the operator reads it: what, who, and what came of it."""
    moved = (f"{stage_before.label_zh} → {stage_after.label_zh}" if stage_after != stage_before
             else f"阶段不变（{stage_after.label_zh}）")
    return f"{action_label}（{action}）· {role.label_zh} {user} · {moved}" + (
        f" · {note}" if note else "")
