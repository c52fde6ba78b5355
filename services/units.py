"""The unit registry with owners (R19): who may state which fact about a unit, who may see
it, and the record of every change.

A unit states its own name and kind; its region is stated when it is registered (by
itself, or by an official of that region) and changed only by the province or an official
of the region, because a project's jurisdiction follows from it. Central enterprise in
Shandong, provincial SOE, group and parent relations (R3, R1), the R5 standing flags and
the province's flag are privileged: only the province states them, through the API or an
imported list. An applicant may *claim* SOE status; the claim exempts nothing (R8) until
the province confirms it. Every change is a `UnitFactChange` row: who, role, when, source.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from domain.decisions import Actor
from domain.eligibility import check_credit_code
from domain.jurisdiction import Scope, covers_region, scope_of
from domain.refusals import RefusalKind, Refused, refusal
from domain.roles import Role
from models import ConsortiumMember, Project, Region, Unit, UnitFactChange, UnitGroup
from services.jurisdiction import restrict

log = structlog.get_logger()

SoeClaim = Literal["central_enterprise_in_shandong", "provincial_soe"]
STANDING_FLAGS = ("major_safety_accident_3y", "serious_dishonesty", "abnormal_operation",
                  "legal_rep_dishonest_debtor", "against_industrial_policy")
# Facts only the province states (R19), with their Chinese names for messages.
PRIVILEGED: dict[str, str] = {
    "central_enterprise_in_shandong": "中央驻鲁企业", "provincial_soe": "省属国有企业",
    "group_code": "所属集团", "parent_code": "上级（控股）单位",
    "major_safety_accident_3y": "较大以上安全生产事故", "serious_dishonesty": "严重失信记录",
    "abnormal_operation": "经营异常名录", "legal_rep_dishonest_debtor": "法定代表人失信被执行",
    "against_industrial_policy": "不符合产业政策", "flagged_by_province": "省工信厅标记",
}
OWN_FIELDS = ("name", "kind")


class UnitRegistration(BaseModel):
    """What a caller states when registering or updating a unit. The privileged facts are
    optional: None means "not stated"; a value other than the registry's is refused (R19)
    unless the caller is the province."""

    credit_code: str = Field(max_length=18, description="统一社会信用代码 (R4)")
    name: str = Field(min_length=2, max_length=200)
    kind: str = Field(pattern="^(service_provider|manufacturer|cluster_body|other)$")
    region_code: str = Field(pattern=r"^\d{6}$", description="登记注册地 (GB/T 2260)")
    soe_claim: SoeClaim | None = Field(
        default=None, description="申报央企/省属国企身份（待省工信厅确认后方可不占名额）")
    group_code: str | None = Field(default=None, max_length=32)
    group_name: str | None = Field(default=None, max_length=200)
    parent_code: str | None = Field(default=None, max_length=18)
    central_enterprise_in_shandong: bool | None = None
    provincial_soe: bool | None = None
    major_safety_accident_3y: bool | None = None
    serious_dishonesty: bool | None = None
    abnormal_operation: bool | None = None
    legal_rep_dishonest_debtor: bool | None = None
    against_industrial_policy: bool | None = None

    model_config = {"json_schema_extra": {"examples": [{
        "credit_code": "91370112DEM000001U", "name": "济南示例数字科技有限公司",
        "kind": "service_provider", "region_code": "370112"}]}}


class ProvinceFacts(BaseModel):
    """The province's statement of privileged facts; what is left out stays as it is."""

    central_enterprise_in_shandong: bool | None = None
    provincial_soe: bool | None = None
    group_code: str | None = Field(default=None, max_length=32)
    group_name: str | None = Field(default=None, max_length=200)
    parent_code: str | None = Field(default=None, max_length=18)
    major_safety_accident_3y: bool | None = None
    serious_dishonesty: bool | None = None
    abnormal_operation: bool | None = None
    legal_rep_dishonest_debtor: bool | None = None
    against_industrial_policy: bool | None = None
    flagged_by_province: str | None = Field(default=None, max_length=500)
    soe_claim: Literal["confirm", "reject"] | None = Field(
        default=None, description="decide the unit's pending SOE claim")
    reason: str = Field(min_length=1, max_length=500)


def _now() -> datetime:
    return datetime.now(UTC)


def _deny(zh: str, en: str, kind: RefusalKind = RefusalKind.JURISDICTION) -> Refused:
    return Refused(refusal("R19", kind, zh, en))


def _input(zh: str, en: str, rule: str = "INPUT") -> Refused:
    return Refused(refusal(rule, RefusalKind.INPUT, zh, en))


def record_change(session: Session, *, unit_code: str, field: str, old: Any, new: Any,
                  who: Actor, source: str, note: str = "") -> None:
    session.add(UnitFactChange(unit_code=unit_code, field=field, old_value=old, new_value=new,
                               changed_by=who.user_id, changed_role=who.role.value,
                               changed_at=_now(), source=source[:200], note=note[:500]))


def _official_covers(who: Actor, region_code: str) -> bool:
    return who.role in (Role.COUNTY, Role.CITY) and covers_region(who, region_code)


def _check_region(session: Session, region_code: str) -> None:
    # Units outside Shandong may join a consortium (migration 0003); inside, the region
    # must be a known county-level division, because a project's jurisdiction follows it.
    if region_code.startswith("37"):
        region = session.get(Region, region_code)
        if region is None or region.level != "county":
            raise _input(f"未知的县级行政区划代码：{region_code}",
                         f"unknown county-level region code {region_code}")


def _check_relations(session: Session, code: str, parent_code: str | None) -> None:
    if parent_code:
        if check_credit_code(parent_code) is not None:
            raise _input("上级单位的统一社会信用代码无效", "the parent's credit code is invalid",
                         rule="R4")
        if parent_code == code:
            raise _input("单位不能是自己的上级单位", "a unit cannot be its own parent")
        if session.get(Unit, parent_code) is None:
            raise _input("上级单位尚未登记", "register the parent unit first")


def _ensure_group(session: Session, group_code: str | None, group_name: str | None) -> None:
    if group_code and session.get(UnitGroup, group_code) is None:
        session.add(UnitGroup(code=group_code, name=group_name or group_code))
        session.flush()


def register_unit(session: Session, *, who: Actor, body: UnitRegistration,
                  source: str = "api") -> tuple[Unit, str]:
    """Register a unit or update it; returns the unit and what happened (`created`,
    `updated`, `unchanged`). Never answers as if it changed what it did not change: a
    change the caller may not make is refused."""
    _check_registrant(who, body)
    unit = session.get(Unit, body.credit_code, with_for_update=True)
    stated = {f: getattr(body, f) for f in PRIVILEGED if f in UnitRegistration.model_fields
              and getattr(body, f) is not None}
    current = {f: (getattr(unit, f) if unit is not None else _default(f)) for f in stated}
    changed_privileged = {f: v for f, v in stated.items() if v != current[f]}
    if changed_privileged and who.role is not Role.PROVINCE:
        names = "、".join(PRIVILEGED[f] for f in changed_privileged)
        raise _deny(f"以下事项只能由省工信厅认定或导入，单位不能自行声明：{names}"
                    "（中央驻鲁企业、省属国企身份可通过 soe_claim 申请，经省工信厅确认后生效）",
                    f"only the province states these facts: {', '.join(changed_privileged)} "
                    "(a unit may claim SOE status with soe_claim; it counts once the "
                    "province confirms it)", RefusalKind.JURISDICTION)
    if unit is None:
        return _create(session, who, body, stated, source), "created"
    changes = _changes(session, who, body, unit)
    if changed_privileged:  # the province, stating facts in a registration
        if "parent_code" in changed_privileged:
            _check_relations(session, unit.credit_code, body.parent_code)
        if "group_code" in changed_privileged:
            _ensure_group(session, body.group_code, body.group_name)
        changes.update({f: (current[f], v) for f, v in changed_privileged.items()})
    if body.soe_claim and body.soe_claim != unit.soe_claim and not getattr(unit, body.soe_claim):
        changes["soe_claim"] = (unit.soe_claim, body.soe_claim)
        unit.soe_claimed_at = _now()
    for f, (old, new) in changes.items():
        setattr(unit, f, new)
        record_change(session, unit_code=unit.credit_code, field=f, old=old, new=new, who=who,
                      source=source)
    session.flush()
    if changes:
        log.info("unit.updated", unit=unit.credit_code, by=who.user_id, role=who.role.value,
                 fields=sorted(changes))
    return unit, "updated" if changes else "unchanged"


def _check_registrant(who: Actor, body: UnitRegistration) -> None:
    """Who may register which unit at all: its own (an applicant), one in their region
    (a county or city), any (the province)."""
    problem = check_credit_code(body.credit_code)
    if problem is not None:
        raise Refused(problem)
    code = body.credit_code
    if who.role is Role.APPLICANT and who.unit_code != code:
        raise _deny(f"申报单位只能登记或修改本单位（{who.unit_code}）的信息，"
                    f"不能登记其他单位（{code}）",
                    f"an applicant may register or update only its own unit "
                    f"({who.unit_code}), not {code}")
    if who.role in (Role.COUNTY, Role.CITY) and not _official_covers(who, body.region_code):
        raise _deny(f"只能登记本辖区（{who.region}）内的单位",
                    f"an official registers only units in their region ({who.region})")
    if who.role not in (Role.APPLICANT, Role.COUNTY, Role.CITY, Role.PROVINCE):
        raise Refused(refusal("ROLE", RefusalKind.ROLE, "无权登记单位",
                              f"the role {who.role.value} may not register units"))


def _create(session: Session, who: Actor, body: UnitRegistration, stated: dict[str, Any],
            source: str) -> Unit:
    code = body.credit_code
    _check_region(session, body.region_code)
    if who.role is Role.PROVINCE:
        _check_relations(session, code, body.parent_code)
        _ensure_group(session, body.group_code, body.group_name)
    unit = Unit(credit_code=code, name=body.name, kind=body.kind,
                region_code=body.region_code, registered_by=who.user_id,
                registered_role=who.role.value, registered_at=_now(), **stated)
    if body.soe_claim:
        unit.soe_claim, unit.soe_claimed_at = body.soe_claim, _now()
    session.add(unit)
    session.flush()
    record_change(session, unit_code=code, field="registered", old=None,
                  new=body.model_dump(exclude_none=True), who=who, source=source)
    log.info("unit.registered", unit=code, by=who.user_id, role=who.role.value)
    return unit


def _changes(session: Session, who: Actor, body: UnitRegistration,
             unit: Unit) -> dict[str, tuple[Any, Any]]:
    """An update's changes to the unit's own fields and region: who may change what of an
    existing unit (the unit itself, an official of its region, the province)."""
    code = unit.credit_code
    owner = who.role is Role.APPLICANT and who.unit_code == code
    official = _official_covers(who, unit.region_code)
    if not (owner or official or who.role is Role.PROVINCE):
        raise _deny(f"单位{code}已由他人登记，只有该单位本身、所在地工信部门或省工信厅可以修改",
                    f"unit {code} is registered; only the unit itself, an official of its "
                    "region or the province may change it")
    changes: dict[str, tuple[Any, Any]] = {}
    for f in OWN_FIELDS:
        if getattr(body, f) != getattr(unit, f):
            changes[f] = (getattr(unit, f), getattr(body, f))
    if body.region_code != unit.region_code:
        if owner:
            raise _deny("单位登记的行政区划只能由所在地工信部门或省工信厅变更（项目属地以此为准）",
                        "a unit's registered region is changed only by an official of its "
                        "region or the province (a project's jurisdiction follows it)",
                        RefusalKind.RULE)
        if who.role in (Role.COUNTY, Role.CITY) and not _official_covers(who, body.region_code):
            raise _deny(f"只能将单位变更到本辖区（{who.region}）内",
                        f"an official moves a unit only within their region ({who.region})")
        _check_region(session, body.region_code)
        changes["region_code"] = (unit.region_code, body.region_code)
    return changes


def _default(field: str) -> Any:
    return None if field in ("group_code", "parent_code", "flagged_by_province") else False


def state_facts(session: Session, *, who: Actor, code: str, facts: ProvinceFacts,
                source: str = "api") -> tuple[Unit, list[str]]:
    """The province states privileged facts of a unit (or decides its SOE claim). Returns
    the unit and the fields that changed; each change is recorded."""
    if who.role is not Role.PROVINCE:
        raise _deny("此类事项只能由省工信厅认定", "only the province states these facts")
    unit = session.get(Unit, code, with_for_update=True)
    if unit is None:
        raise LookupError(code)
    wanted: dict[str, Any] = {f: getattr(facts, f) for f in PRIVILEGED
                              if getattr(facts, f) is not None}
    if facts.soe_claim is not None:
        if unit.soe_claim is None:
            raise Refused(refusal("R19", RefusalKind.RULE, "该单位没有待确认的国企身份申请",
                                  "the unit has no pending SOE claim"))
        if facts.soe_claim == "confirm":
            wanted[unit.soe_claim] = True
    if "parent_code" in wanted:
        _check_relations(session, code, wanted["parent_code"] or None)
    if wanted.get("group_code"):
        _ensure_group(session, wanted["group_code"], facts.group_name)
    changed = []
    for f, new in wanted.items():
        if f in ("group_code", "parent_code", "flagged_by_province") and new == "":
            new = None  # an empty value clears the relation or the flag
        old = getattr(unit, f)
        if old != new:
            setattr(unit, f, new)
            record_change(session, unit_code=code, field=f, old=old, new=new, who=who,
                          source=source, note=facts.reason)
            changed.append(f)
    if facts.soe_claim is not None:
        verdict = "确认" if facts.soe_claim == "confirm" else "不予确认"
        record_change(session, unit_code=code, field="soe_claim", old=unit.soe_claim,
                      new=None, who=who, source=source, note=f"{verdict}：{facts.reason}")
        unit.soe_claim, unit.soe_claimed_at = None, None
        changed.append("soe_claim")
    session.flush()
    log.info("unit.facts_stated", unit=code, by=who.user_id, fields=changed, source=source)
    return unit, changed


def can_see(session: Session, who: Actor, code: str) -> bool:
    """A unit is seen by itself, by officials with jurisdiction over a project it takes
    part in, and by the province, finance, auditors and operators. Experts see units only
    through the projects assigned to them (the project's detail)."""
    scope = scope_of(who.role)
    if scope is Scope.ALL:
        return True
    if scope is Scope.UNIT:
        return who.unit_code == code
    if scope not in (Scope.COUNTY, Scope.CITY):
        return False
    member = select(ConsortiumMember.project_id).where(ConsortiumMember.unit_code == code)
    query = restrict(select(Project.id), who).where(
        or_(Project.applicant_code == code, Project.id.in_(member)))
    return session.scalar(query.limit(1)) is not None


def history(session: Session, code: str) -> list[UnitFactChange]:
    return list(session.scalars(select(UnitFactChange).where(UnitFactChange.unit_code == code)
                                .order_by(UnitFactChange.id)))
