"""Liveness, exhaustively (issue 16): no reachable state strands a project.

Generated from the decision table, not written by hand. For each preset and every rules
version, a breadth-first search from fresh projects (one per batch setting in `BATCHES`
that the preset and rules version have) takes, in every state it reaches:

- every decision every role may make (`ProjectState.allowed`, each expert assigned
  acting for themself), with the table's example payload and the few variants in
  `tests.support.PAYLOAD_VARIANTS`, a reason and evidence; the gate (`assess`) decides,
  and the decision is applied as the workflow applies it (the publicity period and a
  co-signature's reminder and overdue instants from the working-day calendar);
- the deadline changes officials send: a batch extension, a city's earlier deadline;
- "time passes": the clock moves to the next alarm, and the alarms due fire as the
  workflow fires them (`workflows/project.py`: a submission admitted at once to its
  level, notifications sent, each alarm at or before now in order).

A decision added to the table is explored here without a change to this file.

States are told apart by an abstract key (`key`): the stage, then the project's data as
`model_dump` gives it with instants made "past"/"future" against the clock, sequence
numbers, ids and free text left out, lists capped; the alarms set (the next one's
trigger, the set of triggers, how many); the batch's settings until the city's
recommendation. Fields that only record what happened (`HISTORY`) or
only feed an alarm's instant (`ALARM_INPUTS`; the alarms are in the key) are left out;
requests count by what is pending (`summary`); fields that decide something in some
stages only count there (`SCOPED`). A field added to ProjectData counts everywhere until
it is named here. Checked over the explored graph:

- no step the gate accepts fails when applied, and no alarm fails when it fires (the
  workflow task would fail on it again and again: the project would never move again);
- from every state an end stage is reachable, also through the decisions the project
  waits for (not passive) and timers alone: no project needs a revocation, a withdrawal
  or a request nobody has to make in order to end;
- no open state has nobody able to decide and no alarm, and none has nothing but
  passive decisions and no alarm;
- the search is not vacuous: every stage of the preset's table is reached, every
  decision of it is taken (a decision that needs a payload or a batch setting the
  search does not have fails here), and at least MIN_STATES states are explored.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

import pytest
from pydantic import ValidationError

from domain.actions import CURRENT_RULES, RULES_V1, RULES_V3, Action, DeadlineKind
from domain.calendar import WorkingDayCalendar
from domain.decisions import Actor, Decision
from domain.lifecycle import spec_of, stages_of
from domain.project import ProjectState
from domain.project_data import ProjectData
from domain.roles import Role
from domain.stages import Stage
from tests.support import ACTORS, CITY, SHA, batch, decision, payloads, project
from tests.test_rules_v2 import CLOSE, EARLY

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

S = Stage
# Lower bounds on the states explored, by preset and rules version (December 2026: 2024
# and 2026 with rules 3: 358 and 1,023; with rules 2: 271 and 732; with rules 1: 45 and
# 86): a key or a search that collapses cannot pass unnoticed. New moves add states.
MIN_STATES = {("2024", 3): 250, ("2026", 3): 700, ("2024", 2): 200, ("2026", 2): 500,
              ("2024", 1): 35, ("2026", 1): 60}
# Every rules version: projects started under an older one go on under it.
CASES = [(p, r) for r in range(CURRENT_RULES, RULES_V1 - 1, -1) for p in ("2024", "2026")]
# The batch settings a project's way depends on, each a root of the search from the rules
# version that reads it: a city's deadline for its counties' reviews, a city without a
# county step (a preset that has no county review refuses them).
BATCHES: list[tuple[int, dict[str, object]]] = [
    (RULES_V1, {}),
    (RULES_V3, {"county_review_close": {CITY: CLOSE - timedelta(days=10)}}),
    (RULES_V3, {"direct_cities": [CITY]}),
]


# -- the abstract key -------------------------------------------------------------------

# Read by views, exports, places and the idempotency of requests, never by a rule that
# decides what may happen next.
HISTORY = frozenset({
    "log", "seq_by_request", "fingerprints", "outcomes", "outbox", "project", "created_at",
    "content", "findings", "voided_scores", "early_acceptance", "disbursed_at",
    "reserve_pool", "subsidy_to_reclaim", "publicity_opened_at", "was_selected", "rank",
    "end"})
# Read only to set an alarm's instant (domain.rules.alarms); the key has the alarms.
ALARM_INPUTS = frozenset({
    "stage_since", "province_reminded", "archives", "archives_reminded", "archives_overdue",
    "baselines", "acceptance_deferred_to", "halfyear_held", "halfyear_passed",
    "supervision_ends_at", "rectify_due", "review_due", "review_overdue_reported",
    "publicity_end", "implementation_started_at"})
_ACCEPTANCE = frozenset({S.IMPLEMENTATION, S.HALFYEAR_ACCEPTANCE, S.FINAL_ACCEPTANCE,
                         S.RECTIFICATION})
# Summarised (`summary`), and counted only in these stages (None: in every stage).
SUMMARISED: dict[str, frozenset[Stage] | None] = {
    "close_at": None, "local_deadlines": None, "termination": None,
    "experts": frozenset({S.PROVINCIAL_REVIEW}), "objections": frozenset({S.PUBLICITY}),
    "changes": _ACCEPTANCE, "clawback": frozenset({S.CLAWBACK})}
# As they are, in these stages only.
SCOPED: dict[str, frozenset[Stage]] = {
    "early_acceptance_requested": _ACCEPTANCE,
    "verified_investment_cny": frozenset({S.SUBSIDY}),
    "subsidy_amount_cny": frozenset({S.SUBSIDY}), "award": frozenset({S.SUBSIDY}),
    "disbursement": frozenset({S.SUPERVISION})}
# Left out of every nested model: numbering, ids, free text, who exactly (not the role).
_LEFT_OUT = frozenset({
    "seq", "ruling_seq", "request_id", "reason", "description", "summary", "title",
    "evidence", "reference", "decision_ref", "message_zh", "message_en", "filename",
    "media_type", "size", "sha256", "user_id", "region", "unit_code"})
_BATCH_DECIDES = frozenset({S.DRAFT, S.SUBMITTED, S.RETURNED, S.COUNTY_REVIEW, S.CITY_REVIEW})
_CAP = 3  # lists and sets count up to this; numbers up to _BIG
_BIG = 10**7
_PENDING = ("awaiting_city", "awaiting_province")
_MAX_ALARMS = 30
# The search gives up (and fails) beyond this: the key would not be bounded.
MAX_STATES = 20_000


def _abstract(value: object, now: datetime) -> object:
    if isinstance(value, datetime):
        return "past" if value <= now else "future"
    if isinstance(value, dict):
        return tuple(sorted((k, _abstract(v, now)) for k, v in value.items()
                            if k not in _LEFT_OUT))
    if isinstance(value, set | frozenset):
        return ("set", min(len(value), _CAP))
    if isinstance(value, list | tuple):
        return ("list", min(len(value), _CAP), tuple(_abstract(v, now) for v in value[-2:]))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return min(value, _BIG)


def summary(data: ProjectData, now: datetime) -> dict[str, object]:
    """What the summarised fields decide: deadlines passed or not; what is pending."""
    claw = data.clawback
    return {
        "close_at": data.close_at <= now,
        "local_deadlines": data.deadline(DeadlineKind.APPLICANT) <= now,
        "termination": (data.termination.status if data.termination is not None
                        and data.termination.status in _PENDING else None),
        "experts": tuple(sorted((u, s is not None) for u, s in data.experts.items())),
        "objections": data.objection_pending(),
        "changes": tuple((c.status, c.extend_months) for c in data.changes
                         if c.status in _PENDING),
        "clawback": claw and (claw.status, claw.returned_cny > 0,
                              claw.returned_cny >= claw.amount_cny),
    }


def key(s: ProjectState, now: datetime) -> tuple[object, ...]:
    if s.ended:
        return ("ended", s.stage)  # nothing happens after the end
    stage = s.stage
    summed = {k: v for k, v in summary(s.data, now).items()
              if SUMMARISED[k] is None or stage in SUMMARISED[k]}  # type: ignore[operator]
    left_out = (HISTORY | ALARM_INPUTS | set(SUMMARISED)
                | {f for f, stages in SCOPED.items() if stage not in stages})
    alarms = sorted(s.alarms())
    # The batch's settings (a search has several roots, `BATCHES`) until the city's
    # recommendation: they decide the admission and the county's deadline; afterwards
    # the roots' ways join.
    settings = (s.data.batch.model_dump(exclude={"batch_id", "name"})
                if stage in _BATCH_DECIDES else None)
    # The next alarm, which alarms are set, and how many: time's progress (archive
    # periods pass one by one until the acceptance opens).
    return (_abstract(settings, now), _abstract(s.data.model_dump(exclude=set(left_out)), now),
            _abstract(summed, now), alarms[0].trigger if alarms else None,
            frozenset(a.trigger for a in alarms), min(len(alarms), _MAX_ALARMS))


# -- the search -------------------------------------------------------------------------


@dataclass
class Step:
    label: str  # "role:action", "time:trigger" or "outside:what"
    target: int
    forward: bool  # a decision the project waits for (not passive), or a timer


@dataclass
class Graph:
    preset: str
    rules: int
    states: list[ProjectState] = field(default_factory=list)
    clocks: list[datetime] = field(default_factory=list)
    steps: list[list[Step]] = field(default_factory=list)
    came_from: list[tuple[int, str] | None] = field(default_factory=list)
    index: dict[tuple[object, ...], int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)  # decisions and alarms that took effect
    stages: set[Stage] = field(default_factory=set)  # stages entered, transient ones too
    seconds: float = 0.0

    def add(self, s: ProjectState, now: datetime, came_from: tuple[int, str] | None) -> int:
        k = key(s, now)
        found = self.index.get(k)
        if found is not None:
            return found
        self.index[k] = len(self.states)
        self.states.append(s)
        self.clocks.append(now)
        self.steps.append([])
        self.came_from.append(came_from)
        return self.index[k]

    def path(self, i: int) -> str:
        labels: list[str] = []
        while (prev := self.came_from[i]) is not None:
            i, label = prev
            labels.append(label)
        return " → ".join(reversed(labels)) or "(the start)"

    def describe(self, i: int) -> str:
        s, now = self.states[i], self.clocks[i]
        pending = s.pending_cosign.action if s.pending_cosign else None
        alarm = s.next_alarm()
        return (f"{s.stage.value} at {now.isoformat()} (pending co-signature: {pending}; "
                f"next alarm: {alarm.trigger if alarm else None}); "
                f"allowed {s.allowed_by_role(now)}\n    reached by: {self.path(i)}")

    def open_states(self) -> list[int]:
        return [i for i, s in enumerate(self.states) if not s.ended]

    def reaching_an_end(self, forward_only: bool) -> set[int]:
        back: dict[int, list[int]] = {}
        for i, steps in enumerate(self.steps):
            for step in steps:
                if step.forward or not forward_only:
                    back.setdefault(step.target, []).append(i)
        done = {i for i, s in enumerate(self.states) if s.ended}
        todo = list(done)
        while todo:
            for i in back.get(todo.pop(), []):
                if i not in done:
                    done.add(i)
                    todo.append(i)
        return done


def _copy(s: ProjectState) -> ProjectState:
    """A copy to change. The log's records, the requests' answers and the project's
    input are never changed once there: shared, not copied (copying them took most of
    the search's time)."""
    t = copy.copy(s)
    data = s.data
    shared: dict[int, object] = {id(data.project): data.project}
    for grows in (data.log, data.seq_by_request, data.fingerprints, data.outcomes):
        shared[id(grows)] = copy.copy(grows)  # a new list or dict of the same entries
    t.data = copy.deepcopy(data, shared)
    return t


def _settle(s: ProjectState, now: datetime) -> None:
    """What the workflow does after a change: admit a submission (to the level it
    goes to), send the notifications, fire every alarm due by now, earliest first."""
    if s.stage is Stage.SUBMITTED:
        s.fire_system(s.admission(now), now)
    for _ in range(100):
        s.drain_outbox()  # the notifications, sent
        alarm = s.next_alarm()
        if s.ended or alarm is None or alarm.at > now:
            return
        s.fire_system(alarm.trigger, now, alarm.key)
    raise AssertionError(f"alarms keep firing at {now}: {s.alarms()}")


def _actors(s: ProjectState, role: Role) -> list[Actor]:
    if role is Role.EXPERT:  # each assigned expert decides for themself
        ids = sorted({*s.data.experts, ACTORS[role].user_id})
        return [ACTORS[role].model_copy(update={"user_id": uid}) for uid in ids]
    return [ACTORS[role]]


Run = Callable[[ProjectState], datetime]


def _apply(s: ProjectState, d: Decision, now: datetime) -> None:
    """As the workflow applies a decision: with the publicity period and, for a decision
    that will wait for co-signature (rules 3), its reminder and overdue instants, both in
    working days from the calendar its activities use."""
    b = s.data.batch
    calendar = WorkingDayCalendar(b.calendar)
    end = None
    if d.action == Action.OPEN_PUBLICITY:
        days = d.payload.get("working_days") or b.publicity_working_days
        end = calendar.publicity_period(now, days).ends_at
    dues = None
    if s.data.rules >= RULES_V3 and s.needs_cosign(d):
        remind, overdue = calendar.after_working_days(
            now, [b.cosign_reminder_working_days, b.cosign_overdue_working_days]).ends_at
        dues = (remind, overdue)
    s.apply(d, now, publicity_end=end, cosign_dues=dues)


def _steps(s: ProjectState, now: datetime) -> Iterator[tuple[str, bool, Run]]:
    """(label, forward, run) for each step possible from `s`: `run` makes it on a copy
    and returns the clock after it."""
    if s.ended:
        return
    for role in Role:
        for actor in _actors(s, role) if role is not Role.SYSTEM else []:
            for action in s.allowed(role, now):
                spec = spec_of(action)
                forward = spec is not None and not spec.passive
                for payload in payloads(action):
                    if payload.get("extend_months") and s.data.extension_months():
                        continue  # one period extension: each adds archive periods
                    d = decision(action, actor=actor, evidence=[SHA], **payload)
                    if s.assess(d, now) is not None:
                        continue  # a content check (a cap, an assignment, a repeat)

                    def run(t: ProjectState, d: Decision = d) -> datetime:
                        _apply(t, d, now)
                        return now

                    yield f"{role.value}:{action}", forward, run
    if now < s.data.close_at:
        def extend(t: ProjectState) -> datetime:
            t.change_deadline(f"extend-{uuid.uuid4().hex}", ACTORS[Role.PROVINCE], "batch",
                              t.data.close_at + timedelta(days=2), "延期", now)
            return now

        def local(t: ProjectState) -> datetime:
            t.change_deadline(f"local-{uuid.uuid4().hex}", ACTORS[Role.CITY], CITY,
                              now + timedelta(hours=1), "市级截止", now)
            return now

        yield "outside:extend_batch", False, extend
        yield "outside:local_deadline", False, local
    alarm = s.next_alarm()
    if alarm is not None:
        at = max(now, alarm.at)
        yield f"time:{alarm.trigger}", True, lambda _t: at


@cache
def explore(preset: str, rules: int) -> Graph:
    started = time.perf_counter()
    g = Graph(preset, rules)
    for since, settings in BATCHES:
        try:
            b = batch(preset, CLOSE, supervision_years=3, **settings)  # type: ignore[arg-type]
        except ValidationError:
            continue  # not for this preset
        if rules >= since:
            g.add(ProjectState(project(b), EARLY, rules), EARLY, None)
    g.stages.add(Stage.DRAFT)
    queue = deque(range(len(g.states)))
    while queue:
        assert len(g.states) < MAX_STATES, f"{preset}, rules {rules}: the key is not bounded"
        i = queue.popleft()
        s = g.states[i]
        for label, forward, run in _steps(s, g.clocks[i]):
            t = _copy(s)
            try:
                later = run(t)
                _settle(t, later)
            except Exception as exc:  # the workflow task would fail here, every time
                g.failures.append(f"{label} fails with {exc!r} in {g.describe(i)}")
                continue
            for record in t.log[len(s.log):]:
                g.taken.add(str(record.action))
                g.stages.add(record.stage_after)
            size = len(g.states)
            j = g.add(t, later, (i, label))
            if j == size:
                queue.append(j)
            g.steps[i].append(Step(label, j, forward))
    g.seconds = time.perf_counter() - started
    ends = sum(s.ended for s in g.states)
    print(f"liveness {preset} rules {rules}: {len(g.states)} states ({ends} ends) from "
          f"{sum(c is None for c in g.came_from)} batches, "
          f"{sum(map(len, g.steps))} steps, {g.seconds:.1f} s")
    return g


def _fail_with(g: Graph, found: list[int], what: str) -> None:
    if found:
        shown = "\n".join(f"  - {g.describe(i)}" for i in found[:5])
        pytest.fail(f"{len(found)} of {len(g.states)} states {what} ({g.preset}, rules "
                    f"{g.rules}):\n{shown}", pytrace=False)


# -- the checks -------------------------------------------------------------------------


def test_the_key_names_fields_that_exist() -> None:
    named = HISTORY | ALARM_INPUTS | set(SUMMARISED) | set(SCOPED)
    assert named <= set(ProjectData.model_fields), named - set(ProjectData.model_fields)


@pytest.mark.parametrize(("preset", "rules"), CASES)
def test_the_search_is_not_vacuous(preset: str, rules: int) -> None:
    g = explore(preset, rules)
    explored = len(g.states)
    assert explored >= MIN_STATES[preset, rules], f"only {explored} states"
    lifecycle = g.states[0].lifecycle
    missed = set(stages_of(lifecycle)) - g.stages
    assert not missed, f"stages never reached: {sorted(missed)}"
    missed = {m.trigger.value for m in lifecycle.moves} - g.taken
    assert not missed, f"decisions never taken (a payload or a batch setting to add?): " \
                       f"{sorted(missed)}"


@pytest.mark.parametrize(("preset", "rules"), CASES)
def test_no_accepted_step_and_no_alarm_fails(preset: str, rules: int) -> None:
    g = explore(preset, rules)
    if g.failures:
        pytest.fail(f"{len(g.failures)} steps fail ({preset}, rules {rules}):\n"
                    + "\n".join(f"  - {f}" for f in g.failures[:3]), pytrace=False)


@pytest.mark.parametrize(("preset", "rules"), CASES)
def test_every_state_can_reach_an_end(preset: str, rules: int) -> None:
    g = explore(preset, rules)
    every = g.reaching_an_end(forward_only=False)
    lost = [i for i in g.open_states() if i not in every]
    _fail_with(g, lost, "can never end")
    forward = g.reaching_an_end(forward_only=True)
    lost = [i for i in g.open_states() if i not in forward]
    _fail_with(g, lost, "end only by a passive decision (revocation, "
                                      "withdrawal, a request) or a deadline change")


@pytest.mark.parametrize(("preset", "rules"), CASES)
def test_no_open_state_is_stuck(preset: str, rules: int) -> None:
    g = explore(preset, rules)
    stuck = [i for i in g.open_states()
             if all(step.label.startswith("outside:") for step in g.steps[i])]
    _fail_with(g, stuck, "are stuck: nobody may decide and no alarm is set")
    idle = [i for i in g.open_states() if not any(step.forward for step in g.steps[i])]
    _fail_with(g, idle, "wait on nobody: only passive decisions, no alarm")
