"""What every benchmark stands on: one time-skipping dev server (SQLite file, the WAL
pragmas `gongfu run` uses), a PostgreSQL database of its own, the real worker and the
floor worker with the same settings in the same process, and the two drivers.

The calendar is compressed by the server's per-workflow time skipping: a driver moves a
project's clock past its deadline (the batch close, the end of 公示) in one call, so a
year-long lifecycle takes about a second of wall time and the timers still really fire.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment
from temporalio.worker import Worker

from bench.floor import FloorWorkflow, floor_activity, floor_local_activity
from bench.floor_plan import FloorPlan
from domain import search_attributes as sa
from domain.batch import BatchPolicy, ConsortiumMember, ProjectInput
from domain.catalogue import TASKS_2026
from domain.clock import SHANGHAI
from domain.decisions import Actor, Decision
from domain.eligibility import ApplicationFacts, UnitFacts, with_check_char
from domain.presets import PresetName
from domain.roles import Role
from domain.stages import Stage
from models.reference import Region
from runtime.db import scratch_database, sessions
from runtime.temporal import SQLITE_PRAGMAS, temporal_cli
from services.projects import decide, start_project
from services.registry import TaskDef, ensure_batch, ensure_unit, register_project
from workflows import sandbox
from workflows.project import ProjectWorkflow

ROOT = Path(__file__).resolve().parent.parent
REAL_QUEUE, FLOOR_QUEUE = "bench-projects", "bench-floor"
TIME_SKIPPING = ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]
CACHE = 5000  # workflows kept by each worker: both run with the same settings


@dataclass
class Stack:
    env: WorkflowEnvironment
    db: sessionmaker[Session]
    counties: dict[str, str]  # city → one of its counties
    server_db: Path
    db_url: str
    real_queue: str = REAL_QUEUE
    floor_queue: str = FLOOR_QUEUE
    workers: dict[str, int] = field(default_factory=dict)  # queue → worker process id

    @property
    def client(self) -> Client:
        return self.env.client

    def server_pid(self) -> int:
        """The dev server process: the one whose command line names our SQLite file."""
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if str(self.server_db).encode() in (proc / "cmdline").read_bytes():
                        return int(proc.name)
                except OSError:
                    continue
        raise LookupError(self.server_db)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc, no extra package)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of all PostgreSQL server processes (its backends come and go, so this
    undercounts a backend that exited mid-measure; the pools keep theirs open)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(proc.name))
        except OSError:
            continue
    return total


@asynccontextmanager
async def stack(name: str = "gongfu_bench") -> AsyncIterator[Stack]:
    """The server, the database, and each worker as its own process, as in production:
    the benchmark's process holds only the drivers (the officials' clients)."""
    with scratch_database(name) as url:
        engine = create_engine(url, pool_size=40, max_overflow=10)
        server_db = Path(f"/tmp/{url.rsplit('/', 1)[-1]}.db")
        env = await WorkflowEnvironment.start_time_skipping_v2(
            ts_config=TimeSkippingConfig(enabled=False),
            dev_server_existing_path=temporal_cli(), search_attributes=sa.ALL,
            data_converter=pydantic_data_converter,
            dev_server_extra_args=[*TIME_SKIPPING, *SQLITE_PRAGMAS],
            dev_server_database_filename=str(server_db))
        st = Stack(env, sessions(engine), {}, server_db, url)
        st.counties = counties(st.db)
        procs = [spawn_worker(st, REAL_QUEUE), spawn_worker(st, FLOOR_QUEUE, floor=True)]
        try:
            st.workers = {REAL_QUEUE: procs[0].pid, FLOOR_QUEUE: procs[1].pid}
            await asyncio.sleep(4)  # imports done, pollers up
            for p in procs:
                assert p.poll() is None, "a benchmark worker did not start"
            yield st
        finally:
            for p in procs:
                p.kill()
                p.wait(timeout=30)
            await env.shutdown()
            engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{server_db}{suffix}").unlink(missing_ok=True)


def spawn_worker(st: Stack, queue: str, *, floor: bool = False, cache: int = CACHE,
                 log: Path | None = None) -> subprocess.Popen[bytes]:
    """`gongfu worker` configured only by its settings, or the floor's worker with the same
    settings (`python -m bench.floor`); its stderr (the warnings) goes to `log` if given."""
    env = {**os.environ, "GONGFU_TEMPORAL_ADDRESS": st.client.service_client.config.target_host,
           "GONGFU_DATABASE_URL": st.db_url, "GONGFU_TASK_QUEUE": queue,
           "GONGFU_WORKER_MAX_CACHED_WORKFLOWS": str(cache), "GONGFU_LOG_LEVEL": "warning",
           "GONGFU_DEMO": "true"}  # the worker alone: no tokens, the demo secret is fine
    module = "bench.floor" if floor else "tools.cli"
    args = [] if floor else ["worker"]
    err = log.open("wb") if log is not None else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=err)


def floor_worker(client: Client, queue: str, cache: int = CACHE) -> Worker:
    """The floor's worker: the real worker's runner and cache, the floor's workflow."""
    sandbox.precompile([FloorWorkflow])
    return Worker(client, task_queue=queue, workflows=[FloorWorkflow],
                  activities=[floor_activity, floor_local_activity],
                  workflow_runner=sandbox.runner(), max_cached_workflows=cache)


def counties(db: sessionmaker[Session]) -> dict[str, str]:
    """The 16 cities of the province, each with its first county-level division."""
    with db() as s:
        rows = s.execute(select(Region.code, Region.parent_code)
                         .where(Region.level == "county").order_by(Region.code)).all()
    out: dict[str, str] = {}
    for code, city in rows:
        if city is not None:
            out.setdefault(city, code)
    return out


# -- the real lifecycle ---------------------------------------------------------------------


@dataclass
class Officials:
    """One official of each role with jurisdiction over a city and county."""

    city: str
    county: str
    unit: str
    actors: dict[Role, Actor] = field(init=False)

    def __post_init__(self) -> None:
        def who(role: Role, region: str, **kw: Any) -> Actor:
            return Actor(user_id=f"bench-{role.value}-{region}", role=role, region=region, **kw)
        self.actors = {
            Role.APPLICANT: who(Role.APPLICANT, self.city, unit_code=self.unit),
            Role.COUNTY: who(Role.COUNTY, self.county),
            Role.CITY: who(Role.CITY, self.city),
            Role.CITY_FINANCE: who(Role.CITY_FINANCE, self.city),
            Role.PROVINCE: who(Role.PROVINCE, "37"),
            Role.PROVINCE_FINANCE: who(Role.PROVINCE_FINANCE, "37"),
            Role.EXPERT: Actor(user_id="bench-expert", role=Role.EXPERT, region="37"),
        }


# The full 2026 lifecycle as officials drive it: (action, who, payload); None = move the
# project's clock past its next deadline and wait for the timer's stage.
LIFECYCLE_2026: list[tuple[str, Role, dict[str, Any]] | tuple[None, Stage]] = [
    ("submit", Role.APPLICANT, {}), ("county_approve", Role.COUNTY, {}),
    ("city_recommend", Role.CITY, {"rank": 0}), ("concur", Role.CITY_FINANCE, {}),
    (None, Stage.PROVINCIAL_REVIEW),
    ("assign_experts", Role.PROVINCE, {"experts": [{"user_id": "bench-expert"}]}),
    ("score", Role.EXPERT, {"score": 88}), ("select", Role.PROVINCE, {}),
    ("concur", Role.PROVINCE_FINANCE, {}), ("open_publicity", Role.PROVINCE, {}),
    (None, Stage.IMPLEMENTATION),
    ("submit_archive", Role.APPLICANT, {"title": "第一期过程档案", "evidence": ["b" * 64]}),
    ("request_early_acceptance", Role.APPLICANT, {}),
    ("accept_early_acceptance", Role.PROVINCE, {}),  # rules 2: a request the province accepts
    ("pass_acceptance", Role.PROVINCE, {"verified_investment_cny": 2_400_000}),
    ("decide_subsidy", Role.PROVINCE, {"amount_cny": 900_000}),
    ("concur", Role.PROVINCE_FINANCE, {}), ("record_disbursement", Role.PROVINCE, {}),
]


@dataclass
class BenchProject:
    project: ProjectInput
    officials: Officials
    rank: int

    @property
    def workflow_id(self) -> str:
        return f"project-{self.project.project_id}"


def register_batch(st: Stack, n: int, cities: int = 16,
                   register: bool = True) -> list[BenchProject]:
    """A 2026 batch of n projects shared round-robin over the cities, each with its own
    consortium (an in-province provider leading, a manufacturer as scene), its city's
    quota equal to its share and ranks 1..k per city (R2, R3, R8 all pass). Projects
    that will never leave draft need no rows: `register=False`."""
    now = datetime.now(SHANGHAI)
    batch = BatchPolicy(batch_id=f"bench-{uuid.uuid4().hex[:8]}", name="基准测试批次",
                        year=2026, preset=PresetName("2026"), supervision_years=0,
                        close_at=(now + timedelta(days=3)).replace(hour=17, minute=0, second=0,
                                                                   microsecond=0))
    chosen = sorted(st.counties.items())[:cities]
    per_city: dict[str, int] = {city: 0 for city, _ in chosen}
    out: list[BenchProject] = []
    start = now.date() + timedelta(days=1)
    tasks = [TaskDef(code=c, direction=d, title_zh=t) for c, d, t in TASKS_2026]
    with st.db.begin() as s:
        for i, (city, county) in zip(range(n), itertools.cycle(chosen), strict=False):
            per_city[city] += 1
            lead = UnitFacts(credit_code=_code(county), name=f"服务商{i}", kind="service_provider",
                             region_code=county)
            scene = UnitFacts(credit_code=_code(county), name=f"制造企业{i}", kind="manufacturer",
                              region_code=county)
            project = ProjectInput(
                project_id=f"{batch.batch_id}-{i}", title=f"基准项目{i}", batch=batch,
                task_code="T1", city_code=city, county_code=county,
                applicant_unit=lead.credit_code,
                consortium=[ConsortiumMember(credit_code=lead.credit_code, name=lead.name,
                                             role="lead"),
                            ConsortiumMember(credit_code=scene.credit_code, name=scene.name,
                                             role="scene")])
            out.append(BenchProject(project, Officials(city, county, lead.credit_code),
                                    per_city[city]))
        if not register:
            return out
        ensure_batch(s, batch, tasks, dict(per_city))
        for bp in out:
            lead_m, scene_m = bp.project.consortium
            ensure_unit(s, UnitFacts(credit_code=lead_m.credit_code, name=lead_m.name,
                                     kind="service_provider", region_code=bp.project.county_code))
            ensure_unit(s, UnitFacts(credit_code=scene_m.credit_code, name=scene_m.name,
                                     kind="manufacturer", region_code=bp.project.county_code))
            register_project(s, bp.project, ApplicationFacts(
                declared_investment_cny=2_000_000, implementation_region=bp.project.county_code,
                implementation_start=start, implementation_end=start + timedelta(days=300)))
    return out


def _code(county: str) -> str:
    return with_check_char(f"91{county}{uuid.uuid4().int % 10**9:09d}")


async def _until(handle: WorkflowHandle[Any, Any], done: Any) -> Any:
    """A fired timer is handled in the workflow's next task: poll its query briefly."""
    for _ in range(400):
        value = await done()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"{handle.id} did not move on")


async def real_lifecycle(st: Stack, bp: BenchProject) -> WorkflowHandle[Any, Any]:
    """Start the project and drive it to subsidy disbursed, as the API's service does (the
    batch has no supervision period, so the disbursement completes it: rules 2)."""
    handle = await start_project(st.client, bp.project, st.real_queue)
    pid = bp.project.project_id
    for n, step in enumerate(LIFECYCLE_2026):
        if step[0] is None:
            stage = step[1]
            # The batch's close is known to every official; the end of 公示 is read from
            # the project, as the API's clients read it.
            due = ((await handle.query(ProjectWorkflow.view)).publicity_end
                   if stage is Stage.IMPLEMENTATION else bp.project.batch.close_at)
            assert due is not None
            now = await st.env.get_current_time(handle)
            await st.env.fast_forward(handle, due - now + timedelta(minutes=1))

            async def moved(stage: Stage = stage) -> bool:
                return (await handle.query(ProjectWorkflow.view)).stage is stage
            await _until(handle, moved)
            continue
        action, role, payload = step
        payload = {"rank": bp.rank} if action == "city_recommend" else dict(payload)
        evidence = payload.pop("evidence", [])
        out = await decide(st.client, pid, Decision(
            request_id=f"{pid}-{n}", action=action, actor=bp.officials.actors[role],
            reason=f"基准：{action}", evidence=evidence, payload=payload))
        assert out.stage is not None
    end = await handle.result()
    assert end.stage is Stage.COMPLETED, end
    return handle


# -- the floor --------------------------------------------------------------------------


async def floor_lifecycle(st: Stack, plan: FloorPlan, key: str) -> WorkflowHandle[Any, Any]:
    """The same number of updates and clock moves, each clock move followed by query
    polls until the workflow has handled its timer, as the real driver does."""
    handle = await st.client.start_workflow(FloorWorkflow.run, plan, id=f"floor-{key}",
                                            task_queue=st.floor_queue)
    sent = 0
    for i, phase in enumerate(plan.phases):
        if phase.fires:
            await st.env.get_current_time(handle)  # as the real driver reads its clock
            await st.env.fast_forward(handle, timedelta(days=1, minutes=1))

            async def moved(i: int = i) -> bool:
                return await handle.query(FloorWorkflow.phases_done) > i
            await _until(handle, moved)
            continue
        for _ in range(phase.updates):
            sent += 1
            await handle.execute_update(FloorWorkflow.step, sent, id=f"{key}-{sent}")
    assert await handle.result() == plan.updates
    return handle


async def run_all(coros: list[Any], concurrency: int) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(c: Any) -> Any:
        async with sem:
            return await c
    return list(await asyncio.gather(*(one(c) for c in coros)))
