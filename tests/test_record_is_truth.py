"""The read model equals the committed history: what an uncommitted projection leaves is
found by `audit verify` and `ops read-model`, and removed by `ops reproject`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select, update

from audit.chain import record_values, seal
from domain.decisions import Actor, DecisionRecord
from domain.roles import Role
from domain.stages import Stage
from models import DecisionRow, Project
from services.operator import compare_read_model
from services.reprojection import reproject, verify_history
from tests.driver import Drive, Harness
from workflows.project import ProjectWorkflow


async def settled(d: Drive, db) -> int:  # type: ignore[no-untyped-def]
    """Wait until the read model holds the workflow's whole log; its length."""
    log = await d.handle.query(ProjectWorkflow.decision_log)
    for _ in range(200):
        with db() as s:
            row = s.get(Project, d.project.project_id)
            if row is not None and row.projected_seq == len(log):
                return len(log)
        await asyncio.sleep(0.05)
    raise AssertionError("the read model did not catch up")


def add_phantom(db, project_id: str, seq: int, action: str, after: Stage) -> None:  # type: ignore[no-untyped-def]
    """What a projection from an uncommitted workflow task leaves: a record sealed onto
    the stored chain (so the chain itself is intact) and the row moved to its stage."""
    with db.begin() as s:
        prev = s.scalar(select(DecisionRow.hash).where(DecisionRow.project_id == project_id,
                                                       DecisionRow.seq == seq - 1))
        record = DecisionRecord(
            seq=seq, request_id=f"phantom-{seq}", action=action,
            actor=Actor(user_id="applicant-1", role=Role.APPLICANT, region="3701"),
            at=datetime.now(UTC), reason="从未提交的任务", stage_before=Stage.CITY_REVIEW,
            stage_after=after)
        values = [record_values(project_id, record)]
        seal(values, prev)
        s.add(DecisionRow(**values[0]))
        s.execute(update(Project).where(Project.id == project_id).values(
            stage=after.value, projected_seq=seq))


async def test_verify_names_a_phantom_record_and_reproject_removes_it(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    await d.do("county_approve")
    n = await settled(d, ts.db)
    add_phantom(ts.db, d.project.project_id, n + 1, "withdraw", Stage.WITHDRAWN)

    history = await d.handle.fetch_history()
    before = await verify_history(db=ts.db, project_id=d.project.project_id, history=history)
    assert before.chain_intact, "the phantom is sealed onto the chain: only the history finds it"
    assert not before.ok and before.compared_by == "replay"
    assert before.phantom == [n + 1] and not before.missing
    assert any(f"seq {n + 1} (withdraw): in the database, not in the history" in x
               for x in before.differences)
    assert any("stage: database 'withdrawn', history 'city_review'" in x
               for x in before.differences)
    found = [r for r in await compare_read_model(ts.env.client, ts.db, d.project.batch.batch_id)
             if r.project_id == d.project.project_id]
    assert found and found[0].phantom == [n + 1] and found[0].read_model_stage == "withdrawn"

    fixed = await reproject(client=ts.env.client, db=ts.db, project_id=d.project.project_id)
    assert fixed.repaired and fixed.removed == [n + 1] and fixed.ok_after
    with ts.db() as s:
        row = s.get(Project, d.project.project_id)
        assert row is not None and (row.stage, row.projected_seq) == ("city_review", n)
        assert s.scalars(select(DecisionRow.seq).where(
            DecisionRow.project_id == d.project.project_id)).all() == list(range(1, n + 1))
    after = await verify_history(db=ts.db, project_id=d.project.project_id, history=history)
    assert after.ok and after.matches_history

    again = await reproject(client=ts.env.client, db=ts.db, project_id=d.project.project_id)
    assert not again.repaired and not again.removed  # idempotent


async def test_verify_names_a_record_whose_content_differs(ts: Harness) -> None:
    d = await ts.start("2026")
    await d.do("submit")
    n = await settled(d, ts.db)
    with ts.db.begin() as s:  # an edit that also recomputed the hashes would look the same
        s.execute(update(DecisionRow).where(DecisionRow.project_id == d.project.project_id,
                                            DecisionRow.seq == n)
                  .values(reason="篡改的理由"))
    history = await d.handle.fetch_history()
    v = await verify_history(db=ts.db, project_id=d.project.project_id, history=history)
    assert not v.ok and not v.phantom and not v.missing
    assert any(x.startswith(f"seq {n} reason: database '篡改的理由'") for x in v.differences)
    fixed = await reproject(client=ts.env.client, db=ts.db, project_id=d.project.project_id)
    assert fixed.ok_after and fixed.removed == [n]
