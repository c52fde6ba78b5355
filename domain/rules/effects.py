"""What each decision changes besides the stage. The lifecycle table names a decision's
effect; a decision without one changes only the stage (and its record)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import payloads as p
from domain.clock import add_months, iso_local
from domain.decisions import Decision
from domain.project_data import ProjectData
from domain.roles import Role
from domain.rules.alarms import archive_dues
from domain.stages import Stage
from domain.views import (
    ArchiveEntry,
    Award,
    Baseline,
    ChangeRequest,
    ClawbackState,
    DisbursementEntry,
    DocumentRef,
    FindingEntry,
    Notification,
    Objection,
    TerminationRequest,
    VoidedScore,
)


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


def assign_experts(data: ProjectData, d: Decision, h: Happening) -> None:
    assignment = p.AssignExperts.model_validate(d.payload)
    for e in assignment.experts:
        data.experts.setdefault(e.user_id, None)
    if assignment.review_days is not None and data.rules >= 2:
        data.review_due = h.now + timedelta(days=assignment.review_days)
        data.review_overdue_reported = False


def expert_review_overdue(data: ProjectData, _d: Decision, _h: Happening) -> None:
    """R12: the experts who have not scored by the review deadline, reported."""
    data.review_overdue_reported = True
    late = sorted(uid for uid, score in data.experts.items() if score is None)
    _tell(data, Role.PROVINCE, "expert_review_overdue",
          f"项目“{data.content.title}”评审期限已过，未评分专家：{'、'.join(late)}",
          f"project {data.project.project_id}: review deadline passed; not scored: "
          + ", ".join(late))


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
                                      description=req.description,
                                      extend_months=req.extend_months))


def _pending_change(data: ProjectData, *statuses: str) -> ChangeRequest:
    return next(c for c in reversed(data.changes) if c.status in statuses)


def city_approve_change(data: ProjectData, _d: Decision, _h: Happening) -> None:
    _pending_change(data, "awaiting_city").status = "awaiting_province"


def province_approve_change(data: ProjectData, _d: Decision, _h: Happening) -> None:
    change = _pending_change(data, "awaiting_province")
    change.status = "approved"
    if data.rules >= 2:  # the change takes effect: a new baseline, the old ones kept
        data.baselines.append(Baseline(
            version=len(data.baselines) + 2, seq=data.next_seq, kind=change.kind.value,
            description=change.description, extend_months=change.extend_months or 0))


def reject_change(data: ProjectData, d: Decision, _h: Happening) -> None:
    change = _pending_change(data, "awaiting_city", "awaiting_province")
    change.status = f"rejected_by_{d.actor.role.value}"


def pass_halfyear(data: ProjectData, d: Decision, _h: Happening) -> None:
    data.halfyear_passed = True
    verified = p.HalfyearAcceptance.model_validate(d.payload).verified_investment_cny
    if verified is not None:
        data.verified_investment_cny = verified


def early_acceptance(data: ProjectData, _d: Decision, _h: Happening) -> None:
    if data.rules >= 2:  # a request the province accepts or declines (R16)
        data.early_acceptance_requested = True
    else:
        data.early_acceptance = True


def accept_early_acceptance(data: ProjectData, _d: Decision, _h: Happening) -> None:
    data.early_acceptance_requested, data.early_acceptance = False, True


def decline_early_acceptance(data: ProjectData, _d: Decision, _h: Happening) -> None:
    data.early_acceptance_requested = False


def pass_acceptance(data: ProjectData, d: Decision, _h: Happening) -> None:
    data.verified_investment_cny = p.Acceptance.model_validate(d.payload).verified_investment_cny


def decide_subsidy(data: ProjectData, d: Decision, _h: Happening) -> None:
    award = p.Subsidy.model_validate(d.payload)
    data.subsidy_amount_cny = award.amount_cny
    if data.rules >= 2:
        data.award = Award(amount_cny=award.amount_cny, scenes=award.scenes,
                           recipient=award.recipient or data.project.applicant_unit,
                           reason=d.reason, seq=data.next_seq, rank=award.rank)


def decide_no_award(data: ProjectData, d: Decision, h: Happening) -> None:
    data.award = Award(amount_cny=None, reason=d.reason, seq=data.next_seq)
    _start_supervision(data, h)


def record_disbursement(data: ProjectData, d: Decision, h: Happening) -> None:
    data.disbursed_at = h.now
    if data.rules >= 2:
        paid = p.Disbursement.model_validate(d.payload)
        data.disbursement = DisbursementEntry(
            at=h.now, amount_cny=paid.amount_cny or data.subsidy_amount_cny,
            reference=paid.reference, seq=data.next_seq)
        _start_supervision(data, h)


def _start_supervision(data: ProjectData, h: Happening) -> None:
    data.supervision_ends_at = add_months(h.now, 12 * data.batch.supervision_years)


def revoke(data: ProjectData, d: Decision, h: Happening) -> None:
    data.subsidy_to_reclaim = data.subsidy_amount_cny is not None  # R18
    if data.rules >= 2 and data.stage is Stage.CLAWBACK:
        claw = p.Revoke.model_validate(d.payload)
        paid = data.disbursement.amount_cny if data.disbursement else None
        amount = claw.reclaim_cny if claw.reclaim_cny is not None else (paid or 0)
        data.clawback = ClawbackState(amount_cny=amount,
                                      due_at=h.now + timedelta(days=claw.due_days))


def record_repayment(data: ProjectData, d: Decision, _h: Happening) -> None:
    assert data.clawback is not None
    data.clawback.returned_cny += p.Repayment.model_validate(d.payload).amount_cny


def _close_clawback(status: str) -> Effect:
    def close(data: ProjectData, _d: Decision, _h: Happening) -> None:
        assert data.clawback is not None
        data.clawback.status = status
    return close


settle_clawback = _close_clawback("settled")
refer_clawback = _close_clawback("referred")


def remove_expert(data: ProjectData, d: Decision, _h: Happening) -> None:
    removal = p.RemoveExpert.model_validate(d.payload)
    score_given = data.experts.pop(removal.user_id)
    data.voided_scores.append(VoidedScore(user_id=removal.user_id, score=score_given,
                                          why=removal.why, reason=d.reason,
                                          seq=data.next_seq))


def record_finding(data: ProjectData, d: Decision, h: Happening) -> None:
    finding = p.Finding.model_validate(d.payload)
    data.findings.append(FindingEntry(seq=data.next_seq, at=h.now, source=finding.source.value,
                                      summary=finding.summary, evidence=d.evidence))


def rectify(data: ProjectData, d: Decision, h: Happening) -> None:
    data.rectify_due = h.now + timedelta(days=p.Rectify.model_validate(d.payload).days)


def rectification_over(data: ProjectData, _d: Decision, _h: Happening) -> None:
    data.rectify_due = None


def not_ready(data: ProjectData, d: Decision, h: Happening) -> None:
    data.acceptance_deferred_to = add_months(h.now, p.NotReady.model_validate(d.payload).months)
    data.halfyear_held = True  # the next acceptance is the one-year round


def halfyear_opened(data: ProjectData, _d: Decision, _h: Happening) -> None:
    data.halfyear_held = True


def apply_for_acceptance(data: ProjectData, _d: Decision, _h: Happening) -> None:
    """2024 (rules 3): the unit applies to join the half-year centralised round."""
    data.acceptance_applied = True
    _tell(data, Role.PROVINCE, "acceptance_applied",
          f"项目“{data.content.title}”申请参加半年期集中验收",
          f"project {data.project.project_id} applies for the half-year acceptance round")


def cosign_reminder(data: ProjectData, _d: Decision, _h: Happening) -> None:
    pending = data.pending_cosign
    assert pending is not None
    pending.reminded = True
    _tell(data, pending.cosigner, "cosign_reminder",
          f"项目“{data.content.title}”的第{pending.seq}号决定（{pending.action}）等待会签",
          f"project {data.project.project_id}: decision {pending.seq} ({pending.action}) "
          "awaits your co-signature")


def cosign_overdue(data: ProjectData, _d: Decision, _h: Happening) -> None:
    pending = data.pending_cosign
    assert pending is not None
    pending.overdue = True
    for role in (pending.cosigner, pending.decided_by.role):
        _tell(data, role, "cosign_overdue",
              f"项目“{data.content.title}”的第{pending.seq}号决定（{pending.action}）会签逾期",
              f"project {data.project.project_id}: co-signature of decision {pending.seq} "
              f"({pending.action}) is overdue")


def request_termination(data: ProjectData, d: Decision, _h: Happening) -> None:
    data.termination = TerminationRequest(seq=data.next_seq, reason=d.reason)


def endorse_termination(data: ProjectData, _d: Decision, _h: Happening) -> None:
    assert data.termination is not None
    data.termination.status = "awaiting_province"


def approve_termination(data: ProjectData, _d: Decision, _h: Happening) -> None:
    assert data.termination is not None
    data.termination.status = "approved"


def reject_termination(data: ProjectData, d: Decision, _h: Happening) -> None:
    assert data.termination is not None
    data.termination.status = f"rejected_by_{d.actor.role.value}"


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


def province_reminder(data: ProjectData, _d: Decision, h: Happening) -> None:
    data.province_reminded = True
    since = iso_local(data.stage_since) if data.stage_since else ""
    _tell(data, Role.PROVINCE, "province_reminder",
          f"项目“{data.content.title}”自{since}起在“{data.stage.label_zh}”阶段等待省级决定",
          f"project {data.project.project_id} has waited for the province in "
          f"{data.stage.value} since {since}")


def _tell_applicant(data: ProjectData, kind: str, zh: str, en: str) -> None:
    _tell(data, Role.APPLICANT, kind, zh, en)


def _tell(data: ProjectData, role: Role, kind: str, zh: str, en: str) -> None:
    """A notification for the workflow to send (the applicant's goes to its unit)."""
    data.outbox.append(Notification(
        project_id=data.project.project_id, to_role=role,
        to_unit=data.project.applicant_unit if role is Role.APPLICANT else None, kind=kind,
        message_zh=zh, message_en=en))
