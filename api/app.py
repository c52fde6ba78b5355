"""The officials' HTTP API: authenticate, check jurisdiction, turn requests into workflow
decisions, read lists from the read model. No programme rule lives only here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api import errors
from api.routers import batches, decisions, oversight, projects, units
from api.state import AppState, StateDep
from runtime.db import make_engine, sessions
from runtime.settings import Settings, settings
from runtime.temporal import connect

DESCRIPTION = """
工赋百景 揭榜挂帅 项目全生命周期 API. Every decision of every role is an endpoint
`POST /projects/{id}/decisions/{action}` generated from the lifecycle table; the project's
workflow validates it and refuses it with the rule it breaks (R1…R18, LIFECYCLE, ROLE,
JURISDICTION, INPUT, IDEMPOTENCY), in Chinese and English.

Authenticate with a bearer token (`gongfu token --role city --region 3701 --user u1`).
Send an `Idempotency-Key` with every change: a retry with the same key returns the first
answer and changes nothing.
"""


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
            client = await connect(c.temporal_address, c.temporal_namespace)
            db = sessions(make_engine(c.database_url, c.db_pool_size))
            app.state.gongfu = AppState(client=client, db=db, settings=c,
                                        task_queue=c.task_queue)
        yield

    app = FastAPI(title="工赋百景 揭榜挂帅 API", version="0.1.0", description=DESCRIPTION,
                  lifespan=lifespan)
    if state is not None:
        app.state.gongfu = state
    errors.install(app)

    @app.middleware("http")
    async def refuse_nul(request: Request, call_next):  # type: ignore[no-untyped-def]
        """NUL can reach no database or file: refuse it anywhere in a request (422)."""
        raw = (request.url.path + "?" + request.url.query).lower()
        body = b""
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.body()
        if "%00" in raw or "\x00" in raw or b"\\u0000" in body or b"\x00" in body:
            return JSONResponse(status_code=422, content=errors.ErrorBody(
                status=422, rule="INPUT", kind="input",
                message_zh="请求中含有不允许的控制字符（NUL）",
                message_en="the request contains a NUL character").model_dump())
        return await call_next(request)
    for r in (projects.router, decisions.router, batches.router, units.router, oversight.router):
        app.include_router(r)

    @app.get("/health", response_model=Health, tags=["health"],
             openapi_extra={"x-roles": ["public"]})
    async def health(st: StateDep) -> Health:
        temporal = database = "ok"
        try:
            await st.client.service_client.check_health()
        except Exception as exc:  # report, do not fail: this is the health endpoint
            temporal = f"unavailable: {type(exc).__name__}"
        try:
            with st.db() as s:
                s.execute(text("select 1"))
        except Exception as exc:
            database = f"unavailable: {type(exc).__name__}"
        ok = temporal == database == "ok"
        return Health(status="ok" if ok else "degraded", temporal=temporal, database=database)

    return app
