"""One shape for every refusal: the rule it breaks and a message officials can read.

The workflow's update validators raise these (so a refused decision leaves no trace in
the history), the API turns them into HTTP errors, and tests assert on `rule`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class RefusalKind(StrEnum):
    """Why, in the terms the API maps onto HTTP status codes."""

    ROLE = "role"  # this role never makes this decision -> 403
    JURISDICTION = "jurisdiction"  # outside the actor's region or unit -> 403/404
    STAGE = "stage"  # the current stage does not allow it -> 409
    DEADLINE = "deadline"  # too late (R10) -> 409
    RULE = "rule"  # a programme rule forbids it -> 409
    INPUT = "input"  # the decision's data is malformed -> 422
    IDEMPOTENCY = "idempotency"  # a request id reused for another decision -> 409


# Rule ids that are not in SPEC.md's R1..R18 but name a real reason.
LIFECYCLE = "LIFECYCLE"  # SPEC.md 'Lifecycle': the stage does not allow the decision
ROLE = "ROLE"
JURISDICTION = "JURISDICTION"
INPUT = "INPUT"
IDEMPOTENCY = "IDEMPOTENCY"


class Refusal(BaseModel):
    rule: str
    kind: RefusalKind
    message_zh: str
    message_en: str
    allowed: list[str] = []

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message_zh} / {self.message_en}"


class Refused(Exception):
    """Raised by pure code; the workflow converts it to an ApplicationError."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def refusal(
    rule: str,
    kind: RefusalKind,
    zh: str,
    en: str,
    allowed: list[str] | None = None,
) -> Refusal:
    return Refusal(rule=rule, kind=kind, message_zh=zh, message_en=en, allowed=allowed or [])
