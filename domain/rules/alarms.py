"""Alarms and deadlines: what the workflow must wake up for, given the project's data,
and every deadline the project has or had (shown to officials with their instants)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.actions import Action, DeadlineKind
from domain.clock import add_months
from domain.project_data import ProjectData
from domain.stages import Stage
from domain.views import DeadlineView


@dataclass(frozen=True, order=True)
class Alarm:
    """A moment the workflow must wake up at, and what it then does."""

    at: datetime
    trigger: str
    key: int = 0
    # A deadline (shown to operators as 'next deadline') rather than a reminder.
    is_deadline: bool = True


def alarms(data: ProjectData) -> list[Alarm]:
    out = _stage_alarms(data)
    reminder = province_reminder_at(data)
    if reminder is not None:
        out.append(Alarm(reminder, Action.PROVINCE_REMINDER))
    out.extend(_cosign_alarms(data))
    return out


def _cosign_alarms(data: ProjectData) -> list[Alarm]:
    """Rules 3: a decision pending co-signature reminds the co-signer, then is overdue."""
    pending = data.pending_cosign
    if data.rules < 3 or pending is None:
        return []
    out = []
    if pending.remind_at is not None and not pending.reminded:
        out.append(Alarm(pending.remind_at, Action.COSIGN_REMINDER, is_deadline=False))
    if pending.overdue_at is not None and not pending.overdue:
        out.append(Alarm(pending.overdue_at, Action.COSIGN_OVERDUE))
    return out


def province_reminder_at(data: ProjectData) -> datetime | None:
    """Rules 2: a stage where only the province can act gets one reminder after the
    batch's `province_reminder_days`; shown as the project's next deadline."""
    if (data.rules < 2 or not data.stage.waits_on_province or data.province_reminded
            or data.stage_since is None):
        return None
    return data.stage_since + timedelta(days=data.batch.province_reminder_days)


def _stage_alarms(data: ProjectData) -> list[Alarm]:
    s = data.stage
    if s is Stage.PROVINCIAL_REVIEW:
        return _review_alarms(data)
    if s.awaits_submission:
        return [Alarm(data.deadline(DeadlineKind.APPLICANT), Action.SUBMISSION_CLOSED)]
    if s.awaits_system_close:
        closes = [Alarm(data.close_at, Action.RECOMMENDATION_CLOSED)]
        county_close = data.county_review_close()
        if s is Stage.COUNTY_REVIEW and data.rules >= 3 and county_close < data.close_at:
            closes.append(Alarm(county_close, Action.COUNTY_REVIEW_CLOSED))
        return closes
    if s is Stage.PUBLICITY and data.publicity_end and not data.objection_pending():
        return [Alarm(data.publicity_end, Action.PUBLICITY_ENDED)]
    if s is Stage.IMPLEMENTATION:
        return _implementation_alarms(data)
    if s is Stage.RECTIFICATION and data.rectify_due is not None:
        return [Alarm(data.rectify_due, Action.RECTIFICATION_DUE)]
    if s is Stage.SUPERVISION and data.supervision_ends_at is not None:
        return [Alarm(data.supervision_ends_at, Action.SUPERVISION_ENDED)]
    return []


def next_alarm(data: ProjectData) -> Alarm | None:
    return min(alarms(data), default=None)


def next_deadline(data: ProjectData) -> datetime | None:
    return min((a.at for a in alarms(data) if a.is_deadline), default=None)


def final_opens(data: ProjectData) -> datetime:
    """When the one-year acceptance opens: moved by approved implementation-period
    changes, and no earlier than a 'not ready' finding allows (rules 2)."""
    assert data.implementation_started_at is not None
    opens = add_months(data.implementation_started_at,
                       data.batch.final_after_months + data.extension_months())
    if data.acceptance_deferred_to is not None:
        opens = max(opens, data.acceptance_deferred_to)
    return opens


def archive_dues(data: ProjectData) -> list[tuple[int, datetime]]:
    """The process archives due (R15): every interval from the start of implementation
    until the final acceptance opens."""
    if not data.preset.process_archives or data.implementation_started_at is None:
        return []
    step = timedelta(days=data.batch.archive_interval_days)
    final = final_opens(data)
    out, k = [], 1
    while (due := data.implementation_started_at + k * step) < final:
        out.append((k, due))
        k += 1
    return out


def deadline_views(data: ProjectData) -> list[DeadlineView]:
    out = [
        DeadlineView(kind="applicant_close", at=data.deadline(DeadlineKind.APPLICANT),
                     label_zh="申报单位提交截止", label_en="applicant submission close"),
        DeadlineView(kind="batch_close", at=data.close_at,
                     label_zh="系统关闭（推荐截止）", label_en="system closes (R10)"),
    ]
    county_close = data.county_review_close()
    if data.rules >= 3 and county_close < data.close_at:
        out.insert(1, DeadlineView(kind="county_review_close", at=county_close,
                                   label_zh="县级审核推荐至市截止",
                                   label_en="county reviews reach the city (the city's deadline)"))
    if data.pending_cosign is not None and data.pending_cosign.overdue_at is not None:
        out.append(DeadlineView(kind="cosign_overdue", at=data.pending_cosign.overdue_at,
                                label_zh=f"{data.pending_cosign.cosigner.label_zh}会签期限",
                                label_en="co-signature due"))
    if data.publicity_end:
        out.append(DeadlineView(kind="publicity_end", at=data.publicity_end,
                                label_zh="公示期满", label_en="publicity ends"))
    start = data.implementation_started_at
    if start:
        if data.preset.halfyear_acceptance:
            on_application = data.rules >= 3
            out.append(DeadlineView(
                kind="halfyear_acceptance_opens",
                at=add_months(start, data.batch.halfyear_after_months),
                label_zh="半年期（可申请参加集中验收）" if on_application else "半年期验收开始",
                label_en="half year (the round is on application)" if on_application
                else "half-year acceptance opens"))
        out.append(DeadlineView(
            kind="final_acceptance_opens", at=final_opens(data),
            label_zh="一年期验收开始", label_en="one-year acceptance opens"))
        for k, due in archive_dues(data):
            out.append(DeadlineView(kind=f"archive_{k}_due", at=due,
                                    label_zh=f"第{k}期过程档案提交截止",
                                    label_en=f"process archive {k} due"))
    return out


def _review_alarms(data: ProjectData) -> list[Alarm]:
    unscored = any(score is None for score in data.experts.values())
    if data.review_due is None or data.review_overdue_reported or not unscored:
        return []
    return [Alarm(data.review_due, Action.EXPERT_REVIEW_OVERDUE)]


def _implementation_alarms(data: ProjectData) -> list[Alarm]:
    start = data.implementation_started_at
    assert start is not None
    out = [Alarm(final_opens(data), Action.OPEN_FINAL_ACCEPTANCE)]
    # Rules 3: the half-year round opens on application (the province opens it), not by
    # a timer.
    if data.preset.halfyear_acceptance and not data.halfyear_passed and data.rules < 3 and not (
            data.rules >= 2 and data.halfyear_held):
        out.append(Alarm(add_months(start, data.batch.halfyear_after_months),
                         Action.OPEN_HALFYEAR_ACCEPTANCE))
    remind = timedelta(days=data.batch.archive_reminder_days)
    for k, due in archive_dues(data):
        if len(data.archives) >= k:
            continue
        if k not in data.archives_reminded:
            out.append(Alarm(due - remind, Action.ARCHIVE_REMINDER, k, is_deadline=False))
        if k not in data.archives_overdue:
            out.append(Alarm(due, Action.ARCHIVE_OVERDUE, k))
    return out
