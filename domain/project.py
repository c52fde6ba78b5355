"""One project's state and the gate every decision passes, as pure code.

`ProjectState` is the facade the workflow calls: it holds the project's data
(`ProjectData`, a plain serializable model) and answers with the rules in
`domain.rules` and the decision table in `domain.lifecycle`: may this decision be made
now? what is due next? who is it waiting on? It applies what the workflow tells it
happened (a decision accepted, a timer fired, a deadline changed). It never reads the
clock: `now` is always passed in, so the same calls give the same answers on replay.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ValidationError

from domain import payloads as p
from domain.actions import (
    CURRENT_RULES,
    EXTEND_DEADLINE,
    SET_LOCAL_DEADLINE,
    Action,
    DeadlineKind,
)
from domain.batch import BatchPolicy, ProjectInput
from domain.clock import iso_local
from domain.decisions import SYSTEM_ACTOR, Actor, Decision, DecisionOutcome, DecisionRecord
from domain.jurisdiction import Place, may_decide
from domain.lifecycle import Lifecycle, Move, lifecycle_for, payload_example, spec_of
from domain.places import quota_rank
from domain.presets import Preset
from domain.project_data import ProjectData
from domain.refusals import Refusal, RefusalKind, Refused, describe_error, refusal
from domain.roles import Role
from domain.rules import cosign, explain, idempotency
from domain.rules.alarms import Alarm, alarms, deadline_views, next_alarm, next_deadline
from domain.rules.checks import input_refusal
from domain.rules.effects import Happening
from domain.rules.guards import NO_COSIGN_PENDING
from domain.stages import Stage
from domain.views import (
    EndInfo,
    Notification,
    PendingCosign,
    ProjectContent,
    ProjectView,
    ReadModelView,
)

__all__ = ["Alarm", "ProjectState", "payload_example"]


class ProjectState:
    def __init__(self, project: ProjectInput, created_at: datetime,
                 rules: int = CURRENT_RULES) -> None:
        self.data = ProjectData.new(project, created_at, rules)
        self.lifecycle: Lifecycle = lifecycle_for(project.batch.policy, rules)
        self._place = Place(city_code=project.city_code, county_code=project.county_code,
                            applicant_unit=project.applicant_unit)
        self._open_cache: tuple[tuple[int, datetime], list[Move]] | None = None

    # -- the data, as the workflow and the auditors read it -------------------------------

    @property
    def project(self) -> ProjectInput:
        return self.data.project

    @property
    def batch(self) -> BatchPolicy:
        return self.data.batch

    @property
    def preset(self) -> Preset:
        return self.data.preset

    @property
    def stage(self) -> Stage:
        return self.data.stage

    @property
    def ended(self) -> bool:
        return self.data.stage.is_end

    @property
    def log(self) -> list[DecisionRecord]:
        return self.data.log

    @property
    def content(self) -> ProjectContent:
        return self.data.content

    @property
    def end(self) -> EndInfo | None:
        return self.data.end

    @property
    def was_selected(self) -> bool:
        return self.data.was_selected

    @property
    def pending_cosign(self) -> PendingCosign | None:
        return self.data.pending_cosign

    def deadline(self, kind: DeadlineKind) -> datetime:
        return self.data.deadline(kind)

    def outcome_for(self, request_id: str) -> DecisionOutcome | None:
        return self.data.outcomes.get(request_id)

    # -- the gate -------------------------------------------------------------------------

    def assess(self, d: Decision, now: datetime) -> Refusal | None:
        """Why this decision may not be made now, or None. Changes nothing."""
        data = self.data
        if d.request_id in data.seq_by_request:
            return idempotency.reuse(data, d)  # None: a retry, answered with the first outcome
        role = d.actor.role
        spec = spec_of(d.action)
        if spec is None:
            return explain.unknown_action(d.action, self.allowed(role, now))
        if spec.system:
            return explain.system_only()
        if not self.lifecycle.knows(d.action):
            return explain.not_in_preset(data, d.action)
        if role not in self.lifecycle.roles_for(d.action):
            return explain.wrong_role(role, d.action)
        if not may_decide(d.actor, self._place):
            return explain.outside_jurisdiction()
        if data.end is not None:
            return explain.ended(data)
        move = self.lifecycle.move(d.action, data.stage)
        closing = move.deadline if move else self.lifecycle.deadline_of(d.action)
        if closing is not None and now >= data.deadline(closing):
            return explain.deadline_passed(data, closing)
        if move is None:
            return explain.wrong_stage(data, d.action, self.allowed(role, now))
        if role not in move.roles:
            return explain.role_not_in_stage(data, role, d.action, self.allowed(role, now))
        for guard in move.guards:
            if not guard.holds(data, now):
                return refusal(guard.rule, RefusalKind.RULE, guard.zh, guard.en,
                               self.allowed(role, now))
        if d.action == Action.CONCUR:
            problem = self._concurrence_refusal(role, now)
            if problem is not None:
                return problem
        return self._check_content(d, now)

    def _concurrence_refusal(self, role: Role, now: datetime) -> Refusal | None:
        """A concurrence makes the pending decision take effect: its own guards must hold
        now (the expert panel may have changed while the selection waited). Refused, it
        waits on: the panel completes its scores, or the decider retracts."""
        pending = self.data.pending_decision
        original = self.lifecycle.move(pending.action, self.data.stage) if pending else None
        if original is None:
            return refusal("LIFECYCLE", RefusalKind.STAGE, "待会签的决定在当前阶段已不能生效",
                           "the pending decision can no longer take effect in this stage",
                           self.allowed(role, now))
        for guard in original.guards:
            if guard is not NO_COSIGN_PENDING and not guard.holds(self.data, now):
                return refusal(guard.rule, RefusalKind.RULE,
                               f"待会签的决定目前不能生效：{guard.zh}",
                               f"the pending decision cannot take effect now: {guard.en}",
                               self.allowed(role, now))
        return None

    def _check_content(self, d: Decision, now: datetime) -> Refusal | None:
        """The decision's own data: payload schema, reason, then the decision's checks."""
        spec = spec_of(d.action)
        assert spec is not None
        try:
            payload: BaseModel = spec.payload.model_validate(d.payload)
        except ValidationError as exc:
            zh, en = describe_error(exc.errors()[0], "payload")
            return input_refusal(f"决定内容不符合要求：{zh}",
                                 f"the decision's payload is invalid: {en}")
        if spec.reason_required and not d.reason.strip():
            return input_refusal("此决定须填写理由", "this decision needs a reason")
        for check in spec.checks:
            problem = check(self.data, d, payload)
            if problem is not None:
                return problem
        return None

    def allowed(self, role: Role, now: datetime) -> list[str]:
        """The decisions `role` could make right now (guards and deadlines included)."""
        return [m.trigger.value for m in self._open_moves(now) if role in m.roles]

    def allowed_by_role(self, now: datetime) -> dict[str, list[str]]:
        open_moves = self._open_moves(now)
        return {
            r.value: acts for r in Role
            if r is not Role.SYSTEM
            and (acts := [m.trigger.value for m in open_moves if r in m.roles])
        }

    def _open_moves(self, now: datetime) -> list[Move]:
        """The moves a person could make now: each move's deadline and guards checked
        once, not once per role (this runs on every change and every query)."""
        # Every change of state ends in a record, so the log's length and the instant
        # identify the answer: one workflow activation asks several times (the search
        # attributes, the outcome, the projection) and gets it computed once.
        data = self.data
        key = (len(data.log), now)
        if self._open_cache is not None and self._open_cache[0] == key:
            return self._open_cache[1]
        moves = [] if self.ended else [
            move for move in self.lifecycle.moves_from(data.stage)
            if Role.SYSTEM not in move.roles
            and (move.deadline is None or now < data.deadline(move.deadline))
            and all(g.holds(data, now) for g in move.guards)
        ]
        self._open_cache = (key, moves)
        return moves

    def waiting_on(self, now: datetime,
                   allowed: dict[str, list[str]] | None = None) -> list[str]:
        """The roles that can move the project now; empty while only a timer can."""
        if self.data.pending_cosign is not None:
            return [self.data.pending_cosign.cosigner.value]
        roles = self.allowed_by_role(now) if allowed is None else allowed
        return [r for r, acts in roles.items() if any(not _passive(a) for a in acts)]

    # -- time -----------------------------------------------------------------------------

    def alarms(self) -> list[Alarm]:
        """What the workflow must wake for, given the current stage."""
        return alarms(self.data)

    def next_alarm(self) -> Alarm | None:
        return next_alarm(self.data)

    def next_deadline(self) -> datetime | None:
        return next_deadline(self.data)

    # -- changes --------------------------------------------------------------------------

    def apply(
        self, d: Decision, now: datetime, *, publicity_end: datetime | None = None,
        cosign_dues: tuple[datetime, datetime] | None = None,
    ) -> DecisionRecord:
        """Record an accepted decision and make its move. Raises Refused if not allowed.
        `cosign_dues`: the reminder and overdue instants of a decision that will wait for
        co-signature (rules 3; working days, from the calendar activity)."""
        problem = self.assess(d, now)
        if problem is not None:
            raise Refused(problem)
        data = self.data
        earlier = idempotency.earlier_record(data, d.request_id)
        if earlier is not None:
            return earlier
        move = self.lifecycle.move(d.action, data.stage)
        assert move is not None  # assess() refuses decisions without a move
        before = data.stage
        if move.needs_cosign(self.preset):
            assert move.cosigner is not None
            note = cosign.hold(data, d, move.cosigner, now, cosign_dues)
            return self._record(d, now, before, note=note)
        if d.action == Action.CONCUR:
            pending, original = cosign.release(data)
            original_move = self.lifecycle.move(original.action, data.stage)
            assert original_move is not None
            # Guards are checked again, co-signature now present.
            self._take(original_move, original, Happening(now), now)
            return self._record(d, now, before, rule=original_move.rule,
                                note=cosign.concur_note(pending, original))
        if d.action == Action.RETRACT:
            pending, _original = cosign.release(data)
            return self._record(d, now, before, note=cosign.retract_note(pending))
        if d.action == Action.DISSENT:
            pending, _original = cosign.release(data)
            return self._record(d, now, before, note=cosign.dissent_note(pending))
        note = self._take(move, d, Happening(now, publicity_end), now)
        return self._record(d, now, before, rule=move.rule, note=note)

    def needs_cosign(self, d: Decision) -> bool:
        """Whether the decision, if accepted now, would wait for a co-signature."""
        move = self.lifecycle.move(d.action, self.data.stage)
        return move is not None and move.needs_cosign(self.preset)

    def admission(self, now: datetime) -> Action:
        """Which level a submission is admitted to (R9): the first whose guards hold."""
        for action in (Action.ADMIT, Action.ADMIT_TO_CITY):
            move = self.lifecycle.move(action, self.data.stage)
            if move is not None and all(g.holds(self.data, now) for g in move.guards):
                return action
        raise RuntimeError(f"no admission from {self.data.stage}")

    def fire_system(self, trigger: str, now: datetime, key: int = 0) -> DecisionRecord:
        """A timer fired (or the system admitted a submission): record and move."""
        data = self.data
        move = self.lifecycle.move(trigger, data.stage)
        if move is None:
            raise RuntimeError(f"system step {trigger} not possible in {data.stage}")
        before = data.stage
        action = str(trigger)
        d = Decision(request_id=f"system:{action}:{key}:{data.next_seq}",
                     action=action, actor=SYSTEM_ACTOR, reason=move.label_zh,
                     payload={"key": key} if key else {})
        note = self._take(move, d, Happening(now), now)
        return self._record(d, now, before, rule=move.rule, note=note)

    def _take(self, move: Move, d: Decision, happening: Happening, now: datetime) -> str:
        """Make the move: guards hold (the state before the decision), the stage follows
        the table, then the decision's effect. Returns a note for the record."""
        data = self.data
        if not all(g.holds(data, now) for g in move.guards):
            raise RuntimeError(f"{move.trigger} not possible in {data.stage}")
        note = ""
        if move.dest is not None and move.dest is not data.stage:
            data.stage = move.dest
            if data.rules >= 2 and data.pending_cosign is not None:
                # E1: leaving the stage voids its pending co-signature (R8): a return
                # releases the quota row, and the old concurrence must not revive it.
                pending, _original = cosign.release(data)
                note = cosign.void_note(pending)
        spec = spec_of(d.action)
        if spec is not None and spec.effect is not None:
            spec.effect(data, d, happening)
        return note

    def settle(self, request_id: str, now: datetime) -> DecisionOutcome:
        """The answer for a decision, fixed the first time so that retries get the same."""
        data = self.data
        cached = data.outcomes.get(request_id)
        if cached is not None:
            return cached
        record = idempotency.earlier_record(data, request_id)
        assert record is not None
        outcome = DecisionOutcome(
            request_id=request_id, seq=record.seq, stage_before=record.stage_before,
            stage=data.stage, stage_label_zh=data.stage.label_zh, note=record.note,
            allowed=self.allowed_by_role(now),
        )
        data.outcomes[request_id] = outcome
        return outcome

    def change_deadline(
        self, request_id: str, actor: Actor, scope: str, new: datetime, reason: str,
        now: datetime,
    ) -> DecisionRecord | None:
        """A batch extension or an earlier local deadline; recorded even when ignored."""
        if request_id in self.data.seq_by_request or self.ended:
            return None
        note = self._deadline_change_note(actor, scope, new, now)
        action = EXTEND_DEADLINE if scope == "batch" else SET_LOCAL_DEADLINE
        d = Decision(request_id=request_id, action=action, actor=actor, reason=reason,
                     payload={"scope": scope, "new_deadline": new.isoformat()})
        return self._record(d, now, self.stage, note=note, rule="R10")

    def _deadline_change_note(self, actor: Actor, scope: str, new: datetime,
                              now: datetime) -> str:
        data = self.data
        if scope == "batch":
            if actor.role is not Role.PROVINCE:
                return "ignored: 只有省工信厅可以调整批次截止时间"
            if data.rules >= 2 and now >= data.close_at:
                # E10: after the close, projects it ended stay ended; an extension then
                # would reopen some and not others, so it is refused.
                return (f"ignored: 批次已于{iso_local(data.close_at)}关闭，不能再延长 / "
                        "the batch has closed; it can no longer be extended")
            if new <= data.close_at:
                return "ignored: 批次截止时间只能延长 / the batch deadline can only be extended"
            data.close_at = new
            return f"截止时间延长至{iso_local(new)}"
        if actor.role not in (Role.CITY, Role.COUNTY) or actor.region != scope:
            return "ignored: 只有本地工信局可以设定本地截止时间"
        if scope not in (data.project.city_code, data.project.county_code):
            return "ignored: 不适用于本项目所在地区"
        if new > data.close_at:
            return "ignored: 地方截止时间不得晚于全省截止时间 / never later than the batch's"
        data.local_deadlines[scope] = new
        return f"本地申报截止时间设为{iso_local(new)}"

    def record_event(self, d: Decision, now: datetime, note: str, rule: str) -> DecisionRecord:
        """Something done to the project from outside the programme (a cancel request
        from Temporal, domain.outside): in the log with its note; nothing else changes."""
        return self._record(d, now, self.stage, note=note, rule=rule)

    def drain_outbox(self) -> list[Notification]:
        out, self.data.outbox = self.data.outbox, []
        return out

    def _record(
        self, d: Decision, now: datetime, before: Stage, *, note: str = "", rule: str | None = None
    ) -> DecisionRecord:
        data = self.data
        record = DecisionRecord(
            seq=data.next_seq, request_id=d.request_id, action=d.action, actor=d.actor,
            at=now, reason=d.reason, evidence=d.evidence, payload=d.payload,
            stage_before=before, stage_after=data.stage, note=note, rule=rule,
        )
        data.log.append(record)
        if data.stage is not before or data.stage_since is None:
            data.stage_since, data.province_reminded = now, False
        if data.stage.is_selected:
            data.was_selected = True
        idempotency.remember(data, d, record)
        if data.rules >= 2 and data.stage in (Stage.REVOKED, Stage.TERMINATED, Stage.CLAWBACK):
            data.reserve_pool = False  # R14's register keeps no revoked or ended project
        if data.stage.is_end and data.end is None:
            data.end = EndInfo(stage=data.stage, label_zh=data.stage.label_zh,
                               rule=rule or "DECISION", action=d.action, seq=record.seq,
                               at=now, reason=d.reason)
        return record

    # -- the views ------------------------------------------------------------------------

    def view(self, now: datetime) -> ProjectView:
        data, project = self.data, self.data.project
        allowed = self.allowed_by_role(now)
        return ProjectView(
            project_id=project.project_id, title=data.content.title,
            batch_id=data.batch.batch_id, preset=data.preset.name,
            task_code=project.task_code, city_code=project.city_code,
            county_code=project.county_code, applicant_unit=project.applicant_unit,
            application=data.content.application,
            documents=data.content.documents, stage=data.stage,
            stage_label_zh=data.stage.label_zh, end=data.end,
            deadlines=deadline_views(data), next_deadline=self.next_deadline(),
            allowed=allowed, waiting_on=self.waiting_on(now, allowed),
            pending_cosign=data.pending_cosign, rank=data.rank, experts=data.experts,
            objections=data.objections, publicity_end=data.publicity_end,
            implementation_started_at=data.implementation_started_at,
            halfyear_passed=data.halfyear_passed, early_acceptance=data.early_acceptance,
            archives=data.archives, archives_overdue=sorted(data.archives_overdue),
            changes=data.changes, verified_investment_cny=data.verified_investment_cny,
            subsidy_amount_cny=data.subsidy_amount_cny, disbursed_at=data.disbursed_at,
            reserve_pool=data.reserve_pool, subsidy_to_reclaim=data.subsidy_to_reclaim,
            decisions=len(data.log), quota_rank=self.quota_rank,
            was_selected=data.was_selected, rules=data.rules, baselines=data.baselines,
            voided_scores=data.voided_scores, findings=data.findings,
            rectify_due=data.rectify_due, termination=data.termination,
            early_acceptance_requested=data.early_acceptance_requested, award=data.award,
            disbursement=data.disbursement, supervision_ends_at=data.supervision_ends_at,
            clawback=data.clawback,
        )

    def read_model(self, now: datetime) -> ReadModelView:
        """What the projection stores (see ReadModelView): the same values as view()."""
        data = self.data
        return ReadModelView(
            project_id=data.project.project_id, stage=data.stage,
            stage_label_zh=data.stage.label_zh, end_rule=data.end.rule if data.end else None,
            rank=data.rank, experts=data.experts,
            verified_investment_cny=data.verified_investment_cny,
            subsidy_amount_cny=data.subsidy_amount_cny, disbursed_at=data.disbursed_at,
            reserve_pool=data.reserve_pool, waiting_on=self.waiting_on(now),
            next_deadline=self.next_deadline(), quota_rank=self.quota_rank,
            was_selected=data.was_selected, baselines=data.baselines)

    @property
    def quota_rank(self) -> int | None:
        """The rank the city's quota row holds: the recommendation's, or while it awaits
        the finance bureau's co-signature, the pending one's (R8)."""
        data = self.data
        rank = data.rank
        pending = data.pending_decision
        if rank is None and pending is not None and pending.action == Action.CITY_RECOMMEND:
            rank = p.Recommend.model_validate(pending.payload).rank
        return quota_rank(data.stage, rank=rank, was_selected=data.was_selected)


def _passive(action: str) -> bool:
    spec = spec_of(action)
    return spec is not None and spec.passive
