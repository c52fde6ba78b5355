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
    # county review (2026)
    COUNTY_APPROVE = "county_approve"
    COUNTY_RETURN = "county_return"
    COUNTY_REJECT = "county_reject"
    # city review and recommendation
    CITY_RECOMMEND = "city_recommend"
    CITY_RETURN = "city_return"
    CITY_REJECT = "city_reject"
    # co-signature by the finance departments
    CONCUR = "concur"
    DISSENT = "dissent"
    # the system closes (R10)
    SUBMISSION_CLOSED = "submission_closed"
    RECOMMENDATION_CLOSED = "recommendation_closed"
    # provincial review (R12)
    ASSIGN_EXPERTS = "assign_experts"
    SCORE = "score"
    SELECT = "select"
    NOT_SELECT = "not_select"
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
    PASS_HALFYEAR_ACCEPTANCE = "pass_halfyear_acceptance"
    OPEN_FINAL_ACCEPTANCE = "open_final_acceptance"
    REQUEST_EARLY_ACCEPTANCE = "request_early_acceptance"
    PASS_ACCEPTANCE = "pass_acceptance"
    FAIL_ACCEPTANCE = "fail_acceptance"
    # subsidy (R17)
    DECIDE_SUBSIDY = "decide_subsidy"
    RECORD_DISBURSEMENT = "record_disbursement"
    # revocation (R18)
    REVOKE = "revoke"


class DeadlineKind(StrEnum):
    # The applicant's last moment to edit/submit/resubmit: the batch close, or a
    # city's/county's earlier local deadline for its own applicants.
    APPLICANT = "applicant_close"
    # The system closes (R10): nothing returned or recommended after it.
    BATCH = "batch_close"


# Records that are not decisions: a deadline change arrives as a signal and is recorded.
EXTEND_DEADLINE = "extend_deadline"
SET_LOCAL_DEADLINE = "set_local_deadline"
