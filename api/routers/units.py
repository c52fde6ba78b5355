"""Units: registered by applicants (their own and their consortium partners), checked
against GB 32100-2015 (R4); the province flags standing problems (R5)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import PrincipalDep
from api.errors import bad_input, forbidden_role, not_found
from api.routers.decisions import ERRORS
from api.state import StateDep
from domain.eligibility import UnitFacts, check_credit_code
from domain.roles import Role
from models import Region, Unit
from services.registry import ensure_unit

router = APIRouter(tags=["units 单位"])


class UnitIn(BaseModel):
    credit_code: str = Field(max_length=18, description="统一社会信用代码 (R4)")
    name: str = Field(min_length=2, max_length=200)
    kind: str = Field(pattern="^(service_provider|manufacturer|cluster_body|other)$")
    region_code: str = Field(pattern=r"^\d{6}$")
    group_code: str | None = Field(default=None, max_length=32)
    group_name: str | None = Field(default=None, max_length=200)
    parent_code: str | None = Field(default=None, max_length=18)
    central_enterprise_in_shandong: bool = False
    provincial_soe: bool = False
    # R5 declarations (true = the problem exists), with evidence documents.
    major_safety_accident_3y: bool = False
    serious_dishonesty: bool = False
    abnormal_operation: bool = False
    legal_rep_dishonest_debtor: bool = False
    against_industrial_policy: bool = False

    model_config = {"json_schema_extra": {"examples": [{
        "credit_code": "91370112DEM000001U", "name": "济南示例数字科技有限公司",
        "kind": "service_provider", "region_code": "370112"}]}}


class FlagIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("/units", response_model=UnitFacts, responses=ERRORS,
             summary="登记单位 (register a unit; R4 checked)",
             openapi_extra={"x-roles": ["applicant", "province"]})
def register_unit(body: UnitIn, p: PrincipalDep, state: StateDep) -> UnitFacts:
    if p.role not in (Role.APPLICANT, Role.PROVINCE):
        raise forbidden_role(p.role.value, "register units", "登记单位")
    problem = check_credit_code(body.credit_code)
    if problem is not None:
        raise bad_input(problem.message_zh, problem.message_en, rule="R4")
    if body.parent_code and check_credit_code(body.parent_code):
        raise bad_input("上级单位的统一社会信用代码无效", "the parent's credit code is invalid",
                        rule="R4")
    with state.db.begin() as s:
        # Units outside Shandong may join a consortium; inside, the region must be known.
        if body.region_code.startswith("37") and s.get(Region, body.region_code) is None:
            raise bad_input(f"未知的行政区划代码：{body.region_code}",
                            f"unknown region code {body.region_code}")
        if body.parent_code and s.get(Unit, body.parent_code) is None:
            raise bad_input("上级单位尚未登记", "register the parent unit first")
        facts = UnitFacts(**body.model_dump(exclude={"group_name"}))
        existing = s.get(Unit, body.credit_code)
        if existing is not None:
            return UnitFacts.model_validate(existing, from_attributes=True)
        return UnitFacts.model_validate(ensure_unit(s, facts, body.group_name),
                                        from_attributes=True)


@router.get("/units/{credit_code}", response_model=UnitFacts, responses=ERRORS,
            summary="单位信息 (a unit)",
            openapi_extra={"x-roles": [r.value for r in Role if r is not Role.SYSTEM]})
def get_unit(credit_code: str, p: PrincipalDep, state: StateDep) -> UnitFacts:
    with state.db() as s:
        unit = s.get(Unit, credit_code)
        if unit is None:
            raise not_found("单位", credit_code)
        return UnitFacts.model_validate(unit, from_attributes=True)


@router.post("/units/{credit_code}/flag", response_model=UnitFacts, responses=ERRORS,
             summary="省级标记单位 (the province flags a unit, R5)",
             openapi_extra={"x-roles": ["province"]})
def flag_unit(credit_code: str, body: FlagIn, p: PrincipalDep, state: StateDep) -> UnitFacts:
    if p.role is not Role.PROVINCE:
        raise forbidden_role(p.role.value, "flag units", "标记单位")
    with state.db.begin() as s:
        unit = s.get(Unit, credit_code)
        if unit is None:
            raise not_found("单位", credit_code)
        unit.flagged_by_province = body.reason
        s.flush()
        return UnitFacts.model_validate(unit, from_attributes=True)
