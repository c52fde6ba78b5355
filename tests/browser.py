"""A real browser for the console tests: Debian's chromium driven by Playwright for Python.

Playwright's own browser download cannot work on these machines; the browser is the
distribution's (`apt-get install chromium fonts-noto-cjk`, done by `.ci/run`), found at
GONGFU_CHROMIUM or /usr/bin/chromium. Without it (or without the playwright package) the
browser tests skip, saying why."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI


def chromium_path() -> str | None:
    for candidate in (os.environ.get("GONGFU_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def why_no_browser() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return ("no chromium: apt-get install chromium fonts-noto-cjk (.ci/run does it as root)"
                " or set GONGFU_CHROMIUM")
    return None


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """The app on a free local port, on this event loop; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def screenshot_dir(default: Path) -> Path:
    """Where the test run writes its screenshots: GONGFU_SCREENSHOTS (the committed ones
    are made with GONGFU_SCREENSHOTS=docs/screenshots), else the test's temporary dir."""
    chosen = os.environ.get("GONGFU_SCREENSHOTS")
    path = Path(chosen) if chosen else default
    path.mkdir(parents=True, exist_ok=True)
    return path
