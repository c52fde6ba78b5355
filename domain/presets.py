"""The two policy presets, one per notice. A preset switches parts of the one lifecycle
on or off; it never selects a second copy of the code."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class PresetName(StrEnum):
    P2024 = "2024"
    P2026 = "2026"


class Preset(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: PresetName
    # 2026: county -> city -> province. 2024: city -> province.
    county_review: bool
    # 2026: the city recommends together with its finance bureau (推荐 会同财政).
    city_finance_cosign: bool
    # 2026: the province decides selection and subsidy with the finance department.
    province_finance_cosign: bool
    # 2024: acceptance at six months as well as at one year (R16).
    halfyear_acceptance: bool
    # 2026: acceptance earlier on request when ready (R16).
    early_acceptance: bool
    # 2026: process archives during implementation (R15).
    process_archives: bool

    def flag(self, name: str) -> bool:
        return bool(getattr(self, name))


PRESETS: dict[PresetName, Preset] = {
    PresetName.P2024: Preset(
        name=PresetName.P2024,
        county_review=False,
        city_finance_cosign=False,
        province_finance_cosign=False,
        halfyear_acceptance=True,
        early_acceptance=False,
        process_archives=False,
    ),
    PresetName.P2026: Preset(
        name=PresetName.P2026,
        county_review=True,
        city_finance_cosign=True,
        province_finance_cosign=True,
        halfyear_acceptance=False,
        early_acceptance=True,
        process_archives=True,
    ),
}
