"""`gongfu import`: the province's lists, loaded from XLSX or CSV into the programme
database (GONGFU_DATABASE_URL), with a report per row. Running the same file again
changes nothing. Exit status 1 when any row was refused."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from domain.decisions import Actor
from domain.roles import Role
from services.imports import ImportProblem, ImportReport

imports = typer.Typer(help="the province's lists: unit facts (R19), earlier winners (R2)",
                      no_args_is_help=True)


def _province() -> Actor:
    """The CLI acts for the province, as the operating system user who runs it."""
    return Actor(user_id=f"cli:{getpass.getuser()}"[:64], role=Role.PROVINCE, region="37")


def _run(path: Path, as_json: bool, work: Callable[[Session, bytes, str], ImportReport]) -> None:
    from runtime.db import make_engine, migrate, sessions
    from runtime.logging import configure_logging
    from runtime.settings import settings

    cfg = settings()
    configure_logging(cfg.log_format, cfg.log_level)
    migrate(cfg.database_url)
    db = sessions(make_engine(cfg.database_url))
    try:
        with db.begin() as session:
            report = work(session, path.read_bytes(), path.name)
    except ImportProblem as exc:
        typer.echo(f"{exc.zh} / {exc.en}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(report.model_dump(), ensure_ascii=False, indent=1))
    else:
        for r in report.rows:
            what = " ".join(x for x in (r.project_ref, r.credit_code) if x)
            message = f"  {r.message_zh} / {r.message_en}" if r.message_zh else ""
            typer.echo(f"第{r.row}行 row {r.row}: {r.status:9s} {what}{message}")
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items()))
        typer.echo(f"{path.name}: {counts or '无数据行 / no rows'}")
    if report.errors:
        raise typer.Exit(1)


File = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="XLSX or CSV")]
AsJson = Annotated[bool, typer.Option("--json", help="the report as JSON")]


@imports.command("winners")
def winners(path: File, batch: Annotated[str, typer.Option(help="the earlier batch, e.g. "
                                                                "2025-1")],
            as_json: AsJson = False) -> None:
    """Earlier batches' selected projects, one row per unit (项目编号, 任务编号, 项目名称,
    统一社会信用代码, 单位名称, 单位类型, 所在地区划, 角色): they use up places (R2) in the
    batches that name this batch as counting."""
    from services.imports import import_winners

    _run(path, as_json, lambda s, data, name: import_winners(
        s, who=_province(), batch_id=batch, data=data, filename=name))


@imports.command("facts")
def facts(path: File, as_json: AsJson = False) -> None:
    """The province's list of privileged unit facts (SOE status, group, parent, standing
    flags); a blank cell leaves the fact as it is."""
    from services.imports import import_facts

    _run(path, as_json, lambda s, data, name: import_facts(
        s, who=_province(), data=data, filename=name))
