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
