"""What each decision changes besides the stage. The lifecycle table names a decision's
effect; a decision without one changes only the stage (and its record)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain import payloads as p
from domain.clock import iso_local
from domain.decisions import Decision
from domain.project_data import ProjectData
from domain.roles import Role
from domain.rules.alarms import archive_dues
from domain.views import ArchiveEntry, ChangeRequest, DocumentRef, Notification, Objection


@dataclass(frozen=True)
class Happening:
    """When a decision took effect, and what the workflow looked up for it (the
    publicity period comes from the calendar activity)."""

    now: datetime
    publicity_end: datetime | None = None


Effect = Callable[[ProjectData, Decision, Happening], None]


def edit_application(data: ProjectData, d: Decision, _h: Happening) -> None:
    edit = p.EditApplication.model_validate(d.payload)
    if edit.title is not None:
        data.content.title = edit.title
    if edit.application is not None:
        data.content.application = edit.application


def attach_document(data: ProjectData, d: Decision, _h: Happening) -> None:
    doc = p.AttachDocument.model_validate(d.payload)
    data.content.documents.append(DocumentRef(seq=data.next_seq, **doc.model_dump()))


def recommend(data: ProjectData, d: Decision, _h: Happening) -> None:
    data.rank = p.Recommend.model_validate(d.payload).rank


def assign_experts(data: ProjectData, d: Decision, _h: Happening) -> None:
    for e in p.AssignExperts.model_validate(d.payload).experts:
        data.experts.setdefault(e.user_id, None)


def score(data: ProjectData, d: Decision, _h: Happening) -> None:
    data.experts[d.actor.user_id] = p.Score.model_validate(d.payload).score


def open_publicity(data: ProjectData, _d: Decision, h: Happening) -> None:
    if h.publicity_end is None:
        raise ValueError("open_publicity needs the publicity end from the calendar")
    data.publicity_opened_at, data.publicity_end = h.now, h.publicity_end


def raise_objection(data: ProjectData, d: Decision, h: Happening) -> None:
    data.objections.append(Objection(seq=data.next_seq, at=h.now, reason=d.reason))


def _rule_on_objection(status: str) -> Effect:
    def rule(data: ProjectData, _d: Decision, _h: Happening) -> None:
        pending = next(o for o in data.objections if o.status == "pending")
        pending.status = status
        pending.ruling_seq = data.next_seq
    return rule


uphold_objection = _rule_on_objection("upheld")
dismiss_objection = _rule_on_objection("dismissed")


def start_implementation(data: ProjectData, _d: Decision, h: Happening) -> None:
    data.implementation_started_at = h.now
    data.reserve_pool = data.project.task_code in data.batch.carrier_tasks  # R14


def submit_archive(data: ProjectData, d: Decision, h: Happening) -> None:
    title = p.Archive.model_validate(d.payload).title
    data.archives.append(ArchiveEntry(seq=data.next_seq, at=h.now, title=title,
                                      evidence=d.evidence))


def request_change(data: ProjectData, d: Decision, _h: Happening) -> None:
    req = p.RequestChange.model_validate(d.payload)
    data.changes.append(ChangeRequest(seq=data.next_seq, kind=req.kind,
                                      description=req.description))


def _pending_change(data: ProjectData, *statuses: str) -> ChangeRequest:
    return next(c for c in reversed(data.changes) if c.status in statuses)


def city_approve_change(data: ProjectData, _d: Decision, _h: Happening) -> None:
    _pending_change(data, "awaiting_city").status = "awaiting_province"


def province_approve_change(data: ProjectData, _d: Decision, _h: Happening) -> None:
    _pending_change(data, "awaiting_province").status = "approved"


def reject_change(data: ProjectData, d: Decision, _h: Happening) -> None:
    change = _pending_change(data, "awaiting_city", "awaiting_province")
    change.status = f"rejected_by_{d.actor.role.value}"


def pass_halfyear(data: ProjectData, _d: Decision, _h: Happening) -> None:
    data.halfyear_passed = True


def early_acceptance(data: ProjectData, _d: Decision, _h: Happening) -> None:
    data.early_acceptance = True


def pass_acceptance(data: ProjectData, d: Decision, _h: Happening) -> None:
    data.verified_investment_cny = p.Acceptance.model_validate(d.payload).verified_investment_cny


def decide_subsidy(data: ProjectData, d: Decision, _h: Happening) -> None:
    data.subsidy_amount_cny = p.Subsidy.model_validate(d.payload).amount_cny


def record_disbursement(data: ProjectData, _d: Decision, h: Happening) -> None:
    data.disbursed_at = h.now


def revoke(data: ProjectData, _d: Decision, _h: Happening) -> None:
    data.subsidy_to_reclaim = data.subsidy_amount_cny is not None  # R18


def archive_reminder(data: ProjectData, d: Decision, _h: Happening) -> None:
    k = int(d.payload["key"])
    due = iso_local(dict(archive_dues(data))[k])
    data.archives_reminded.add(k)
    _tell_applicant(data, "archive_reminder", f"第{k}期过程档案将于{due}截止，请按时提交",
                    f"process archive {k} is due at {due}")


def archive_overdue(data: ProjectData, d: Decision, _h: Happening) -> None:
    k = int(d.payload["key"])
    due = iso_local(dict(archive_dues(data))[k])
    data.archives_overdue.add(k)
    _tell_applicant(data, "archive_overdue", f"第{k}期过程档案已逾期（截止{due}）",
                    f"process archive {k} is overdue (due {due})")


def _tell_applicant(data: ProjectData, kind: str, zh: str, en: str) -> None:
    data.outbox.append(Notification(
        project_id=data.project.project_id, to_role=Role.APPLICANT,
        to_unit=data.project.applicant_unit, kind=kind, message_zh=zh, message_en=en))
