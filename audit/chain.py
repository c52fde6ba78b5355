"""Tamper evidence for the stored decision records, and their verification.

Each project's records form a hash chain: a record's hash is the sha256 of the previous
record's hash and the record's canonical content. `verify` recomputes the chain from the
database and compares every stored decision with the workflow history, so an edit is
caught even if the editor also recomputed the hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHistory

from audit.timeline import timeline
from models import DecisionRow

GENESIS = "0" * 64


# The record's columns the hash covers: all but the chain's own two.
HASHED = ("project_id", "seq", "request_id", "action", "actor_user", "actor_role",
          "actor_region", "at", "reason", "evidence", "payload", "stage_before",
          "stage_after", "note", "rule")


def content(row: DecisionRow | Mapping[str, Any]) -> dict[str, Any]:
    """The canonical content of a record, from a stored row (verification) or from the
    column values about to be inserted (the projection seals those, with no ORM object)."""
    v = row if isinstance(row, Mapping) else {k: getattr(row, k) for k in HASHED}
    at = v["at"].astimezone(UTC) if v["at"].tzinfo else v["at"].replace(tzinfo=UTC)
    return {**{k: v[k] for k in HASHED}, "at": at.isoformat(),
            "evidence": list(v["evidence"] or []), "payload": v["payload"] or {}}


def link(prev_hash: str, row: DecisionRow | Mapping[str, Any]) -> str:
    canonical = json.dumps(content(row), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def seal(rows: list[dict[str, Any]], prev: str) -> str:
    """Chain new rows (column values, in seq order) onto the hash of the project's last
    stored record before they are inserted, so no UPDATE follows the INSERT; returns the
    new head's hash."""
    for row in sorted(rows, key=lambda r: r["seq"]):
        row["prev_hash"] = prev
        row["hash"] = prev = link(prev, row)
    return prev


class Verification(BaseModel):
    project_id: str
    records: int
    chain_intact: bool
    first_broken_seq: int | None = None
    matches_history: bool | None = None
    differences: list[str] = []
    checked_at: datetime

    @property
    def ok(self) -> bool:
        return self.chain_intact and self.matches_history is not False


def verify(session: Session, project_id: str, history: WorkflowHistory | None) -> Verification:
    rows = list(session.scalars(select(DecisionRow).where(DecisionRow.project_id == project_id)
                                .order_by(DecisionRow.seq)))
    prev, broken = GENESIS, None
    for row in rows:
        if row.prev_hash != prev or row.hash != link(prev, row):
            broken = row.seq
            break
        prev = row.hash
    differences: list[str] = []
    matches = None
    if history is not None:
        stored = {r.request_id: r for r in rows}
        for entry in timeline(history):
            if entry.kind != "decision":
                continue
            row = stored.get(entry.request_id or "")
            if row is None:
                differences.append(f"{entry.request_id}: in the history, not in the database")
                continue
            assert entry.actor is not None
            for field, ours, theirs in (
                ("action", row.action, entry.action), ("reason", row.reason, entry.reason),
                ("actor", row.actor_user, entry.actor.user_id),
                ("role", row.actor_role, entry.actor.role.value),
                ("evidence", list(row.evidence or []), entry.evidence),
                ("payload", row.payload or {}, entry.payload),
                ("seq", row.seq, entry.seq),
                ("stage_before", row.stage_before, entry.stage_before),
            ):
                if ours != theirs:
                    differences.append(f"seq {row.seq} {field}: database {ours!r}, "
                                       f"history {theirs!r}")
        matches = not differences
    return Verification(project_id=project_id, records=len(rows), chain_intact=broken is None,
                        first_broken_seq=broken, matches_history=matches,
                        differences=differences, checked_at=datetime.now(UTC))
