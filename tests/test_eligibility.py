"""The eligibility rules as pure functions (R1, R4, R5, R6, R7, R8)."""

from __future__ import annotations

from datetime import date

import pytest

from domain.eligibility import (
    CREDIT_CODE_CHARSET,
    ApplicationFacts,
    Member,
    Ranked,
    UnitFacts,
    check_consortium,
    check_credit_code,
    check_letters,
    check_project_2024,
    check_ranked_list,
    check_standing,
    with_check_char,
)
from domain.presets import PRESETS, PresetName
from tests import support

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

# Codes built by the GB 32100-2015 algorithm, and published test vectors of it.
VALID = [
    "91370102MA3C5XXXX0",
    with_check_char("91370100163044200"),
    with_check_char("12370000MB2851245"),
    "91350100M000100Y43",  # a widely published example of the standard's format
]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass_r4(code: str) -> None:
    assert check_credit_code(code) is None


@pytest.mark.parametrize("code", VALID)
def test_every_single_character_corruption_fails_r4(code: str) -> None:
    alphabet = CREDIT_CODE_CHARSET + "IOSVZ" + "abcxyz" + "-*"
    for i, original in enumerate(code):
        for ch in alphabet:
            if ch == original:
                continue
            corrupted = code[:i] + ch + code[i + 1:]
            r = check_credit_code(corrupted)
            assert r is not None and r.rule == "R4", corrupted


def test_r4_messages_say_what_is_wrong() -> None:
    assert "18位" in check_credit_code("9137").message_zh  # type: ignore[union-attr]
    assert "I" in check_credit_code("91370102MA3C5XXXI0").message_zh  # type: ignore[union-attr]
    assert "校验位" in check_credit_code("91370102MA3C5XXXX1").message_zh  # type: ignore[union-attr]


P2024, P2026 = PRESETS[PresetName.P2024], PRESETS[PresetName.P2026]


def m(kind: str, role: str = "member", **kw: object) -> Member:
    return Member(unit=support.unit(kind, **kw), role=role)


def test_consortium_rules_r1() -> None:
    lead, scene = m("service_provider", "lead"), m("manufacturer", "scene")
    assert check_consortium([lead, scene], P2024) is None
    assert check_consortium([scene], P2026) is None  # 2026: an enterprise alone may apply
    too_many = [lead, scene, m("manufacturer"), m("other")]
    assert "3" in check_consortium(too_many, P2026).message_zh  # type: ignore[union-attr]
    assert check_consortium([lead, lead], P2026).rule == "R1"  # type: ignore[union-attr]
    group_mates = [m("service_provider", "lead", group_code="G1"),
                   m("manufacturer", "scene", group_code="G1")]
    assert "关联" in check_consortium(group_mates, P2026).message_zh  # type: ignore[union-attr]
    parent = m("service_provider", "lead")
    child = Member(unit=support.unit("manufacturer", parent_code=parent.unit.credit_code),
                   role="scene")
    assert check_consortium([parent, child], P2026).rule == "R1"  # type: ignore[union-attr]
    assert check_consortium([scene], P2024).rule == "R1"  # type: ignore[union-attr]
    out_of_province = Member(unit=support.unit("service_provider", region="110101"), role="lead")
    assert check_consortium([out_of_province, scene], P2024).rule == "R1"  # type: ignore[union-attr]
    no_scene = [lead, m("service_provider", "member")]
    assert "场景" in check_consortium(no_scene, P2024).message_zh  # type: ignore[union-attr]


@pytest.mark.parametrize("flag", ["major_safety_accident_3y", "serious_dishonesty",
                                  "abnormal_operation", "legal_rep_dishonest_debtor",
                                  "against_industrial_policy"])
def test_standing_flags_refuse_r5(flag: str) -> None:
    unit = support.unit("manufacturer", **{flag: True})
    r = check_standing(unit)
    assert r is not None and r.rule == "R5" and unit.name in r.message_zh


def test_province_flag_and_r18_refusal() -> None:
    assert check_standing(support.unit(flagged_by_province="核查中")).rule == "R5"  # type: ignore[union-attr]
    assert check_standing(support.unit(refused_after_r18="骗取奖补")).rule == "R18"  # type: ignore[union-attr]
    assert check_standing(support.unit()) is None


def test_2024_project_conditions_r6() -> None:
    notice = date(2024, 2, 20)
    ok = ApplicationFacts(declared_investment_cny=1_000_000, implementation_region="370102",
                          implementation_start=date(2024, 3, 1),
                          implementation_end=date(2025, 3, 1))
    assert check_project_2024(ok, notice) is None
    cases = {
        "100万": {"declared_investment_cny": 999_999},
        "省内": {"implementation_region": "110101"},
        "之后": {"implementation_start": notice},
        "一年": {"implementation_end": date(2025, 3, 2)},
        "省级财政": {"prior_provincial_support": True},
    }
    for words, change in cases.items():
        r = check_project_2024(ok.model_copy(update=change), notice)
        assert r is not None and r.rule == "R6" and words in r.message_zh, change


def test_recommendation_letters_r7() -> None:
    plain = support.unit("service_provider")
    assert check_letters("cluster", plain, set()).rule == "R7"  # type: ignore[union-attr]
    assert check_letters("cluster", plain, {"cluster_recommendation"}) is None
    subsidiary = support.unit("manufacturer", provincial_soe=True, parent_code=plain.credit_code)
    assert "推荐函" in check_letters("technology", subsidiary, set()).message_zh  # type: ignore[union-attr]
    assert check_letters("technology", subsidiary, {"provincial_company_letter"}) is None


def test_ranked_list_r8() -> None:
    items = [Ranked(project_id=f"p{i}", rank=i) for i in (1, 2, 3)]
    assert check_ranked_list(items, 3, 0, set()) is None
    assert check_ranked_list(items, 2, 0, set()).rule == "R8"  # type: ignore[union-attr]
    exempt = [*items[:2], Ranked(project_id="p3", rank=3, exempt=True)]
    assert check_ranked_list(exempt, 2, 0, set()) is None
    assert check_ranked_list(items, 5, 3, set()).rule == "R8"  # type: ignore[union-attr]
    dup_rank = [Ranked(project_id="a", rank=1), Ranked(project_id="b", rank=1)]
    assert check_ranked_list(dup_rank, 5, 0, set()).kind == "input"  # type: ignore[union-attr]
    assert check_ranked_list(items[:1], 5, 0, {1}).kind == "input"  # type: ignore[union-attr]


def test_unit_facts_know_the_quota_exemption() -> None:
    assert UnitFacts(credit_code="x", name="n", kind="other", region_code="3701",
                     central_enterprise_in_shandong=True).quota_exempt
