"""The README's five-minute tour, run as written: `gongfu run` (the dev server, the worker,
the API and the demo batch, as `make run` starts it) in a process of its own on ports of
its own, then the tour's shell block, word for word but for the API's port, under two
time zones. At any instant one of them (UTC-12 or UTC+14) has another date than
Shanghai's, where the demo batch takes its id from; the tour must not depend on it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime.devserver import free_port

ROOT = Path(__file__).resolve().parent.parent


def tour_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### A five-minute tour"):]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


@pytest.fixture(params=["Etc/GMT+12", "Etc/GMT-14"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[dict[str, str]]:
    """A fresh `gongfu run` per time zone (the tour changes the demo's projects)."""
    data = tmp_path_factory.mktemp("tour")
    env = {**os.environ, "GONGFU_DATA_DIR": str(data),
           "GONGFU_DATABASE_URL": f"sqlite:///{data}/gongfu.db",
           "GONGFU_STORAGE_DIR": str(data / "documents"),
           "GONGFU_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
           "GONGFU_TEMPORAL_UI_PORT": str(free_port()), "GONGFU_API_PORT": str(free_port()),
           "GONGFU_LOG_LEVEL": "warning", "TZ": request.param}
    log = (data / "run.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "tools.cli", "run"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while b"Worker running" not in (data / "run.log").read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, \
                (data / "run.log").read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        yield env
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the process group this fixture started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_the_readme_tour_works_in_any_time_zone(demo: dict[str, str]) -> None:
    port = demo["GONGFU_API_PORT"]
    script = tour_block().replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
    script = script.replace("curl -s ", "echo; curl -s ")  # each answer on a line of its own
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=demo,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    waiting, recommended, concurred, outsider = answers
    assert [i["id"] for i in waiting["items"]] == [recommended["project_id"]]
    assert recommended["stage"] == "city_review", recommended  # waits for the finance bureau
    assert concurred["stage"] == "recommended", concurred
    assert outsider["status"] == 404 and outsider["rule"] == "NOT_FOUND", outsider
    # The console of `make run` offers the demo's users (on its SQLite database).
    login = httpx.get(f"http://127.0.0.1:{port}/console/login", timeout=30)
    assert login.status_code == 200 and 'value="city|3703||demo-city-3703"' in login.text
