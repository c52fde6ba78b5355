"""The read model: each project's workflow projects its state here, and the read model is
made equal to it.

A projection is not a delta. It says what the read model must hold: the records after
the workflow's last projected head, the current view, and (when they changed) the content
and what the state implies for places and the city's quota. Records the read model holds
that differ, or that come after them, were written by a projection from a workflow task
that was never committed (a local activity runs before its task commits, and a task can
be dropped or retried in another order); they are replaced, and the hash chain is sealed
again from the first difference. So applying a projection twice changes nothing, and the
committed projection repairs what an uncommitted one wrote.

Projections are numbered per workflow run: a projection never undoes a later one of the
same run (a retried attempt arriving late), while two with the same number (the same
point of the workflow, in an uncommitted task and in its committed retry) leave whichever
came last. A head the read model does not hold (edited, rebuilt, reset, or overwritten by
an uncommitted projection that outlived its task) is answered with `resend`: the workflow
then sends its whole log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Insert,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from audit.chain import GENESIS, content, record_values, seal
from domain.messages import ChainHead, Projection
from domain.stages import Stage
from domain.views import ProjectContent, ReadModelView
from models import DecisionRow, Document, Project, ProjectDocument
from models.base import table_of
from services.limits import follow_state
from services.penalties import follow_penalties

_project = table_of(Project)
_record = table_of(DecisionRow)
_document = table_of(ProjectDocument)
_stored = table_of(Document)
_VIEW_COLUMNS = ("stage", "stage_label_zh", "end_rule", "city_rank", "scores",
                 "verified_investment_cny", "subsidy_amount_cny", "disbursed_at", "reserve_pool",
                 "waiting_on", "next_deadline", "projected_seq", "projected_at", "projection_no",
                 "run_id", "baselines")
_VIEW_VALUES: dict[str, BindParameter[Any]] = {c: bindparam(f"v_{c}") for c in _VIEW_COLUMNS}
_RECORD_COLUMNS = list(_record.columns)
_APPLICATION_COLUMNS = ("declared_investment_cny", "implementation_region",
                        "implementation_start", "implementation_end", "prior_provincial_support")


@dataclass
class Written:
    """What a projection did to the read model (logged; `ops reproject` reports it)."""

    head: ChainHead
    inserted: list[int] = field(default_factory=list)
    # Stored records replaced or removed: from the first that the workflow does not hold
    # (never committed) on, since the hash chain is sealed again from there.
    removed: list[int] = field(default_factory=list)
    stale: bool = False  # a later projection had already landed: nothing written
    content: bool = False

    @property
    def repaired(self) -> bool:
        return bool(self.removed)


def one_statement(dialect: str, p: Projection) -> bool:
    """Whether `project_chained` may write this projection: PostgreSQL (a data-modifying
    WITH), a numbered projection with its head, records, and nothing but records and the
    view to write (no content, no change of places, no revocation: its R18 penalties are
    written beside its record)."""
    return (dialect == "postgresql" and p.head is not None and p.number is not None
            and p.run_id is not None and bool(p.records) and p.content is None
            and not p.places and not any(r.action == "revoke" for r in p.records))


@cache
def _chained(n: int) -> Insert:
    """Move the project row from the workflow's head, and insert n sealed records only if
    it moved: one statement, so one round trip with no BEGIN or COMMIT around it. The row
    moves only if it holds exactly the records up to the head, with the head's hash, and
    was last written by an earlier projection of the same run."""
    head_holds = or_(
        bindparam("head_seq") == 0,
        exists(select(_record.c.seq).where(_record.c.project_id == bindparam("pid"),
                                           _record.c.seq == bindparam("head_seq"),
                                           _record.c.hash == bindparam("head_hash"))))
    moved = (update(_project).where(_project.c.id == bindparam("pid"),
                                    _project.c.projected_seq == bindparam("head_seq"),
                                    _project.c.run_id == bindparam("v_run_id"),
                                    _project.c.projection_no < bindparam("v_projection_no"),
                                    head_holds)
             .values(_VIEW_VALUES).returning(_project.c.id).cte("moved"))
    rows = [select(*(cast(bindparam(f"{c.key}_{i}", type_=c.type), c.type).label(c.key)
                     for c in _RECORD_COLUMNS)) for i in range(n)]
    source = (rows[0] if n == 1 else union_all(*rows)).subquery("new")
    return (insert(_record)
            .from_select([c.key for c in _RECORD_COLUMNS],
                         select(source).where(exists(select(moved.c.id))))
            .add_cte(moved))


def project_chained(conn: Connection, p: Projection) -> ChainHead | None:
    """The common projection as one statement (see `_chained`). None when the row was not
    where the workflow left it: `apply_projection` then compares and repairs.

    Safe on an autocommit connection: a second attempt finds the row moved."""
    assert p.head is not None and p.number is not None
    rows = [record_values(p.view.project_id, r) for r in sorted(p.records, key=lambda r: r.seq)]
    if rows[0]["seq"] != p.head.seq + 1:
        return None
    head_hash = seal(rows, p.head.hash)
    params: dict[str, Any] = {"pid": p.view.project_id, "head_seq": p.head.seq,
                              "head_hash": p.head.hash,
                              **_view_params(p.view, rows[-1]["seq"], p)}
    for i, row in enumerate(rows):
        params.update({f"{k}_{i}": v for k, v in row.items()})
    if conn.execute(_chained(len(rows)), params).rowcount != len(rows):
        return None
    return ChainHead(seq=rows[-1]["seq"], hash=head_hash)


def apply_projection(conn: Connection, p: Projection, *, authoritative: bool = False) -> Written:
    """Make the read model equal to the projection, in the caller's transaction.

    The project row is locked first, so projections of one project are serialized; the
    stored records from the head on are compared with the projection's, and replaced from
    the first difference (records beyond the projection's last are removed).
    `authoritative`: the projection is the committed history's (`ops reproject`), never
    stale; the row keeps the number and run of the workflow's last projection."""
    pid = p.view.project_id
    row = conn.execute(select(_project.c.projected_seq, _project.c.projection_no,
                              _project.c.run_id).where(_project.c.id == pid)
                       .with_for_update()).first()
    if row is None:
        raise LookupError(f"project {pid} is not registered in the database")
    records = sorted(p.records, key=lambda r: r.seq)
    if p.head is not None:
        base = p.head.seq
    else:  # a workflow from before heads were sent: its records follow the stored ones
        base = records[0].seq - 1 if records else row.projected_seq
    stored: dict[int, str] = {
        s: h or "" for s, h in conn.execute(select(_record.c.seq, _record.c.hash).where(
            _record.c.project_id == pid, _record.c.seq >= max(base, 1)))}
    if (not authoritative and p.number is not None and p.run_id is not None
            and row.run_id == p.run_id and row.projection_no is not None
            and p.number < row.projection_no):
        return Written(head=_head_of(stored, row.projected_seq), stale=True)
    if base == 0:
        base_hash = GENESIS
    else:
        base_hash = stored.get(base, "")
        if not base_hash or (p.head is not None and p.head.hash != base_hash):
            return Written(head=ChainHead(seq=base, hash=base_hash or GENESIS, resend=True))
    rows = [record_values(pid, r) for r in records]
    head_hash = seal(rows, base_hash)
    upto = rows[-1]["seq"] if rows else base
    differing = [r["seq"] for r in rows if stored.get(r["seq"]) != r["hash"]]
    if authoritative:  # also a record edited without its hash: compare the content
        edited = {row.seq for row in conn.execute(select(_record).where(
            _record.c.project_id == pid, _record.c.seq >= max(base, 1)))
            if (want := next((r for r in rows if r["seq"] == row.seq), None)) is not None
            and content(dict(row._mapping)) != content(want)}
        differing = sorted(set(differing) | edited)
    beyond = [s for s in stored if s > upto]
    if not authoritative and p.number is None and not differing and row.projected_seq > upto:
        return Written(head=_head_of(stored, row.projected_seq), stale=True)  # legacy order
    written = Written(head=ChainHead(seq=upto, hash=head_hash))
    if differing or beyond:
        first = min(differing + beyond)
        written.removed = sorted(s for s in stored if s >= first)
        conn.execute(delete(_record).where(_record.c.project_id == pid, _record.c.seq >= first))
        new = [r for r in rows if r["seq"] >= first]
        if new:
            conn.execute(insert(_record), new)
        written.inserted = [r["seq"] for r in new]
        # R18: a revocation for fraud's penalties follow its record, in this transaction.
        follow_penalties(conn, pid, new, replaced_from=first if written.removed else None)
    conn.execute(update(_project).where(_project.c.id == pid)
                 .values(**_view_values(p.view, upto, p)))
    if p.content is not None:
        write_content(conn, pid, p.content)
        written.content = True
    if p.places or written.removed:
        follow_state(conn, pid, p.view)
    return written


def write_content(conn: Connection, project_id: str, content: ProjectContent) -> None:
    """The applicant's content as the workflow holds it: the title and application
    columns, and exactly its documents."""
    application = (content.application.model_dump(include=set(_APPLICATION_COLUMNS))
                   if content.application is not None else {})
    conn.execute(update(_project).where(_project.c.id == project_id).values(
        title=content.title, **application))
    wanted = {(d.sha256, d.kind) for d in content.documents}
    have = {(s, k) for s, k in conn.execute(select(_document.c.sha256, _document.c.kind).where(
        _document.c.project_id == project_id))}
    for sha, kind in have - wanted:
        conn.execute(delete(_document).where(and_(
            _document.c.project_id == project_id, _document.c.sha256 == sha,
            _document.c.kind == kind)))
    for sha, kind in sorted(wanted - have):
        # Only a stored document: a hash the store lacks is shown in the project's
        # documents but never blocks its projection.
        conn.execute(insert(_document).from_select(
            ["project_id", "sha256", "kind"],
            select(literal(project_id), _stored.c.sha256, literal(kind))
            .where(_stored.c.sha256 == sha)))


def _head_of(stored: dict[int, str], seq: int) -> ChainHead:
    return ChainHead(seq=seq, hash=stored.get(seq) or GENESIS)


def _view_values(view: ReadModelView, projected_seq: int, p: Projection) -> dict[str, Any]:
    numbered = {"projection_no": p.number, "run_id": p.run_id} if p.number is not None else {}
    return {**numbered,
        "stage": view.stage.value, "stage_label_zh": view.stage_label_zh,
        "end_rule": view.end_rule, "city_rank": view.rank,
        "scores": dict(view.experts), "verified_investment_cny": view.verified_investment_cny,
        "subsidy_amount_cny": view.subsidy_amount_cny, "disbursed_at": view.disbursed_at,
        "reserve_pool": view.reserve_pool, "waiting_on": view.waiting_on,
        "next_deadline": view.next_deadline, "projected_seq": projected_seq,
        "baselines": [b.model_dump(mode="json") for b in view.baselines],
        "projected_at": datetime.now(UTC)}


def _view_params(view: ReadModelView, projected_seq: int, p: Projection) -> dict[str, Any]:
    return {f"v_{k}": v for k, v in _view_values(view, projected_seq, p).items()}


def read_model_stage(session: Session, project_id: str) -> Stage | None:
    project = session.get(Project, project_id)
    return Stage(project.stage) if project else None


