"""The lifecycle table: every legal move of a project, once.

`MOVES` is the single definition. `build_machine` turns it into a `transitions` machine
that the workflow fires every stage change through; `docs/lifecycle.md` is drawn from
the same table by `tools.diagram`, and a test fails when the drawing is stale.

A move names the decision (trigger) that causes it, the stages it may start from, where
it leads (`None`: recorded, stage unchanged), who may make it, which preset flag switches
it on, which deadline closes it, the guards that must hold, and the rule it enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from transitions import Machine

from domain.presets import Preset
from domain.roles import Role
from domain.stages import OPEN_STAGES, Stage


class DeadlineKind(StrEnum):
    # The applicant's last moment to edit/submit/resubmit: the batch close, or a
    # city's/county's earlier local deadline for its own applicants.
    APPLICANT = "applicant_close"
    # The system closes (R10): nothing returned or recommended after it.
    BATCH = "batch_close"


@dataclass(frozen=True)
class Move:
    trigger: str
    sources: tuple[Stage, ...]
    dest: Stage | None
    roles: frozenset[Role]
    label_zh: str
    rule: str
    # Preset flag that switches the move on; '!flag' switches it on when the flag is off.
    preset: str | None = None
    deadline: DeadlineKind | None = None
    # Names of guards (see GUARDS): all must hold for the move.
    guards: tuple[str, ...] = ()
    # The co-signer whose concurrence makes the decision final, when `cosign_flag` is on.
    cosigner: Role | None = None
    cosign_flag: str | None = None

    @property
    def internal(self) -> bool:
        return self.dest is None

    def applies_to(self, preset: Preset) -> bool:
        if self.preset is None:
            return True
        if self.preset.startswith("!"):
            return not preset.flag(self.preset[1:])
        return preset.flag(self.preset)

    def needs_cosign(self, preset: Preset) -> bool:
        return self.cosigner is not None and self.cosign_flag is not None and preset.flag(
            self.cosign_flag
        )


@dataclass(frozen=True)
class Guard:
    rule: str
    zh: str
    en: str


# Guards name the rule that decides the move; the project state evaluates them.
GUARDS: dict[str, Guard] = {
    "applicant_can_resubmit": Guard(
        "R9", "申报单位的提交截止时间已过，退回后无法重新提交",
        "the applicant's submission deadline has passed, so a returned application "
        "could not be resubmitted",
    ),
    "awaiting_cosign": Guard(
        "LIFECYCLE", "当前没有待会签的决定", "there is no decision awaiting co-signature"
    ),
    "experts_reviewed": Guard(
        "R12", "须先完成专家评审（已分配专家且全部评分）",
        "expert review must come first: experts assigned and every one has scored",
    ),
    "objection_pending": Guard(
        "R13", "当前没有待调查的异议", "no objection is under investigation"
    ),
    "no_objection_pending": Guard(
        "R13", "有异议尚在调查，公示不能结束", "an objection is still being investigated"
    ),
    "halfyear_not_passed": Guard(
        "R16", "半年期验收已通过", "the half-year acceptance has already been passed"
    ),
    "change_awaiting_city": Guard(
        "R15", "没有待市级审核的重大变更", "no major change is waiting for the city"
    ),
    "change_awaiting_province": Guard(
        "R15", "没有经市级同意、待省级审批的重大变更",
        "no major change approved by the city is waiting for the province",
    ),
    "change_pending": Guard("R15", "没有待审批的重大变更", "no major change is pending"),
    "no_change_pending": Guard(
        "R15", "已有重大变更在审批中", "a major change is already awaiting approval"
    ),
    "subsidy_decided": Guard(
        "R17", "补助金额尚未核定", "the subsidy amount has not been decided yet"
    ),
    "subsidy_not_decided": Guard(
        "R17", "补助金额已核定", "the subsidy amount has already been decided"
    ),
    "no_cosign_pending": Guard(
        "LIFECYCLE", "已有决定在等待会签", "another decision is awaiting co-signature"
    ),
}

S = Stage
R = Role
_APPLICANT = frozenset({R.APPLICANT})
_COUNTY = frozenset({R.COUNTY})
_CITY = frozenset({R.CITY})
_PROVINCE = frozenset({R.PROVINCE})
_SYSTEM = frozenset({R.SYSTEM})

MOVES: tuple[Move, ...] = (
    # -- application (applicant) ---------------------------------------------------------
    Move("edit_application", (S.DRAFT, S.RETURNED), None, _APPLICANT, "修改申报材料", "R11",
         deadline=DeadlineKind.APPLICANT),
    # Documents: the application's while it may change (R11); during implementation and
    # acceptance, process archives and acceptance materials (the project checks the kind).
    Move("attach_document", (S.DRAFT, S.RETURNED), None, _APPLICANT, "上传申报材料", "R11",
         deadline=DeadlineKind.APPLICANT),
    Move("attach_document", (S.IMPLEMENTATION, S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE),
         None, _APPLICANT, "上传过程及验收材料", "R15"),
    Move("submit", (S.DRAFT,), S.SUBMITTED, _APPLICANT, "提交申报", "R10",
         deadline=DeadlineKind.APPLICANT),
    Move("resubmit", (S.RETURNED,), S.SUBMITTED, _APPLICANT, "修改后重新提交", "R9",
         deadline=DeadlineKind.APPLICANT),
    Move("withdraw", (S.DRAFT, S.RETURNED, S.COUNTY_REVIEW, S.CITY_REVIEW), S.WITHDRAWN,
         _APPLICANT, "撤回申报", "WITHDRAWN"),
    # The system admits a submission to its first review level (R9: after a return,
    # review starts again at the first level).
    Move("admit", (S.SUBMITTED,), S.COUNTY_REVIEW, _SYSTEM, "进入县级审核", "R9",
         preset="county_review"),
    Move("admit", (S.SUBMITTED,), S.CITY_REVIEW, _SYSTEM, "进入市级审核", "R9",
         preset="!county_review"),
    # -- county review (2026) ------------------------------------------------------------
    Move("county_approve", (S.COUNTY_REVIEW,), S.CITY_REVIEW, _COUNTY, "县级审核通过，推荐至市",
         "R10", preset="county_review", deadline=DeadlineKind.BATCH),
    Move("county_return", (S.COUNTY_REVIEW,), S.RETURNED, _COUNTY, "县级退回修改", "R9",
         preset="county_review", deadline=DeadlineKind.BATCH, guards=("applicant_can_resubmit",)),
    Move("county_reject", (S.COUNTY_REVIEW,), S.NOT_RECOMMENDED, _COUNTY, "县级审核不通过",
         "DECISION", preset="county_review", deadline=DeadlineKind.BATCH),
    # -- city review and recommendation --------------------------------------------------
    Move("city_recommend", (S.CITY_REVIEW,), S.RECOMMENDED, _CITY, "市级推荐至省", "R8",
         deadline=DeadlineKind.BATCH, guards=("no_cosign_pending",),
         cosigner=R.CITY_FINANCE, cosign_flag="city_finance_cosign"),
    Move("city_return", (S.CITY_REVIEW,), S.RETURNED, _CITY, "市级退回修改", "R9",
         deadline=DeadlineKind.BATCH, guards=("applicant_can_resubmit",)),
    Move("city_reject", (S.CITY_REVIEW,), S.NOT_RECOMMENDED, _CITY, "市级不予推荐", "DECISION",
         deadline=DeadlineKind.BATCH),
    # -- co-signature by the finance departments (2026) ----------------------------------
    Move("concur", (S.CITY_REVIEW,), None, frozenset({R.CITY_FINANCE}), "财政部门会签同意",
         "LIFECYCLE", preset="city_finance_cosign", deadline=DeadlineKind.BATCH,
         guards=("awaiting_cosign",)),
    Move("dissent", (S.CITY_REVIEW,), None, frozenset({R.CITY_FINANCE}), "财政部门不同意",
         "LIFECYCLE", preset="city_finance_cosign", deadline=DeadlineKind.BATCH,
         guards=("awaiting_cosign",)),
    Move("concur", (S.PROVINCIAL_REVIEW, S.SUBSIDY), None, frozenset({R.PROVINCE_FINANCE}),
         "财政部门会签同意", "LIFECYCLE", preset="province_finance_cosign",
         guards=("awaiting_cosign",)),
    Move("dissent", (S.PROVINCIAL_REVIEW, S.SUBSIDY), None, frozenset({R.PROVINCE_FINANCE}),
         "财政部门不同意", "LIFECYCLE", preset="province_finance_cosign",
         guards=("awaiting_cosign",)),
    # -- the system closes (R10) ---------------------------------------------------------
    Move("submission_closed", (S.DRAFT,), S.EXPIRED, _SYSTEM, "截止时未提交", "R10"),
    Move("submission_closed", (S.RETURNED,), S.RETURNED_NOT_RESUBMITTED, _SYSTEM,
         "截止时退回未重新提交", "R10"),
    Move("recommendation_closed", (S.SUBMITTED, S.COUNTY_REVIEW, S.CITY_REVIEW),
         S.NOT_RECOMMENDED, _SYSTEM, "截止时未获推荐", "R10"),
    Move("recommendation_closed", (S.RECOMMENDED,), S.PROVINCIAL_REVIEW, _SYSTEM,
         "系统关闭，进入省级评审", "R10"),
    # -- provincial review (R12) ---------------------------------------------------------
    Move("assign_experts", (S.PROVINCIAL_REVIEW,), None, _PROVINCE, "分配评审专家", "R12"),
    Move("score", (S.PROVINCIAL_REVIEW,), None, frozenset({R.EXPERT}), "专家评分", "R12"),
    Move("select", (S.PROVINCIAL_REVIEW,), S.SELECTED, _PROVINCE, "确定入围", "R12",
         guards=("experts_reviewed", "no_cosign_pending"),
         cosigner=R.PROVINCE_FINANCE, cosign_flag="province_finance_cosign"),
    Move("not_select", (S.PROVINCIAL_REVIEW,), S.NOT_SELECTED, _PROVINCE, "不予入围", "R12",
         guards=("experts_reviewed", "no_cosign_pending"),
         cosigner=R.PROVINCE_FINANCE, cosign_flag="province_finance_cosign"),
    # -- publicity (R13) -----------------------------------------------------------------
    Move("open_publicity", (S.SELECTED,), S.PUBLICITY, _PROVINCE, "开始公示", "R13"),
    Move("raise_objection", (S.PUBLICITY,), None, _PROVINCE, "登记公示异议", "R13"),
    Move("uphold_objection", (S.PUBLICITY,), S.REMOVED_IN_PUBLICITY, _PROVINCE,
         "异议成立，取消入围", "R13", guards=("objection_pending",)),
    Move("dismiss_objection", (S.PUBLICITY,), None, _PROVINCE, "异议不成立", "R13",
         guards=("objection_pending",)),
    Move("publicity_ended", (S.PUBLICITY,), S.IMPLEMENTATION, _SYSTEM, "公示期满无异议，公布并实施",
         "R13", guards=("no_objection_pending",)),
    # -- implementation (R15) ------------------------------------------------------------
    Move("submit_archive", (S.IMPLEMENTATION,), None, _APPLICANT, "提交过程档案", "R15",
         preset="process_archives"),
    Move("request_change", (S.IMPLEMENTATION,), None, _APPLICANT, "申请重大变更", "R15",
         guards=("no_change_pending",)),
    Move("city_approve_change", (S.IMPLEMENTATION,), None, _CITY, "市级同意变更", "R15",
         guards=("change_awaiting_city",)),
    Move("province_approve_change", (S.IMPLEMENTATION,), None, _PROVINCE, "省级批准变更", "R15",
         guards=("change_awaiting_province",)),
    Move("reject_change", (S.IMPLEMENTATION,), None, frozenset({R.CITY, R.PROVINCE}),
         "不同意变更", "R15", guards=("change_pending",)),
    Move("archive_reminder", (S.IMPLEMENTATION,), None, _SYSTEM, "过程档案提交提醒", "R15",
         preset="process_archives"),
    Move("archive_overdue", (S.IMPLEMENTATION,), None, _SYSTEM, "过程档案逾期", "R15",
         preset="process_archives"),
    # -- acceptance (R16) ----------------------------------------------------------------
    Move("open_halfyear_acceptance", (S.IMPLEMENTATION,), S.HALFYEAR_ACCEPTANCE, _SYSTEM,
         "半年期验收开始", "R16", preset="halfyear_acceptance", guards=("halfyear_not_passed",)),
    Move("pass_halfyear_acceptance", (S.HALFYEAR_ACCEPTANCE,), S.IMPLEMENTATION, _PROVINCE,
         "半年期验收通过", "R16", preset="halfyear_acceptance"),
    Move("open_final_acceptance", (S.IMPLEMENTATION,), S.FINAL_ACCEPTANCE, _SYSTEM,
         "一年期验收开始", "R16"),
    Move("request_early_acceptance", (S.IMPLEMENTATION,), S.FINAL_ACCEPTANCE, _APPLICANT,
         "申请提前验收", "R16", preset="early_acceptance", guards=("no_change_pending",)),
    Move("pass_acceptance", (S.FINAL_ACCEPTANCE,), S.SUBSIDY, _PROVINCE, "验收通过", "R16"),
    Move("fail_acceptance", (S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE), S.FAILED_ACCEPTANCE,
         _PROVINCE, "验收不通过", "R16"),
    # -- subsidy (R17) -------------------------------------------------------------------
    Move("decide_subsidy", (S.SUBSIDY,), None, _PROVINCE, "核定补助金额", "R17",
         guards=("subsidy_not_decided", "no_cosign_pending"),
         cosigner=R.PROVINCE_FINANCE, cosign_flag="province_finance_cosign"),
    Move("record_disbursement", (S.SUBSIDY,), S.COMPLETED, _PROVINCE, "补助已拨付", "R17",
         guards=("subsidy_decided",)),
    # -- revocation at any stage (R18) ---------------------------------------------------
    Move("revoke", OPEN_STAGES, S.REVOKED, _PROVINCE, "撤销（弄虚作假等）", "R18"),
)

TRIGGERS: tuple[str, ...] = tuple(dict.fromkeys(m.trigger for m in MOVES))
# Decisions the system makes on its own when a timer fires; people never send these.
SYSTEM_TRIGGERS = frozenset(m.trigger for m in MOVES if m.roles == _SYSTEM)
ACTION_LABELS_ZH: dict[str, str] = {m.trigger: m.label_zh for m in MOVES}


class Lifecycle:
    """The moves of one preset, indexed for the questions the workflow asks."""

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        applicable = [m for m in MOVES if m.applies_to(preset)]
        # A stage the preset switches off (no county review in 2024, no half-year
        # acceptance in 2026) is unreachable; moves out of it are dropped too, so each
        # preset's machine holds exactly its own moves.
        reachable = _reachable(applicable)
        kept = []
        for move in applicable:
            sources = tuple(s for s in move.sources if s in reachable)
            if sources:
                kept.append(replace(move, sources=sources))
        self.moves: tuple[Move, ...] = tuple(kept)
        self._by_trigger_and_stage: dict[tuple[str, Stage], Move] = {}
        for move in self.moves:
            for source in move.sources:
                if (move.trigger, source) in self._by_trigger_and_stage:
                    raise ValueError(f"two moves for {move.trigger} from {source}")
                self._by_trigger_and_stage[move.trigger, source] = move
        # Asked for every role on every change (allowed decisions, waiting-on): indexed.
        self._from: dict[Stage, tuple[Move, ...]] = {
            stage: tuple(m for m in self.moves if stage in m.sources) for stage in Stage}

    def move(self, trigger: str, stage: Stage) -> Move | None:
        return self._by_trigger_and_stage.get((trigger, stage))

    def moves_from(self, stage: Stage) -> tuple[Move, ...]:
        return self._from[stage]

    def knows(self, trigger: str) -> bool:
        return any(m.trigger == trigger for m in self.moves)

    def roles_for(self, trigger: str) -> frozenset[Role]:
        return frozenset(r for m in self.moves if m.trigger == trigger for r in m.roles)

    def deadline_of(self, trigger: str) -> DeadlineKind | None:
        """The deadline that closes this decision, whatever stage it is tried in."""
        kinds = {m.deadline for m in self.moves if m.trigger == trigger and m.deadline}
        return next(iter(kinds)) if len(kinds) == 1 else None


_LIFECYCLES: dict[str, Lifecycle] = {}


def lifecycle_for(preset: Preset) -> Lifecycle:
    """One Lifecycle per preset for the life of the process (presets are immutable)."""
    if preset.name not in _LIFECYCLES:
        _LIFECYCLES[preset.name] = Lifecycle(preset)
    return _LIFECYCLES[preset.name]


def machine_transitions(
    lifecycle: Lifecycle, guard: Callable[[str], Callable[[], bool] | str]
) -> list[dict[str, object]]:
    """The moves as `transitions` configuration; `guard` maps a guard name to a callable
    (the workflow) or leaves it a name (the docs drawing)."""
    out: list[dict[str, object]] = []
    for move in lifecycle.moves:
        out.append(
            {
                "trigger": move.trigger,
                "source": [s.value for s in move.sources],
                "dest": move.dest.value if move.dest else None,
                "conditions": [guard(name) for name in move.guards],
            }
        )
    return out


def build_machine(
    lifecycle: Lifecycle,
    model: object,
    initial: Stage,
    guard: Callable[[str], Callable[[], bool]],
) -> Machine:
    return Machine(
        model=model,
        states=[s.value for s in stages_of(lifecycle)],
        transitions=machine_transitions(lifecycle, guard),
        initial=initial.value,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )


def _reachable(moves: list[Move]) -> set[Stage]:
    seen = {Stage.DRAFT}
    frontier: list[Stage] = [Stage.DRAFT]
    while frontier:
        stage = frontier.pop()
        for move in moves:
            if stage in move.sources and move.dest and move.dest not in seen:
                seen.add(move.dest)
                frontier.append(move.dest)
    return seen


def stages_of(lifecycle: Lifecycle) -> list[Stage]:
    """The stages a project of this preset can be in, in lifecycle order."""
    used = {s for m in lifecycle.moves for s in m.sources} | {
        m.dest for m in lifecycle.moves if m.dest
    }
    return [s for s in Stage if s in used]
