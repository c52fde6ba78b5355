"""Who acts on a project (SPEC.md, 'Who uses it')."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    APPLICANT = "applicant"
    COUNTY = "county"
    CITY = "city"
    CITY_FINANCE = "city_finance"
    PROVINCE = "province"
    PROVINCE_FINANCE = "province_finance"
    EXPERT = "expert"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    # Not a person: the workflow itself, when a timer fires (deadlines, reminders).
    SYSTEM = "system"

    @property
    def label_zh(self) -> str:
        return ROLE_LABELS_ZH[self]


ROLE_LABELS_ZH: dict[Role, str] = {
    Role.APPLICANT: "申报单位",
    Role.COUNTY: "县级工信局",
    Role.CITY: "市工信局",
    Role.CITY_FINANCE: "市财政局",
    Role.PROVINCE: "省工信厅工业互联网处",
    Role.PROVINCE_FINANCE: "省财政厅",
    Role.EXPERT: "评审专家",
    Role.OPERATOR: "运维人员",
    Role.AUDITOR: "审计人员",
    Role.SYSTEM: "系统（定时）",
}

# Roles that act for a region and may only touch projects inside it.
REGIONAL_ROLES = frozenset({Role.COUNTY, Role.CITY, Role.CITY_FINANCE})
