"""The read model: each project's workflow projects its decisions and current view here.

Idempotent by construction: decision rows are keyed by (project, seq) and inserted only
if absent; the project row moves forward only (a projection older than the stored one
changes nothing). So a retried or replayed projection activity writes nothing twice.
The workflow stays the source of truth; lists and filters read from here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    bindparam,
    cast,
    exists,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from audit.chain import GENESIS, seal
from domain.decisions import DecisionRecord
from domain.messages import ChainHead, Projection
from domain.stages import Stage
from models import DecisionRow, Project
from services.limits import follow_stage, moves_places

_project = Project.__table__
_record = DecisionRow.__table__
# Built once: the same statement objects every time keep SQLAlchemy's per-call work
# (cache keys, ORM bookkeeping) out of the projection, which runs for every decision.
_last = (select(_record.c.seq, _record.c.hash).where(_record.c.project_id == _project.c.id)
         .order_by(_record.c.seq.desc()).limit(1))
_LAST_SEQ = _last.with_only_columns(_record.c.seq).scalar_subquery().label("last_seq")
_LAST_HASH = _last.with_only_columns(_record.c.hash).scalar_subquery().label("last_hash")
_VIEW_COLUMNS = ("stage", "stage_label_zh", "end_rule", "city_rank", "scores",
                 "verified_investment_cny", "subsidy_amount_cny", "disbursed_at", "reserve_pool",
                 "waiting_on", "next_deadline", "projected_seq", "projected_at")
_VIEW_VALUES = {c: bindparam(f"v_{c}") for c in _VIEW_COLUMNS}
# Move the project row forward and, in the same round trip, read the seq and hash of its
# last stored record (RETURNING sees the rows as they were before this statement).
_MOVE = (update(_project).where(_project.c.id == bindparam("pid"),
                                _project.c.projected_seq <= bindparam("v_projected_seq"))
         .values(_VIEW_VALUES).returning(_LAST_SEQ, _LAST_HASH))
_HEAD = select(_project.c.id, _LAST_SEQ, _LAST_HASH).where(_project.c.id == bindparam("pid"))
_INSERT = insert(_record)
_RECORD_COLUMNS = list(_record.columns)


def one_statement(dialect: str, p: Projection) -> bool:
    """Whether `project_chained` can write this projection: PostgreSQL (a data-modifying
    WITH), the head known, and no record that moves places (those statements must share
    the projection's transaction)."""
    return (dialect == "postgresql" and p.head is not None and bool(p.records)
            and not any(moves_places(r) for r in p.records))


@cache
def _chained(n: int) -> Insert:
    """Move the project row from the workflow's head, and insert n sealed records only if
    it moved: one statement, so one round trip with no BEGIN or COMMIT around it."""
    moved = (update(_project).where(_project.c.id == bindparam("pid"),
                                    _project.c.projected_seq == bindparam("head_seq"))
             .values(_VIEW_VALUES).returning(_project.c.id).cte("moved"))
    rows = [select(*(cast(bindparam(f"{c.key}_{i}", type_=c.type), c.type).label(c.key)
                     for c in _RECORD_COLUMNS)) for i in range(n)]
    source = (rows[0] if n == 1 else union_all(*rows)).subquery("new")
    return (insert(_record)
            .from_select([c.key for c in _RECORD_COLUMNS],
                         select(source).where(exists(select(moved.c.id))))
            .add_cte(moved))


def project_chained(conn: Connection, p: Projection) -> ChainHead | None:
    """The projection as one statement, sealed onto the head the workflow sent: the row
    moves only if it is still at that head (its `projected_seq`), and the records go in
    with it or not at all. None when the row was elsewhere (a retry after a commit, a
    rebuilt read model, a stale attempt): `apply_projection` then reads the head itself.

    Safe on an autocommit connection: a second attempt of the same projection finds the
    row moved and inserts nothing."""
    assert p.head is not None
    rows = [record_values(p.view.project_id, r)
            for r in sorted(p.records, key=lambda r: r.seq) if r.seq > p.head.seq]
    if not rows:
        return None
    head_hash = seal(rows, p.head.hash)
    params: dict[str, Any] = {"pid": p.view.project_id, "head_seq": p.head.seq,
                              **_view_params(p, rows[-1]["seq"])}
    for i, row in enumerate(rows):
        params.update({f"{k}_{i}": v for k, v in row.items()})
    if conn.execute(_chained(len(rows)), params).rowcount != len(rows):
        return None
    return ChainHead(seq=rows[-1]["seq"], hash=head_hash)


def apply_projection(conn: Connection, p: Projection) -> ChainHead:
    """Write the projection in the caller's transaction; returns the stored head.

    Two statements whatever the number of records, and one or two more when a stage
    change moves places: move the project row forward, which returns the seq and hash of
    the project's last stored record; insert the new records already sealed onto that
    hash. The workflow projects records in seq order, so every record above the last
    stored seq is new.

    The row moves forward only (the UPDATE's condition), so a stale projection committing
    late cannot move it back; it updates nothing, and its records are already stored (the
    newer projection stored every record up to its own). The UPDATE is also the lock: two
    attempts of one projection (a retry after a timeout) queue on the row, and the later
    one, which still sees the rows as they were when it started, meets the (project, seq)
    key on insert and fails; its retry finds the rows stored.

    A Connection, not a Session: no ORM object is loaded, and the Session's bookkeeping
    was a measurable part of every decision's cost."""
    pid = p.view.project_id
    if not p.records:
        return _stored_head(conn, pid)
    head = conn.execute(_MOVE, {"pid": pid, **_view_params(
        p, max(r.seq for r in p.records))}).first()
    if head is None:  # stale, or not registered at all
        return _stored_head(conn, pid)
    last_row_seq, prev = head.last_seq or 0, head.last_hash or GENESIS
    new = sorted((r for r in p.records if r.seq > last_row_seq), key=lambda r: r.seq)
    rows = [record_values(pid, r) for r in new]
    if rows:
        prev = seal(rows, prev)
        conn.execute(_INSERT, rows)
    for stage, action in dict.fromkeys((r.stage_after, r.action) for r in new
                                       if moves_places(r)):
        follow_stage(conn, pid, stage, action)
    return ChainHead(seq=rows[-1]["seq"] if rows else last_row_seq, hash=prev)


def _stored_head(conn: Connection, project_id: str) -> ChainHead:
    row = conn.execute(_HEAD, {"pid": project_id}).first()
    if row is None:
        raise LookupError(f"project {project_id} is not registered in the database")
    return ChainHead(seq=row.last_seq or 0, hash=row.last_hash or GENESIS)


def _view_params(p: Projection, projected_seq: int) -> dict[str, Any]:
    view = p.view
    values = {
        "stage": view.stage.value, "stage_label_zh": view.stage_label_zh,
        "end_rule": view.end_rule, "city_rank": view.rank,
        "scores": dict(view.experts), "verified_investment_cny": view.verified_investment_cny,
        "subsidy_amount_cny": view.subsidy_amount_cny, "disbursed_at": view.disbursed_at,
        "reserve_pool": view.reserve_pool, "waiting_on": view.waiting_on,
        "next_deadline": view.next_deadline, "projected_seq": projected_seq,
        "projected_at": datetime.now(UTC)}
    return {f"v_{k}": v for k, v in values.items()}


def record_values(project_id: str, r: DecisionRecord) -> dict[str, Any]:
    """A decision record as its row's column values (also what the hash chain covers)."""
    return {
        "project_id": project_id, "seq": r.seq, "request_id": r.request_id,
        "action": r.action, "actor_user": r.actor.user_id, "actor_role": r.actor.role.value,
        "actor_region": r.actor.region, "at": r.at, "reason": r.reason,
        "evidence": r.evidence, "payload": r.payload, "stage_before": r.stage_before.value,
        "stage_after": r.stage_after.value, "note": r.note, "rule": r.rule}


def read_model_stage(session: Session, project_id: str) -> Stage | None:
    project = session.get(Project, project_id)
    return Stage(project.stage) if project else None
