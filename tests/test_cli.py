"""The `gongfu` command exits with its real status, without interpreter teardown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime.devserver import free_port
from tests.driver import Harness

ROOT = Path(__file__).resolve().parent.parent


def gongfu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True, cwd=ROOT,
        timeout=120, env={**os.environ, **(env or {})},
    )


def test_diagram_command_prints_the_lifecycle_and_exits_0() -> None:
    proc = gongfu("diagram")
    assert proc.returncode == 0, proc.stderr
    assert "stateDiagram-v2" in proc.stdout and "县级审核" in proc.stdout


def test_a_failing_command_exits_1_with_the_error() -> None:
    port = free_port()  # nobody listens on it
    proc = gongfu("demo", env={"GONGFU_TEMPORAL_ADDRESS": f"127.0.0.1:{port}"})
    assert proc.returncode == 1
    assert "error:" in proc.stderr


# -- `gongfu ops …` and `gongfu audit …` -------------------------------------------------

def test_an_unknown_project_is_one_line_in_chinese_and_english(tmp_path: Path) -> None:
    """Checked against the programme database before Temporal is asked (nobody listens
    on the port): no traceback, no bare LookupError, exit status 1."""
    from runtime.db import migrate

    url = f"sqlite:///{tmp_path / 'gongfu.db'}"
    migrate(url)
    env = {"GONGFU_DATABASE_URL": url, "GONGFU_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    for args in (["ops", "history", "project-nope"], ["audit", "timeline", "nope", "--json"],
                 ["audit", "replay", "project-nope"], ["audit", "verify", "nope"]):
        proc = gongfu(*args, env=env)
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "没有项目" in lines[0] and "no project" in lines[0], lines[0]
        assert "Traceback" not in proc.stderr and "LookupError" not in proc.stderr


async def _gongfu(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """The command with stdout piped (not a terminal) and no COLUMNS: 80 columns."""
    import asyncio

    base = {k: v for k, v in os.environ.items()
            if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tools.cli", *args, cwd=ROOT, env={**base, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_ops_and_audit_on_a_real_server_take_either_id_and_print_json(
    ts: Harness, pg_url: str,
) -> None:
    import asyncio
    import json
    from datetime import timedelta

    from rich.cells import cell_len

    from services.operator import deadlines

    reason = "申报材料齐全，联合体协议已加盖公章，请县级工业和信息化主管部门审核。" * 3
    d = await ts.start("2026")
    await d.do("submit", reason=reason)
    pid, wid = d.project.project_id, d.handle.id
    env = {"GONGFU_TEMPORAL_ADDRESS": ts.env.client.service_client.config.target_host,
           "GONGFU_TEMPORAL_NAMESPACE": ts.env.client.namespace,
           "GONGFU_DATABASE_URL": pg_url}

    status, out, err = await _gongfu("audit", "timeline", wid, env=env)
    assert status == 0, err
    assert "\x1b" not in out and "…" not in out
    assert all(cell_len(line) <= 80 for line in out.splitlines())
    assert "".join(reason.split()) in "".join(out.split())
    status, out, err = await _gongfu("audit", "timeline", pid, "--json", env=env)
    assert status == 0, err
    entries = json.loads(out)
    assert [(e["action"], e["reason"]) for e in entries if e["kind"] == "decision"] == [
        ("submit", reason)]
    assert all(e["at"].endswith("+08:00") for e in entries)

    for project in (pid, wid):
        status, out, err = await _gongfu("ops", "history", project, env=env)
        assert status == 0, err
        assert json.loads(out)["events"]

    batch = d.project.batch.batch_id
    for _ in range(100):  # visibility is eventually consistent
        if any(r.workflow_id == wid for r in
               await deadlines(ts.env.client, timedelta(days=30), batch)):
            break
        await asyncio.sleep(0.1)
    status, out, err = await _gongfu("ops", "deadlines", "--hours", "720", "--batch", batch,
                                     "--json", env=env)
    assert status == 0, err
    rows = json.loads(out)
    assert [(r["workflow_id"], r["waiting_on"]) for r in rows] == [(wid, ["county"])]
    assert rows[0]["next_deadline"].endswith("+08:00")
    status, out, err = await _gongfu("ops", "deadlines", "--hours", "720", "--batch", batch,
                                     env=env)
    assert status == 0, err
    assert wid in out and "\x1b" not in out
    assert all(cell_len(line) <= 80 for line in out.splitlines())
    status, out, err = await _gongfu("ops", "deadlines", "--hours", "720", "--batch",
                                     "no-such-batch", env=env)
    assert status == 0, err
    assert "没有临近或已错过的截止时间" in out
    status, out, _ = await _gongfu("ops", "deadlines", "--batch", "no-such-batch", "--json",
                                   env=env)
    assert json.loads(out) == []
