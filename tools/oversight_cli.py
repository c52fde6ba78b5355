"""`gongfu ops …` for operators and `gongfu audit …` for auditors: the same answers as the
API's /operator and /audit routes, in the terminal.

Each command fetches its rows (the services' pydantic models), then a `render_…` function
turns them into text: a table when it fits the terminal (80 columns when piped), else one
record per row, never a cell cut short; no colour unless stdout is a terminal; with
`--json`, one JSON document (instants in +08:00). Rendering needs no server, so it is
tested on its own (tests/test_cli_output.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.text import Text

from domain.stages import Stage
from runtime.settings import settings
from tools.tables import Column, instant, render, to_json, to_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker
    from temporalio.client import Client, WorkflowHistory

    from audit.archive import SweepReport
    from audit.chain import Verification
    from audit.replay import ReplayProof
    from audit.timeline import TimelineEntry
    from services.operator import (
        ArchiveOverdue,
        CosignOverdue,
        DeadlineRow,
        ReadModelDifference,
        StageCount,
        Stuck,
    )
    from services.reprojection import Reprojected

ops = typer.Typer(help="operators: stages, deadlines, histories, archive", no_args_is_help=True)
audit = typer.Typer(help="auditors: timeline, replay proof, verification", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="print one JSON document (instants in +08:00)")
PROJECT = typer.Argument(..., help="project id (demo-2026-…) or its workflow id (project-…)")
WORKFLOW_PREFIX = "project-"  # domain.batch.workflow_id_for


class CliError(Exception):
    """A user's mistake, said in one line (Chinese / English) with exit status 1."""


class UnknownProject(CliError, LookupError):
    def __init__(self, text: str) -> None:
        super().__init__(f"错误：没有项目“{text}” / error: no project {text!r} "
                         "(give a project id, e.g. demo-2026-20261202-jn, or its workflow id, "
                         "e.g. project-demo-2026-20261202-jn)")


class NoHistory(CliError, LookupError):
    def __init__(self, project_id: str) -> None:
        super().__init__(f"错误：项目“{project_id}”没有流程历史（Temporal 与归档中均无）"
                         f" / error: no workflow history for {project_id!r}, "
                         "neither in Temporal nor in the archive")


def project_id_of(text: str, known: Callable[[str], bool] | None = None) -> str:
    """The project id that `text` names: the project id itself or its workflow id
    (`project-<project id>`, domain.batch.workflow_id_for). With `known` (does this
    project exist?), an exact project id wins over a stripped workflow id, and a text
    that names no known project raises UnknownProject; without it, only the form is read."""
    text = text.strip()
    candidates = [text]
    if text.startswith(WORKFLOW_PREFIX) and len(text) > len(WORKFLOW_PREFIX):
        candidates.append(text.removeprefix(WORKFLOW_PREFIX))
    if known is None:
        if not text:
            raise UnknownProject(text)
        return candidates[-1]
    for candidate in candidates:
        if candidate and known(candidate):
            return candidate
    raise UnknownProject(text)


# ---------------------------------------------------------------------------------------
# Rendering: rows in, text out.

def _stage(value: str | None) -> str:
    """A stage with its Chinese label: 'city_review 市级审核推荐'."""
    if not value:
        return ""
    try:
        return f"{value} {Stage(value).label_zh}"
    except ValueError:
        return value


def _action(value: str) -> str:
    from domain.lifecycle import ACTION_LABELS_ZH

    label = ACTION_LABELS_ZH.get(value)
    return f"{value} {label}" if label else value


def _closed(status: str | None, marked: bool) -> str:
    if not status:
        return ""
    return f"{status} ({'已标记 marked' if marked else '未标记 NOT marked'})"


def _actor(e: TimelineEntry) -> str:
    if e.actor is None:
        return ""
    return f"{e.actor.user_id} ({e.actor.role.value} {e.actor.role.label_zh} {e.actor.region})"


STAGE_COLUMNS = (
    Column("批次 batch", lambda r: r.batch),
    Column("城市 city", lambda r: r.city),
    Column("阶段 stage", lambda r: _stage(r.stage)),
    Column("数量 count", lambda r: str(r.count), justify="right"),
)
DEADLINE_COLUMNS = (
    Column("流程 workflow", lambda r: r.workflow_id),
    Column("阶段 stage", lambda r: _stage(r.stage)),
    Column("等待 waiting on", lambda r: ", ".join(r.waiting_on)),
    Column("下一截止 next deadline", lambda r: instant(r.next_deadline)),
    Column("已错过 missed", lambda r: "已错过 MISSED" if r.missed else ""),
)
ARCHIVE_COLUMNS = (
    Column("流程 workflow", lambda r: r.workflow_id),
    Column("逾期期次 overdue periods", lambda r: ", ".join(map(str, r.overdue_periods))),
    Column("已交档案 archives filed", lambda r: str(r.archives_filed), justify="right"),
)
COSIGN_COLUMNS = (
    Column("项目 project", lambda r: r.project_id),
    Column("阶段 stage", lambda r: r.stage),
    Column("决定 decision", lambda r: f"#{r.seq} {r.action}"),
    Column("会签方 co-signer", lambda r: r.cosigner),
    Column("逾期自 overdue since", lambda r: instant(r.overdue_at)),
)
STUCK_COLUMNS = (
    Column("流程 workflow", lambda r: r.workflow_id),
    Column("类别 kind", lambda r: r.kind),
    Column("尝试 attempt", lambda r: str(r.attempt), justify="right"),
    Column("内容 what", lambda r: r.what),
    Column("错误 error", lambda r: r.error),
)
READ_MODEL_COLUMNS = (
    Column("项目 project", lambda r: r.project_id),
    Column("流程阶段 workflow stage", lambda r: _stage(r.workflow_stage)),
    Column("读模型阶段 read-model stage", lambda r: _stage(r.read_model_stage)),
    Column("缺少记录 missing seqs", lambda r: ", ".join(map(str, r.missing))),
    Column("多余记录 phantom seqs", lambda r: ", ".join(map(str, r.phantom))),
    Column("其他运行 other run", lambda r: "是 yes" if r.other_run else ""),
    Column("流程已关闭 closed by Temporal", lambda r: _closed(r.workflow_status, r.marked)),
)
TIMELINE_COLUMNS = (
    Column("事件 event", lambda e: str(e.event_id), justify="right"),
    Column("时间 time (+08:00)", lambda e: e.at),
    Column("类别 kind", lambda e: e.kind),
    Column("动作 action", lambda e: _action(e.action)),
    Column("操作人 actor", _actor),
    Column("阶段 stages", lambda e: (f"{_stage(e.stage_before)} → {_stage(e.stage_after)}"
                                   if e.stage_after else "")),
    Column("理由 reason", lambda e: e.reason),
    Column("备注 note", lambda e: e.note),
)

NO_PROJECTS = "没有符合条件的项目 / no matching projects"
NO_DEADLINES = "没有临近或已错过的截止时间 / no deadline near or missed"
NO_COSIGNS_OVERDUE = "没有会签逾期的决定 / no co-signature is overdue"
NO_ARCHIVES_OVERDUE = "没有过程档案逾期的项目 / no project has overdue process archives"
NO_STUCK = "没有卡住的流程 / nothing is stuck"
NO_DIFFERENCES = ("读模型与流程一致，没有差异 / no differences: the read model agrees with "
                  "the workflows")
NO_TIMELINE = ("该项目的历史中没有决定、计时器或截止时间变更 / no decisions, timers or deadline "
               "changes in this project's history")


def render_stages(rows: Sequence[StageCount], width: int = 80, as_json: bool = False,
                  color_system: str | None = None) -> str:
    return render(rows, STAGE_COLUMNS, width=width, as_json=as_json, empty=NO_PROJECTS,
                  color_system=color_system)


def render_deadlines(rows: Sequence[DeadlineRow], width: int = 80, as_json: bool = False,
                     color_system: str | None = None) -> str:
    return render(rows, DEADLINE_COLUMNS, width=width, as_json=as_json, empty=NO_DEADLINES,
                  color_system=color_system)


def render_archives_overdue(rows: Sequence[ArchiveOverdue], width: int = 80,
                            as_json: bool = False, color_system: str | None = None) -> str:
    return render(rows, ARCHIVE_COLUMNS, width=width, as_json=as_json,
                  empty=NO_ARCHIVES_OVERDUE, color_system=color_system)


def render_cosigns_overdue(rows: Sequence[CosignOverdue], width: int = 80,
                           as_json: bool = False, color_system: str | None = None) -> str:
    return render(rows, COSIGN_COLUMNS, width=width, as_json=as_json,
                  empty=NO_COSIGNS_OVERDUE, color_system=color_system)


def render_stuck(rows: Sequence[Stuck], width: int = 80, as_json: bool = False,
                 color_system: str | None = None) -> str:
    return render(rows, STUCK_COLUMNS, width=width, as_json=as_json, empty=NO_STUCK,
                  color_system=color_system)


def render_read_model(rows: Sequence[ReadModelDifference], width: int = 80,
                      as_json: bool = False, color_system: str | None = None) -> str:
    title = f"{len(rows)} 处差异 / {len(rows)} difference(s)" if rows else None
    return render(rows, READ_MODEL_COLUMNS, width=width, as_json=as_json, empty=NO_DIFFERENCES,
                  title=title, color_system=color_system)


REPROJECTED_COLUMNS = (
    Column("项目 project", lambda r: r.project_id),
    Column("记录 records", lambda r: str(r.records), justify="right"),
    Column("修复 repaired", lambda r: "; ".join(r.repaired) or "无变化 unchanged"),
    Column("移除 removed seqs", lambda r: ", ".join(map(str, r.removed))),
    Column("之后一致 ok after", lambda r: "是 yes" if r.ok_after else "否 NO"),
)


def render_reprojected(rows: Sequence[Reprojected], width: int = 80, as_json: bool = False,
                       color_system: str | None = None) -> str:
    changed = sum(bool(r.repaired) for r in rows)
    return render(rows, REPROJECTED_COLUMNS, width=width, as_json=as_json, empty=NO_PROJECTS,
                  title=f"{changed} 个项目已修复 / {changed} repaired, "
                        f"{len(rows) - changed} unchanged", color_system=color_system)


def render_timeline(entries: Sequence[TimelineEntry], project_id: str, source: str,
                    width: int = 80, as_json: bool = False,
                    color_system: str | None = None) -> str:
    return render(entries, TIMELINE_COLUMNS, width=width, as_json=as_json, empty=NO_TIMELINE,
                  title=f"{project_id} (来源 from {source})", color_system=color_system)


def render_replay(proof: ReplayProof, project_id: str, source: str, width: int = 80,
                  as_json: bool = False, color_system: str | None = None) -> str:
    if as_json:
        return to_json(proof) + "\n"
    line = (f"{project_id} (history from {source}): {proof.summary()} "
            f"[{proof.seconds * 1000:.0f} ms]")
    return to_text(Text(line), width, color_system)


def render_verify(v: Verification, width: int = 80, as_json: bool = False,
                  color_system: str | None = None) -> str:
    if as_json:
        return to_json(v) + "\n"
    chain = "intact" if v.chain_intact else f"broken at seq {v.first_broken_seq}"
    agreement = {True: "matches the history", False: "DIFFERS from history",
                 None: "no history to compare"}[v.matches_history]
    lines = [f"{v.project_id}: {v.records} records; chain {chain}; {agreement}",
             *(f"  {diff}" for diff in v.differences)]
    if v.closed_outside:
        lines.append(f"  {v.closed_outside}")
    return to_text(Text("\n".join(lines)), width, color_system)


def render_sweep(report: SweepReport, width: int = 80, as_json: bool = False,
                 color_system: str | None = None) -> str:
    if as_json:
        return to_json(report) + "\n"
    return to_text(Text(f"archived {report.closed_archived} closed, snapshotted "
                        f"{report.open_snapshots} open ({report.already_archived} already "
                        "archived)"), width, color_system)


# ---------------------------------------------------------------------------------------
# Fetching, and the commands.

def _screen() -> tuple[int, str | None]:
    """stdout's width (80 when piped, unless COLUMNS says otherwise) and colour system
    (None when piped: no ANSI codes)."""
    console = Console()
    return console.width, console.color_system if console.is_terminal else None


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _db() -> sessionmaker[Session]:
    from runtime.db import make_engine, sessions

    cfg = settings()
    return sessions(make_engine(cfg.database_url, cfg.db_pool_size))


async def _client() -> Client:
    from runtime.temporal import connect_with

    return await connect_with(settings())  # with the deployment's TLS / API key


def _resolve(text: str, db: sessionmaker[Session]) -> str:
    """The project id of `text` (project id or workflow id), asked of the programme
    database, where every project is registered before its workflow starts."""
    from models import Project

    def known(project_id: str) -> bool:
        with db() as s:
            return s.get(Project, project_id) is not None

    return project_id_of(text, known)


async def _history(text: str) -> tuple[str, WorkflowHistory, str, sessionmaker[Session]]:
    """(project id, its history, 'temporal' or 'archive', the database)."""
    from audit.archive import load_history

    db = _db()
    project_id = _resolve(text, db)
    found = await load_history(await _client(), db, project_id)
    if found is None:
        raise NoHistory(project_id)
    return project_id, found[0], found[1], db


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a command through cli._finish (exit status 0, or 1 with the error); a user's
    mistake (CliError) is said in its own one line, with no exception name."""
    from tools.cli import _finish

    def body() -> None:
        try:
            asyncio.run(coro)
        except CliError as exc:
            typer.echo(str(exc), err=True)
            raise SystemExit(1) from None

    _finish(body)


@ops.command("stages")
def ops_stages(batch: str = typer.Option(None, help="a batch id"), json: bool = JSON) -> None:
    """Projects by batch × city × stage, from Temporal's visibility."""
    async def go() -> None:
        from services.operator import stage_counts

        rows = await stage_counts(await _client(), batch)
        width, colour = _screen()
        _emit(render_stages(rows, width, json, colour))

    run(go())


@ops.command("deadlines")
def ops_deadlines(hours: int = typer.Option(72, help="look this far ahead"),
                  batch: str = typer.Option(None, help="a batch id"),
                  json: bool = JSON) -> None:
    """Open projects whose next deadline is near, or missed (a timer that did not fire)."""
    async def go() -> None:
        from services.operator import deadlines

        rows = await deadlines(await _client(), timedelta(hours=hours), batch)
        width, colour = _screen()
        _emit(render_deadlines(rows, width, json, colour))

    run(go())


@ops.command("archives-overdue")
def ops_archives_overdue(batch: str = typer.Option(None, help="a batch id"),
                         json: bool = JSON) -> None:
    """Projects in implementation whose process archives are overdue (R15)."""
    async def go() -> None:
        from services.operator import archives_overdue

        rows = await archives_overdue(await _client(), batch)
        width, colour = _screen()
        _emit(render_archives_overdue(rows, width, json, colour))

    run(go())


@ops.command("cosigns-overdue")
def ops_cosigns_overdue(batch: str = typer.Option(None, help="a batch id"),
                        json: bool = JSON) -> None:
    """Decisions waiting for a finance bureau's co-signature past their working days."""
    async def go() -> None:
        from services.operator import cosigns_overdue

        rows = await cosigns_overdue(await _client(), batch)
        width, colour = _screen()
        _emit(render_cosigns_overdue(rows, width, json, colour))

    run(go())


@ops.command("stuck")
def ops_stuck(json: bool = JSON) -> None:
    """Open projects whose workflow task keeps failing or whose activities keep retrying."""
    async def go() -> None:
        from services.operator import stuck

        rows = await stuck(await _client())
        width, colour = _screen()
        _emit(render_stuck(rows, width, json, colour))

    run(go())


@ops.command("read-model")
def ops_read_model(batch: str = typer.Option(None, help="a batch id"),
                   sample: int = typer.Option(None, help="check only this many projects"),
                   json: bool = JSON) -> None:
    """Compare the read model's stages with the workflows'; print the differences."""
    async def go() -> None:
        from services.operator import compare_read_model

        rows = await compare_read_model(await _client(), _db(), batch, sample)
        width, colour = _screen()
        _emit(render_read_model(rows, width, json, colour))

    run(go())


@ops.command("reproject")
def ops_reproject(project: str = typer.Argument(None, help="project id or workflow id"),
                  all_projects: bool = typer.Option(False, "--all", help="every project"),
                  batch: str = typer.Option(None, help="with --all: only this batch"),
                  json: bool = JSON) -> None:
    """Rebuild the read model of a project (or of all) from its committed history:
    records the history does not hold are removed, missing ones written, the chain
    sealed again, the row, places and quota row set. Idempotent; says what it changed."""
    async def go() -> None:
        from services.reprojection import reproject, reproject_all

        if bool(project) == all_projects:
            raise CliError("错误：请给出一个项目，或使用 --all / error: give one project, "
                           "or --all")
        db, client = _db(), await _client()
        if all_projects:
            rows = await reproject_all(client=client, db=db, batch_id=batch)
        else:
            rows = [await reproject(client=client, db=db, project_id=_resolve(project, db))]
        width, colour = _screen()
        _emit(render_reprojected(rows, width, json, colour))
        if not all(r.ok_after for r in rows):
            raise SystemExit(1)

    run(go())


@ops.command("history")
def ops_history(project: str = PROJECT,
                json: bool = typer.Option(False, "--json", help="accepted for uniformity: "
                                          "the history is always JSON"),
                decisions: bool = typer.Option(False, "--decisions", help="instead of the "
                                               "JSON, one line per decision or timer: what, "
                                               "who, and what came of it, in Chinese")) -> None:
    """A project's raw workflow history (JSON, as Temporal exports it), from Temporal or
    the archive. Each decision is an update named by its action (`city_recommend`, …;
    `decide` in histories recorded before the console)."""
    async def go() -> None:
        _, history, _, _ = await _history(project)
        if decisions:
            _emit(render_decisions(history))
            return
        _emit(history.to_json() + "\n")

    run(go())


def render_decisions(history: WorkflowHistory) -> str:
    """One line per decision (event id, +08:00 instant, and the decision's summary)."""
    from audit.timeline import timeline
    from domain.lifecycle import ACTION_LABELS_ZH
    from domain.summaries import decision_summary

    lines = []
    for e in timeline(history):
        label = ACTION_LABELS_ZH.get(e.action, e.action)
        if e.actor is not None and e.stage_before and e.stage_after:
            text = decision_summary(label, e.action, e.actor.user_id, e.actor.role,
                                    Stage(e.stage_before), Stage(e.stage_after), e.note)
        else:
            text = f"{label}（{e.action}）· {e.kind}" + (f" · {e.note}" if e.note else "")
        lines.append(f"{e.event_id:>5}  {e.at[:16].replace('T', ' ')}  {text}")
    return "\n".join(lines or ["（无决定）/ no decisions"]) + "\n"


@ops.command("archive")
def ops_archive(snapshot_days: int = typer.Option(30, help="refresh open projects' snapshots "
                                                  "older than this"),
                json: bool = JSON) -> None:
    """Archive closed projects' histories into PostgreSQL; snapshot long-open ones."""
    async def go() -> None:
        from rich.progress import Progress

        from audit.archive import SweepReport, archive_one
        from models import HistoryArchive

        client, db = await _client(), _db()
        with db() as s:
            final = {r.workflow_id for r in s.query(HistoryArchive).filter(
                HistoryArchive.closed.is_(True))}
        listed = [wf.id async for wf in client.list_workflows("WorkflowType = 'ProjectWorkflow'")]
        ids = [wid for wid in listed if wid not in final]
        closed = 0
        progress_console = Console(stderr=True)  # stdout stays the result alone
        with Progress(console=progress_console,
                      disable=not progress_console.is_terminal) as progress:
            task = progress.add_task("archiving histories", total=len(ids))
            for wid in ids:
                closed += await archive_one(client, db, wid)
                progress.advance(task)
        report = SweepReport(closed_archived=closed, open_snapshots=len(ids) - closed,
                             already_archived=len(listed) - len(ids))
        width, colour = _screen()
        _emit(render_sweep(report, width, json, colour))

    run(go())


@ops.command("schedules")
def ops_schedules(json: bool = JSON) -> None:
    """Create or update the upkeep schedules (archive, read-model repair, deadline and
    stuck scans) as the settings say, then list them. Idempotent: the production one-shot
    runs it on every deployment; a paused schedule stays paused."""
    async def go() -> None:
        from runtime.temporal import connect_with
        from services.schedules import describe_schedules, ensure_schedules

        cfg = settings()
        client = await connect_with(cfg)  # with the deployment's TLS / API key
        changed = await ensure_schedules(client, cfg.task_queue, cfg)
        rows = await describe_schedules(client)
        columns = (
            Column("计划 schedule", lambda r: r.schedule_id),
            Column("间隔 every", lambda r: r.every),
            Column("重叠 overlap", lambda r: r.overlap),
            Column("状态 state", lambda r: "已暂停 PAUSED" if r.paused else "运行 active"),
            Column("下次 next run", lambda r: instant(r.next_run) if r.next_run else ""),
            Column("上次 last run", lambda r: instant(r.last_run) if r.last_run else ""),
            Column("次数 runs", lambda r: str(r.runs), justify="right"),
        )
        title = (f"{len(changed)} 个已创建或更新 / created or updated: {', '.join(changed)}"
                 if changed else "无变化 / unchanged")
        width, colour = _screen()
        _emit(render(rows, columns, width=width, as_json=json, title=None if json else title,
                     empty="没有维护计划 / no upkeep schedules", color_system=colour))

    run(go())


@audit.command("timeline")
def audit_timeline(project: str = PROJECT, json: bool = JSON) -> None:
    """Each decision with actor, time, stage before → after, reason; each timer fired."""
    async def go() -> None:
        from audit.timeline import timeline

        project_id, history, source, _ = await _history(project)
        width, colour = _screen()
        _emit(render_timeline(timeline(history), project_id, source, width, json, colour))

    run(go())


@audit.command("replay")
def audit_replay(project: str = PROJECT, json: bool = JSON) -> None:
    """Replay the recorded history against the current code: same stages, same end?
    Exit status 1 if it diverges."""
    async def go() -> None:
        from audit.replay import replay_proof

        project_id, history, source, _ = await _history(project)
        proof = await replay_proof(history)
        width, colour = _screen()
        _emit(render_replay(proof, project_id, source, width, json, colour))
        if not proof.replays:
            raise SystemExit(1)

    run(go())


@audit.command("verify")
def audit_verify(project: str = PROJECT, json: bool = JSON) -> None:
    """Recompute the stored decisions' hash chain and compare them with the history.
    Exit status 1 if either fails."""
    async def go() -> None:
        from services.reprojection import verify_history

        project_id, history, _, db = await _history(project)
        v = await verify_history(db=db, project_id=project_id, history=history)
        width, colour = _screen()
        _emit(render_verify(v, width, json, colour))
        if not v.ok:
            raise SystemExit(1)

    run(go())
