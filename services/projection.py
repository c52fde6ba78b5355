"""The read model: each project's workflow projects its decisions and current view here.

Idempotent by construction: decision rows are keyed by (project, seq) and inserted only
if absent; the project row moves forward only (a projection older than the stored one
changes nothing). So a retried or replayed projection activity writes nothing twice.
The workflow stays the source of truth; lists and filters read from here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.chain import seal
from domain.messages import Projection
from domain.stages import Stage
from models import DecisionRow, Project
from services.limits import follow_stage


def apply_projection(session: Session, p: Projection) -> int:
    """Write the projection; returns how many decision rows were new."""
    view = p.view
    project = session.scalars(
        select(Project).where(Project.id == view.project_id).with_for_update()
    ).first()
    if project is None:
        raise LookupError(f"project {view.project_id} is not registered in the database")
    known = set(session.scalars(
        select(DecisionRow.seq).where(DecisionRow.project_id == view.project_id)))
    new = [r for r in p.records if r.seq not in known]
    rows = []
    for r in new:
        rows.append(DecisionRow(
            project_id=view.project_id, seq=r.seq, request_id=r.request_id, action=r.action,
            actor_user=r.actor.user_id, actor_role=r.actor.role.value,
            actor_region=r.actor.region, at=r.at, reason=r.reason, evidence=r.evidence,
            payload=r.payload, stage_before=r.stage_before.value,
            stage_after=r.stage_after.value, note=r.note, rule=r.rule,
        ))
    session.add_all(rows)
    session.flush()
    seal(session, view.project_id, rows)
    last_seq = max((r.seq for r in p.records), default=project.projected_seq)
    if last_seq >= project.projected_seq:
        for r in new:
            follow_stage(session, project.id, r.stage_after, r.action)
        project.stage = view.stage.value
        project.stage_label_zh = view.stage_label_zh
        project.end_rule = view.end.rule if view.end else None
        project.city_rank = view.rank
        project.scores = {k: v for k, v in view.experts.items()}
        project.verified_investment_cny = view.verified_investment_cny
        project.subsidy_amount_cny = view.subsidy_amount_cny
        project.disbursed_at = view.disbursed_at
        project.reserve_pool = view.reserve_pool
        project.waiting_on = view.waiting_on
        project.next_deadline = view.next_deadline
        project.projected_seq = last_seq
        project.projected_at = datetime.now(UTC)
    return len(new)


def read_model_stage(session: Session, project_id: str) -> Stage | None:
    project = session.get(Project, project_id)
    return Stage(project.stage) if project else None
