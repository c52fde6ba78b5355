"""ProjectWorkflow: one funded project, from draft to its end, possibly a year or more.

The workflow is deliberately thin. Every rule lives in `domain.project.ProjectState`;
this class only maps Temporal's primitives onto it:

- decisions arrive as the update `decide`, whose validator refuses (with the rule id)
  anything the state would not allow, so a refused decision leaves no trace in history;
- deadlines are one live timer for the earliest alarm, replaced when the alarm moves
  (a deadline extension signal, a stage change): absolute instants, never durations;
- the calendar lookup and notifications are activities, so their results are recorded;
- search attributes are upserted whenever the stage, waiting-on or next deadline moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import structlog

    from activities.calendar import publicity_period, working_days_after
    from activities.notify import NotifyActivities
    from activities.programme import ProgrammeActivities
    from domain import outside
    from domain import search_attributes as sa
    from domain.actions import RULES_V1, RULES_V2, RULES_V3, Action
    from domain.batch import ProjectInput
    from domain.decisions import DeadlineChange, Decision, DecisionOutcome, DecisionRecord
    from domain.messages import (
        GENESIS,
        ChainHead,
        Projection,
        PublicityPeriod,
        PublicityRequest,
        RecommendationRequest,
        WorkingDaysRequest,
    )
    from domain.payloads import OpenPublicity, Recommend
    from domain.places import place_hold
    from domain.project import ProjectState
    from domain.refusals import Refusal, RefusalKind, Refused
    from domain.roles import Role
    from domain.stages import Stage
    from domain.summaries import current_details
    from domain.views import EndInfo, Notification, ProjectContent, ProjectView

REFUSED = "Refused"
# Projects started from here on follow rules version 2 (issue 16: acceptance outcomes,
# termination, supervision and clawback, the E1-E10 fixes); histories without the marker
# replay, and open projects go on, under the rules they started with.
RULES_V2_PATCH = "lifecycle-rules-2"
# And from here on rules version 3 (co-signature timers, the 2024 half-year round on
# application, the city's county-review deadline and direct cities).
RULES_V3_PATCH = "lifecycle-rules-3"
NOTIFY_END_PATCH = "notify-applicant-of-end"
# The submission and recommendation checks read the read model (the application, the
# documents, the places): they wait until it holds every earlier record.
DRAIN_BEFORE_CHECK_PATCH = "projection-drained-before-check"
# A cancel request from Temporal is recorded and ignored (domain.outside); before this,
# it ended the workflow as Canceled. Histories recorded before it still end so.
IGNORE_CANCEL_PATCH = "record-and-ignore-cancel"
# The signal change_deadline is refused (deadline changes are the sealed update
# set_deadline); one patch id per signal (domain.outside).
REFUSE_DEADLINE_SIGNAL_PATCH = outside.REFUSE_DEADLINE_SIGNAL_PATCH
# Decisions that change the applicant's content: their projection carries it.
CONTENT_ACTIONS = frozenset({Action.EDIT_APPLICATION, Action.ATTACH_DOCUMENT})
# Decisions whose rules need other projects (the database): eligibility and places at
# submission (R1-R7), the city's quota at recommendation (R8).
CHECKED_AGAINST_DATABASE = frozenset({Action.SUBMIT, Action.RESUBMIT, Action.CITY_RECOMMEND})
_NOTIFY_RETRY = RetryPolicy(maximum_attempts=20, maximum_interval=timedelta(minutes=10))
# A check the decider waits for: give up after a few tries so the caller hears of it.
_CHECK_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=10))
# The read model must converge, however long the database is away.
_PROJECTION_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


def _content_to_send(content: ProjectContent | None) -> ProjectContent | None:
    """A copy: the state goes on changing while the activity's input waits to be sent."""
    return content.model_copy(deep=True) if content is not None else None


def _refused(refusal: Refusal) -> ApplicationError:
    return ApplicationError(
        str(refusal), refusal.model_dump(mode="json"), type=REFUSED, non_retryable=True
    )


@workflow.defn
class ProjectWorkflow:
    @workflow.init
    def __init__(self, project: ProjectInput) -> None:
        created = project.created_at or workflow.now()
        rules = RULES_V1
        if workflow.patched(RULES_V2_PATCH):
            rules = RULES_V3 if workflow.patched(RULES_V3_PATCH) else RULES_V2
        self._state = ProjectState(project, created, rules)
        # Handlers that await (the calendar activity) must not interleave with others.
        self._lock = asyncio.Lock()
        self._changed = False
        self._published: dict[str, object] = {}
        self._notifications: list[asyncio.Task[None]] = []
        self._projected = 0  # decision records written to the read model
        # The read model's last record, as the last projection answered; a new project's
        # read model holds none.
        self._head: ChainHead | None = ChainHead(seq=0, hash=GENESIS)
        self._projections = 0  # projections sent by this run, to number them
        self._reassert = False  # send the whole state with the next projection
        self._places_sent: tuple[object, ...] | None = None
        self._deadline_signals = 0  # change_deadline signals received by this run
        # Requests whose decision the handler refused (request id -> the refusal).
        self._refused_requests: dict[str, Refusal] = {}
        info = workflow.info()
        self._log = structlog.get_logger().bind(
            workflow_id=info.workflow_id, project_id=project.project_id,
            batch_id=project.batch.batch_id,
        )

    @workflow.run
    async def run(self, project: ProjectInput) -> EndInfo:
        self._publish()
        projector = asyncio.create_task(self._project_loop())
        timer: asyncio.Task[None] | None = None
        # The live timer stands for one alarm: its instant and what it will do, so that
        # its summary (shown in the UI and the audit timeline) is always the truth.
        timer_for: tuple[datetime, str] | None = None
        while not self._state.ended:
            alarm = self._state.next_alarm()
            if alarm is not None and alarm.at <= workflow.now():
                await self._uncancelled(self._lock.acquire)
                try:
                    due = self._state.next_alarm()
                    if due is not None and due.at <= workflow.now():
                        record = self._state.fire_system(due.trigger, workflow.now(), due.key)
                        self._info("timer.fired", record)
                        self._after_change()
                finally:
                    self._lock.release()
                continue
            wanted = (alarm.at, alarm.trigger) if alarm is not None else None
            if wanted != timer_for:
                if timer is not None and not timer.done():
                    timer.cancel()
                timer, timer_for = None, None
                if alarm is not None:
                    delay = max(alarm.at - workflow.now(), timedelta(0))
                    timer = asyncio.create_task(
                        workflow.sleep(delay, summary=f"{alarm.trigger} @ {alarm.at.isoformat()}")
                    )
                    timer_for = wanted
            self._changed = False
            await self._uncancelled(lambda t=timer: workflow.wait_condition(  # type: ignore[misc]
                lambda: self._changed or (t is not None and t.done())))
        if timer is not None and not timer.done():
            timer.cancel()
        # Added after projects were already running: histories recorded before it have no
        # marker and take the old path (no notification), so they still replay.
        if workflow.patched(NOTIFY_END_PATCH):
            self._after_change_notify_end()
        await self._uncancelled(lambda: workflow.wait_condition(workflow.all_handlers_finished))
        if self._notifications:
            await self._uncancelled(lambda: workflow.wait_condition(
                lambda: all(t.done() for t in self._notifications)))
            for task in self._notifications:
                task.result()
        await self._uncancelled(lambda: workflow.wait_condition(self._projection_caught_up))
        projector.cancel()
        assert self._state.end is not None
        self._emit("project.ended", stage=self._state.stage.value, rule=self._state.end.rule)
        return self._state.end

    @property
    def state(self) -> ProjectState:
        """The project's state (read by the auditors' replay, never by another workflow)."""
        return self._state

    # -- decisions --------------------------------------------------------------------------

    @workflow.update
    async def decide(self, decision: Decision) -> DecisionOutcome:
        return await self._decide(decision)

    async def _decide(self, decision: Decision) -> DecisionOutcome:
        async with self._lock:
            cached = self._state.outcome_for(decision.request_id)
            if cached is not None:
                return cached
            problem = self._state.assess(decision, workflow.now())
            if problem is not None:  # the stage moved while this update waited for the lock
                raise self._refuse_request(decision, problem)
            if self._needs_database(decision) and workflow.patched(DRAIN_BEFORE_CHECK_PATCH):
                await workflow.wait_condition(self._projection_caught_up)
                problem = self._state.assess(decision, workflow.now())
                if problem is not None:
                    raise self._refuse_request(decision, problem)
            problem = await self._database_check(decision)
            if problem is not None:
                raise self._refuse_request(decision, problem)
            period = None
            if decision.action == Action.OPEN_PUBLICITY:
                period = await self._publicity_period(decision)
            dues = None
            if self._state.data.rules >= RULES_V3 and self._state.needs_cosign(decision):
                dues = await self._cosign_dues()
            try:
                record = self._state.apply(
                    decision, workflow.now(), publicity_end=period.ends_at if period else None,
                    cosign_dues=dues)
            except Refused as exc:
                raise self._refuse_request(decision, exc.refusal) from None
            self._info("decision.accepted", record)
            if self._state.stage is Stage.SUBMITTED:
                # Admission to the first review level (R9); eligibility checks go here.
                self._info("decision.accepted", self._state.fire_system(
                    self._state.admission(workflow.now()), workflow.now()))
            outcome = self._state.settle(decision.request_id, workflow.now())
            self._after_change()
            return outcome

    def _refuse_request(self, decision: Decision, problem: Refusal) -> ApplicationError:
        """The handler refuses a decision the validator let in (a check against the
        database, the stage moved meanwhile): its request is answered so from now on.
        The update is in the history with its seal; sent again by hand once the refusal
        no longer holds (the unit's flag lifted, a place freed), it would otherwise be
        taken as a decision the official made now. Rebuilt on replay, as the handler
        runs again; only the validator reads it."""
        if decision.request_id not in self._state.data.seq_by_request:
            self._refused_requests[decision.request_id] = problem
        return _refused(problem)

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        # Runs when the update arrives, never on replay: it may check the seal's key. A
        # decision not sealed by the API (sent from the Temporal UI or CLI, naming any
        # actor) is refused before it reaches the history; a request refused before is
        # refused again (its first answer).
        problem = outside.decision_refusal(decision, workflow.info().workflow_id) or \
            self._refused_requests.get(decision.request_id) or \
            self._state.assess(decision, workflow.now())
        if problem is not None:
            if problem.rule == "SEAL":
                self._emit("decision.refused", level="warning", request_id=decision.request_id,
                           action=decision.action, actor=decision.actor.user_id,
                           role=decision.actor.role.value, rule=problem.rule,
                           why=problem.message_en)
            raise _refused(problem)

    @workflow.update
    def set_deadline(self, change: DeadlineChange) -> DecisionRecord:
        """A batch extension (province) or an earlier local deadline (city, county), fanned
        out by the API to every open project concerned; the validator refuses what the API
        did not seal and what the role or the limits do not allow (domain.outside)."""
        prior = outside.deadline_record(self._state, change.request_id)
        if prior is not None:
            return prior
        record = self._state.change_deadline(
            change.request_id, change.actor, change.scope, change.new_deadline, change.reason,
            workflow.now())
        if record is None:  # the validator let through what the state will not take
            raise ApplicationError("deadline change not applied", type=REFUSED,
                                   non_retryable=True)
        self._info("deadline.changed", record)
        self._after_change()
        return record

    @set_deadline.validator
    def _validate_deadline(self, change: DeadlineChange) -> None:
        # Runs when the update arrives, never on replay: it may check the seal's key.
        problem = outside.deadline_refusal(self._state, change, workflow.now(),
                                           workflow.info().workflow_id)
        if problem is not None:
            self._emit("deadline.refused", level="warning", request_id=change.request_id,
                       actor=change.actor.user_id, role=change.actor.role.value,
                       scope=change.scope, new_deadline=change.new_deadline.isoformat(),
                       rule=problem.rule, why=problem.message_en)
            raise _refused(problem)

    # The same decision sent under its action's name (`city_recommend`, …), so that the
    # Temporal UI and `gongfu ops history` name each decision; `decide` stays (older callers
    # and recorded histories). Not a command: no `patched` needed.
    @workflow.update(dynamic=True)
    async def decide_named(self, name: str, args: Sequence[RawValue]) -> DecisionOutcome:
        return await self._decide(self._named(name, args))

    @decide_named.validator
    def _validate_named(self, name: str, args: Sequence[RawValue]) -> None:
        self._validate_decision(self._named(name, args))

    @staticmethod
    def _named(name: str, args: Sequence[RawValue]) -> Decision:
        decision: Decision = workflow.payload_converter().from_payload(args[0].payload,
                                                                       Decision)
        if decision.action != name:
            raise _refused(Refusal(
                rule="INPUT", kind=RefusalKind.INPUT, message_zh="更新名称与决定不符",
                message_en=f"update {name} carries the decision {decision.action}"))
        return decision

    @workflow.signal
    def change_deadline(self, change: DeadlineChange) -> None:
        """Former way in for deadline changes; now refused (set_deadline is the way), so a
        signal sent by hand, whatever actor it names, changes nothing. Signals that
        arrived before the change still replay as they were applied."""
        self._deadline_signals += 1
        if workflow.patched(f"{REFUSE_DEADLINE_SIGNAL_PATCH}-{self._deadline_signals}"):
            self._emit("signal.refused", level="warning", signal="change_deadline",
                       request_id=change.request_id, actor=change.actor.user_id,
                       role=change.actor.role.value, scope=change.scope,
                       new_deadline=change.new_deadline.isoformat(),
                       why="deadline changes arrive as the update set_deadline, sealed by "
                           "the API; a signal is never applied")
            return
        record = self._state.change_deadline(
            change.request_id, change.actor, change.scope, change.new_deadline, change.reason,
            workflow.now(),
        )
        if record is not None:
            self._info("deadline.changed", record)
            self._after_change()

    @workflow.signal
    def reproject(self) -> None:
        """Send the whole state to the read model again (operators: `gongfu ops
        reproject`, after a reset or a restored database). It can only re-assert what
        the history holds, so anyone may ask for it."""
        self._reassert = True

    # -- queries ----------------------------------------------------------------------------

    @workflow.query
    def view(self) -> ProjectView:
        return self._state.view(workflow.now())

    @workflow.query
    def decision_log(self) -> list[DecisionRecord]:
        return self._state.log

    @workflow.query
    def allowed(self, role: str) -> list[str]:
        return self._state.allowed(Role(role), workflow.now())

    @workflow.query
    def outcome_of(self, request_id: str) -> DecisionOutcome | None:
        return self._state.outcome_for(request_id)

    @workflow.query
    def explain(self, decision: Decision) -> Refusal | None:
        """Why a decision would be refused now; works on a closed project too."""
        return self._state.assess(decision, workflow.now())

    # -- internals --------------------------------------------------------------------------

    async def _uncancelled(self, wait: Callable[[], Awaitable[object]]) -> None:
        """`await wait()`, through a cancel request: Temporal cancels the workflow's main
        task, the request is recorded in the log (domain.outside) and the wait resumes.
        Histories recorded before the patch take the old path and end Canceled."""
        while True:
            try:
                await wait()
                return
            except asyncio.CancelledError:
                if not workflow.patched(IGNORE_CANCEL_PATCH):
                    raise
                await self._record_cancel()

    async def _record_cancel(self) -> None:
        info = workflow.info()
        try:  # who asked, as far as the history tells (read-only, safe to repeat)
            request = await workflow.execute_local_activity(
                outside.CANCEL_REQUEST, args=[info.workflow_id, info.run_id],
                result_type=outside.CancelRequest,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=3))
        except ActivityError as exc:
            self._emit("cancel.identity_unknown", level="warning", error=str(exc.cause))
            request = outside.CancelRequest(reason=workflow.cancellation_reason() or "")
        record = outside.record_cancel_request(self._state, request, workflow.now())
        self._emit("cancel.ignored", level="warning", seq=record.seq,
                   identity=request.identity, reason=request.reason,
                   stage=self._state.stage.value)
        self._after_change()

    @staticmethod
    def _needs_database(decision: Decision) -> bool:
        return decision.action in CHECKED_AGAINST_DATABASE

    def _projection_caught_up(self) -> bool:
        return self._projected == len(self._state.log) and not self._reassert

    async def _database_check(self, decision: Decision) -> Refusal | None:
        """The rules that need the database: eligibility and places at submission (R1-R7),
        standing again and the city's quota at recommendation (R5, R8), standing again at
        selection (R5, rules 2). Refused = nothing changes."""
        pid = self._state.project.project_id
        if decision.action in (Action.SUBMIT, Action.RESUBMIT):
            return await workflow.execute_activity_method(
                ProgrammeActivities.check_submission, pid,
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_CHECK_RETRY)
        if decision.action == Action.SELECT and self._state.data.rules >= 2:
            # R5 again at selection (rules 2): a unit flagged since is refused.
            return await workflow.execute_activity_method(
                ProgrammeActivities.check_standing, pid,
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_CHECK_RETRY)
        if decision.action == Action.CITY_RECOMMEND:
            rank = Recommend.model_validate(decision.payload).rank
            return await workflow.execute_activity_method(
                ProgrammeActivities.reserve_recommendation,
                RecommendationRequest(project_id=pid, rank=rank),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_CHECK_RETRY)
        return None

    async def _project_loop(self) -> None:
        """Make the read model equal to the workflow's state after every change.

        A local activity: a short database write recorded as one marker event, which
        keeps a year-long history small; a long database outage turns its retries into
        durable timers, and the records wait in the workflow meanwhile. It can run in a
        workflow task that is never committed, so each projection states the whole truth
        from the head on and the read model is made equal to it (`services.projection`);
        the committed projection replaces what an uncommitted one wrote. When the read
        model's head is not the workflow's, the answer says `resend` and the whole log
        follows."""
        while True:
            await workflow.wait_condition(
                lambda: self._projected < len(self._state.log) or self._reassert)
            upto, log = len(self._state.log), self._state.log
            whole = self._reassert
            start = 0 if whole else self._projected
            head = ChainHead(seq=0, hash=GENESIS) if whole else self._head
            self._reassert = False
            self._projections += 1
            view = self._state.read_model(workflow.now())
            places = (place_hold(view.stage, was_selected=view.was_selected), view.quota_rank)
            changed_content = whole or any(r.action in CONTENT_ACTIONS for r in log[start:upto])
            content = self._state.content if changed_content else None
            result = await workflow.execute_local_activity_method(
                ProgrammeActivities.project_state,
                Projection(view=view, records=log[start:upto], head=head,
                           number=self._projections, run_id=workflow.info().run_id,
                           content=_content_to_send(content),
                           places=whole or places != self._places_sent),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_PROJECTION_RETRY)
            self._places_sent = places
            # Histories recorded before the projection returned its head hold a count of
            # new records here; replayed, they leave the head unknown, so the next
            # projection reads it from the database. Commands are the same either way.
            self._head = result if isinstance(result, ChainHead) else None
            self._projected = upto
            if isinstance(result, ChainHead) and result.resend:
                self._emit("projection.resend", head_seq=result.seq)
                self._reassert = True

    async def _publicity_period(self, decision: Decision) -> PublicityPeriod:
        days = OpenPublicity.model_validate(decision.payload).working_days
        batch = self._state.batch
        return await workflow.execute_activity(
            publicity_period,
            PublicityRequest(
                project_id=self._state.project.project_id, opened_at=workflow.now(),
                working_days=days or batch.publicity_working_days, adjustments=batch.calendar,
            ),
            start_to_close_timeout=timedelta(seconds=30),
        )

    async def _cosign_dues(self) -> tuple[datetime, datetime]:
        """Rules 3: when a decision that will wait for co-signature reminds the co-signer,
        and when it is overdue (working days, so from the calendar activity)."""
        batch = self._state.batch
        answer = await workflow.execute_activity(
            working_days_after,
            WorkingDaysRequest(
                project_id=self._state.project.project_id, start=workflow.now(),
                working_days=[batch.cosign_reminder_working_days,
                              batch.cosign_overdue_working_days],
                adjustments=batch.calendar),
            start_to_close_timeout=timedelta(seconds=30),
        )
        remind, overdue = answer.ends_at
        return remind, overdue

    def _after_change(self) -> None:
        self._changed = True
        self._publish()
        for note in self._state.drain_outbox():
            self._notifications.append(asyncio.create_task(self._notify(note)))

    def _after_change_notify_end(self) -> None:
        """Tell the applicant how the project ended, and by which rule or decision."""
        end = self._state.end
        assert end is not None
        project = self._state.project
        note = Notification(
            project_id=project.project_id, to_role=Role.APPLICANT, to_unit=project.applicant_unit,
            kind="project_ended",
            message_zh=f"项目“{project.title}”已结束：{end.label_zh}（{end.rule}）",
            message_en=f"project {project.project_id} ended: {end.stage.value} ({end.rule})")
        self._notifications.append(asyncio.create_task(self._notify(note)))

    async def _notify(self, note: Notification) -> None:
        try:
            await workflow.execute_activity_method(
                NotifyActivities.notify, note, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_NOTIFY_RETRY,
            )
        except ActivityError as exc:  # a lost reminder must not stop the project
            self._emit("notification.failed", kind=note.kind, error=str(exc.cause))

    def _publish(self) -> None:
        """Upsert the search attributes whose value changed."""
        st = self._state
        now = workflow.now()
        wanted: dict[str, object] = {
            sa.STAGE.name: st.stage.value,
            sa.BATCH.name: st.batch.batch_id,
            sa.PRESET.name: st.preset.name.value,
            sa.CITY.name: st.project.city_code,
            sa.COUNTY.name: st.project.county_code,
            sa.TASK.name: st.project.task_code,
            sa.WAITING_ON.name: st.waiting_on(now),
            sa.NEXT_DEADLINE.name: st.next_deadline(),
        }
        keys = {k.name: k for k in sa.ALL}
        updates = []
        for name, value in wanted.items():
            if self._published.get(name, ...) == value:
                continue
            key = keys[name]
            if value is None or value == []:
                updates.append(key.value_unset())
            else:
                updates.append(key.value_set(value))  # type: ignore[arg-type]
            self._published[name] = value
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(current_details(  # shown in the UI; not a command
            st.stage, wanted[sa.WAITING_ON.name], wanted[sa.NEXT_DEADLINE.name], st.end))  # type: ignore[arg-type]

    def _info(self, event: str, record: DecisionRecord) -> None:
        self._emit(
            event, seq=record.seq, action=record.action, actor=record.actor.user_id,
            role=record.actor.role.value, region=record.actor.region,
            stage_before=record.stage_before.value, stage_after=record.stage_after.value,
            note=record.note or None,
        )

    def _emit(self, event: str, level: str = "info", **fields: object) -> None:
        """Log once, not again on every replay; structlog's clock is outside the sandbox."""
        if workflow.unsafe.is_replaying():
            return
        with workflow.unsafe.sandbox_unrestricted():
            getattr(self._log, level)(event, **fields)
