"""The stages of a project and the ends that are not completion (SPEC.md, 'Lifecycle')."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    COUNTY_REVIEW = "county_review"
    CITY_REVIEW = "city_review"
    RECOMMENDED = "recommended"
    PROVINCIAL_REVIEW = "provincial_review"
    SELECTED = "selected"
    PUBLICITY = "publicity"
    IMPLEMENTATION = "implementation"
    HALFYEAR_ACCEPTANCE = "halfyear_acceptance"
    FINAL_ACCEPTANCE = "final_acceptance"
    SUBSIDY = "subsidy"
    # Rules version 2 (issue 16): rectification loops back to acceptance (R16); after the
    # subsidy a supervision period (R18), and a clawback when fraud is found in it.
    RECTIFICATION = "rectification"
    SUPERVISION = "supervision"
    CLAWBACK = "clawback"
    COMPLETED = "completed"
    # Ends that are not completion.
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    RETURNED_NOT_RESUBMITTED = "returned_not_resubmitted"
    NOT_RECOMMENDED = "not_recommended"
    NOT_SELECTED = "not_selected"
    REMOVED_IN_PUBLICITY = "removed_in_publicity"
    FAILED_ACCEPTANCE = "failed_acceptance"
    TERMINATED = "terminated"  # R21: ended without fraud
    REVOKED = "revoked"

    @property
    def label_zh(self) -> str:
        return STAGE_LABELS_ZH[self]

    @property
    def is_end(self) -> bool:
        return self in END_STAGES

    @property
    def is_frozen(self) -> bool:
        """R11: from the city's recommendation on, the application can no longer change."""
        return self in FROZEN_STAGES

    @property
    def is_selected(self) -> bool:
        """On the list (拟入围) or beyond it, its places counting for good (R2)."""
        return self in SELECTED_STAGES

    @property
    def awaits_submission(self) -> bool:
        """With the applicant, before (re)submission: the applicant's deadline applies."""
        return self in (Stage.DRAFT, Stage.RETURNED)

    @property
    def awaits_system_close(self) -> bool:
        """Submitted and not yet with the province: the system's close (R10) decides."""
        return self in (Stage.SUBMITTED, Stage.COUNTY_REVIEW, Stage.CITY_REVIEW,
                        Stage.RECOMMENDED)

    @property
    def before_recommendation(self) -> bool:
        """A city's recommendation cannot exist yet (or any more, after a return)."""
        return self in (Stage.DRAFT, Stage.SUBMITTED, Stage.COUNTY_REVIEW, Stage.RETURNED)

    @property
    def waits_on_province(self) -> bool:
        """Only the province (with finance) moves the project on from here: it is reminded
        when the project has waited too long (rules 2)."""
        return self in (Stage.PROVINCIAL_REVIEW, Stage.SELECTED, Stage.HALFYEAR_ACCEPTANCE,
                        Stage.FINAL_ACCEPTANCE, Stage.SUBSIDY, Stage.CLAWBACK)

    @property
    def releases_places(self) -> bool:
        """An end before the list: the units' places (R2, R3) and the city's quota row
        (R8) go back. `revoked` is decided by whether the project had been selected."""
        return self in RELEASING_ENDS


STAGE_LABELS_ZH: dict[Stage, str] = {
    Stage.DRAFT: "草稿",
    Stage.SUBMITTED: "已提交",
    Stage.RETURNED: "退回修改",
    Stage.COUNTY_REVIEW: "县级审核",
    Stage.CITY_REVIEW: "市级审核推荐",
    Stage.RECOMMENDED: "已推荐至省",
    Stage.PROVINCIAL_REVIEW: "省级评审",
    Stage.SELECTED: "拟入围",
    Stage.PUBLICITY: "公示中",
    Stage.IMPLEMENTATION: "项目实施",
    Stage.HALFYEAR_ACCEPTANCE: "半年期验收",
    Stage.FINAL_ACCEPTANCE: "验收评估",
    Stage.SUBSIDY: "补助核定",
    Stage.RECTIFICATION: "限期整改",
    Stage.SUPERVISION: "监管期",
    Stage.CLAWBACK: "追回补助",
    Stage.COMPLETED: "已完成",
    Stage.WITHDRAWN: "已撤回",
    Stage.EXPIRED: "逾期未提交",
    Stage.RETURNED_NOT_RESUBMITTED: "退回后未重新提交",
    Stage.NOT_RECOMMENDED: "未获推荐",
    Stage.NOT_SELECTED: "未入选",
    Stage.REMOVED_IN_PUBLICITY: "公示未通过",
    Stage.FAILED_ACCEPTANCE: "验收未通过",
    Stage.TERMINATED: "已终止",
    Stage.REVOKED: "已撤销",
}

END_STAGES = frozenset(
    {
        Stage.COMPLETED,
        Stage.WITHDRAWN,
        Stage.EXPIRED,
        Stage.RETURNED_NOT_RESUBMITTED,
        Stage.NOT_RECOMMENDED,
        Stage.NOT_SELECTED,
        Stage.REMOVED_IN_PUBLICITY,
        Stage.FAILED_ACCEPTANCE,
        Stage.TERMINATED,
        Stage.REVOKED,
    }
)
OPEN_STAGES = tuple(s for s in Stage if s not in END_STAGES)

# R11: the stages after the city's recommendation, while the project is open.
FROZEN_STAGES = frozenset({
    Stage.RECOMMENDED, Stage.PROVINCIAL_REVIEW, Stage.SELECTED, Stage.PUBLICITY,
    Stage.IMPLEMENTATION, Stage.HALFYEAR_ACCEPTANCE, Stage.FINAL_ACCEPTANCE, Stage.SUBSIDY,
    Stage.RECTIFICATION, Stage.SUPERVISION, Stage.CLAWBACK,
})
SELECTED_STAGES = frozenset({
    Stage.SELECTED, Stage.PUBLICITY, Stage.IMPLEMENTATION, Stage.HALFYEAR_ACCEPTANCE,
    Stage.FINAL_ACCEPTANCE, Stage.SUBSIDY, Stage.COMPLETED, Stage.FAILED_ACCEPTANCE,
    Stage.RECTIFICATION, Stage.SUPERVISION, Stage.CLAWBACK,
})
RELEASING_ENDS = frozenset({
    Stage.WITHDRAWN, Stage.EXPIRED, Stage.RETURNED_NOT_RESUBMITTED, Stage.NOT_RECOMMENDED,
    Stage.NOT_SELECTED, Stage.REMOVED_IN_PUBLICITY,
})
