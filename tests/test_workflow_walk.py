"""Liveness through the real workflow (issue 16): random walks on the time-skipping
dev server, with the worker and PostgreSQL of the other workflow tests; nothing mocked.

Hypothesis starts a project (either preset, a year of supervision after completion; in
2026 its city may have a deadline for its counties' reviews, or no county step) and
takes random steps: a decision the workflow itself says a role may make now (its `view`:
`allowed`, each assigned expert for themself; the table's example payload or a variant
from `tests.support.PAYLOAD_VARIANTS`), a decision it does not allow (any action, any
role: it must be refused and change nothing), or the clock moved past the next deadline
(`fast_forward`, then the fired timers are waited for). After every step the project is
in an end stage (and its workflow completes), or it waits on someone, or it has a
next deadline (`tests.driver.stranded`).

The pure counterpart, every reachable state of the table: tests/test_liveness.py.
Seeded; a bigger walk: `GONGFU_WALK_EXAMPLES=100 GONGFU_WALK_STEPS=60
.venv/bin/python -m tools.run_tests tests/test_workflow_walk.py` (another seed:
GONGFU_WALK_SEED).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from temporalio.service import RPCError

from domain.batch import BatchPolicy
from domain.clock import SHANGHAI
from domain.decisions import Actor
from domain.lifecycle import TRIGGERS, lifecycle_for, spec_of
from domain.presets import PRESETS, PresetName
from domain.refusals import Refused
from domain.roles import Role
from domain.stages import Stage
from domain.views import ProjectView
from tests import support
from tests.driver import Drive, Harness, next_close, stranded
from workflows.project import ProjectWorkflow

EXAMPLES = int(os.environ.get("GONGFU_WALK_EXAMPLES", "12"))
STEPS = int(os.environ.get("GONGFU_WALK_STEPS", "25"))
SEED = int(os.environ.get("GONGFU_WALK_SEED", "20261216"))
TRACE = bool(os.environ.get("GONGFU_WALK_TRACE"))  # print every walk
ANSWER_WITHIN = 30.0  # seconds: a decision that gets no answer is a workflow task failing
ROLES = [r for r in Role if r is not Role.SYSTEM]
T = TypeVar("T")


class Loop:
    """The test's event loop, where the fixtures' clients live, for Hypothesis's thread."""

    loop: asyncio.AbstractEventLoop
    ts: Harness
    steps = 0
    stages: ClassVar[set[str]] = set()  # every stage a walk was in
    ended: ClassVar[dict[str, int]] = {}  # the stages the walks ended in

    @classmethod
    def run(cls, coro: Coroutine[Any, Any, T], timeout: float = 600) -> T:
        return asyncio.run_coroutine_threadsafe(coro, cls.loop).result(timeout=timeout)


async def answer(d: Drive, action: str, actor: Actor, payload: dict[str, Any]) -> str:
    """Send a decision; 'accepted' or the refusal's rule. No answer in time fails."""
    decision = support.decision(action, actor=actor, evidence=[support.SHA], **payload)
    try:
        await asyncio.wait_for(d.send(decision), ANSWER_WITHIN)
    except Refused as exc:
        return exc.refusal.rule
    except (TimeoutError, RPCError) as exc:  # no answer: the workflow task is failing
        raise AssertionError(f"{action} by {actor.role.value} had no answer within "
                             f"{ANSWER_WITHIN:.0f} s: {exc!r}") from None
    return "accepted"


async def fingerprint(d: Drive) -> tuple[object, ...]:
    """What a refused decision must leave as it was."""
    view = await d.view()
    log = await d.handle.query(ProjectWorkflow.decision_log)
    return (view.stage, view.decisions, [r.request_id for r in log], view.pending_cosign,
            view.next_deadline, view.allowed)


async def deadline_passes(d: Drive) -> str:
    """Move the workflow's clock one minute past its next deadline and wait until the
    timers that fired have been handled (the deadline then lies ahead, or is gone)."""
    view = await d.view()
    if view.end is not None or view.next_deadline is None:
        return "no deadline"
    before = view.decisions
    target = view.next_deadline + timedelta(minutes=1)
    now = await d.now()
    if target > now:
        await d.advance(target - now)
    deadline = time.monotonic() + 15
    while True:
        view = await d.view()
        if view.decisions > before and (view.next_deadline is None
                                        or view.next_deadline > target):
            return f"past {target.astimezone(SHANGHAI).isoformat()}"
        assert time.monotonic() < deadline, (
            f"the deadline passed and nothing happened: {view.stage} {view.next_deadline}")
        await asyncio.sleep(0.05)


def _actors(d: Drive, view: ProjectView, role: Role) -> list[Actor]:
    if role is Role.EXPERT:  # each assigned expert decides for themself
        ids = sorted(view.experts) or [d.actors[role].user_id]
        return [d.actors[role].model_copy(update={"user_id": uid}) for uid in ids]
    return [d.actors[role]]


def _kind(view: ProjectView, action: str) -> str:
    """'ending' (it ends the project), 'passive' (the project does not wait for it) or
    'forward'."""
    lifecycle = lifecycle_for(PRESETS[PresetName(view.preset)], view.rules)
    move = lifecycle.move(action, view.stage)
    if move is not None and move.dest is not None and move.dest.is_end:
        return "ending"
    spec = spec_of(action)
    return "passive" if spec is not None and spec.passive else "forward"


async def take(d: Drive, kind: str, pick: int) -> str:
    """One step of a walk; what happened, for the trace."""
    view = await d.view()
    if kind in ("forward", "passive", "ending"):
        choices = [(actor, action, payload)
                   for role, actions in sorted(view.allowed.items())
                   for actor in _actors(d, view, Role(role))
                   for action in actions if _kind(view, action) == kind
                   for payload in support.payloads(action)]
        if not choices and kind == "forward":
            kind = "time"  # only a timer moves it on now
        elif not choices:
            return f"{view.stage.value}: (no {kind} decision)"
        else:
            actor, action, payload = choices[pick % len(choices)]
            result = await answer(d, action, actor, payload)
            return f"{view.stage.value}: {actor.role.value}:{action} {payload} → {result}"
    if kind == "time":
        return f"{view.stage.value}: time {await deadline_passes(d)}"
    refused = [(actor, action) for role in ROLES for actor in _actors(d, view, role)
               for action in TRIGGERS if action not in view.allowed.get(role.value, [])]
    actor, action = refused[pick % len(refused)]
    before = await fingerprint(d)
    result = await answer(d, action, actor, support.payloads(action)[0])
    assert result != "accepted", f"{action} by {actor.role.value} was not allowed, and accepted"
    assert await fingerprint(d) == before, f"the refused {action} changed the project"
    return f"{view.stage.value}: {actor.role.value}:{action} (not allowed) → {result}"


def _batch(preset: str, city: str) -> BatchPolicy:
    """A batch closing in three days, with a year of supervision; 2026: the project's
    city as the walk drew it (a deadline for its counties two days ahead, or no county
    step)."""
    close = next_close(datetime.now(SHANGHAI))
    settings: dict[str, Any] = {
        "county_close": {"county_review_close": {support.CITY: close - timedelta(days=1)}},
        "direct": {"direct_cities": [support.CITY]}}.get(city, {}) if preset == "2026" else {}
    return support.batch(preset, close, supervision_years=1, **settings)


async def walk(preset: str, city: str, rng: random.Random) -> None:
    d = await Loop.ts.start(preset, batch=_batch(preset, city))
    trace = [f"{preset} ({city} city) {d.project.project_id}"]
    for _ in range(STEPS):
        kind = rng.choices(KINDS, weights=WEIGHTS)[0]
        try:
            trace.append(await take(d, kind, rng.randrange(10**6)))
            view = await d.view()
            Loop.stages.add(view.stage.value)
            problem = stranded(view)
            assert problem is None, problem
            if view.end is not None:  # an end stage: the workflow completes
                end = await asyncio.wait_for(d.result(), ANSWER_WITHIN)
                assert end.stage is view.stage, (end, view.stage)
                break
        except Exception as exc:  # with the walk that led there
            raise AssertionError(f"{exc!r}\nthe walk:\n  " + "\n  ".join(trace)) from exc
        finally:
            Loop.steps += 1
    stage = (await d.view()).stage.value
    if TRACE:
        print("\n  ".join(trace))
    Loop.ended[stage] = Loop.ended.get(stage, 0) + 1


# Mostly a decision the project waits for that does not end it, so that walks get deep
# into the lifecycle; now and then one that ends it (a rejection, a withdrawal, a
# revocation), a passive one (an objection, a request, an upload), one the project does
# not allow, or the next deadline passing.
KINDS = ["forward", "ending", "passive", "refused", "time"]
WEIGHTS = [20, 1, 1, 2, 1]


async def test_random_walks_keep_every_project_moving(ts: Harness) -> None:
    Loop.loop, Loop.ts, Loop.steps = asyncio.get_running_loop(), ts, 0
    Loop.stages, Loop.ended = set(), {}
    started = time.perf_counter()

    # No shrinking: each example starts a workflow; the failure carries the walk, and the
    # seed finds it again.
    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.reuse, Phase.generate],
              suppress_health_check=list(HealthCheck))
    # Hypothesis draws the preset and a Random (seeded from its own data, so the seed
    # finds a walk again) that weighs the steps: its own draws favour edge cases, which
    # would make most walks end early.
    @given(preset=st.sampled_from(["2024", "2026"]),
           city=st.sampled_from(["plain", "county_close", "direct"]),
           rng=st.randoms(use_true_random=True))
    def walks(preset: str, city: str, rng: random.Random) -> None:
        Loop.run(walk(preset, city, rng))

    await asyncio.to_thread(walks)
    print(f"workflow walk: {EXAMPLES} walks, {Loop.steps} steps in "
          f"{time.perf_counter() - started:.0f} s (seed {SEED}); stages seen "
          f"{sorted(Loop.stages)}; ended in {Loop.ended}")
    assert Loop.steps >= EXAMPLES


async def test_a_concurrence_the_panel_no_longer_supports_is_refused(ts: Harness) -> None:
    """Found by tests/test_liveness.py: the province selects (awaiting the finance
    department), then changes the panel; the concurrence used to raise inside the update
    (the workflow task failed on every attempt). It is refused with the rule the selection
    now fails, and the project goes on."""
    d = await ts.start("2026")
    await d.to_provincial_review()
    await d.do("assign_experts", experts=[{"user_id": "expert-1"}])
    await d.do("score", score=88)
    assert (await d.do("select")).stage is Stage.PROVINCIAL_REVIEW  # awaiting finance
    await d.do("assign_experts", experts=[{"user_id": "expert-2"}])
    refusal = await asyncio.wait_for(d.refused("concur", Role.PROVINCE_FINANCE), ANSWER_WITHIN)
    assert refusal.rule == "R12", refusal
    view = await d.view()
    assert view.waiting_on == ["province_finance"] and stranded(view) is None
    await d.do("dissent", Role.PROVINCE_FINANCE, reason="专家评审尚未完成")
    expert_2 = d.actors[Role.EXPERT].model_copy(update={"user_id": "expert-2"})
    await d.do("score", actor=expert_2, score=75)
    await d.do("select")
    assert (await d.do("concur", Role.PROVINCE_FINANCE)).stage is Stage.SELECTED
