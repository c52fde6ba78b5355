"""Units and the facts about them (R19): an applicant registers and updates only its own
unit, officials units in their region, the province any; privileged facts (SOE status,
group and parent, standing flags, penalties) only the province states, by hand or by an
imported list. Also: R18 penalties lifted, earlier batches' winners imported (R2), and a
project's consortium with each member's consent (R20). The use cases are in `services`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.deps import ERRORS, OFFICIALS, VisibleProject, allow
from api.errors import bad_input, not_found
from api.schemas import MemberOut
from api.state import StateDep
from domain.clock import Instant
from domain.eligibility import UnitFacts
from domain.roles import Role
from models import Unit
from services import consortium, imports, penalties
from services import units as registry
from services.imports import ImportProblem, ImportReport
from services.units import ProvinceFacts, UnitRegistration

_EVERYONE = allow(*OFFICIALS, what_en="read this", what_zh="查看")
router = APIRouter(tags=["units 单位"])


class FactChangeOut(BaseModel):
    field: str
    old_value: Any = None
    new_value: Any = None
    changed_by: str
    changed_role: str
    changed_at: Instant
    source: str
    note: str = ""


class PenaltyOut(BaseModel):
    id: int
    unit_code: str
    project_id: str
    decision_ref: str
    starts_on: date
    until: date | None = None
    batch_ids: list[str] = []
    reason: str = ""
    recorded_by: str
    recorded_at: Instant
    lifted_at: Instant | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None
    lift_decision_ref: str | None = None


class UnitOut(UnitFacts):
    soe_claim: str | None = Field(default=None, description="待省工信厅确认的国企身份申请")
    registered_by: str | None = None
    registered_role: str | None = None
    registered_at: Instant | None = None
    status: str | None = Field(default=None, description="created | updated | unchanged")
    changes: list[FactChangeOut] = Field(default=[], description="每次事实变更：谁、何时、来源")
    penalties: list[PenaltyOut] = Field(default_factory=list)


class FlagIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class LiftIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    decision_ref: str = Field(min_length=1, max_length=200, description="解除决定文号")


def _out(session: Any, unit: Unit, status: str | None = None) -> UnitOut:
    out = UnitOut.model_validate(unit, from_attributes=True)
    out.status = status
    out.changes = [FactChangeOut.model_validate(c, from_attributes=True)
                   for c in registry.history(session, unit.credit_code)]
    out.penalties = [PenaltyOut.model_validate(p, from_attributes=True)
                     for p in penalties.penalties_of(session, unit.credit_code)]
    return out


@router.post("/units", response_model=UnitOut, responses=ERRORS,
             summary="登记或更新单位 (register or update a unit; R4, R19)",
             **allow(Role.APPLICANT, Role.COUNTY, Role.CITY, Role.PROVINCE,
                     what_en="register units", what_zh="登记单位"))
def register_unit(body: UnitRegistration, p: PrincipalDep, state: StateDep) -> UnitOut:
    """An applicant: only the unit its token carries. An official: units in their region.
    A change the caller may not make is refused, never ignored."""
    with state.db.begin() as s:
        unit, status = registry.register_unit(s, who=p.actor, body=body)
        return _out(s, unit, status)


@router.get("/units/{credit_code}", response_model=UnitOut, responses=ERRORS,
            summary="单位信息 (a unit, with the history of its facts and its penalties)",
            **_EVERYONE)
def get_unit(credit_code: str, p: PrincipalDep, state: StateDep) -> UnitOut:
    """Seen by the unit itself, officials with jurisdiction over a project it takes part
    in, the province, finance, auditors and operators; anyone else: 404."""
    with state.db() as s:
        unit = s.get(Unit, credit_code)
        if unit is None or not registry.can_see(s, p.actor, credit_code):
            raise not_found("单位", credit_code)
        return _out(s, unit)


@router.put("/units/{credit_code}/facts", response_model=UnitOut, responses=ERRORS,
            summary="省级认定单位事实 (the province states privileged facts; R19)",
            **allow(Role.PROVINCE, what_en="state privileged facts of units",
                    what_zh="认定单位事实"))
def state_facts(credit_code: str, body: ProvinceFacts, p: PrincipalDep,
                state: StateDep) -> UnitOut:
    try:
        with state.db.begin() as s:
            unit, changed = registry.state_facts(s, who=p.actor, code=credit_code, facts=body)
            return _out(s, unit, "updated" if changed else "unchanged")
    except LookupError:
        raise not_found("单位", credit_code) from None


@router.post("/units/{credit_code}/flag", response_model=UnitOut, responses=ERRORS,
             summary="省级标记单位 (the province flags a unit, R5)",
             **allow(Role.PROVINCE, what_en="flag units", what_zh="标记单位"))
def flag_unit(credit_code: str, body: FlagIn, p: PrincipalDep, state: StateDep) -> UnitOut:
    return state_facts(credit_code, ProvinceFacts(flagged_by_province=body.reason,
                                                  reason=body.reason), p, state)


async def _read_upload(file: UploadFile) -> tuple[bytes, str]:
    data = await file.read(imports.MAX_BYTES + 1)
    name = (file.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "\x00" in name or "%00" in name or len(name) > 200:
        raise bad_input("文件名无效", "invalid file name")
    return data, name


@router.post("/units/import", response_model=ImportReport, responses=ERRORS,
             summary="导入单位认定清单 (import the province's list of unit facts; XLSX/CSV)",
             **allow(Role.PROVINCE, what_en="import unit facts", what_zh="导入单位认定清单"))
async def import_facts(p: PrincipalDep, state: StateDep,
                       file: Annotated[UploadFile, File(description="XLSX or CSV")]
                       ) -> ImportReport:
    """Each row: a registered unit's credit code and the facts the list states (blank:
    unchanged). Reported per row; importing the same list again changes nothing."""
    data, name = await _read_upload(file)

    def run() -> ImportReport:
        with state.db.begin() as s:
            return imports.import_facts(s, who=p.actor, data=data, filename=name)

    try:
        return await run_in_threadpool(run)
    except ImportProblem as exc:
        raise bad_input(exc.zh, exc.en) from None


@router.post("/batches/{batch_id}/winners", response_model=ImportReport, responses=ERRORS,
             summary="导入往期入围项目 (import an earlier batch's selected projects; R2)",
             **allow(Role.PROVINCE, what_en="import earlier winners", what_zh="导入往期入围项目"))
async def import_winners(batch_id: str, p: PrincipalDep, state: StateDep,
                         file: Annotated[UploadFile, File(description="XLSX or CSV")]
                         ) -> ImportReport:
    """One row per unit of a selected project; they use up places (R2) in the batches
    that name this batch as counting. Idempotent; reported per row."""
    data, name = await _read_upload(file)
    if not (1 <= len(batch_id) <= 64):
        raise bad_input("批次编号无效", "invalid batch id")

    def run() -> ImportReport:
        with state.db.begin() as s:
            return imports.import_winners(s, who=p.actor, batch_id=batch_id, data=data,
                                          filename=name)

    try:
        return await run_in_threadpool(run)
    except ImportProblem as exc:
        raise bad_input(exc.zh, exc.en) from None


@router.post("/penalties/{penalty_id}/lift", response_model=PenaltyOut, responses=ERRORS,
             summary="解除处罚 (the province lifts an R18 penalty)",
             **allow(Role.PROVINCE, what_en="lift penalties", what_zh="解除处罚"))
def lift_penalty(penalty_id: int, body: LiftIn, p: PrincipalDep, state: StateDep
                 ) -> PenaltyOut:
    try:
        with state.db.begin() as s:
            row = penalties.lift(s, who=p.actor, penalty_id=penalty_id, reason=body.reason,
                                 decision_ref=body.decision_ref)
            return PenaltyOut.model_validate(row, from_attributes=True)
    except LookupError:
        raise not_found("处罚", str(penalty_id)) from None


@router.get("/projects/{project_id}/consortium", response_model=list[MemberOut],
            responses=ERRORS, summary="联合体成员及其确认情况 (the consortium and consent, R20)",
            **_EVERYONE)
async def get_consortium(project_id: VisibleProject, state: StateDep) -> list[MemberOut]:

    def run() -> list[MemberOut]:
        with state.db() as s:
            return [MemberOut.of(m, u) for m, u in consortium.members(s, project_id)]

    return await run_in_threadpool(run)


@router.post("/projects/{project_id}/consortium/{credit_code}/consent",
             response_model=MemberOut, responses=ERRORS,
             summary="成员确认或拒绝参与 (a member confirms or declines, with its own token; R20)",
             **allow(Role.APPLICANT, what_en="confirm participation", what_zh="确认参与"))
async def consent(project_id: VisibleProject, credit_code: str, body: consortium.ConsentIn,
                  p: PrincipalDep, state: StateDep) -> MemberOut:

    def run() -> MemberOut:
        with state.db.begin() as s:
            m = consortium.decide_consent(s, who=p.actor, project_id=project_id,
                                          unit_code=credit_code, body=body)
            return MemberOut.of(m, s.get(Unit, credit_code))

    try:
        return await run_in_threadpool(run)
    except LookupError:
        raise not_found("项目", project_id) from None
