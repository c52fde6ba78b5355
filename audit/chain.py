"""Tamper evidence for the stored decision records, and their verification.

Each project's records form a hash chain: a record's hash is the sha256 of the previous
record's hash and the record's canonical content. `verify` recomputes the chain from the
database and compares every stored decision with the workflow history, so an edit is
caught even if the editor also recomputed the hashes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHistory

from audit.timeline import timeline
from models import DecisionRow

GENESIS = "0" * 64


def content(row: DecisionRow) -> dict[str, Any]:
    at = row.at.astimezone(UTC) if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return {
        "project_id": row.project_id, "seq": row.seq, "request_id": row.request_id,
        "action": row.action, "actor_user": row.actor_user, "actor_role": row.actor_role,
        "actor_region": row.actor_region, "at": at.isoformat(), "reason": row.reason,
        "evidence": list(row.evidence or []), "payload": row.payload or {},
        "stage_before": row.stage_before, "stage_after": row.stage_after, "note": row.note,
        "rule": row.rule,
    }


def link(prev_hash: str, row: DecisionRow) -> str:
    canonical = json.dumps(content(row), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def seal(rows: list[DecisionRow], prev: str) -> None:
    """Chain new rows (in seq order) onto the hash of the project's last stored record,
    before they are inserted: one INSERT per record, no UPDATE after it."""
    for row in sorted(rows, key=lambda r: r.seq):
        row.prev_hash = prev
        row.hash = prev = link(prev, row)


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
