"""Eligibility rules as pure functions: each returns None or a Refusal naming its rule.

Units, consortia and applications come in as plain facts; the activities read them from
the database. The cross-project limits (R2, R3, R8's counting) need the database and
live in `services.limits`; the per-list part of R8 is here.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from pydantic import BaseModel, Field

from domain.presets import Preset
from domain.refusals import Refusal, RefusalKind, refusal

# -- R4: 统一社会信用代码 (GB 32100-2015) ------------------------------------------------------

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_CHARSET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def with_check_char(first17: str) -> str:
    """A complete code from its first 17 characters (demo and test data)."""
    return first17 + credit_code_check_char(first17)


def check_credit_code(code: str) -> Refusal | None:
    if len(code) != 18:
        return _r4(f"统一社会信用代码应为18位，收到{len(code)}位",
                   f"a unified social credit code has 18 characters, got {len(code)}")
    bad = [c for c in code if c not in CREDIT_CODE_CHARSET]
    if bad:
        return _r4(f"统一社会信用代码含有不允许的字符：{''.join(dict.fromkeys(bad))}"
                   "（仅数字和大写字母，不含I、O、S、V、Z）",
                   f"the code contains characters not allowed: {''.join(dict.fromkeys(bad))} "
                   "(digits and capital letters except I, O, S, V, Z)")
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        return _r4("统一社会信用代码校验位不正确，请核对是否填写有误",
                   "the code's check character does not match; please check for a typo")
    return None


def _r4(zh: str, en: str) -> Refusal:
    return refusal("R4", RefusalKind.INPUT, zh, en)


# -- facts -------------------------------------------------------------------------------


class UnitFacts(BaseModel):
    credit_code: str
    name: str
    kind: str  # service_provider | manufacturer | cluster_body | other
    region_code: str
    group_code: str | None = None
    parent_code: str | None = None
    central_enterprise_in_shandong: bool = False
    provincial_soe: bool = False
    major_safety_accident_3y: bool = False
    serious_dishonesty: bool = False
    abnormal_operation: bool = False
    legal_rep_dishonest_debtor: bool = False
    against_industrial_policy: bool = False
    flagged_by_province: str | None = None
    refused_after_r18: str | None = None

    @property
    def quota_exempt(self) -> bool:
        """R8: central enterprises in Shandong and provincial SOEs use no city quota."""
        return self.central_enterprise_in_shandong or self.provincial_soe


class Member(BaseModel):
    unit: UnitFacts
    role: str  # lead | scene | member


class ApplicationFacts(BaseModel):
    declared_investment_cny: float | None = Field(default=None, ge=0, le=1e12,
                                                  allow_inf_nan=False)
    implementation_region: str | None = Field(default=None, pattern=r"^\d{6}$")
    implementation_start: date | None = None
    implementation_end: date | None = None
    prior_provincial_support: bool = False


# -- R1: the consortium ------------------------------------------------------------------


def related(a: UnitFacts, b: UnitFacts) -> bool:
    """Same parent group, or one controls the other (SPEC R1)."""
    return (
        (a.group_code is not None and a.group_code == b.group_code)
        or a.parent_code == b.credit_code
        or b.parent_code == a.credit_code
    )


def check_consortium(members: list[Member], preset: Preset) -> Refusal | None:
    if not members:
        return refusal("R1", RefusalKind.INPUT, "申报单位不能为空", "the application has no unit")
    if len(members) > 3:
        return refusal("R1", RefusalKind.RULE, f"联合体成员不超过3家，现有{len(members)}家",
                       f"a consortium has at most 3 members, this one has {len(members)}")
    codes = Counter(m.unit.credit_code for m in members)
    dup = [c for c, n in codes.items() if n > 1]
    if dup:
        return refusal("R1", RefusalKind.RULE, f"联合体成员不能为同一单位：{dup[0]}",
                       f"the same unit appears twice in the consortium: {dup[0]}")
    for i, a in enumerate(members):
        for b in members[i + 1:]:
            if related(a.unit, b.unit):
                return refusal(
                    "R1", RefusalKind.RULE,
                    f"联合体成员不能为关联单位：{a.unit.name} 与 {b.unit.name}",
                    f"consortium members may not be related units: {a.unit.name} and "
                    f"{b.unit.name} (same group, or one controls the other)",
                )
    if preset.name.value == "2024":
        leads = [m for m in members if m.role == "lead"]
        if len(leads) != 1 or leads[0].unit.kind != "service_provider" or not (
            leads[0].unit.region_code.startswith("37")
        ):
            return refusal("R1", RefusalKind.RULE, "须由1家省内服务商作为牵头单位",
                           "one in-province service provider must lead the consortium")
        if not any(m.role == "scene" and m.unit.kind == "manufacturer" for m in members):
            return refusal("R1", RefusalKind.RULE, "须有制造业企业作为场景落地单位",
                           "a manufacturing enterprise must be the scene unit")
    return None


# -- R5 / R18: standing ------------------------------------------------------------------

_STANDING = (
    ("major_safety_accident_3y", "近三年内发生过较大以上安全生产事故",
     "a major safety accident in the last three years"),
    ("serious_dishonesty", "存在严重失信记录", "a serious dishonesty record"),
    ("abnormal_operation", "被列入经营异常名录", "on the abnormal-operation list"),
    ("legal_rep_dishonest_debtor", "法定代表人被列入失信被执行人名单",
     "the legal representative is on the court's dishonest-debtor list"),
    ("against_industrial_policy", "不符合产业政策导向", "not in line with industrial policy"),
)


def check_standing(unit: UnitFacts) -> Refusal | None:
    if unit.refused_after_r18:
        return refusal("R18", RefusalKind.RULE,
                       f"{unit.name}曾因弄虚作假等被撤销项目，不得申报：{unit.refused_after_r18}",
                       f"{unit.name} is refused in later batches after a revocation (R18)")
    for flag, zh, en in _STANDING:
        if getattr(unit, flag):
            return refusal("R5", RefusalKind.RULE, f"{unit.name}：{zh}，不得申报",
                           f"{unit.name}: {en}; the unit may not apply")
    if unit.flagged_by_province:
        return refusal("R5", RefusalKind.RULE,
                       f"{unit.name}被省工信厅标记，不得申报：{unit.flagged_by_province}",
                       f"{unit.name} is flagged by the province: {unit.flagged_by_province}")
    return None


# -- R6: the 2024 project conditions -----------------------------------------------------

MIN_INVESTMENT_2024 = 1_000_000


def check_project_2024(app: ApplicationFacts, notice_date: date | None) -> Refusal | None:
    def r6(zh: str, en: str) -> Refusal:
        return refusal("R6", RefusalKind.RULE, zh, en)

    if app.declared_investment_cny is None or app.declared_investment_cny < MIN_INVESTMENT_2024:
        return r6("项目预期投入不少于100万元", "expected investment must be at least 1,000,000 CNY")
    if not (app.implementation_region or "").startswith("37"):
        return r6("项目须在省内实施", "the project must be implemented in Shandong")
    start, end = app.implementation_start, app.implementation_end
    if start is None or end is None or end < start:
        return r6("须填写有效的实施起止日期", "valid implementation start and end dates are needed")
    if notice_date is not None and start <= notice_date:
        return r6(f"项目须于通知下发日期（{notice_date}）之后开展",
                  f"the project must start after the notice date ({notice_date})")
    if end > _one_year_after(start):
        return r6("实施期不超过一年", "the implementation lasts at most 12 months")
    if app.prior_provincial_support:
        return r6("项目前期已获得过省级财政资金支持",
                  "the project already had provincial fiscal support")
    return None


def _one_year_after(day: date) -> date:
    return day.replace(year=day.year + 1, day=28) if (day.month, day.day) == (2, 29) else (
        day.replace(year=day.year + 1))


# -- R7: recommendation letters ----------------------------------------------------------


def check_letters(direction: str, applicant: UnitFacts, document_kinds: set[str]) -> Refusal | None:
    if direction == "cluster" and "cluster_recommendation" not in document_kinds:
        return refusal("R7", RefusalKind.RULE, "产业集群方向须附集群管理机构书面推荐意见",
                       "a cluster-direction task needs the cluster management body's "
                       "written recommendation")
    if applicant.quota_exempt and applicant.parent_code and (
        "provincial_company_letter" not in document_kinds
    ):
        return refusal("R7", RefusalKind.RULE, "子公司申报须附省级公司推荐函",
                       "a subsidiary needs its provincial company's recommendation letter")
    return None


# -- R8: a city's ranked list ------------------------------------------------------------


class Ranked(BaseModel):
    project_id: str
    rank: int
    exempt: bool = False


def check_ranked_list(
    items: list[Ranked], quota: int, already_used: int, already_ranks: set[int]
) -> Refusal | None:
    """A ranked list is accepted whole or refused whole."""
    ranks = [i.rank for i in items]
    if len(set(ranks)) != len(ranks) or set(ranks) & already_ranks or min(ranks, default=1) < 1:
        return refusal("R8", RefusalKind.INPUT, "推荐排序须为不重复的正整数",
                       "ranks must be distinct positive numbers")
    if len({i.project_id for i in items}) != len(items):
        return refusal("R8", RefusalKind.INPUT, "推荐名单中有重复项目",
                       "a project appears twice in the list")
    counted = already_used + sum(1 for i in items if not i.exempt)
    if counted > quota:
        return refusal(
            "R8", RefusalKind.RULE,
            f"推荐数量超出本市名额：名额{quota}个，本次后将占用{counted}个"
            "（中央驻鲁企业、省属国企不占名额）",
            f"the city's quota is {quota}; this list would use {counted} "
            "(central enterprises in Shandong and provincial SOEs do not count)",
        )
    return None
