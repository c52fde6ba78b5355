"""The officials' console (工作台): server-rendered pages served by the API's own app.

It is a client of the API and nothing more: every page reads and every form writes
through the API's own routes, called in-process over ASGI with the signed-in user's
token (`console.client`), so the console has exactly the API's authorization,
jurisdiction, idempotency and refusals, and adds no rule of its own. What the user may
do is what the API answers (`allowed_for_me`) or declares (`x-roles` of its routes).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from console import docs
from console.client import ApiFailed
from console.routes import SignIn, StaleForm, error_page, router, stale_form_page

HERE = Path(__file__).resolve().parent


def install(app: FastAPI) -> None:
    """Mount the console, its static files and the offline /docs and /redoc on `app`."""
    docs.install(app)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @app.exception_handler(SignIn)
    async def sign_in(request: Request, exc: SignIn) -> RedirectResponse:
        return RedirectResponse(f"/console/login?next={exc.next}", status_code=303)

    @app.exception_handler(StaleForm)
    async def stale(request: Request, exc: StaleForm) -> Response:
        return stale_form_page(request)

    @app.exception_handler(ApiFailed)
    async def failed(request: Request, exc: ApiFailed) -> Response:
        return error_page(request, exc)
