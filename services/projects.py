"""Starting projects and sending decisions to them.

`decide` is the one way in for a decision: the request id and the decision's fingerprint
make the Temporal update id, so an identical retry is deduplicated by the server (and by
the workflow after a continue-as-new), while a request id reused for a different
decision reaches the validator and is refused. A refusal comes back as `Refused`
with the rule id, whether the validator refused it or the project has already ended.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import TypeVar

import structlog
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import seal
from domain import search_attributes as sa
from domain.batch import ProjectInput, workflow_id_for
from domain.decisions import DeadlineChange, Decision, DecisionOutcome, DecisionRecord
from domain.refusals import Refusal, Refused
from domain.stages import Stage
from domain.summaries import static_details, static_summary
from domain.views import EndInfo
from services import visibility
from workflows.project import REFUSED, ProjectWorkflow


def initial_search_attributes(project: ProjectInput) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.STAGE, Stage.DRAFT.value),
            SearchAttributePair(sa.BATCH, project.batch.batch_id),
            SearchAttributePair(sa.PRESET, project.batch.preset.value),
            SearchAttributePair(sa.CITY, project.city_code),
            SearchAttributePair(sa.COUNTY, project.county_code),
            SearchAttributePair(sa.TASK, project.task_code),
        ]
    )


@cache
def region_names() -> dict[str, str]:
    """GB/T 2260 names of Shandong's regions, from the reference file the migration loads."""
    import models

    path = Path(models.__file__).resolve().parent / "reference" / "shandong_regions.csv"
    with path.open(encoding="utf-8") as f:
        return {row["code"]: row["name"] for row in csv.DictReader(f)}


def summaries(project: ProjectInput) -> tuple[str, str]:
    """The workflow's static summary and details (the Temporal UI's header and lists)."""
    names = region_names()
    city = names.get(project.city_code, project.city_code)
    county = names.get(project.county_code, project.county_code)
    lead = next((m.name for m in project.consortium if m.credit_code == project.applicant_unit),
                project.applicant_unit)
    return (static_summary(project.title, city, county, project.batch.batch_id),
            static_details(project.project_id, project.title, city, county, project.batch.name,
                           project.batch.batch_id, project.task_code, lead))


async def start_project(
    client: Client, project: ProjectInput, task_queue: str
) -> WorkflowHandle[ProjectWorkflow, EndInfo]:
    """Start the project's workflow; starting the same project twice is one project,
    even after it ended (a project id is never reused for a new lifecycle)."""
    summary, details = summaries(project)
    try:
        return await client.start_workflow(
            ProjectWorkflow.run,
            project,
            id=workflow_id_for(project.project_id),
            static_summary=summary,
            static_details=details,
            task_queue=task_queue,
            search_attributes=initial_search_attributes(project),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        return handle_for(client, project.project_id)


def handle_for(client: Client, project_id: str) -> WorkflowHandle[ProjectWorkflow, EndInfo]:
    return client.get_workflow_handle_for(ProjectWorkflow.run, workflow_id_for(project_id))


async def decide(client: Client, project_id: str, decision: Decision,
                 secret: str | None = None) -> DecisionOutcome:
    """Send one decision to its project's workflow, sealed (domain.seal) with `secret`
    (default: this process's GONGFU_SEAL_SECRET)."""
    handle = handle_for(client, project_id)
    decision = sealed(decision, secret, to=handle.id)
    try:
        # Sent under the action's name (the workflow's dynamic handler), so the history
        # and the Temporal UI name each decision.
        return await handle.execute_update(  # type: ignore[no-any-return]
            decision.action, decision, id=decision.update_id(), result_type=DecisionOutcome
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == REFUSED and cause.details:
            raise Refused(Refusal.model_validate(cause.details[0])) from None
        raise
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # The workflow has closed (its project ended): it still answers queries, with
        # the first answer to a retried decision, or the rule that refuses a new one.
        try:
            refusal = await handle.query(ProjectWorkflow.explain, decision)
            prior = await handle.query(ProjectWorkflow.outcome_of, decision.request_id)
        except RPCError:
            raise exc from None
        if refusal is not None:
            raise Refused(refusal) from None
        if prior is not None:
            return prior
        raise


async def open_projects(client: Client, batch_id: str) -> AsyncIterator[str]:
    async for wf in client.list_workflows(visibility.projects(batch_id=batch_id, running=True)):
        yield wf.id


Sealable = TypeVar("Sealable", Decision, DeadlineChange)


def sealed(message: Sealable, secret: str | None = None, *, to: str) -> Sealable:
    """The decision or deadline change with the seal the workers check (domain.seal), for
    the workflow whose id is `to` (no other workflow takes it); `secret`: the API's
    GONGFU_SEAL_SECRET (default: this process's settings)."""
    if secret is None:
        from runtime.settings import settings

        secret = settings().seal_secret.get_secret_value()
    unsealed = message.model_copy(update={"seal": ""})
    return unsealed.model_copy(update={"seal": seal.make(unsealed, secret, to=to)})


async def change_deadline(client: Client, workflow_id: str, change: DeadlineChange,
                          secret: str | None = None) -> DecisionRecord:
    """Send one project a deadline change (the update set_deadline), sealed. Returns the
    project's record of it (the first one again for a retry); raises Refused when the
    project refuses it (ended, not the actor's region, outside the limits)."""
    change = sealed(change, secret, to=workflow_id)
    digest = hashlib.sha256(change.model_dump_json().encode()).hexdigest()[:16]
    handle = client.get_workflow_handle_for(ProjectWorkflow.run, workflow_id)
    try:
        return await handle.execute_update(ProjectWorkflow.set_deadline, change,
                                           id=f"deadline:{change.request_id}/{digest}")
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == REFUSED and cause.details:
            raise Refused(Refusal.model_validate(cause.details[0])) from None
        raise


async def change_deadlines(client: Client, workflow_ids: AsyncIterator[str],
                           change: DeadlineChange, secret: str | None = None,
                           parallel: int = 20) -> tuple[int, list[str]]:
    """Fan a deadline change out (at most `parallel` at a time): how many projects took
    it, and the workflow ids that refused it or had closed meanwhile (logged)."""
    gate = asyncio.Semaphore(parallel)
    refused: list[str] = []
    applied = 0

    async def one(workflow_id: str) -> None:
        nonlocal applied
        async with gate:
            try:
                await change_deadline(client, workflow_id, change, secret)
                applied += 1
            except (Refused, RPCError, WorkflowUpdateFailedError) as exc:
                refused.append(workflow_id)
                structlog.get_logger().warning(
                    "deadline.not_applied", workflow_id=workflow_id,
                    request_id=change.request_id, error=str(exc)[:300])

    await asyncio.gather(*[one(wid) async for wid in workflow_ids])
    return applied, refused


async def change_batch_deadline(client: Client, batch_id: str, change: DeadlineChange,
                                secret: str | None = None) -> int:
    """Fan a deadline change out to every open project of the batch; returns how many
    took it."""
    applied, _ = await change_deadlines(client, open_projects(client, batch_id), change,
                                        secret)
    return applied
