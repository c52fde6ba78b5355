"""Bursts of concurrent decisions from several roles, through the HTTP API of a real API
process, on a real worker process (killed in the middle, in the second test): afterwards
every project's read model equals its workflow, its records verify against the history,
and each decision an API accepted is in the history exactly once.

The burst is the one that once left phantom records: a project in county review gets 50
decisions at once, ten each of county_approve, county_return and county_reject (county),
withdraw (applicant) and revoke (province). One wins; the others are refused."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from domain.clock import SHANGHAI
from domain.roles import Role
from models import Project
from services.operator import compare_read_model
from services.reprojection import verify_history
from tests import support
from tests.api_support import token
from tests.driver import Drive, next_close
from tests.stack import Stack
from workflows.project import ProjectWorkflow

# `make test` runs 20 projects × 3 repetitions (60 bursts) to stay within CI's 30 minutes;
# the 100-burst run of issue 14: GONGFU_BURST_REPETITIONS=5.
PROJECTS = int(os.environ.get("GONGFU_BURST_PROJECTS", "20"))
REPETITIONS = int(os.environ.get("GONGFU_BURST_REPETITIONS", "3"))
MIX = (("county_approve", Role.COUNTY), ("county_return", Role.COUNTY),
       ("county_reject", Role.COUNTY), ("withdraw", Role.APPLICANT), ("revoke", Role.PROVINCE))
PER_ACTION = 10


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)  # project -> 200 answers
    retries: int = 0


def headers_for(d: Drive, role: Role) -> dict[str, str]:
    a = d.actors[role]
    return token(role.value, a.user_id, a.region, a.unit_code)


async def decide(http: httpx.AsyncClient, d: Drive, action: str, role: Role,
                 tally: Tally) -> None:
    """One official's decision, retried with its key while the answer says to retry."""
    key = f"{action}-{uuid.uuid4().hex}"
    headers = {**headers_for(d, role), "Idempotency-Key": key}
    body = {"reason": f"并发测试：{action}"}
    for _ in range(600):
        try:
            r = await http.post(f"/projects/{d.project.project_id}/decisions/{action}",
                                json=body, headers=headers)
        except httpx.TransportError:  # the API is being restarted, or overloaded
            tally.retries += 1
            await asyncio.sleep(0.2)
            continue
        if r.status_code in (429, 503):
            tally.retries += 1
            await asyncio.sleep(float(r.headers.get("retry-after", "1")) / 4)
            continue
        tally.statuses[r.status_code] += 1
        assert r.status_code < 500, r.text
        body_ = r.json()
        if r.status_code == 200:
            tally.accepted[d.project.project_id] += 1
        else:
            assert body_["rule"] and body_["message_zh"] and body_["message_en"], body_
        return
    raise AssertionError(f"{action} on {d.project.project_id} never answered")


async def one_round(stack: Stack, db: sessionmaker[Session], env: object, *,
                    kill_worker_after: int | None = None) -> Tally:
    b = support.batch("2026", next_close(datetime.now(SHANGHAI), days=10))
    drives = [await Drive.start(env, b, stack.queue, db) for _ in range(PROJECTS)]  # type: ignore[arg-type]
    tally = Tally()
    async with httpx.AsyncClient(base_url=stack.api_url(), timeout=60) as http:
        await asyncio.gather(*(decide(http, d, "submit", Role.APPLICANT, tally)
                               for d in drives))
        burst = [decide(http, d, action, role, tally) for d in drives
                 for action, role in MIX for _ in range(PER_ACTION)]
        task = asyncio.gather(*burst)
        if kill_worker_after is not None:
            while sum(tally.statuses.values()) < kill_worker_after:
                await asyncio.sleep(0.01)
            stack.kill_worker()
            await asyncio.sleep(1)
            stack.start_worker()
        await asyncio.wait_for(task, timeout=600)
    await quiescent(db, drives)
    await check(db, drives, tally)
    return tally


async def quiescent(db: sessionmaker[Session], drives: list[Drive]) -> None:
    """Until every read model holds its workflow's whole log."""
    for d in drives:
        log = await d.handle.query(ProjectWorkflow.decision_log)
        for _ in range(600):
            with db() as s:
                row = s.get(Project, d.project.project_id)
                if row is not None and row.projected_seq == len(log):
                    break
            await asyncio.sleep(0.05)


async def check(db: sessionmaker[Session], drives: list[Drive], tally: Tally) -> None:
    problems = []
    for d in drives:
        pid = d.project.project_id
        log = await d.handle.query(ProjectWorkflow.decision_log)
        burst = [r for r in log if r.action not in ("submit", "admit")]
        # Each accepted decision is in the history once: as many 200s as burst records
        # made by people (a timer's record has the system as its actor).
        people = [r for r in burst if r.actor.role is not Role.SYSTEM]
        if len(people) != tally.accepted[pid] - 1:  # minus the submission
            problems.append(f"{pid}: {tally.accepted[pid] - 1} accepted, log {people}")
        history = await d.handle.fetch_history()
        v = await verify_history(db=db, project_id=pid, history=history)
        if not v.ok:
            problems.append(f"{pid}: {v.differences}")
    diffs = [x for x in await compare_read_model(drives[0].client, db)
             if x.project_id in {d.project.project_id for d in drives}]
    problems += [f"read model: {x}" for x in diffs]
    assert not problems, "\n".join(problems)


async def test_bursts_of_concurrent_decisions_leave_the_read_model_equal_to_the_history(
    pg_url: str, db: sessionmaker[Session], tmp_path: Path,
) -> None:
    async with Stack(tmp_path, pg_url) as stack:
        env = await stack.client()
        for _ in range(REPETITIONS):
            tally = await one_round(stack, db, env)
            assert not [s for s in tally.statuses if s >= 500]
            # Each project: its submission and at least one winner (a county approval
            # leaves withdraw and revoke possible after it, a return leaves withdraw).
            assert all(n >= 2 for n in tally.accepted.values()), tally.accepted


async def test_a_burst_with_the_worker_killed_in_the_middle(
    pg_url: str, db: sessionmaker[Session], tmp_path: Path,
) -> None:
    async with Stack(tmp_path, pg_url) as stack:
        env = await stack.client()
        tally = await one_round(stack, db, env,
                                kill_worker_after=PROJECTS + PROJECTS * len(MIX) * PER_ACTION
                                // 3)
        assert not [s for s in tally.statuses if s >= 500]
