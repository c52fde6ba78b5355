"""The workflow sandbox, configured once for the worker and the replayer alike: a history
must replay under the same runner it ran under."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Imported once by the worker, not re-imported into every workflow run's sandbox: the
# domain code is deterministic, and `transitions`, `pydantic` and `structlog` are
# side-effect free libraries. Re-importing them per run costs time and memory.
PASSTHROUGH = ("domain", "transitions", "structlog", "pydantic")


def runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))
