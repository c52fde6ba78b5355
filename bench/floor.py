"""The bare-Temporal floor: a workflow that issues the same Temporal commands as one full
project lifecycle (updates with a validator, activities, local activities, search
attribute upserts, timers started then fired or cancelled) and does no domain work.

Its plan is not written by hand: `FloorPlan.from_history` counts the commands in a real
`ProjectWorkflow` history from the same run, so when the lifecycle changes, the floor
follows, and the bench prints both histories' event counts side by side as evidence.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from bench.floor_plan import FloorPlan

STEP = SearchAttributeKey.for_keyword("GfStage")
TIMER = timedelta(days=1)


@activity.defn(name="floor_activity")
async def floor_activity(n: int) -> int:
    return n


@activity.defn(name="floor_local_activity")
async def floor_local_activity(n: int) -> int:
    return n


@workflow.defn(name="FloorWorkflow")
class FloorWorkflow:
    @workflow.init
    def __init__(self, plan: FloorPlan) -> None:
        self.plan = plan
        self.applied = 0
        self.phase = 0  # phases done: a fired timer shows here once handled
        self.activities = self.local = self.upserts = 0

    @workflow.run
    async def run(self, plan: FloorPlan) -> int:
        await self._touch()
        target = 0
        for phase in plan.phases:
            timer = asyncio.create_task(workflow.sleep(TIMER))
            if phase.fires:
                await timer
                await self._touch()
            else:
                target += phase.updates
                await workflow.wait_condition(lambda t=target: self.applied >= t)  # type: ignore[misc]
                timer.cancel()
            self.phase += 1
        while self.activities < plan.activities:  # the rest, as the real end's notices
            self.activities += 1
            await workflow.execute_activity(floor_activity, self.activities,
                                            start_to_close_timeout=timedelta(seconds=30))
        while self.local < plan.local_activities or self.upserts < plan.upserts:
            await self._touch()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.applied

    @workflow.update
    async def step(self, n: int) -> int:
        # One activity per update while the plan has them, spread like the real checks.
        every = max(1, self.plan.updates // max(1, self.plan.activities))
        if self.applied % every == 0 and self.activities < self.plan.activities - 1:
            self.activities += 1
            await workflow.execute_activity(floor_activity, n,
                                            start_to_close_timeout=timedelta(seconds=30))
        self.applied += 1
        await self._touch()
        return self.applied

    @step.validator
    def _validate(self, n: int) -> None:
        if n != self.applied + 1:
            raise ValueError(f"out of order: {n}")

    @workflow.query
    def phases_done(self) -> int:
        return self.phase

    async def _touch(self) -> None:
        """What a real state change costs in commands: an upsert and a projection."""
        if self.upserts < self.plan.upserts:
            self.upserts += 1
            workflow.upsert_search_attributes([STEP.value_set(f"s{self.upserts}")])
        if self.local < self.plan.local_activities:
            self.local += 1
            await workflow.execute_local_activity(
                floor_local_activity, self.local, start_to_close_timeout=timedelta(seconds=30))


async def _serve() -> None:
    """The floor's worker as its own process, configured like `gongfu worker`."""
    from bench.world import floor_worker
    from runtime.settings import settings
    from runtime.temporal import connect_with

    cfg = settings()
    client = await connect_with(cfg)  # with the deployment's TLS / API key
    await floor_worker(client, cfg.task_queue, cfg.worker_max_cached_workflows).run()


if __name__ == "__main__":
    import os
    import sys

    asyncio.run(_serve())
    sys.stdout.flush()
    os._exit(0)  # temporalio/sdk-python#300
