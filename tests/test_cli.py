"""The `gongfu` command exits with its real status, without interpreter teardown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime.devserver import free_port

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
