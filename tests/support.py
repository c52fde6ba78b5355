"""Shared test vocabulary: a batch, a project, the actors of each role, decisions."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Any

from domain.batch import BatchPolicy, CalendarAdjustments, ProjectInput
from domain.decisions import Actor, Decision
from domain.presets import PresetName
from domain.roles import Role

CITY, COUNTY = "3701", "370102"
UNIT = "91370102MA3C5XXXX0"  # a valid code (R4 check character 0)

ACTORS: dict[Role, Actor] = {
    Role.APPLICANT: Actor(user_id="applicant-1", role=Role.APPLICANT, region=CITY, unit_code=UNIT),
    Role.COUNTY: Actor(user_id="county-1", role=Role.COUNTY, region=COUNTY),
    Role.CITY: Actor(user_id="city-1", role=Role.CITY, region=CITY),
    Role.CITY_FINANCE: Actor(user_id="cityfin-1", role=Role.CITY_FINANCE, region=CITY),
    Role.PROVINCE: Actor(user_id="prov-1", role=Role.PROVINCE, region="37"),
    Role.PROVINCE_FINANCE: Actor(user_id="provfin-1", role=Role.PROVINCE_FINANCE, region="37"),
    Role.EXPERT: Actor(user_id="expert-1", role=Role.EXPERT, region="37"),
    Role.OPERATOR: Actor(user_id="op-1", role=Role.OPERATOR, region="37"),
    Role.AUDITOR: Actor(user_id="aud-1", role=Role.AUDITOR, region="37"),
}
# Who makes each decision in the tests (the co-signer is implied by the preset).
DECIDER: dict[str, Role] = {
    "edit_application": Role.APPLICANT, "submit": Role.APPLICANT, "resubmit": Role.APPLICANT,
    "withdraw": Role.APPLICANT, "submit_archive": Role.APPLICANT,
    "request_change": Role.APPLICANT, "request_early_acceptance": Role.APPLICANT,
    "county_approve": Role.COUNTY, "county_return": Role.COUNTY, "county_reject": Role.COUNTY,
    "city_recommend": Role.CITY, "city_return": Role.CITY, "city_reject": Role.CITY,
    "city_approve_change": Role.CITY, "score": Role.EXPERT,
    "submit_rectification": Role.APPLICANT, "request_termination": Role.APPLICANT,
    "endorse_termination": Role.CITY, "apply_for_acceptance": Role.APPLICANT,
}
_counter = itertools.count(1)


def decision(
    action: str, role: Role | None = None, *, reason: str = "", actor: Actor | None = None,
    request_id: str | None = None, evidence: list[str] | None = None, **payload: Any,
) -> Decision:
    who = actor or ACTORS[role or DECIDER.get(action, Role.PROVINCE)]
    return Decision(
        request_id=request_id or f"req-{next(_counter)}-{uuid.uuid4().hex[:6]}",
        action=action, actor=who, reason=reason or f"理由：{action}",
        evidence=evidence or [], payload=payload,
    )


def batch(
    preset: str, close_at: datetime, *, calendar: CalendarAdjustments | None = None,
    batch_id: str | None = None, **kw: Any,
) -> BatchPolicy:
    """A test batch. Supervision after completion (R18) lasts 0 years here unless asked:
    a lifecycle test's project completes at disbursement (tests/test_rules_v2.py and the
    supervision tests ask for years)."""
    kw.setdefault("supervision_years", 0)
    return BatchPolicy(
        batch_id=batch_id or f"batch-{preset}-{uuid.uuid4().hex[:6]}",
        name=f"{preset} 测试批次", year=int(preset), preset=PresetName(preset),
        close_at=close_at, calendar=calendar or CalendarAdjustments(), carrier_tasks=["T9"], **kw,
    )


def project(
    b: BatchPolicy, *, task_code: str = "T1", project_id: str | None = None
) -> ProjectInput:
    return ProjectInput(
        project_id=project_id or f"p-{uuid.uuid4().hex[:10]}", title="智能工厂改造示范项目",
        batch=b, task_code=task_code, city_code=CITY, county_code=COUNTY, applicant_unit=UNIT,
    )


SHA = "a" * 64


# -- database fixtures' vocabulary ---------------------------------------------------------

def credit_code(region: str = "370102") -> str:
    """A valid 统一社会信用代码 (R4) for a new test unit."""
    from domain.eligibility import with_check_char

    return with_check_char(f"91{region}{uuid.uuid4().int % 10**9:09d}")


def unit(kind: str = "manufacturer", region: str = "370102", **kw: Any):  # type: ignore[no-untyped-def]
    from domain.eligibility import UnitFacts

    code = credit_code(region)
    return UnitFacts(credit_code=code, name=kw.pop("name", f"{kind}-{code[-6:]}"), kind=kind,
                     region_code=region, **kw)


def tasks_2026():  # type: ignore[no-untyped-def]
    from domain.catalogue import TASKS_2026
    from services.registry import TaskDef

    return [TaskDef(code=c, direction=d, title_zh=t) for c, d, t in TASKS_2026]
