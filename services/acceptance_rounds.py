"""2024's half-year centralised acceptance round (R16, rules 3): "根据项目实施实际情况和揭榜
单位申请，于半年期和1年期末进行两次集中验收评估". Units apply on their project; the province
opens the round for the batch, and every project that applied joins it, each by its own
workflow (a project that has not applied refuses, and is reported)."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from domain.actions import Action
from domain.decisions import Actor
from domain.jurisdiction import Person
from domain.presets import PRESETS, PresetName
from domain.refusals import NotFound, RefusalKind, Refused, refusal
from domain.stages import Stage
from models import Batch, DecisionRow, Project
from services.decisions import BulkItem, BulkResult, make_decisions


def round_candidates(s: Session, batch_id: str) -> list[str]:
    """The batch's projects in implementation whose unit applied and whose round has not
    been held (as the read model knows it; each workflow checks again). A project back in
    implementation after the round (not ready) is not a candidate: its workflow would
    refuse it, and the report would say its unit had not applied."""
    def did(action: Action) -> Select[str]:
        return select(DecisionRow.project_id).where(DecisionRow.action == action.value)

    return list(s.scalars(select(Project.id).where(
        Project.batch_id == batch_id, Project.stage == Stage.IMPLEMENTATION.value,
        Project.id.in_(did(Action.APPLY_FOR_ACCEPTANCE)),
        Project.id.not_in(did(Action.OPEN_HALFYEAR_ROUND))).order_by(Project.id)))


async def open_halfyear_round(*, client: Client, db: sessionmaker[Session], who: Person,
                              actor: Actor, batch_id: str, reason: str,
                              request_id: str) -> list[BulkResult]:
    with db() as s:
        batch = s.get(Batch, batch_id)
        if batch is None:
            raise NotFound("批次", batch_id)
        if not PRESETS[PresetName(batch.preset)].halfyear_acceptance:
            raise Refused(refusal(
                "R16", RefusalKind.RULE, "本批次没有半年期集中验收（2026年度为一年期验收）",
                "this batch has no half-year acceptance round (2026: one round at year end)"))
        candidates = round_candidates(s, batch_id)
    return await make_decisions(
        client=client, db=db, who=who, actor=actor, action=Action.OPEN_HALFYEAR_ROUND,
        items=[BulkItem(project_id=pid, reason=reason) for pid in candidates],
        base_request_id=request_id)
