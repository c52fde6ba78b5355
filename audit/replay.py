"""The replay proof: the recorded history is replayed against the current workflow code.

Either it replays (the code, fed the same inputs, makes the same commands), and then the
stages and end read from the history are the ones the code produces; or the first event
where it diverges is named, with the reason."""

from __future__ import annotations

import re
import time

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    Replayer,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from audit.history import closed_outside, end, stages
from domain.project import ProjectState
from workflows import sandbox
from workflows.project import ProjectWorkflow

CODE_VERSION = "gongfu-baijing 0.1.0"


class ReplayProof(BaseModel):
    workflow_id: str
    replays: bool
    events: int
    stages: list[str]
    end: dict[str, object] | None
    diverged_at_event: int | None = None
    reason: str | None = None
    code_version: str = CODE_VERSION
    seconds: float
    # Closed by Temporal outside the programme (terminated, …): how, by whom, when.
    closed_outside: str | None = None

    def summary(self) -> str:
        if self.replays:
            ending = ("same end" if self.end is not None else self.closed_outside
                      or "still open, no end yet")
            return (f"replays: same stages, {ending} ({' → '.join(self.stages)}; "
                    f"{self.events} events)")
        return f"diverges at event {self.diverged_at_event}: {self.reason}"


async def replay_proof(
    history: WorkflowHistory, workflows: tuple[type, ...] = (ProjectWorkflow,)
) -> ReplayProof:
    sandbox.precompile(workflows)
    replayer = Replayer(workflows=list(workflows), data_converter=pydantic_data_converter,
                        workflow_runner=sandbox.runner())
    t0 = time.perf_counter()
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    seconds = time.perf_counter() - t0
    failure = result.replay_failure
    event_id = None
    if failure is not None:
        found = re.search(r"(?:event|Event)\D{0,20}(\d+)", str(failure))
        event_id = int(found.group(1)) if found else None
    return ReplayProof(
        workflow_id=history.workflow_id, replays=failure is None, events=len(history.events),
        stages=stages(history), end=end(history), diverged_at_event=event_id,
        reason=str(failure) if failure else None, seconds=seconds,
        closed_outside=closed.summary() if (closed := closed_outside(
            history.workflow_id, history.events)) else None,
    )


async def replayed_state(history: WorkflowHistory) -> ProjectState:
    """The project's state as its committed history makes it: the history replayed
    against the code, and the workflow's state taken at the end. What the read model must
    equal (`ops reproject`) and what `audit verify` checks the stored records against.

    Replayed without the sandbox, which only guards code against non-determinism: the
    commands it makes are the same, and the state is then an ordinary object here.
    Raises if the history does not replay (see `replay_proof` for why)."""
    box: dict[str, ProjectWorkflow] = {}

    class Capture(Interceptor):
        def workflow_interceptor_class(
            self, input: WorkflowInterceptorClassInput
        ) -> type[WorkflowInboundInterceptor]:
            class Inbound(WorkflowInboundInterceptor):
                async def execute_workflow(self, input: ExecuteWorkflowInput) -> object:
                    box["workflow"] = workflow.instance()
                    return await super().execute_workflow(input)

            return Inbound

    replayer = Replayer(workflows=[ProjectWorkflow], data_converter=pydantic_data_converter,
                        workflow_runner=UnsandboxedWorkflowRunner(), interceptors=[Capture()])
    await replayer.replay_workflow(history)
    return box["workflow"].state
