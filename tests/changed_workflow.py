"""Deliberately changed workflow code, for the replay-proof test only (never the product):
it no longer publishes the stage as search attributes, so old histories diverge.

In a module of its own: the workflow sandbox re-imports the module that defines a
workflow, and this one imports nothing but the workflow."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.batch import ProjectInput
    from domain.views import EndInfo
    from workflows.project import ProjectWorkflow


@workflow.defn(name="ProjectWorkflow")
class ProjectWorkflowThatForgetsItsSearchAttributes(ProjectWorkflow):
    @workflow.init
    def __init__(self, project: ProjectInput) -> None:
        super().__init__(project)

    @workflow.run
    async def run(self, project: ProjectInput) -> EndInfo:
        return await super().run(project)

    def _publish(self) -> None:
        pass

    def _after_change_notify_end(self) -> None:
        pass  # the comparison above is about search attributes only


@workflow.defn(name="ProjectWorkflow")
class ProjectWorkflowWithUnpatchedEndNotice(ProjectWorkflow):
    """The end notification added the wrong way (without `workflow.patched`): histories
    recorded before the change no longer replay. For the README's example test only."""

    @workflow.init
    def __init__(self, project: ProjectInput) -> None:
        super().__init__(project)

    @workflow.run
    async def run(self, project: ProjectInput) -> EndInfo:
        end = await super().run(project)
        await self._notify_unpatched()
        return end

    async def _notify_unpatched(self) -> None:
        self._after_change_notify_end()
        await self._notifications[-1]


@workflow.defn(name="ProjectWorkflow")
class BrokenProjectWorkflow:
    """A bug that makes every workflow task fail: what `stuck` must find."""

    @workflow.run
    async def run(self, project: ProjectInput) -> EndInfo:
        raise RuntimeError("a bug in this deployment")
