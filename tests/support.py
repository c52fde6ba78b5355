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


# -- payloads beyond the table's examples ----------------------------------------------------

# The few payloads besides each decision's example (domain.lifecycle) that lead somewhere
# else: a second expert with a review deadline (and removing that one), a failing score,
# a change that extends the implementation period, an archive document during
# implementation, a half-year pass without figures (rules 1), a long deferral, a partial
# repayment. A decision not named here is tried with its example only, so a new decision
# in the table is explored without touching the tests.
PAYLOAD_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "assign_experts": [{"experts": [{"user_id": "expert-1"}, {"user_id": "expert-2"}],
                        "review_days": 10}],
    "score": [{"score": 40, "method": "material"}],
    "remove_expert": [{"user_id": "expert-2", "why": "no_response"}],
    "request_change": [{"kind": "implementation_period", "description": "延期三个月",
                        "extend_months": 3}],
    "attach_document": [{"sha256": "b" * 64, "kind": "archive", "filename": "过程档案.pdf"}],
    "pass_halfyear_acceptance": [{}],
    "not_ready": [{"months": 12}],
    "record_repayment": [{"amount_cny": 100}],
}


def payloads(action: str) -> list[dict[str, Any]]:
    """The example of the decision's table entry, then its variants."""
    from domain.lifecycle import payload_example

    return [payload_example(action), *PAYLOAD_VARIANTS.get(action, [])]
