"""Drives one project on a time-skipping server, through the same service the API uses."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.batch import BatchPolicy, ConsortiumMember, ProjectInput
from domain.clock import SHANGHAI
from domain.decisions import Decision, DecisionOutcome
from domain.eligibility import ApplicationFacts
from domain.refusals import Refusal, Refused
from domain.roles import Role
from domain.stages import Stage
from domain.views import EndInfo, ProjectView
from models import DecisionRow
from services.projects import decide, start_project
from services.registry import ensure_batch, ensure_unit, register_project
from tests import support
from workflows.project import ProjectWorkflow


def next_close(after: datetime, days: int = 3) -> datetime:
    """17:00 Asia/Shanghai, `days` days after `after`."""
    day = (after + timedelta(days=days)).astimezone(SHANGHAI)
    return day.replace(hour=17, minute=0, second=0, microsecond=0)


class Harness:
    """A server, its worker's task queue and the database: where tests start projects."""

    def __init__(self, env: WorkflowEnvironment, db: sessionmaker[Session], queue: str) -> None:
        self.env, self.db, self.queue = env, db, queue

    async def start(self, preset: str = "2026", *, batch: BatchPolicy | None = None,
                    **kw: Any) -> Drive:
        b = batch or support.batch(preset, next_close(datetime.now(SHANGHAI)))
        return await Drive.start(self.env, b, self.queue, self.db, **kw)

    async def projected(self, project_id: str, action: str) -> None:
        """Until the read model holds the project's decision `action`."""
        for _ in range(100):
            with self.db() as s:
                if s.scalar(select(DecisionRow.seq).where(DecisionRow.project_id == project_id,
                                                          DecisionRow.action == action)):
                    return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{project_id}: {action} never reached the read model")


class Drive:
    def __init__(self, env: WorkflowEnvironment, project: ProjectInput,
                 handle: WorkflowHandle[ProjectWorkflow, Any]) -> None:
        self.env, self.project, self.handle = env, project, handle
        self.sent: list[tuple[Decision, DecisionOutcome]] = []  # what drove the project
        self.actors = dict(support.ACTORS)
        self.actors[Role.APPLICANT] = support.ACTORS[Role.APPLICANT].model_copy(
            update={"unit_code": project.applicant_unit})

    @classmethod
    async def start(cls, env: WorkflowEnvironment, b: BatchPolicy, task_queue: str,
                    db: sessionmaker[Session], **kw: Any) -> Drive:
        """Register the batch, a consortium (an in-province provider leading, an
        enterprise as scene unit: valid in both presets) and the project, then start it."""
        lead = support.unit("service_provider", region=support.COUNTY)
        scene = support.unit("manufacturer", region=support.COUNTY)
        start = datetime.now(SHANGHAI).date() + timedelta(days=1)
        application = ApplicationFacts(
            declared_investment_cny=2_000_000, implementation_region=support.COUNTY,
            implementation_start=start, implementation_end=start + timedelta(days=300))
        project = support.project(b, **kw).model_copy(update={
            "applicant_unit": lead.credit_code, "application": application,
            "consortium": [ConsortiumMember(credit_code=lead.credit_code, name=lead.name,
                                            role="lead"),
                           ConsortiumMember(credit_code=scene.credit_code, name=scene.name,
                                            role="scene")]})
        with db.begin() as s:
            ensure_batch(s, b, support.tasks_2026(), {support.CITY: 20})
            ensure_unit(s, lead)
            ensure_unit(s, scene)
            register_project(s, project, application)
        handle = await start_project(env.client, project, task_queue)
        return cls(env, project, handle)

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def close_at(self) -> datetime:
        return self.project.batch.close_at

    async def send(self, d: Decision) -> DecisionOutcome:
        outcome = await decide(self.client, self.project.project_id, d)
        self.sent.append((d, outcome))
        return outcome

    async def do(self, action: str, role: Role | None = None, **kw: Any) -> DecisionOutcome:
        return await self.send(self.decision(action, role, **kw))

    def decision(self, action: str, role: Role | None = None, **kw: Any) -> Decision:
        who = role or support.DECIDER.get(action, Role.PROVINCE)
        return support.decision(action, actor=kw.pop("actor", self.actors[who]), **kw)

    async def refused(self, action: str, role: Role | None = None, **kw: Any) -> Refusal:
        try:
            outcome = await self.do(action, role, **kw)
        except Refused as exc:
            return exc.refusal
        raise AssertionError(f"{action} was accepted: {outcome}")

    async def view(self) -> ProjectView:
        return await self.handle.query(ProjectWorkflow.view)

    async def stage(self) -> Stage:
        return (await self.view()).stage

    async def wait_stage(self, stage: Stage, timeout: float = 10.0) -> ProjectView:
        """A fired timer is handled in the workflow's next task: poll briefly for it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            view = await self.view()
            if view.stage is stage or asyncio.get_running_loop().time() > deadline:
                assert view.stage is stage, f"expected {stage}, still {view.stage}"
                return view
            await asyncio.sleep(0.05)

    async def now(self) -> datetime:
        return await self.env.get_current_time(self.handle)

    async def advance(self, delta: timedelta) -> None:
        await self.env.fast_forward(self.handle, delta)

    async def advance_to(self, instant: datetime) -> None:
        delta = instant - await self.now()
        assert delta > timedelta(0), f"{instant} is already past"
        await self.advance(delta)

    async def result(self) -> EndInfo:
        return await self.handle.result()

    # -- getting a project to a stage ------------------------------------------------------

    async def to_city_review(self) -> None:
        if await self.stage() is Stage.DRAFT:
            await self.do("submit")
        if await self.stage() is Stage.COUNTY_REVIEW:
            await self.do("county_approve")

    async def to_recommended(self, rank: int = 1) -> None:
        await self.to_city_review()
        out = await self.do("city_recommend", rank=rank)
        if out.stage is Stage.CITY_REVIEW:  # 2026: the city finance bureau co-signs
            out = await self.do("concur", Role.CITY_FINANCE)
        assert out.stage is Stage.RECOMMENDED

    async def to_provincial_review(self, rank: int = 1) -> None:
        await self.to_recommended(rank)
        await self.advance_to(self.close_at + timedelta(minutes=1))
        await self.wait_stage(Stage.PROVINCIAL_REVIEW)

    async def to_selected(self, rank: int = 1) -> None:
        await self.to_provincial_review(rank)
        await self.do("assign_experts", experts=[{"user_id": "expert-1"}])
        await self.do("score", score=88)
        out = await self.do("select")
        if out.stage is Stage.PROVINCIAL_REVIEW:
            out = await self.do("concur", Role.PROVINCE_FINANCE)
        assert out.stage is Stage.SELECTED

    async def to_implementation(self, rank: int = 1) -> ProjectView:
        """`rank`: the city's rank, distinct for projects of one city and batch (R8)."""
        await self.to_selected(rank)
        await self.do("open_publicity")
        view = await self.view()
        assert view.publicity_end is not None
        await self.advance_to(view.publicity_end + timedelta(minutes=1))
        return await self.wait_stage(Stage.IMPLEMENTATION)


def stranded(view: ProjectView) -> str | None:
    """Why a project is stranded, or None: open, it waits on nobody (`waiting_on`, the
    roles with a decision it waits for) and no deadline is set."""
    if view.end is not None or view.stage.is_end or view.waiting_on or view.next_deadline:
        return None
    return (f"{view.project_id} in {view.stage.value} waits on nobody and has no deadline "
            f"(allowed: {view.allowed}, pending co-signature: {view.pending_cosign})")
