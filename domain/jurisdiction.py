"""Jurisdiction, once: which projects a person sees, and on which they may decide.

An official sees and decides on their own region's projects (a county its county's, a
city and its finance bureau the city's), an applicant its own unit's (a consortium
member sees the project; only the applicant decides), an expert the projects assigned
to them; the province, the provincial finance department, auditors and operators see
all, and the last two decide nothing. `scope_of` is the rule; `sees` and `may_decide`
apply it to one project in memory, and `services.jurisdiction.restrict` applies the same scope to
an SQL query (a test checks that the two agree).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from domain.roles import Role

PROVINCE_CODE = "37"


class Scope(StrEnum):
    ALL = "all"
    COUNTY = "county"
    CITY = "city"
    UNIT = "unit"
    ASSIGNED = "assigned"
    NONE = "none"


_SCOPES: dict[Role, Scope] = {
    Role.PROVINCE: Scope.ALL, Role.PROVINCE_FINANCE: Scope.ALL, Role.AUDITOR: Scope.ALL,
    Role.OPERATOR: Scope.ALL, Role.COUNTY: Scope.COUNTY, Role.CITY: Scope.CITY,
    Role.CITY_FINANCE: Scope.CITY, Role.APPLICANT: Scope.UNIT, Role.EXPERT: Scope.ASSIGNED,
}
# The length of the region code each official acts for (GB/T 2260: 37 ⊃ 3701 ⊃ 370102).
REGION_DIGITS: dict[Role, int] = {
    Role.COUNTY: 6, Role.CITY: 4, Role.CITY_FINANCE: 4, Role.PROVINCE: 2,
    Role.PROVINCE_FINANCE: 2,
}


def scope_of(role: Role) -> Scope:
    return _SCOPES.get(role, Scope.NONE)


def local_official(region_code: str) -> Role:
    """The official who sets a local deadline for this region: a county or a city."""
    return Role.COUNTY if len(region_code) == REGION_DIGITS[Role.COUNTY] else Role.CITY


class Person(Protocol):
    """A principal (API token) or an actor (a decision's maker)."""

    @property
    def user_id(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def region(self) -> str: ...
    @property
    def unit_code(self) -> str | None: ...


@dataclass(frozen=True)
class Place:
    """Where a project belongs and who takes part in it."""

    city_code: str
    county_code: str
    applicant_unit: str
    member_units: frozenset[str] = frozenset()
    experts: Collection[str] = field(default_factory=frozenset)


def covers_region(who: Person, region_code: str) -> bool:
    """The person's region contains this one (37 ⊃ 3701 ⊃ 370102)."""
    return region_code.startswith(who.region)


def sees(who: Person, place: Place) -> bool:
    scope = scope_of(who.role)
    if scope is Scope.ALL:
        return True
    if scope is Scope.COUNTY:
        return who.region == place.county_code
    if scope is Scope.CITY:
        return who.region == place.city_code
    if scope is Scope.UNIT:
        return who.unit_code is not None and (
            who.unit_code == place.applicant_unit or who.unit_code in place.member_units)
    if scope is Scope.ASSIGNED:
        return who.user_id in place.experts
    return False


def may_decide(who: Person, place: Place) -> bool:
    """Whether the person's decisions on this project are within their jurisdiction (the
    role's moves are checked separately; experts are checked against their assignment by
    R12, so they pass here)."""
    scope = scope_of(who.role)
    if scope is Scope.UNIT:
        return who.unit_code == place.applicant_unit
    if scope is Scope.ALL:
        return who.region == PROVINCE_CODE
    if scope is Scope.ASSIGNED:
        return True
    return sees(who, place)
