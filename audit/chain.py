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
from domain.clock import Instant
from domain.decisions import DecisionRecord
from domain.messages import GENESIS
from domain.outside import OUTSIDE_ACTIONS
from domain.places import PlaceHold, place_hold
from domain.project import ProjectState
from models import DecisionRow, Place, Project, Recommendation

__all__ = ["GENESIS", "content", "link", "record_values", "seal", "verify"]


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


def record_values(project_id: str, r: DecisionRecord) -> dict[str, Any]:
    """A decision record as its row's column values (also what the hash chain covers)."""
    return {
        "project_id": project_id, "seq": r.seq, "request_id": r.request_id,
        "action": r.action, "actor_user": r.actor.user_id, "actor_role": r.actor.role.value,
        "actor_region": r.actor.region, "at": r.at, "reason": r.reason,
        "evidence": r.evidence, "payload": r.payload, "stage_before": r.stage_before.value,
        "stage_after": r.stage_after.value, "note": r.note, "rule": r.rule}


class Verification(BaseModel):
    project_id: str
    records: int
    chain_intact: bool
    first_broken_seq: int | None = None
    # None: not compared (no history); False: the differences below.
    matches_history: bool | None = None
    # How the history was read: 'replay' (the history replayed against the code: every
    # record, the read model's row, places and quota row compared) or 'timeline' (the
    # decisions in the history's update events, when it does not replay).
    compared_by: str | None = None
    # Records the history holds that the database lacks, and records the database holds
    # that the history does not (written for a workflow task that was never committed,
    # or added by hand): by seq.
    missing: list[int] = []
    phantom: list[int] = []
    differences: list[str] = []
    # The workflow was closed by Temporal outside the programme (terminated, …): how,
    # by whom, when (audit.history.ClosedOutside.summary). Not a difference: the read
    # model then holds the last state the programme knew, marked WF_<status>.
    closed_outside: str | None = None
    checked_at: Instant

    @property
    def ok(self) -> bool:
        return self.chain_intact and self.matches_history is not False


def verify(session: Session, project_id: str, history: WorkflowHistory | None,
           state: ProjectState | None = None) -> Verification:
    """The stored records' hash chain, and the read model against the history: against
    the replayed state when given (every record, the project's row, its places and quota
    row), else against the decisions the history's events hold."""
    rows = list(session.scalars(select(DecisionRow).where(DecisionRow.project_id == project_id)
                                .order_by(DecisionRow.seq)))
    prev, broken = GENESIS, None
    for row in rows:
        if row.prev_hash != prev or row.hash != link(prev, row):
            broken = row.seq
            break
        prev = row.hash
    result = Verification(project_id=project_id, records=len(rows), chain_intact=broken is None,
                          first_broken_seq=broken, checked_at=datetime.now(UTC))
    if state is not None:
        _against_state(session, project_id, rows, state, result)
    elif history is not None:
        _against_timeline(rows, history, result)
    else:
        return result
    result.matches_history = not (result.differences or result.missing or result.phantom)
    return result


def _against_state(session: Session, project_id: str, rows: list[DecisionRow],
                   state: ProjectState, out: Verification) -> None:
    out.compared_by = "replay"
    stored = {r.seq: content(r) for r in rows}
    expected = {r.seq: content(record_values(project_id, r)) for r in state.log}
    out.missing = sorted(set(expected) - set(stored))
    out.phantom = sorted(set(stored) - set(expected))
    for seq in out.missing:
        out.differences.append(f"seq {seq} ({expected[seq]['action']}): in the history, "
                               "not in the database")
    for seq in out.phantom:
        out.differences.append(f"seq {seq} ({stored[seq]['action']}): in the database, not in "
                               "the history (never committed)")
    for seq in sorted(set(stored) & set(expected)):
        for field in HASHED:
            ours, theirs = stored[seq][field], expected[seq][field]
            if ours != theirs:
                out.differences.append(f"seq {seq} {field}: database {ours!r}, "
                                       f"history {theirs!r}")
    project = session.get(Project, project_id)
    if project is None:
        out.differences.append("the project's row is missing from the database")
        return
    if project.stage != state.stage.value:
        out.differences.append(f"stage: database {project.stage!r}, history "
                               f"{state.stage.value!r}")
    hold = place_hold(state.stage, was_selected=state.was_selected)
    for place in session.scalars(select(Place).where(Place.project_id == project_id)):
        actual = (PlaceHold.RELEASED if place.released_at is not None
                  else PlaceHold.SELECTED if place.selected else PlaceHold.HELD)
        if hold is not PlaceHold.NONE and actual is not hold:
            out.differences.append(f"place of {place.unit_code}: database {actual.value}, "
                                   f"history {hold.value}")
    rec = session.get(Recommendation, project_id)
    want = state.quota_rank
    have = rec.rank if rec is not None else None
    if want != have:
        out.differences.append(f"city quota row: database rank {have}, history rank {want}")


def _against_timeline(rows: list[DecisionRow], history: WorkflowHistory,
                      out: Verification) -> None:
    out.compared_by = "timeline"
    stored = {r.request_id: r for r in rows}
    seen: set[int] = set()
    for entry in timeline(history):
        if entry.kind != "decision":
            continue
        row = stored.get(entry.request_id or "")
        if row is None:
            out.differences.append(f"{entry.request_id}: in the history, not in the database")
            if entry.seq is not None:
                out.missing.append(entry.seq)
            continue
        seen.add(row.seq)
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
                out.differences.append(f"seq {row.seq} {field}: database {ours!r}, "
                                       f"history {theirs!r}")
    # The timeline's decisions are people's decisions only: a stored person's decision it
    # does not hold was never committed. (Deadline changes and cancel requests are in the
    # history as other events.)
    for row in rows:
        if (row.actor_role != "system" and row.action not in OUTSIDE_ACTIONS
                and row.seq not in seen):
            out.phantom.append(row.seq)
            out.differences.append(f"seq {row.seq} ({row.action}): in the database, not in "
                                   "the history (never committed)")
