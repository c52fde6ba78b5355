"""`gongfu ops …` for operators and `gongfu audit …` for auditors: the same answers as the
API's /operator and /audit routes, in the terminal."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from runtime.settings import settings

ops = typer.Typer(help="operators: stages, deadlines, histories, archive", no_args_is_help=True)
audit = typer.Typer(help="auditors: timeline, replay proof, verification", no_args_is_help=True)
console = Console()


async def _client_and_db():  # type: ignore[no-untyped-def]
    from runtime.db import make_engine, sessions
    from runtime.temporal import connect

    cfg = settings()
    client = await connect(cfg.temporal_address, cfg.temporal_namespace)
    return client, sessions(make_engine(cfg.database_url, cfg.db_pool_size))


def run(coro) -> None:  # type: ignore[no-untyped-def]
    from tools.cli import _finish

    _finish(lambda: asyncio.run(coro))


@ops.command("stages")
def ops_stages(batch: str = typer.Option(None, help="a batch id")) -> None:
    """Projects by batch × city × stage, from Temporal's visibility."""
    async def go() -> None:
        from services.operator import stage_counts

        client, _ = await _client_and_db()
        table = Table("batch", "city", "stage", "count")
        for row in await stage_counts(client, batch):
            table.add_row(row.batch, row.city, row.stage, str(row.count))
        console.print(table)

    run(go())


@ops.command("deadlines")
def ops_deadlines(hours: int = typer.Option(72, help="look this far ahead"),
                  batch: str = typer.Option(None, help="a batch id")) -> None:
    """Open projects whose next deadline is near, or missed (a timer that did not fire)."""
    async def go() -> None:
        from services.operator import deadlines

        client, _ = await _client_and_db()
        table = Table("workflow", "stage", "waiting on", "next deadline", "missed")
        for r in await deadlines(client, timedelta(hours=hours), batch):
            table.add_row(r.workflow_id, r.stage, ",".join(r.waiting_on),
                          r.next_deadline.isoformat(), "MISSED" if r.missed else "")
        console.print(table)

    run(go())


@ops.command("archives-overdue")
def ops_archives_overdue(batch: str = typer.Option(None, help="a batch id")) -> None:
    """Projects in implementation whose process archives are overdue (R15)."""
    async def go() -> None:
        from services.operator import archives_overdue

        client, _ = await _client_and_db()
        table = Table("workflow", "overdue periods", "archives filed")
        for r in await archives_overdue(client, batch):
            table.add_row(r.workflow_id, ", ".join(map(str, r.overdue_periods)),
                          str(r.archives_filed))
        console.print(table)

    run(go())


@ops.command("stuck")
def ops_stuck() -> None:
    """Open projects whose workflow task keeps failing or whose activities keep retrying."""
    async def go() -> None:
        from services.operator import stuck

        client, _ = await _client_and_db()
        table = Table("workflow", "kind", "attempt", "what", "error")
        for r in await stuck(client):
            table.add_row(r.workflow_id, r.kind, str(r.attempt), r.what, r.error[:120])
        console.print(table)

    run(go())


@ops.command("read-model")
def ops_read_model(batch: str = typer.Option(None, help="a batch id"),
                   sample: int = typer.Option(None, help="check only this many projects")) -> None:
    """Compare the read model's stages with the workflows'; print the differences."""
    async def go() -> None:
        from services.operator import compare_read_model

        client, db = await _client_and_db()
        diffs = await compare_read_model(client, db, batch, sample)
        for d in diffs:
            console.print(f"{d.project_id}: workflow {d.workflow_stage}, "
                          f"read model {d.read_model_stage}")
        console.print(f"{len(diffs)} difference(s)")

    run(go())


@ops.command("history")
def ops_history(project: str) -> None:
    """A project's raw workflow history (JSON), from Temporal or the archive."""
    async def go() -> None:
        from audit.archive import load_history

        client, db = await _client_and_db()
        found = await load_history(client, db, project)
        if found is None:
            raise LookupError(f"no history for {project}")
        print(found[0].to_json())

    run(go())


@ops.command("archive")
def ops_archive(snapshot_days: int = typer.Option(30, help="refresh open projects' snapshots "
                                                  "older than this")) -> None:
    """Archive closed projects' histories into PostgreSQL; snapshot long-open ones."""
    async def go() -> None:
        from audit.archive import archive_one
        from models import HistoryArchive

        client, db = await _client_and_db()
        with db() as s:
            final = {r.workflow_id for r in s.query(HistoryArchive).filter(
                HistoryArchive.closed.is_(True))}
        ids = [wf.id async for wf in client.list_workflows("WorkflowType = 'ProjectWorkflow'")
               if wf.id not in final]
        closed = 0
        with Progress(console=console) as progress:
            task = progress.add_task("archiving histories", total=len(ids))
            for wid in ids:
                closed += await archive_one(client, db, wid)
                progress.advance(task)
        console.print(f"archived {closed} closed, snapshotted {len(ids) - closed} open")

    run(go())


def _history(project: str):  # type: ignore[no-untyped-def]
    async def load():  # type: ignore[no-untyped-def]
        from audit.archive import load_history

        client, db = await _client_and_db()
        found = await load_history(client, db, project)
        if found is None:
            raise LookupError(f"no history for {project}")
        return found[0], found[1], db

    return load()


@audit.command("timeline")
def audit_timeline(project: str) -> None:
    """Each decision with actor, time, stage before → after, reason; each timer fired."""
    async def go() -> None:
        from audit.timeline import timeline

        history, source, _ = await _history(project)
        table = Table("event", "time (+08:00)", "kind", "action", "actor", "stages", "reason",
                      title=f"{project} (from {source})")
        for e in timeline(history):
            actor = f"{e.actor.user_id} ({e.actor.role.value} {e.actor.region})" if e.actor else ""
            stages = f"{e.stage_before} → {e.stage_after}" if e.stage_after else ""
            table.add_row(str(e.event_id), e.at, e.kind, e.action, actor, stages,
                          e.reason or e.note)
        console.print(table)

    run(go())


@audit.command("replay")
def audit_replay(project: str) -> None:
    """Replay the recorded history against the current code: same stages, same end?"""
    async def go() -> None:
        from audit.replay import replay_proof

        history, source, _ = await _history(project)
        proof = await replay_proof(history)
        console.print(f"{project} (history from {source}): {proof.summary()} "
                      f"[{proof.seconds * 1000:.0f} ms]")
        if not proof.replays:
            raise SystemExit(1)

    run(go())


@audit.command("verify")
def audit_verify(project: str) -> None:
    """Recompute the stored decisions' hash chain and compare them with the history."""
    async def go() -> None:
        from audit.chain import verify

        history, _, db = await _history(project)
        with db() as s:
            v = verify(s, project, history)
        console.print(f"{project}: {v.records} records; chain "
                      f"{'intact' if v.chain_intact else f'broken at seq {v.first_broken_seq}'}; "
                      f"{'matches the history' if v.matches_history else 'DIFFERS from history'}")
        for diff in v.differences:
            console.print(f"  {diff}")
        if not v.ok:
            raise SystemExit(1)

    run(go())
