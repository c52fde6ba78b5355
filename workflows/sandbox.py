"""The workflow sandbox, configured once for the worker and the replayer alike: a history
must replay under the same runner it ran under."""

from __future__ import annotations

import compileall
import sys
from collections.abc import Iterable
from pathlib import Path

import structlog
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Imported once by the worker, not re-imported into every workflow run's sandbox: the
# domain code is deterministic, and `transitions`, `pydantic` and `structlog` are
# side-effect free libraries. Re-importing them per run costs time and memory.
PASSTHROUGH = ("domain", "transitions", "structlog", "pydantic")


def runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def precompile(workflows: Iterable[type]) -> None:
    """Write the bytecode of the workflows' modules (and their packages) if it is missing
    or stale.

    The sandbox imports a workflow's module afresh for every workflow run it starts or
    replays. Without a current `.pyc` beside the source (PYTHONDONTWRITEBYTECODE=1, usual
    in containers and set on our CI machines, or a source edited since), each of those
    imports compiles the source again: in benchmark 1 that was 6% of the worker's CPU,
    more than the whole domain model. Where the code is read-only this cannot help, and
    says so; the Docker image gets its bytecode from `pip install`."""
    files: set[Path] = set()
    for cls in workflows:
        parts = cls.__module__.split(".")
        for depth in range(1, len(parts) + 1):
            module = sys.modules.get(".".join(parts[:depth]))
            if module is not None and module.__file__:
                files.add(Path(module.__file__))
    for file in sorted(files):
        if not compileall.compile_file(file, quiet=2):
            structlog.get_logger().warning(
                "sandbox.bytecode_not_written", file=str(file),
                effect="every workflow run compiles this module from source")
