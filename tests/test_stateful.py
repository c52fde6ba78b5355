"""A model-based test of the whole system, through the HTTP API only, against the real
stack (the API app, the Temporal dev server with time skipping, the worker, PostgreSQL).

Hypothesis drives random sequences on a handful of projects in two batches (one per
preset): decisions by random roles (inside and outside their jurisdiction), concurrent
bursts, retries with the same key, keys reused for other requests, invalid payloads and
evidence, and the clock moved on (deadlines and timers fire). After every step:

- no answer was a 5xx, and every refusal carried a rule id and both messages;
- each project's read model equals its workflow: stage, and every record by seq;
- its places and its city-quota row are what its state implies (`domain.places`);
- its stored records' hash chain verifies;
- it is in an end stage, waits on someone, or has a next deadline (`driver.stranded`;
  tests/test_liveness.py and tests/test_workflow_walk.py check liveness on their own).

`make test` runs GONGFU_STATEFUL_STEPS steps (at least 1,000); a longer run:
`GONGFU_STATEFUL_STEPS=20000 .venv/bin/python -m tools.run_tests tests/test_stateful.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

import httpx
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from audit.chain import GENESIS, link, record_values, seal
from domain.lifecycle import SYSTEM_TRIGGERS, TRIGGERS
from domain.places import PlaceHold, place_hold
from domain.project import payload_example
from domain.roles import Role
from models import DecisionRow, Place, Project, Recommendation
from tests import support
from tests.api_support import token
from tests.driver import Drive, Harness, stranded
from workflows.project import ProjectWorkflow

STEPS = max(1000, int(os.environ.get("GONGFU_STATEFUL_STEPS", "1000")))
STEPS_PER_RUN = 50
ACTIONS = [t for t in TRIGGERS if t not in SYSTEM_TRIGGERS]
ROLES = [r for r in Role if r is not Role.SYSTEM]
T = TypeVar("T")


class World:
    """What the state machine's thread needs from the test's event loop."""

    loop: asyncio.AbstractEventLoop
    ts: Harness
    http: httpx.AsyncClient
    steps = 0
    answers: ClassVar[dict[int, int]] = {}

    @classmethod
    def run(cls, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, cls.loop).result(timeout=300)


def headers(d: Drive, role: Role, inside: bool) -> dict[str, str]:
    a = d.actors[role]
    if inside:
        return token(role.value, a.user_id, a.region, a.unit_code)
    other = {Role.APPLICANT: ("3702", support.credit_code("370202")),
             Role.COUNTY: ("370103", None), Role.CITY: ("3702", None),
             Role.CITY_FINANCE: ("3702", None)}.get(role)
    if other is None:
        return token(role.value, a.user_id, a.region, a.unit_code)
    return token(role.value, f"{role.value}-outside", other[0], other[1])


def check_answer(r: httpx.Response) -> None:
    World.answers[r.status_code] = World.answers.get(r.status_code, 0) + 1
    assert r.status_code < 500, f"{r.status_code} {r.text[:500]}"
    if r.status_code >= 400:
        body = r.json()
        assert body["rule"] and body["message_zh"] and body["message_en"], body


class Programme(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.drives: list[Drive] = []
        self.sent: list[tuple[dict[str, str], str, dict[str, Any], httpx.Response]] = []

    @initialize()
    def projects(self) -> None:
        async def start() -> list[Drive]:
            return [await World.ts.start("2026"), await World.ts.start("2026"),
                    await World.ts.start("2024")]

        self.drives = World.run(start())

    # -- rules ---------------------------------------------------------------------------

    def _request(self, d: Drive, action: str, role: Role, inside: bool,
                 junk: str | None) -> tuple[dict[str, str], str, dict[str, Any]]:
        body: dict[str, Any] = {"reason": f"随机测试：{action}",
                                "payload": payload_example(action)}
        if junk == "evidence":
            body["evidence"] = ["not-a-hash"]
        elif junk == "payload":
            body["payload"] = {"unexpected": [1, {"deep": ["x"]}]}
        elif junk == "big":
            body["payload"] = {"text": "字" * 10_000}
        elif junk == "no_reason":
            body["reason"] = ""
        url = f"/projects/{d.project.project_id}/decisions/{action}"
        key = {**headers(d, role, inside), "Idempotency-Key": uuid.uuid4().hex}
        return key, url, body

    @rule(i=st.integers(0, 2), action=st.sampled_from(ACTIONS), role=st.sampled_from(ROLES),
          inside=st.booleans(),
          junk=st.sampled_from([None, None, None, None, "evidence", "payload", "big",
                                "no_reason"]))
    def decide(self, i: int, action: str, role: Role, inside: bool, junk: str | None) -> None:
        h, url, body = self._request(self.drives[i], action, role, inside, junk)
        r = World.run(World.http.post(url, json=body, headers=h))
        check_answer(r)
        self.sent.append((h, url, body, r))

    @rule(i=st.integers(0, 2), pick=st.integers(0, 10_000), key=st.booleans())
    def an_allowed_decision(self, i: int, pick: int, key: bool) -> None:
        """What the project says someone may do now: this drives projects deep into
        their lifecycles, where random decisions seldom reach."""
        d = self.drives[i]
        view = World.run(d.handle.query(ProjectWorkflow.view))
        choices = [(Role(r), a) for r, acts in sorted(view.allowed.items()) for a in acts
                   if a not in ("edit_application", "attach_document")]
        if not choices:
            return
        role, action = choices[pick % len(choices)]
        h, url, body = self._request(d, action, role, True, None)
        r = World.run(World.http.post(url, json=body, headers=h))
        check_answer(r)
        self.sent.append((h, url, body, r))

    @rule(i=st.integers(0, 2), n=st.integers(2, 12),
          actions=st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=5),
          roles=st.lists(st.sampled_from(ROLES), min_size=1, max_size=4))
    def burst(self, i: int, n: int, actions: list[str], roles: list[Role]) -> None:
        d = self.drives[i]
        requests = [self._request(d, actions[k % len(actions)], roles[k % len(roles)], True,
                                  None) for k in range(n)]

        async def all_at_once() -> list[httpx.Response]:
            return list(await asyncio.gather(*(World.http.post(u, json=b, headers=h)
                                               for h, u, b in requests)))

        for (h, u, b), r in zip(requests, World.run(all_at_once()), strict=True):
            check_answer(r)
            self.sent.append((h, u, b, r))

    @rule(pick=st.integers(0, 10_000))
    def retry_with_the_same_key(self, pick: int) -> None:
        if not self.sent:
            return
        h, url, body, first = self.sent[pick % len(self.sent)]
        r = World.run(World.http.post(url, json=body, headers=h))
        check_answer(r)
        if first.status_code not in (429, 503):
            assert (r.status_code, r.json()) == (first.status_code, first.json())

    @rule(pick=st.integers(0, 10_000))
    def reuse_a_key_for_another_request(self, pick: int) -> None:
        if not self.sent:
            return
        h, url, body, first = self.sent[pick % len(self.sent)]
        if first.status_code in (429, 503):
            return
        other = {**body, "reason": body["reason"] + "（另一请求）"}
        r = World.run(World.http.post(url, json=other, headers=h))
        check_answer(r)
        assert r.status_code == 409 and r.json()["rule"] == "IDEMPOTENCY", r.text

    @rule(i=st.integers(0, 2), hours=st.sampled_from([1, 24, 24 * 4, 24 * 40, 24 * 200]))
    def time_passes(self, i: int, hours: int) -> None:
        d = self.drives[i]

        async def later() -> None:
            desc = await d.handle.describe()
            if desc.status is not None and desc.status.name == "RUNNING":
                await d.advance(timedelta(hours=hours))
                await asyncio.sleep(0.2)  # the fired timer's task

        World.run(later())

    # -- what must always hold -------------------------------------------------------------

    @invariant()
    def read_model_is_the_history(self) -> None:
        World.steps += 1
        if self.drives:
            World.run(check_projects(self.drives))


async def check_projects(drives: list[Drive]) -> None:
    for d in drives:
        pid = d.project.project_id
        log = await d.handle.query(ProjectWorkflow.decision_log)
        view = await d.handle.query(ProjectWorkflow.view)
        assert stranded(view) is None, stranded(view)
        for _ in range(200):  # the projection lands shortly after the answer
            with World.ts.db() as s:
                row = s.get(Project, pid)
                assert row is not None
                if row.projected_seq == len(log) and row.stage == view.stage.value:
                    break
            await asyncio.sleep(0.05)
        with World.ts.db() as s:
            row = s.get(Project, pid)
            assert row is not None and row.stage == view.stage.value, (row.stage, view.stage)
            stored = list(s.scalars(select(DecisionRow).where(DecisionRow.project_id == pid)
                                    .order_by(DecisionRow.seq)))
            expected = [record_values(pid, r) for r in log]
            seal(expected, GENESIS)
            assert [(x.seq, x.hash) for x in stored] == [(e["seq"], e["hash"])
                                                         for e in expected], pid
            prev = GENESIS
            for x in stored:  # the chain, recomputed from the stored content
                assert x.prev_hash == prev and x.hash == link(prev, x), (pid, x.seq)
                prev = x.hash
            hold = place_hold(view.stage, was_selected=view.was_selected)
            for place in s.scalars(select(Place).where(Place.project_id == pid)):
                actual = (PlaceHold.RELEASED if place.released_at is not None
                          else PlaceHold.SELECTED if place.selected else PlaceHold.HELD)
                assert hold is PlaceHold.NONE or actual is hold, (pid, view.stage, actual)
            rec = s.get(Recommendation, pid)
            assert (rec.rank if rec else None) == view.quota_rank, (pid, view.stage)


async def test_random_programme_through_the_api(ts: Harness, http: httpx.AsyncClient) -> None:
    World.loop, World.ts, World.http = asyncio.get_running_loop(), ts, http
    World.steps, World.answers = 0, {}
    base = int(os.environ.get("GONGFU_STATEFUL_SEED", "20261202"))
    rounds = 0
    # Hypothesis draws how many steps each run takes (up to STEPS_PER_RUN): run seeded
    # rounds until the steps add up. Seeded, so a failure is found again by its seed.
    while World.steps < STEPS:
        fresh = type(f"Programme{rounds}", (Programme,), {})  # settings apply once per class
        machine = seed(base + rounds)(settings(
            max_examples=10, stateful_step_count=STEPS_PER_RUN, deadline=None,
            database=None, suppress_health_check=list(HealthCheck))(fresh).TestCase)
        await asyncio.to_thread(machine().runTest)
        rounds += 1
        print(f"stateful round {rounds}: {World.steps} steps so far")
    print(f"stateful: {World.steps} steps in {rounds} rounds (seed {base}), "
          f"answers {json.dumps(World.answers, sort_keys=True)}")
