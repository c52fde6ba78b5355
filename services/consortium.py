"""Where a project belongs (R19) and who agreed to take part in it (R20).

Jurisdiction is derived, never chosen: the project's county and city are the registered
region of the unit the notice names — 2024 the lead unit (报送至牵头单位所在工信部门),
2026 the applicant (申报主体所在县（市、区）). That unit must be registered in Shandong.

Consent is a fact about a unit's participation, not the application's content, so it
lives beside the consortium in the database (`consortium_member.consent`) rather than in
the workflow: each member other than the applicant confirms or declines with its own
token while the project is a draft (or returned); the submission's activity check
(`services.limits.check_submission`) refuses while any member is pending (R20), and a
declined member is out of the consortium, so no place is ever claimed for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.decisions import Actor
from domain.presets import PresetName
from domain.refusals import RefusalKind, Refused, refusal
from domain.roles import Role
from models import ConsortiumMember, Project, Region, Unit

log = structlog.get_logger()
# Stages in which the consortium may still change: before submission, or returned for
# changes (the submission is checked again at resubmission).
OPEN_STAGES = frozenset({"draft", "returned"})


def _r19(zh: str, en: str) -> Refused:
    return Refused(refusal("R19", RefusalKind.INPUT, zh, en))


def derive_region(session: Session, *, preset: str, applicant_code: str,
                  members: dict[str, str], requested_county: str | None) -> tuple[str, str]:
    """(city, county) of the project from the registered region of the unit the notice
    names; a request naming another county is refused (R19)."""
    if preset == PresetName.P2024.value:
        leads = [c for c, r in members.items() if r == "lead"]
        if len(leads) != 1:
            raise Refused(refusal("R1", RefusalKind.INPUT, "须有且仅有1家牵头单位",
                                  "exactly one unit must lead the consortium"))
        named, what_zh, what_en = leads[0], "牵头单位", "the lead unit"
    else:
        named, what_zh, what_en = applicant_code, "申报主体", "the applicant"
    unit = session.get(Unit, named)
    assert unit is not None  # the caller checked every member is registered
    region = session.get(Region, unit.region_code) if unit.region_code.startswith("37") else None
    if region is None or region.level != "county" or region.parent_code is None:
        raise _r19(f"{what_zh}（{unit.name}）须为在山东省内登记的单位，"
                   "项目属地按其所在县（市、区）确定",
                   f"{what_en} ({named}) must be registered in Shandong: the project "
                   "belongs to its county")
    if requested_county is not None and requested_county != unit.region_code:
        raise _r19(f"项目属地由{what_zh}登记所在地确定（{unit.region_code}），不能申报到"
                   f"{requested_county}",
                   f"the project belongs to the region where {what_en} is registered "
                   f"({unit.region_code}), not {requested_county}")
    return region.parent_code, region.code


class ConsentIn(BaseModel):
    agree: bool = Field(description="true: 同意参与（联合体协议）; false: 拒绝参与")
    note: str = Field(default="", max_length=500)


def decide_consent(session: Session, *, who: Actor, project_id: str, unit_code: str,
                   body: ConsentIn) -> ConsortiumMember:
    """A member's own answer. Only the member's token; only before submission; a
    decline is final for this project (the applicant may start another)."""
    if who.role is not Role.APPLICANT or who.unit_code != unit_code:
        raise Refused(refusal("R20", RefusalKind.JURISDICTION,
                              "只有该成员单位本身可以确认或拒绝参与",
                              "only the member unit itself confirms or declines"))
    project = session.get(Project, project_id, with_for_update=True)
    member = session.get(ConsortiumMember, (project_id, unit_code), with_for_update=True)
    if project is None or member is None:
        raise LookupError(project_id)
    if unit_code == project.applicant_code:
        raise Refused(refusal("R20", RefusalKind.RULE, "申报主体无需确认自己的参与",
                              "the applicant does not confirm its own participation"))
    if project.stage not in OPEN_STAGES:
        raise Refused(refusal("R20", RefusalKind.RULE,
                              f"项目已提交（{project.stage_label_zh}），成员不能再确认或拒绝",
                              "the project has been submitted: members no longer confirm "
                              "or decline"))
    if member.consent == "declined":
        raise Refused(refusal("R20", RefusalKind.RULE, "已拒绝参与本项目，不能再确认",
                              "the member has declined this project"))
    want = "confirmed" if body.agree else "declined"
    if member.consent != want:
        member.consent, member.consent_by = want, who.user_id
        member.consent_at, member.consent_note = datetime.now(UTC), body.note or None
        session.flush()
        log.info("consortium.consent", project_id=project_id, unit=unit_code, consent=want,
                 by=who.user_id)
    return member


def members(session: Session, project_id: str) -> list[tuple[ConsortiumMember, Unit]]:
    """The consortium with each member's unit, declined members included (the applicant
    sees who declined and why)."""
    return [(m, unit) for m, unit in session.execute(
        select(ConsortiumMember, Unit)
        .join(Unit, Unit.credit_code == ConsortiumMember.unit_code)
        .where(ConsortiumMember.project_id == project_id).order_by(ConsortiumMember.unit_code))]
