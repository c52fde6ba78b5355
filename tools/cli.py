"""`gongfu`: run the system, the worker alone, the demo, or redraw the lifecycle diagram."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import typer

from runtime.logging import configure_logging
from runtime.settings import settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="工赋百景 揭榜挂帅 — project lifecycle on Temporal")


def _exit(status: int) -> None:
    """Leave without interpreter teardown (temporalio/sdk-python#300)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _finish(body: Callable[[], object]) -> None:
    """Run a command and exit with its real status: 0, or 1 with the error printed."""
    try:
        body()
    except KeyboardInterrupt:
        typer.echo("stopped")
    except SystemExit as exc:
        _exit(int(exc.code or 0))
    except Exception as exc:  # the CLI's last line of defence: say what failed, exit 1
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        _exit(1)
    _exit(0)


@app.command()
def run(demo: bool = typer.Option(True, help="start the demo batch")) -> None:
    """Temporal dev server (SQLite in ./data, UI on) + worker + demo batch; Ctrl-C stops."""
    _finish(lambda: asyncio.run(_run(demo)))


async def _run(demo: bool) -> None:
    from runtime.db import make_engine, migrate, sessions
    from runtime.devserver import start_dev_server
    from runtime.temporal import connect_with
    from services.schedules import ensure_schedules
    from tools.demo import run_demo
    from worker import build_worker

    cfg = settings()
    configure_logging(cfg.log_format, cfg.log_level)
    migrate(cfg.database_url)
    db = sessions(make_engine(cfg.database_url))
    host, port = cfg.temporal_address.rsplit(":", 1)
    server = await start_dev_server(cfg.data_dir, host, int(port), cfg.temporal_ui_port)
    try:
        # A server already listening (start_dev_server left it) may be one with TLS.
        client = await connect_with(cfg)
        async with build_worker(client, db=db):
            ui = f"http://{host}:{cfg.temporal_ui_port}"
            # The demo's console offers its users to sign in as (never in production).
            api = await _serve_api(client, db, cfg.model_copy(
                update={"console_demo_sign_in": True}) if demo else cfg)
            await ensure_schedules(client, cfg.task_queue, cfg)
            typer.echo(f"Temporal server {cfg.temporal_address}  (data in {cfg.data_dir}/)")
            typer.echo(f"Temporal UI     {ui}")
            typer.echo(f"Upkeep          {ui}/namespaces/{cfg.temporal_namespace}/schedules")
            typer.echo(f"Console 工作台  {api}/console/")
            typer.echo(f"API             {api}/docs")
            if demo:
                results = await run_demo(client, cfg.task_queue, datetime.now(UTC), db)
                typer.echo("\nDemo projects (workflow id -> stage):")
                for wid, stage in results:
                    typer.echo(f"  {wid:40s} {stage:16s} {ui}/namespaces/"
                               f"{cfg.temporal_namespace}/workflows/{wid}")
                typer.echo("\nList them by stage in the UI or with the CLI, e.g.\n"
                           f"  .venv/bin/temporal workflow list --address {cfg.temporal_address}"
                           " --query \"GfStage = 'city_review'\"")
            typer.echo("\nWorker running. Ctrl-C to stop.")
            await asyncio.Event().wait()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


@app.command()
def migrate() -> None:
    """Upgrade the programme database to the latest migration (GONGFU_DATABASE_URL)."""
    from runtime.db import migrate as upgrade

    _finish(lambda: upgrade(settings().database_url))


@app.command(name="settings")
def settings_reference(write: bool = typer.Option(False, help="rewrite docs/configuration.md")
                       ) -> None:
    """Print (or --write) the configuration reference generated from the settings."""
    from pathlib import Path

    from runtime.settings import reference

    def go() -> None:
        if write:
            path = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
            path.write_text(reference(), encoding="utf-8")
            typer.echo(f"wrote {path}")
        else:
            typer.echo(reference())

    _finish(go)


@app.command()
def token(
    role: str = typer.Option(..., help="applicant, county, city, city_finance, province, "
                             "province_finance, expert, operator, auditor"),
    user: str = typer.Option(..., help="user id"),
    region: str = typer.Option("37", help="GB/T 2260 code the user acts for"),
    unit: str = typer.Option(None, help="an applicant's unit credit code"),
    hours: int = typer.Option(None, help="validity (default GONGFU_TOKEN_TTL_HOURS)"),
) -> None:
    """Issue a bearer token for the API (demo and tests; production uses its own IdP)."""
    from datetime import timedelta

    from api.auth import Principal, issue_token

    def go() -> None:
        p = Principal(user_id=user, role=role, region=region, unit_code=unit)
        ttl = timedelta(hours=hours or settings().token_ttl_hours)
        typer.echo(issue_token(p, settings().token_secret, ttl))

    _finish(go)


@app.command()
def api() -> None:
    """Serve the API alone (uvicorn) against GONGFU_* settings."""
    import uvicorn

    from api.app import create_app
    from runtime.settings import refuse_demo_secret

    cfg = settings()
    configure_logging(cfg.log_format, cfg.log_level)

    def serve() -> None:
        refuse_demo_secret(cfg, "API")
        uvicorn.run(create_app(), host=cfg.api_host, port=cfg.api_port, log_level="warning")

    _finish(serve)


async def _serve_api(client: object, db: object, cfg: object) -> str:
    """Serve the API inside this process, on the running event loop."""
    import uvicorn

    from api.app import create_app
    from api.state import AppState

    state = AppState(client=client, db=db, settings=cfg, task_queue=cfg.task_queue)  # type: ignore[arg-type, attr-defined]
    server = uvicorn.Server(uvicorn.Config(create_app(state), host=cfg.api_host,  # type: ignore[attr-defined]
                                           port=cfg.api_port, log_level="warning"))  # type: ignore[attr-defined]
    _background.add(asyncio.create_task(server.serve()))
    while not server.started:
        await asyncio.sleep(0.05)
    return f"http://{cfg.api_host}:{cfg.api_port}"  # type: ignore[attr-defined]


_background: set[asyncio.Task[None]] = set()


@app.command()
def worker() -> None:
    """Run only the worker (against GONGFU_TEMPORAL_ADDRESS)."""
    from worker import main

    _finish(lambda: asyncio.run(main()))


@app.command()
def demo() -> None:
    """Start the demo batch on an already running server and worker, then exit."""
    from runtime.db import make_engine, migrate, sessions
    from runtime.temporal import connect_with
    from tools.demo import run_demo

    async def go() -> None:
        cfg = settings()
        client = await connect_with(cfg)
        migrate(cfg.database_url)
        db = sessions(make_engine(cfg.database_url))
        for wid, stage in await run_demo(client, cfg.task_queue, datetime.now(UTC), db):
            typer.echo(f"{wid}\t{stage}")

    configure_logging(settings().log_format, settings().log_level)
    _finish(lambda: asyncio.run(go()))


@app.command()
def diagram(write: bool = typer.Option(False, help="rewrite docs/lifecycle.md")) -> None:
    """Print (or --write) the lifecycle document drawn from the transitions table."""
    from tools.diagram import render
    from tools.diagram import write as write_doc

    _finish(lambda: typer.echo(f"wrote {write_doc()}" if write else render()))


def main() -> None:
    from tools.import_cli import imports
    from tools.oversight_cli import audit, ops

    app.add_typer(ops, name="ops")
    app.add_typer(audit, name="audit")
    app.add_typer(imports, name="import")
    app()


if __name__ == "__main__":
    main()
