"""Decisions: who decided what, when, why, on what evidence."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.clock import Instant
from domain.roles import Role
from domain.stages import Stage

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


class Actor(BaseModel):
    user_id: str = Field(min_length=1, max_length=64)
    role: Role
    # GB/T 2260 code of the region the actor acts for: '37' province, '3701' city, '370102' county.
    region: str = Field(default="37", pattern=r"^37(\d{2}){0,2}$")
    # For applicants: the credit code of the unit they act for.
    unit_code: str | None = None


REQUEST_ID_MAX = 128


def request_id_of(*parts: str) -> str:
    """A request id from its parts (caller, key, project…), never longer than the
    decision allows: a long one keeps its readable start and ends in a hash of the whole."""
    text = ":".join(parts)
    if len(text) <= REQUEST_ID_MAX:
        return text
    return f"{text[:REQUEST_ID_MAX - 41]}~{hashlib.sha256(text.encode()).hexdigest()[:40]}"


SYSTEM_ACTOR = Actor(user_id="system", role=Role.SYSTEM, region="37")


class Decision(BaseModel):
    """A request to move (or annotate) a project. Time is not the caller's to claim:
    the workflow stamps `workflow.now()` when it accepts the decision."""

    request_id: str = Field(min_length=1, max_length=128)
    action: str = Field(min_length=1, max_length=64)
    actor: Actor
    reason: str = Field(default="", max_length=2000)
    evidence: list[str] = Field(default=[], max_length=50)  # sha256 hex of documents
    payload: dict[str, Any] = {}
    # The API's seal (domain.seal): the workflow's validator accepts a decision only from
    # the API, which authenticated the actor it names. Not part of the content.
    seal: str = Field(default="", max_length=128)

    def fingerprint(self) -> str:
        """Identity of the decision's content: a request id reused for different content
        is refused, not silently answered with the first decision's outcome. The seal is
        left out (as before it existed), so a retry sealed after a key rotation is still
        the same decision."""
        canonical = json.dumps(self.model_dump(mode="json", exclude={"seal"}), sort_keys=True,
                               ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def update_id(self) -> str:
        """The Temporal update id: the server deduplicates identical retries by it."""
        return f"{self.request_id}/{self.fingerprint()[:16]}"

    @model_validator(mode="after")
    def _printable(self) -> Decision:
        """No NUL or other control characters (but line breaks and tabs) in any text:
        the record goes to databases and exports that cannot hold them."""
        bad = [s for s in _strings([self.request_id, self.action, self.reason, self.payload])
               if _CONTROL.search(s)]
        if bad:
            raise ValueError("text must not contain control characters (such as NUL)")
        return self

    @field_validator("evidence")
    @classmethod
    def _hashes(cls, value: list[str]) -> list[str]:
        bad = [h for h in value if not SHA256_HEX.match(h)]
        if bad:
            raise ValueError(f"evidence must be sha256 hex digests, got {bad[:3]}")
        return value


class DecisionRecord(BaseModel):
    """One line of the project's lifecycle log, as auditors read it."""

    seq: int
    request_id: str
    action: str
    actor: Actor
    at: Instant
    reason: str = ""
    evidence: list[str] = []
    payload: dict[str, Any] = {}
    stage_before: Stage
    stage_after: Stage
    # What the decision did besides a stage move ('awaiting co-signature', 'ignored: …').
    note: str = ""
    rule: str | None = None


class DecisionOutcome(BaseModel):
    """What the decider is told back."""

    request_id: str
    seq: int
    stage_before: Stage
    stage: Stage
    stage_label_zh: str
    note: str = ""
    allowed: dict[str, list[str]] = {}


class DeadlineChange(BaseModel):
    """A batch-wide extension (province) or an earlier local deadline (city / county).

    Sent as a signal: it fans out to every open project of the batch and needs no answer;
    the API checks it before sending, and each project records what it did with it."""

    request_id: str
    actor: Actor
    # 'batch' for the province's extension, or the region code of a local deadline.
    scope: str
    new_deadline: Instant
    reason: str = ""
    # The API's seal over the rest (domain.seal): a change without a valid one is refused.
    seal: str = ""

