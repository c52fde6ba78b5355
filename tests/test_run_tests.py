"""The test command exits with pytest's real status and skips interpreter teardown
(where temporalio/sdk-python#300 can abort a successful run with exit 134)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONFTEST = """
import atexit, pathlib
atexit.register(lambda: pathlib.Path(r"{marker}").write_text("teardown ran"))
"""


def run(tmp_path: Path, body: str) -> tuple[int, str, Path]:
    marker = tmp_path / "teardown-marker"
    (tmp_path / "conftest.py").write_text(CONFTEST.format(marker=marker))
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(body))
    proc = subprocess.run(
        [sys.executable, "-m", "tools.run_tests", str(tmp_path), "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, timeout=120,
    )
    return proc.returncode, proc.stdout, marker


@pytest.mark.parametrize(
    ("body", "status", "summary"),
    [
        ("def test_ok():\n    assert True\n", 0, "1 passed"),
        ("def test_bad():\n    assert False\n", 1, "1 failed"),
        ("x = 1\n", 5, "no tests ran"),
    ],
)
def test_exit_status_is_pytests_and_teardown_is_skipped(
    tmp_path: Path, body: str, status: int, summary: str
) -> None:
    code, out, marker = run(tmp_path, body)
    assert code == status, out
    assert summary in out
    assert not marker.exists(), "interpreter teardown ran (atexit handler fired)"
