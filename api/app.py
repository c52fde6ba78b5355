"""The officials' HTTP API: authenticate, check jurisdiction, turn requests into workflow
decisions, read lists from the read model. No programme rule lives only here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Response
from pydantic import BaseModel
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

import console
from api import errors
from api.auth import decode_token
from api.middleware import Idempotency, RequestGuard, who_from_token
from api.routers import batches, decisions, oversight, projects, units
from api.state import AppState, StateDep
from runtime.db import make_engine, sessions
from runtime.settings import Settings, refuse_demo_secret, settings
from runtime.temporal import connect_with

DESCRIPTION = """
工赋百景 揭榜挂帅 项目全生命周期 API. Every decision of every role is an endpoint
`POST /projects/{id}/decisions/{action}` generated from the lifecycle table; the project's
workflow validates it and refuses it with the rule it breaks (R1…R18, LIFECYCLE, ROLE,
JURISDICTION, INPUT, IDEMPOTENCY), in Chinese and English.

Authenticate with a bearer token (`gongfu token --role city --region 3701 --user u1`).

**Idempotency.** Every change (POST, PUT, PATCH, DELETE) accepts an `Idempotency-Key`
header (1-100 printable ASCII characters, scoped to the caller). The first answer is kept:
the same key with the same request returns it again (header `Idempotent-Replayed: true`)
and changes nothing, in any API process and after restarts; the same key with a
different request is refused with 409 `IDEMPOTENCY`; a retry that arrives while the first
is still being answered waits for its answer. A change sent without a key is a new
request each time: send a key whenever you may retry. Answers that ask for a retry (429,
503) are not kept.

**Limits.** A JSON body is at most 2 MB and nested at most 32 levels; one decision's
`payload` is at most 16 KB; uploads at most the configured size (50 MB by default).
Beyond them: 413 or 422, before anything changes. Temporal admits a limited number of
decisions in flight per project: beyond it the answer is 429 with `Retry-After`; retry
with the same key.

**Time.** Every instant in an answer is ISO 8601 with the +08:00 offset (Asia/Shanghai).
"""


HEALTH_TIMEOUT = timedelta(seconds=5)


class Health(BaseModel):
    status: str
    temporal: str
    database: str


def create_app(state: AppState | None = None, cfg: Settings | None = None) -> FastAPI:
    """`state` given: use it (tests, `gongfu run`); else connect from the settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state is None:
            c = cfg or settings()
            refuse_demo_secret(c, "API")
            client = await connect_with(c)
            db = sessions(make_engine(c.database_url, c.db_pool_size))
            app.state.gongfu = AppState(client=client, db=db, settings=c,
                                        task_queue=c.task_queue)
        yield

    app = FastAPI(title="工赋百景 揭榜挂帅 API", version="0.1.0", description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    if state is not None:
        app.state.gongfu = state
    errors.install(app)

    def who(scope: Scope) -> str | None:
        settings_ = scope["app"].state.gongfu.settings
        return who_from_token(lambda t: decode_token(t, settings_).user_id)(scope)

    app.add_middleware(Idempotency, who=who, db=lambda scope: scope["app"].state.gongfu.db)
    limits = state.settings if state is not None else (cfg or settings())
    upload_limit = (limits.max_document_mb + 1) * 1024 * 1024
    app.add_middleware(RequestGuard, max_upload_bytes=upload_limit)
    for r in (projects.router, decisions.router, batches.router, units.router, oversight.router):
        app.include_router(r)
    console.install(app)  # the console (/console/) and the offline /docs, /redoc

    @app.get("/health", response_model=Health, tags=["health"],
             responses={503: {"model": Health, "description": "degraded: Temporal or the "
                              "database does not answer"}},
             openapi_extra={"x-roles": ["public"]})
    async def health(st: StateDep, response: Response) -> Health:
        """200 while Temporal and the database both answer (within 5 s each), else 503
        with what is unavailable: load balancers and probes take the replica out."""
        temporal = database = "ok"
        try:
            await st.client.service_client.check_health(timeout=HEALTH_TIMEOUT)
        except Exception as exc:  # report, do not raise: this is the health endpoint
            temporal = f"unavailable: {type(exc).__name__}"

        def ping() -> None:
            with st.db() as s:
                s.execute(text("select 1"))

        try:
            await asyncio.wait_for(run_in_threadpool(ping), HEALTH_TIMEOUT.total_seconds())
        except Exception as exc:
            database = f"unavailable: {type(exc).__name__}"
        ok = temporal == database == "ok"
        if not ok:
            response.status_code = 503
        return Health(status="ok" if ok else "degraded", temporal=temporal, database=database)

    return app
