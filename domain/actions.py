"""The decisions of the programme, by name: the one vocabulary that the lifecycle table,
the workflow, the API routes and the docs share (like `Stage` and `Role`)."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    # the application (applicant)
    EDIT_APPLICATION = "edit_application"
    ATTACH_DOCUMENT = "attach_document"
    SUBMIT = "submit"
    RESUBMIT = "resubmit"
    WITHDRAW = "withdraw"
    ADMIT = "admit"
    # rules 3: straight to the city (a direct city, or after the city's county deadline)
    ADMIT_TO_CITY = "admit_to_city"
    # county review (2026)
    COUNTY_APPROVE = "county_approve"
    COUNTY_RETURN = "county_return"
    COUNTY_REJECT = "county_reject"
    COUNTY_REVIEW_CLOSED = "county_review_closed"  # the city's deadline for its counties
    # city review and recommendation
    CITY_RECOMMEND = "city_recommend"
    CITY_RETURN = "city_return"
    CITY_REJECT = "city_reject"
    # co-signature by the finance departments
    CONCUR = "concur"
    DISSENT = "dissent"
    RETRACT = "retract"  # the decider withdraws its decision before the co-signer acts
    COSIGN_REMINDER = "cosign_reminder"
    COSIGN_OVERDUE = "cosign_overdue"
    # the system closes (R10)
    SUBMISSION_CLOSED = "submission_closed"
    RECOMMENDATION_CLOSED = "recommendation_closed"
    # provincial review (R12)
    ASSIGN_EXPERTS = "assign_experts"
    SCORE = "score"
    SELECT = "select"
    NOT_SELECT = "not_select"
    REMOVE_EXPERT = "remove_expert"
    EXPERT_REVIEW_OVERDUE = "expert_review_overdue"
    RECORD_FINDING = "record_finding"
    DECLARE_INELIGIBLE = "declare_ineligible"
    # publicity (R13)
    OPEN_PUBLICITY = "open_publicity"
    RAISE_OBJECTION = "raise_objection"
    UPHOLD_OBJECTION = "uphold_objection"
    DISMISS_OBJECTION = "dismiss_objection"
    PUBLICITY_ENDED = "publicity_ended"
    # implementation (R15)
    SUBMIT_ARCHIVE = "submit_archive"
    REQUEST_CHANGE = "request_change"
    CITY_APPROVE_CHANGE = "city_approve_change"
    PROVINCE_APPROVE_CHANGE = "province_approve_change"
    REJECT_CHANGE = "reject_change"
    ARCHIVE_REMINDER = "archive_reminder"
    ARCHIVE_OVERDUE = "archive_overdue"
    # acceptance (R16)
    OPEN_HALFYEAR_ACCEPTANCE = "open_halfyear_acceptance"
    # 2024, rules 3: the unit applies, the province opens the centralised round
    APPLY_FOR_ACCEPTANCE = "apply_for_acceptance"
    OPEN_HALFYEAR_ROUND = "open_halfyear_round"
    PASS_HALFYEAR_ACCEPTANCE = "pass_halfyear_acceptance"
    OPEN_FINAL_ACCEPTANCE = "open_final_acceptance"
    REQUEST_EARLY_ACCEPTANCE = "request_early_acceptance"
    ACCEPT_EARLY_ACCEPTANCE = "accept_early_acceptance"
    DECLINE_EARLY_ACCEPTANCE = "decline_early_acceptance"
    PASS_ACCEPTANCE = "pass_acceptance"
    RECTIFY = "rectify"
    SUBMIT_RECTIFICATION = "submit_rectification"
    RECTIFICATION_DUE = "rectification_due"
    NOT_READY = "not_ready"
    FAIL_ACCEPTANCE = "fail_acceptance"
    # subsidy (R17)
    DECIDE_SUBSIDY = "decide_subsidy"
    DECIDE_NO_AWARD = "decide_no_award"
    RECORD_DISBURSEMENT = "record_disbursement"
    # the province is reminded of a project waiting on it
    PROVINCE_REMINDER = "province_reminder"
    # supervision after completion (R18)
    SUPERVISION_ENDED = "supervision_ended"
    # ending without fraud (R21)
    REQUEST_TERMINATION = "request_termination"
    ENDORSE_TERMINATION = "endorse_termination"
    APPROVE_TERMINATION = "approve_termination"
    REJECT_TERMINATION = "reject_termination"
    TERMINATE = "terminate"
    # revocation (R18) and clawback
    REVOKE = "revoke"
    RECORD_REPAYMENT = "record_repayment"
    SETTLE_CLAWBACK = "settle_clawback"
    REFER_CLAWBACK = "refer_clawback"


class DeadlineKind(StrEnum):
    # The applicant's last moment to edit/submit/resubmit: the batch close, or a
    # city's/county's earlier local deadline for its own applicants.
    APPLICANT = "applicant_close"
    # The system closes (R10): nothing returned or recommended after it.
    BATCH = "batch_close"
    # Rules 3: the city's deadline for its counties' reviews to reach it (县级审核推荐至市),
    # never later than the batch close.
    COUNTY_REVIEW = "county_review_close"


# The rules a project follows: 1 for projects started before issue 16 (their histories
# replay as they were), 2 for those started with its first part, 3 since (co-signature
# reminders, 2024 acceptance rounds on application, cities' county-review deadlines and
# direct cities). The workflow chooses once, with patch markers.
RULES_V1 = 1
RULES_V2 = 2
RULES_V3 = 3
CURRENT_RULES = RULES_V3

# Records that are not decisions: a deadline change arrives as a signal and is recorded.
EXTEND_DEADLINE = "extend_deadline"
SET_LOCAL_DEADLINE = "set_local_deadline"
