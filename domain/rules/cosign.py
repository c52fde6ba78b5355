"""Co-signature (R8, R17): a decision that needs a finance department's concurrence
waits, holding its place in the log, until the co-signer concurs (it then takes effect)
or dissents (it never does)."""

from __future__ import annotations

from datetime import datetime

from domain.decisions import Decision
from domain.project_data import ProjectData
from domain.roles import Role
from domain.views import PendingCosign


def hold(data: ProjectData, d: Decision, cosigner: Role, now: datetime,
         dues: tuple[datetime, datetime] | None = None) -> str:
    """Keep the decision pending; the note its record carries. `dues` (rules 3): when the
    co-signer is reminded and when the decision becomes overdue."""
    remind_at, overdue_at = dues if data.rules >= 3 and dues else (None, None)
    data.pending_cosign = PendingCosign(action=d.action, seq=data.next_seq, decided_by=d.actor,
                                        cosigner=cosigner, at=now, remind_at=remind_at,
                                        overdue_at=overdue_at)
    data.pending_decision = d
    return f"待{cosigner.label_zh}会签 / awaiting co-signature"


def release(data: ProjectData) -> tuple[PendingCosign, Decision]:
    """Take the pending decision out, for the co-signer's answer."""
    pending, original = data.pending_cosign, data.pending_decision
    assert pending is not None and original is not None
    data.pending_cosign, data.pending_decision = None, None
    return pending, original


def dissent_note(pending: PendingCosign) -> str:
    return f"财政部门不同意：{pending.action}（决定未生效）"


def retract_note(pending: PendingCosign) -> str:
    return f"撤回待会签的第{pending.seq}号决定（{pending.action}） / withdrawn before co-signature"


def void_note(pending: PendingCosign) -> str:
    return (f"待会签的第{pending.seq}号决定（{pending.action}）随阶段变更作废 / "
            f"pending {pending.action} voided by the stage change")


def concur_note(pending: PendingCosign, original: Decision) -> str:
    return f"会签同意第{pending.seq}号决定（{original.action}） / co-signed {original.action}"
