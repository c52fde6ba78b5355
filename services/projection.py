"""The read model: each project's workflow projects its decisions and current view here.

Idempotent by construction: decision rows are keyed by (project, seq) and inserted only
if absent; the project row moves forward only (a projection older than the stored one
changes nothing). So a retried or replayed projection activity writes nothing twice.
The workflow stays the source of truth; lists and filters read from here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from audit.chain import GENESIS, seal
from domain.decisions import DecisionRecord
from domain.messages import Projection
from domain.stages import Stage
from models import DecisionRow, Project
from services.limits import follow_stage, moves_places

_project = Project.__table__
_record = DecisionRow.__table__
# Built once: the same statement objects every time keep SQLAlchemy's per-call work
# (cache keys, ORM bookkeeping) out of the projection, which runs for every decision.
_last = (select(_record.c.seq, _record.c.hash).where(_record.c.project_id == _project.c.id)
         .order_by(_record.c.seq.desc()).limit(1))
_VIEW_COLUMNS = ("stage", "stage_label_zh", "end_rule", "city_rank", "scores",
                 "verified_investment_cny", "subsidy_amount_cny", "disbursed_at", "reserve_pool",
                 "waiting_on", "next_deadline", "projected_seq", "projected_at")
# Move the project row forward and, in the same round trip, read the seq and hash of its
# last stored record (RETURNING sees the rows as they were before this statement).
_MOVE = (update(_project).where(_project.c.id == bindparam("pid"),
                                _project.c.projected_seq <= bindparam("v_projected_seq"))
         .values({c: bindparam(f"v_{c}") for c in _VIEW_COLUMNS})
         .returning(_last.with_only_columns(_record.c.seq).scalar_subquery().label("last_seq"),
                    _last.with_only_columns(_record.c.hash).scalar_subquery()
                    .label("last_hash")))
_REGISTERED = select(_project.c.id).where(_project.c.id == bindparam("pid"))
_INSERT = insert(_record)


def apply_projection(conn: Connection, p: Projection) -> int:
    """Write the projection; returns how many decision rows were new.

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
    was a measurable part of every decision's cost. Every change of a project ends in a
    record, so a projection without records has nothing newer to say."""
    view = p.view
    if not p.records:
        return 0
    last_seq = max(r.seq for r in p.records)
    values = {
        "stage": view.stage.value, "stage_label_zh": view.stage_label_zh,
        "end_rule": view.end_rule, "city_rank": view.rank,
        "scores": dict(view.experts), "verified_investment_cny": view.verified_investment_cny,
        "subsidy_amount_cny": view.subsidy_amount_cny, "disbursed_at": view.disbursed_at,
        "reserve_pool": view.reserve_pool, "waiting_on": view.waiting_on,
        "next_deadline": view.next_deadline, "projected_seq": last_seq,
        "projected_at": datetime.now(UTC)}
    head = conn.execute(
        _MOVE, {"pid": view.project_id, **{f"v_{k}": v for k, v in values.items()}}).first()
    if head is None:  # stale, or not registered at all
        if conn.execute(_REGISTERED, {"pid": view.project_id}).first() is None:
            raise LookupError(f"project {view.project_id} is not registered in the database")
        return 0
    last_row_seq, prev = head.last_seq or 0, head.last_hash or GENESIS
    new = sorted((r for r in p.records if r.seq > last_row_seq), key=lambda r: r.seq)
    rows = [record_row(view.project_id, r) for r in new]
    seal(rows, prev)
    if rows:
        conn.execute(_INSERT, [{c.key: getattr(row, c.key) for c in _record.columns
                                if c.key != "id"} for row in rows])
    for stage, action in dict.fromkeys((r.stage_after, r.action) for r in new
                                       if moves_places(r)):
        follow_stage(conn, view.project_id, stage, action)
    return len(rows)


def record_row(project_id: str, r: DecisionRecord) -> DecisionRow:
    """A decision record as its stored row (also what the hash chain is computed over)."""
    return DecisionRow(
        project_id=project_id, seq=r.seq, request_id=r.request_id, action=r.action,
        actor_user=r.actor.user_id, actor_role=r.actor.role.value, actor_region=r.actor.region,
        at=r.at, reason=r.reason, evidence=r.evidence, payload=r.payload,
        stage_before=r.stage_before.value, stage_after=r.stage_after.value, note=r.note,
        rule=r.rule)


def read_model_stage(session: Session, project_id: str) -> Stage | None:
    project = session.get(Project, project_id)
    return Stage(project.stage) if project else None
