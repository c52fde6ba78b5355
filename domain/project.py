"""One project's state and every rule the workflow applies to it, as pure code.

`ProjectState` answers the workflow's questions (may this decision be made now? what is
due next? who is it waiting on?) and applies what the workflow tells it happened
(a decision accepted, a timer fired, a deadline changed). It never reads the clock:
`now` is always passed in, so the same calls give the same answers on replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from domain import payloads as p
from domain.batch import ProjectInput
from domain.clock import add_months, iso_local
from domain.decisions import SYSTEM_ACTOR, Actor, Decision, DecisionOutcome, DecisionRecord
from domain.lifecycle import GUARDS, SYSTEM_TRIGGERS, TRIGGERS, DeadlineKind, Move, lifecycle_for
from domain.places import quota_rank
from domain.refusals import (
    IDEMPOTENCY,
    INPUT,
    JURISDICTION,
    LIFECYCLE,
    ROLE,
    Refusal,
    RefusalKind,
    Refused,
    describe_error,
    refusal,
)
from domain.roles import Role
from domain.stages import Stage
from domain.views import (
    ArchiveEntry,
    ChangeRequest,
    DeadlineView,
    DocumentRef,
    EndInfo,
    Notification,
    Objection,
    PendingCosign,
    ProjectContent,
    ProjectView,
    ReadModelView,
)


@dataclass(frozen=True, order=True)
class Alarm:
    """A moment the workflow must wake up at, and what it then does."""

    at: datetime
    trigger: str
    key: int = 0
    # A deadline (shown to operators as 'next deadline') rather than a reminder.
    is_deadline: bool = True


class _StageHolder:
    """The model object `transitions` drives; it holds only the stage name."""

    state: str


class ProjectState:
    def __init__(self, project: ProjectInput, created_at: datetime) -> None:
        self.project = project
        self.batch = project.batch
        self.preset = project.batch.policy
        self.lifecycle = lifecycle_for(self.preset)
        self.created_at = created_at
        self._holder = _StageHolder()
        from domain.lifecycle import build_machine  # local: keeps import cost visible here

        self._machine = build_machine(
            self.lifecycle, self._holder, Stage.DRAFT, lambda name: lambda: self._guard(name)
        )
        self.close_at: datetime = project.batch.close_at
        self.local_deadlines: dict[str, datetime] = {}
        self.log: list[DecisionRecord] = []
        self._seq_by_request: dict[str, int] = {}
        self._fingerprints: dict[str, str] = {}
        self._outcomes: dict[str, DecisionOutcome] = {}
        self.pending_cosign: PendingCosign | None = None
        self._pending_decision: Decision | None = None
        self.rank: int | None = None
        self.experts: dict[str, float | None] = {}
        self.objections: list[Objection] = []
        self.publicity_opened_at: datetime | None = None
        self.publicity_end: datetime | None = None
        self.implementation_started_at: datetime | None = None
        self.halfyear_passed = False
        self.early_acceptance = False
        self.archives: list[ArchiveEntry] = []
        self.archives_reminded: set[int] = set()
        self.archives_overdue: set[int] = set()
        self.changes: list[ChangeRequest] = []
        self.verified_investment_cny: float | None = None
        self.subsidy_amount_cny: float | None = None
        self.disbursed_at: datetime | None = None
        self.reserve_pool = False
        self.subsidy_to_reclaim = False
        self.end: EndInfo | None = None
        # The applicant's content (title, application, documents).
        self.content = ProjectContent(title=project.title, application=project.application)
        self.was_selected = False
        # Side effects for the workflow to carry out (notifications); it drains this.
        self.outbox: list[Notification] = []
        self._open_cache: tuple[tuple[int, datetime], list[Move]] | None = None

    # -- questions ------------------------------------------------------------------------

    @property
    def stage(self) -> Stage:
        return Stage(self._holder.state)

    @property
    def ended(self) -> bool:
        return self.stage.is_end

    def deadline(self, kind: DeadlineKind) -> datetime:
        if kind is DeadlineKind.BATCH:
            return self.close_at
        return min([self.close_at, *self.local_deadlines.values()])

    def outcome_for(self, request_id: str) -> DecisionOutcome | None:
        return self._outcomes.get(request_id)

    def assess(self, d: Decision, now: datetime) -> Refusal | None:
        """Why this decision may not be made now, or None. Changes nothing."""
        seen = self._seq_by_request.get(d.request_id)
        if seen is not None:
            if self._fingerprints.get(d.request_id) == d.fingerprint():
                return None  # a retry: the workflow answers with the first outcome
            first = self.log[seen - 1].action
            return refusal(
                IDEMPOTENCY, RefusalKind.IDEMPOTENCY,
                f"请求编号 {d.request_id} 已用于另一项决定（{first}）",
                f"request id {d.request_id} was already used for a different decision ({first})",
            )
        role = d.actor.role
        if d.action not in TRIGGERS:
            return refusal(
                INPUT, RefusalKind.INPUT, f"未知的决定类型：{d.action}",
                f"unknown action: {d.action}", self.allowed(role, now),
            )
        if d.action in SYSTEM_TRIGGERS:
            return refusal(
                ROLE, RefusalKind.ROLE, "该事项由系统按时限自动执行，不能人工提交",
                "this step is taken by the system when its time comes, not by a person",
            )
        if not self.lifecycle.knows(d.action):
            return refusal(
                LIFECYCLE, RefusalKind.STAGE,
                f"本批次（{self.preset.name}年政策）没有此环节：{d.action}",
                f"the {self.preset.name} preset of this batch has no step {d.action}",
            )
        if role not in self.lifecycle.roles_for(d.action):
            return refusal(
                ROLE, RefusalKind.ROLE, f"{role.label_zh}无权作出此决定（{d.action}）",
                f"the role {role.value} may not make the decision {d.action}",
            )
        outside = self._outside_jurisdiction(d.actor)
        if outside is not None:
            return outside
        if self.end is not None:
            return self._ended_refusal()
        move = self.lifecycle.move(d.action, self.stage)
        closing = move.deadline if move else self.lifecycle.deadline_of(d.action)
        if closing is not None and now >= self.deadline(closing):
            return self._deadline_refusal(closing)
        if move is None:
            return self._stage_refusal(d.action, role, now)
        if role not in move.roles:
            # The role makes this decision, only not in this stage (the city finance
            # bureau co-signs in city review, not in provincial review): a stage refusal.
            return refusal(
                LIFECYCLE, RefusalKind.STAGE,
                f"在“{self.stage.label_zh}”阶段，{role.label_zh}不能作出此决定",
                f"in stage {self.stage.value} the role {role.value} may not {d.action}",
                self.allowed(role, now),
            )
        for name in move.guards:
            if not self._guard(name, now):
                g = GUARDS[name]
                return refusal(g.rule, RefusalKind.RULE, g.zh, g.en, self.allowed(role, now))
        return self._check_content(d, move, now)

    def allowed(self, role: Role, now: datetime) -> list[str]:
        """The decisions `role` could make right now (guards and deadlines included)."""
        return [m.trigger for m in self._open_moves(now) if role in m.roles]

    def allowed_by_role(self, now: datetime) -> dict[str, list[str]]:
        open_moves = self._open_moves(now)
        return {
            r.value: acts
            for r in Role
            if r is not Role.SYSTEM and (acts := [m.trigger for m in open_moves if r in m.roles])
        }

    def _open_moves(self, now: datetime) -> list[Move]:
        """The moves a person could make now: each move's deadline and guards checked
        once, not once per role (this runs on every change and every query)."""
        # Every change of state ends in a record (_record), so the log's length and the
        # instant identify the answer: one workflow activation asks several times (the
        # search attributes, the outcome, the projection) and gets it computed once.
        key = (len(self.log), now)
        if self._open_cache is not None and self._open_cache[0] == key:
            return self._open_cache[1]
        moves = [] if self.ended else [
            move for move in self.lifecycle.moves_from(self.stage)
            if move.trigger not in SYSTEM_TRIGGERS
            and (move.deadline is None or now < self.deadline(move.deadline))
            and all(self._guard(g, now) for g in move.guards)
        ]
        self._open_cache = (key, moves)
        return moves

    def waiting_on(self, now: datetime,
                   allowed: dict[str, list[str]] | None = None) -> list[str]:
        """The roles that can move the project now; empty while only a timer can."""
        if self.pending_cosign is not None:
            return [self.pending_cosign.cosigner.value]
        roles = self.allowed_by_role(now) if allowed is None else allowed
        passive = {"withdraw", "revoke", "edit_application", "raise_objection", "request_change",
                   "submit_archive", "request_early_acceptance", "attach_document"}
        return [r for r, acts in roles.items() if any(a not in passive for a in acts)]

    def alarms(self) -> list[Alarm]:
        """What the workflow must wake for, given the current stage."""
        s = self.stage
        if s in (Stage.DRAFT, Stage.RETURNED):
            return [Alarm(self.deadline(DeadlineKind.APPLICANT), "submission_closed")]
        if s in (Stage.SUBMITTED, Stage.COUNTY_REVIEW, Stage.CITY_REVIEW, Stage.RECOMMENDED):
            return [Alarm(self.close_at, "recommendation_closed")]
        if s is Stage.PUBLICITY and self.publicity_end and not self._objection_pending():
            return [Alarm(self.publicity_end, "publicity_ended")]
        if s is Stage.IMPLEMENTATION:
            return self._implementation_alarms()
        return []

    def next_alarm(self) -> Alarm | None:
        return min(self.alarms(), default=None)

    def next_deadline(self) -> datetime | None:
        return min((a.at for a in self.alarms() if a.is_deadline), default=None)

    def deadlines(self) -> list[DeadlineView]:
        """Every deadline the project has or had, with its instant."""
        out = [
            DeadlineView(kind="applicant_close", at=self.deadline(DeadlineKind.APPLICANT),
                         label_zh="申报单位提交截止", label_en="applicant submission close"),
            DeadlineView(kind="batch_close", at=self.close_at,
                         label_zh="系统关闭（推荐截止）", label_en="system closes (R10)"),
        ]
        if self.publicity_end:
            out.append(DeadlineView(kind="publicity_end", at=self.publicity_end,
                                    label_zh="公示期满", label_en="publicity ends"))
        start = self.implementation_started_at
        if start:
            if self.preset.halfyear_acceptance:
                out.append(DeadlineView(
                    kind="halfyear_acceptance_opens",
                    at=add_months(start, self.batch.halfyear_after_months),
                    label_zh="半年期验收开始", label_en="half-year acceptance opens"))
            out.append(DeadlineView(
                kind="final_acceptance_opens", at=self._final_opens(),
                label_zh="一年期验收开始", label_en="one-year acceptance opens"))
            for k, due in self._archive_dues():
                out.append(DeadlineView(kind=f"archive_{k}_due", at=due,
                                        label_zh=f"第{k}期过程档案提交截止",
                                        label_en=f"process archive {k} due"))
        return out

    # -- changes --------------------------------------------------------------------------

    def apply(
        self, d: Decision, now: datetime, *, publicity_end: datetime | None = None
    ) -> DecisionRecord:
        """Record an accepted decision and make its move. Raises Refused if not allowed."""
        problem = self.assess(d, now)
        if problem is not None:
            raise Refused(problem)
        seen = self._seq_by_request.get(d.request_id)
        if seen is not None:
            return self.log[seen - 1]
        move = self.lifecycle.move(d.action, self.stage)
        assert move is not None  # assess() refuses decisions without a move
        before = self.stage
        if move.needs_cosign(self.preset):
            assert move.cosigner is not None
            self.pending_cosign = PendingCosign(
                action=d.action, seq=len(self.log) + 1, decided_by=d.actor,
                cosigner=move.cosigner, at=now,
            )
            self._pending_decision = d
            return self._record(d, now, before,
                                note=f"待{move.cosigner.label_zh}会签 / awaiting co-signature")
        if d.action == "concur":
            return self._concur(d, now, before)
        if d.action == "dissent":
            assert self.pending_cosign is not None
            action = self.pending_cosign.action
            self.pending_cosign, self._pending_decision = None, None
            return self._record(d, now, before, note=f"财政部门不同意：{action}（决定未生效）")
        self._fire(d.action)
        self._effect(d, now, publicity_end)
        return self._record(d, now, before, rule=move.rule)

    def fire_system(self, trigger: str, now: datetime, key: int = 0) -> DecisionRecord:
        """A timer fired (or the system admitted a submission): record and move."""
        move = self.lifecycle.move(trigger, self.stage)
        if move is None or not all(self._guard(g, now) for g in move.guards):
            raise RuntimeError(f"system step {trigger} not possible in {self.stage}")
        before = self.stage
        d = Decision(request_id=f"system:{trigger}:{key}:{len(self.log) + 1}",
                     action=trigger, actor=SYSTEM_ACTOR, reason=move.label_zh,
                     payload={"key": key} if key else {})
        self._fire(trigger)
        self._effect(d, now, None)
        return self._record(d, now, before, rule=move.rule)

    def settle(self, request_id: str, now: datetime) -> DecisionOutcome:
        """The answer for a decision, fixed the first time so that retries get the same."""
        cached = self._outcomes.get(request_id)
        if cached is not None:
            return cached
        record = self.log[self._seq_by_request[request_id] - 1]
        outcome = DecisionOutcome(
            request_id=request_id, seq=record.seq, stage_before=record.stage_before,
            stage=self.stage, stage_label_zh=self.stage.label_zh, note=record.note,
            allowed=self.allowed_by_role(now),
        )
        self._outcomes[request_id] = outcome
        return outcome

    def change_deadline(
        self, request_id: str, actor: Actor, scope: str, new: datetime, reason: str,
        now: datetime,
    ) -> DecisionRecord | None:
        """A batch extension or an earlier local deadline; recorded even when ignored."""
        if request_id in self._seq_by_request or self.ended:
            return None
        note = self._deadline_change_note(actor, scope, new)
        action = "extend_deadline" if scope == "batch" else "set_local_deadline"
        d = Decision(request_id=request_id, action=action, actor=actor, reason=reason,
                     payload={"scope": scope, "new_deadline": new.isoformat()})
        return self._record(d, now, self.stage, note=note, rule="R10")

    def record_event(self, d: Decision, now: datetime, note: str, rule: str) -> DecisionRecord:
        """Something done to the project from outside the programme (a cancel request
        from Temporal, domain.outside): in the log with its note; nothing else changes."""
        return self._record(d, now, self.stage, note=note, rule=rule)

    def drain_outbox(self) -> list[Notification]:
        out, self.outbox = self.outbox, []
        return out

    # -- the view -------------------------------------------------------------------------

    def view(self, now: datetime) -> ProjectView:
        allowed = self.allowed_by_role(now)
        return ProjectView(
            project_id=self.project.project_id, title=self.content.title,
            batch_id=self.batch.batch_id, preset=self.preset.name,
            task_code=self.project.task_code, city_code=self.project.city_code,
            county_code=self.project.county_code, applicant_unit=self.project.applicant_unit,
            application=self.content.application,
            documents=self.content.documents, stage=self.stage,
            stage_label_zh=self.stage.label_zh, end=self.end,
            deadlines=self.deadlines(), next_deadline=self.next_deadline(),
            allowed=allowed, waiting_on=self.waiting_on(now, allowed),
            pending_cosign=self.pending_cosign, rank=self.rank, experts=self.experts,
            objections=self.objections, publicity_end=self.publicity_end,
            implementation_started_at=self.implementation_started_at,
            halfyear_passed=self.halfyear_passed, early_acceptance=self.early_acceptance,
            archives=self.archives, archives_overdue=sorted(self.archives_overdue),
            changes=self.changes, verified_investment_cny=self.verified_investment_cny,
            subsidy_amount_cny=self.subsidy_amount_cny, disbursed_at=self.disbursed_at,
            reserve_pool=self.reserve_pool, subsidy_to_reclaim=self.subsidy_to_reclaim,
            decisions=len(self.log), quota_rank=self.quota_rank,
            was_selected=self.was_selected,
        )

    def read_model(self, now: datetime) -> ReadModelView:
        """What the projection stores (see ReadModelView): the same values as view()."""
        return ReadModelView(
            project_id=self.project.project_id, stage=self.stage,
            stage_label_zh=self.stage.label_zh, end_rule=self.end.rule if self.end else None,
            rank=self.rank, experts=self.experts,
            verified_investment_cny=self.verified_investment_cny,
            subsidy_amount_cny=self.subsidy_amount_cny, disbursed_at=self.disbursed_at,
            reserve_pool=self.reserve_pool, waiting_on=self.waiting_on(now),
            next_deadline=self.next_deadline(), quota_rank=self.quota_rank,
            was_selected=self.was_selected)

    @property
    def quota_rank(self) -> int | None:
        """The rank the city's quota row holds: the recommendation's, or while it awaits
        the finance bureau's co-signature, the pending one's (R8)."""
        rank = self.rank
        if rank is None and self._pending_decision is not None and \
                self._pending_decision.action == "city_recommend":
            rank = p.Recommend.model_validate(self._pending_decision.payload).rank
        return quota_rank(self.stage, rank=rank, was_selected=self.was_selected)

    # -- internals ------------------------------------------------------------------------

    def _fire(self, trigger: str) -> None:
        """Every move, internal ones included, goes through the machine and its guards;
        effects follow the move, so a guard sees the state before the decision."""
        if not self._holder.trigger(trigger):  # type: ignore[attr-defined]
            raise RuntimeError(f"transitions refused {trigger} from {self.stage}")

    def _record(
        self, d: Decision, now: datetime, before: Stage, *, note: str = "", rule: str | None = None
    ) -> DecisionRecord:
        record = DecisionRecord(
            seq=len(self.log) + 1, request_id=d.request_id, action=d.action, actor=d.actor,
            at=now, reason=d.reason, evidence=d.evidence, payload=d.payload,
            stage_before=before, stage_after=self.stage, note=note, rule=rule,
        )
        self.log.append(record)
        if self.stage.is_selected:
            self.was_selected = True
        self._seq_by_request[d.request_id] = record.seq
        self._fingerprints[d.request_id] = d.fingerprint()
        if self.stage.is_end and self.end is None:
            self.end = EndInfo(stage=self.stage, label_zh=self.stage.label_zh,
                               rule=rule or "DECISION", action=d.action, seq=record.seq,
                               at=now, reason=d.reason)
        return record

    def _concur(self, d: Decision, now: datetime, before: Stage) -> DecisionRecord:
        pending, original = self.pending_cosign, self._pending_decision
        assert pending is not None and original is not None
        self.pending_cosign, self._pending_decision = None, None
        move = self.lifecycle.move(original.action, self.stage)
        assert move is not None
        self._fire(original.action)  # guards are checked again, co-signature now present
        self._effect(original, now, None)
        return self._record(
            d, now, before, rule=move.rule,
            note=f"会签同意第{pending.seq}号决定（{original.action}）"
            f" / co-signed {original.action}",
        )

    def _effect(self, d: Decision, now: datetime, publicity_end: datetime | None) -> None:
        """What a decision changes besides the stage."""
        a, pl = d.action, d.payload
        if a == "edit_application":
            edit = p.EditApplication.model_validate(pl)
            if edit.title is not None:
                self.content.title = edit.title
            if edit.application is not None:
                self.content.application = edit.application
        elif a == "attach_document":
            doc = p.AttachDocument.model_validate(pl)
            self.content.documents.append(DocumentRef(seq=len(self.log) + 1,
                                                      **doc.model_dump()))
        elif a == "city_recommend":
            self.rank = p.Recommend.model_validate(pl).rank
        elif a == "assign_experts":
            for e in p.AssignExperts.model_validate(pl).experts:
                self.experts.setdefault(e.user_id, None)
        elif a == "score":
            self.experts[d.actor.user_id] = p.Score.model_validate(pl).score
        elif a == "open_publicity":
            if publicity_end is None:
                raise ValueError("open_publicity needs the publicity end from the calendar")
            self.publicity_opened_at, self.publicity_end = now, publicity_end
        elif a == "raise_objection":
            self.objections.append(Objection(seq=len(self.log) + 1, at=now, reason=d.reason))
        elif a in ("uphold_objection", "dismiss_objection"):
            pending = next(o for o in self.objections if o.status == "pending")
            pending.status = "upheld" if a == "uphold_objection" else "dismissed"
            pending.ruling_seq = len(self.log) + 1
        elif a == "publicity_ended":
            self.implementation_started_at = now
            self.reserve_pool = self.project.task_code in self.batch.carrier_tasks  # R14
        elif a == "submit_archive":
            title = p.Archive.model_validate(pl).title
            self.archives.append(ArchiveEntry(seq=len(self.log) + 1, at=now, title=title,
                                              evidence=d.evidence))
        elif a == "request_change":
            req = p.RequestChange.model_validate(pl)
            self.changes.append(ChangeRequest(seq=len(self.log) + 1, kind=req.kind,
                                              description=req.description))
        elif a == "city_approve_change":
            self._change("awaiting_city").status = "awaiting_province"
        elif a == "province_approve_change":
            self._change("awaiting_province").status = "approved"
        elif a == "reject_change":
            change = self._change("awaiting_city", "awaiting_province")
            change.status = f"rejected_by_{d.actor.role.value}"
        elif a == "pass_halfyear_acceptance":
            self.halfyear_passed = True
        elif a == "request_early_acceptance":
            self.early_acceptance = True
        elif a == "pass_acceptance":
            self.verified_investment_cny = p.Acceptance.model_validate(pl).verified_investment_cny
        elif a == "decide_subsidy":
            self.subsidy_amount_cny = p.Subsidy.model_validate(pl).amount_cny
        elif a == "record_disbursement":
            self.disbursed_at = now
        elif a == "revoke":
            self.subsidy_to_reclaim = self.subsidy_amount_cny is not None  # R18
        elif a in ("archive_reminder", "archive_overdue"):
            self._archive_alarm(a, int(pl["key"]))

    def _archive_alarm(self, action: str, k: int) -> None:
        due = dict(self._archive_dues())[k]
        if action == "archive_reminder":
            self.archives_reminded.add(k)
            zh = f"第{k}期过程档案将于{iso_local(due)}截止，请按时提交"
            en = f"process archive {k} is due at {iso_local(due)}"
        else:
            self.archives_overdue.add(k)
            zh = f"第{k}期过程档案已逾期（截止{iso_local(due)}）"
            en = f"process archive {k} is overdue (due {iso_local(due)})"
        self.outbox.append(Notification(
            project_id=self.project.project_id, to_role=Role.APPLICANT,
            to_unit=self.project.applicant_unit, kind=action, message_zh=zh, message_en=en))

    def _change(self, *statuses: str) -> ChangeRequest:
        return next(c for c in reversed(self.changes) if c.status in statuses)

    def _guard(self, name: str, now: datetime | None = None) -> bool:
        if name == "applicant_can_resubmit":
            return now is None or now < self.deadline(DeadlineKind.APPLICANT)
        if name == "awaiting_cosign":
            return self.pending_cosign is not None
        if name == "no_cosign_pending":
            return self.pending_cosign is None
        if name == "experts_reviewed":
            return bool(self.experts) and all(s is not None for s in self.experts.values())
        if name == "objection_pending":
            return self._objection_pending()
        if name == "no_objection_pending":
            return not self._objection_pending()
        if name == "halfyear_not_passed":
            return not self.halfyear_passed
        statuses = {c.status for c in self.changes}
        if name == "change_awaiting_city":
            return "awaiting_city" in statuses
        if name == "change_awaiting_province":
            return "awaiting_province" in statuses
        if name == "change_pending":
            return bool(statuses & {"awaiting_city", "awaiting_province"})
        if name == "no_change_pending":
            return not statuses & {"awaiting_city", "awaiting_province"}
        if name == "subsidy_decided":
            return self.subsidy_amount_cny is not None
        if name == "subsidy_not_decided":
            return self.subsidy_amount_cny is None
        raise KeyError(name)

    def _objection_pending(self) -> bool:
        return any(o.status == "pending" for o in self.objections)

    def _final_opens(self) -> datetime:
        assert self.implementation_started_at is not None
        return add_months(self.implementation_started_at, self.batch.final_after_months)

    def _archive_dues(self) -> list[tuple[int, datetime]]:
        if not self.preset.process_archives or self.implementation_started_at is None:
            return []
        step = timedelta(days=self.batch.archive_interval_days)
        final = self._final_opens()
        out, k = [], 1
        while (due := self.implementation_started_at + k * step) < final:
            out.append((k, due))
            k += 1
        return out

    def _implementation_alarms(self) -> list[Alarm]:
        start = self.implementation_started_at
        assert start is not None
        out = [Alarm(self._final_opens(), "open_final_acceptance")]
        if self.preset.halfyear_acceptance and not self.halfyear_passed:
            out.append(Alarm(add_months(start, self.batch.halfyear_after_months),
                             "open_halfyear_acceptance"))
        remind = timedelta(days=self.batch.archive_reminder_days)
        for k, due in self._archive_dues():
            if len(self.archives) >= k:
                continue
            if k not in self.archives_reminded:
                out.append(Alarm(due - remind, "archive_reminder", k, is_deadline=False))
            if k not in self.archives_overdue:
                out.append(Alarm(due, "archive_overdue", k))
        return out

    def _outside_jurisdiction(self, actor: Actor) -> Refusal | None:
        proj, role = self.project, actor.role
        if role is Role.APPLICANT:
            ok = actor.unit_code == proj.applicant_unit
        elif role is Role.COUNTY:
            ok = actor.region == proj.county_code
        elif role in (Role.CITY, Role.CITY_FINANCE):
            ok = actor.region == proj.city_code
        elif role in (Role.PROVINCE, Role.PROVINCE_FINANCE):
            ok = actor.region == "37"
        else:
            ok = True  # experts: checked against the assignment (R12)
        if ok:
            return None
        return refusal(
            JURISDICTION, RefusalKind.JURISDICTION, "该项目不在您的管辖或单位范围内",
            "this project is outside your region or unit",
        )

    def _ended_refusal(self) -> Refusal:
        end = self.end
        assert end is not None
        if end.rule == "R10":
            return self._deadline_refusal(
                DeadlineKind.BATCH if end.action == "recommendation_closed"
                else DeadlineKind.APPLICANT, ended=end.stage)
        return refusal(
            LIFECYCLE, RefusalKind.STAGE, f"项目已结束（{end.label_zh}），不能再作决定",
            f"the project has ended ({end.stage.value}); no further decisions",
        )

    def _deadline_refusal(self, kind: DeadlineKind, ended: Stage | None = None) -> Refusal:
        at = iso_local(self.deadline(kind))
        what = "申报提交" if kind is DeadlineKind.APPLICANT else "申报系统"
        tail_zh = f"，项目已结束（{ended.label_zh}）" if ended else ""
        return refusal(
            "R10", RefusalKind.DEADLINE, f"{what}已于{at}截止关闭{tail_zh}",
            f"the {'submission' if kind is DeadlineKind.APPLICANT else 'system'} closed at {at}"
            + (f"; the project has ended ({ended.value})" if ended else ""),
        )

    def _stage_refusal(self, action: str, role: Role, now: datetime) -> Refusal:
        if action in ("edit_application", "attach_document") and self.stage.is_frozen:
            return refusal(
                "R11", RefusalKind.RULE, "项目已由市级推荐至省，申报材料不能再更改",
                "the city has recommended the project to the province; "
                "the application can no longer be changed",
            )
        return refusal(
            LIFECYCLE, RefusalKind.STAGE,
            f"当前阶段“{self.stage.label_zh}”不允许此决定（{action}）",
            f"the current stage {self.stage.value} does not allow {action}",
            self.allowed(role, now),
        )

    def _check_content(self, d: Decision, move: Move, now: datetime) -> Refusal | None:
        """The decision's own data: payload schema, reasons, evidence, per-rule limits."""
        schema = p.payload_schema(d.action)
        try:
            payload: BaseModel = schema.model_validate(d.payload)
        except ValidationError as exc:
            zh, en = describe_error(exc.errors()[0], "payload")
            return _input(f"决定内容不符合要求：{zh}", f"the decision's payload is invalid: {en}")
        if d.action in p.REASON_REQUIRED and not d.reason.strip():
            return _input("此决定须填写理由", "this decision needs a reason")
        if isinstance(payload, p.AttachDocument):
            problem = self._check_attachment(payload)
            if problem is not None:
                return problem
        if d.action == "submit_archive" and not d.evidence:
            return _input("过程档案须附文件（sha256）", "a process archive needs its documents")
        if isinstance(payload, p.AssignExperts):
            units = self.project.unit_codes()
            for e in payload.experts:
                if units & set(e.declared_conflicts):
                    return refusal(
                        "R12", RefusalKind.RULE,
                        f"专家 {e.user_id} 申报了与本项目单位的利益关联，不能分配",
                        f"expert {e.user_id} declared a tie to a unit of this project",
                    )
        if d.action == "score":
            uid = d.actor.user_id
            if uid not in self.experts:
                return refusal("R12", RefusalKind.JURISDICTION, "您未被分配评审此项目",
                               "you are not assigned to review this project")
            if self.experts[uid] is not None:
                return refusal("R12", RefusalKind.RULE, "您已对此项目评分",
                               "you have already scored this project")
        if isinstance(payload, p.Subsidy) and payload.amount_cny > p.MAX_SUBSIDY_CNY:
            return refusal(
                "R17", RefusalKind.RULE,
                f"单个场景补助不超过{p.MAX_SUBSIDY_CNY:,}元",
                f"the subsidy is at most {p.MAX_SUBSIDY_CNY:,} CNY per scene",
            )
        return None

    def _check_attachment(self, doc: p.AttachDocument) -> Refusal | None:
        if any(x.sha256 == doc.sha256 and x.kind == doc.kind for x in self.content.documents):
            return _input("该文件已上传", "this document is already attached")
        if doc.kind in p.APPLICATION_DOCUMENT_KINDS and self.stage not in (Stage.DRAFT,
                                                                            Stage.RETURNED):
            return refusal(
                "R11", RefusalKind.RULE,
                "申报材料只能在草稿或退回修改阶段上传（市级推荐后不能更改）",
                "application documents can only change in draft or returned "
                "(frozen from the city's recommendation on)")
        return None

    def _deadline_change_note(self, actor: Actor, scope: str, new: datetime) -> str:
        if scope == "batch":
            if actor.role is not Role.PROVINCE:
                return "ignored: 只有省工信厅可以调整批次截止时间"
            if new <= self.close_at:
                return "ignored: 批次截止时间只能延长 / the batch deadline can only be extended"
            self.close_at = new
            return f"截止时间延长至{iso_local(new)}"
        if actor.role not in (Role.CITY, Role.COUNTY) or actor.region != scope:
            return "ignored: 只有本地工信局可以设定本地截止时间"
        if scope not in (self.project.city_code, self.project.county_code):
            return "ignored: 不适用于本项目所在地区"
        if new > self.close_at:
            return "ignored: 地方截止时间不得晚于全省截止时间 / never later than the batch's"
        self.local_deadlines[scope] = new
        return f"本地申报截止时间设为{iso_local(new)}"


def _input(zh: str, en: str) -> Refusal:
    return refusal(INPUT, RefusalKind.INPUT, zh, en)


def payload_example(action: str) -> dict[str, Any]:
    """An example payload for docs and the demo."""
    examples: dict[str, dict[str, Any]] = {
        "city_recommend": {"rank": 1},
        "assign_experts": {"experts": [{"user_id": "expert-1", "declared_conflicts": []}]},
        "score": {"score": 86.5, "method": "online_defence"},
        "open_publicity": {"working_days": 5},
        "request_change": {"kind": "investment_amount", "description": "设备采购调整"},
        "submit_archive": {"title": "第一季度实施进展"},
        "pass_acceptance": {"verified_investment_cny": 2_600_000},
        "decide_subsidy": {"amount_cny": 800_000},
        "edit_application": {"title": "汽车零部件5G全连接工厂（修改）",
                             "application": {"declared_investment_cny": 3_500_000}},
        "attach_document": {"sha256": "a" * 64, "kind": "feasibility_report",
                            "media_type": "application/pdf", "size": 1024,
                            "filename": "可行性研究报告.pdf"},
    }
    return examples.get(action, {})
