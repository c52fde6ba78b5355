"""The timeline of a project, built from its workflow history (not from the read model):
each decision with its actor, time (Asia/Shanghai), stage before → after, reason and
evidence; each refusal that reached the history; each timer that fired; each deadline
change; and what Temporal did from outside the programme (domain.outside): cancel
requests, termination, a reset, signals (a deadline signal is refused)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pydantic import BaseModel
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import WorkflowHistory

from audit.history import E, decode
from domain.clock import local
from domain.decisions import Actor, DeadlineChange, Decision, DecisionOutcome, DecisionRecord
from domain.outside import REFUSE_DEADLINE_SIGNAL_PATCH
from domain.roles import Role


class TimelineEntry(BaseModel):
    event_id: int
    seq: int | None = None  # the decision's number in the project's log
    at: str  # ISO, Asia/Shanghai
    # decision | refused | timer | deadline_change | cancel_requested | terminated |
    # canceled | failed | timed_out | reset | signal
    kind: str
    action: str
    actor: Actor | None = None
    request_id: str | None = None
    stage_before: str | None = None
    stage_after: str | None = None
    reason: str = ""
    evidence: list[str] = []
    payload: dict[str, object] = {}
    note: str = ""


def _patches(history: WorkflowHistory) -> set[str]:
    """The ids of the patches (workflow.patched) the history's markers record."""
    out = set()
    for ev in history.events:
        if ev.event_type == E.EVENT_TYPE_MARKER_RECORDED:
            attrs = ev.marker_recorded_event_attributes
            if attrs.marker_name == "core_patch" and "patch-data" in attrs.details:
                data = decode(attrs.details["patch-data"].payloads)[0]
                if isinstance(data, dict) and "id" in data:
                    out.add(str(data["id"]))
    return out


def _outsider(identity: str) -> Actor:
    """Who acted through Temporal, as its request named itself (not authenticated by the
    programme: the identity a Temporal client sends)."""
    return Actor(user_id=identity[:64] or "unknown", role=Role.OPERATOR, region="37")


def timeline(history: WorkflowHistory) -> list[TimelineEntry]:
    reader = _Reader(_patches(history))
    for ev in history.events:
        at = local(ev.event_time.ToDatetime().replace(tzinfo=UTC))
        reader.read(ev, at.isoformat(timespec="seconds"))
    return reader.out


class _Reader:
    """Reads a history event by event; one method per kind of event that the timeline
    shows (updates are paired: accepted, then completed)."""

    def __init__(self, patches: set[str]) -> None:
        self.patches = patches
        self.accepted: dict[str, tuple[int, str, Decision | DeadlineChange]] = {}
        self.timers: dict[str, str] = {}
        self.out: list[TimelineEntry] = []
        self.deadline_signals = 0

    def read(self, ev: Any, when: str) -> None:
        t = ev.event_type
        handler = _HANDLERS.get(t)
        if handler is not None:
            handler(self, ev, when)
        elif t in _CLOSED:
            self.out.append(TimelineEntry(
                event_id=ev.event_id, at=when, kind=_CLOSED[t], action=_CLOSED[t],
                note="流程在本计划之外关闭 / workflow closed outside the programme"))
        elif (t == E.EVENT_TYPE_WORKFLOW_TASK_FAILED
              and ev.workflow_task_failed_event_attributes.cause == RESET):
            self._reset(ev, when)

    def _update_accepted(self, ev: Any, when: str) -> None:
        request = ev.workflow_execution_update_accepted_event_attributes.accepted_request
        kind = DeadlineChange if request.input.name == "set_deadline" else Decision
        decision = decode(request.input.args.payloads, [kind])[0]
        self.accepted[request.meta.update_id] = (ev.event_id, when, decision)

    def _update_completed(self, ev: Any, when: str) -> None:
        attrs = ev.workflow_execution_update_completed_event_attributes
        event_id, when_accepted, d = self.accepted.pop(attrs.meta.update_id)
        if isinstance(d, DeadlineChange):
            self.out.append(_deadline_entry(event_id, when_accepted, d, attrs))
            return
        common = {"event_id": event_id, "at": when_accepted, "action": d.action,
                  "actor": d.actor, "request_id": d.request_id, "reason": d.reason,
                  "evidence": d.evidence, "payload": d.payload}
        if attrs.outcome.HasField("success"):
            o = decode(attrs.outcome.success.payloads, [DecisionOutcome])[0]
            self.out.append(TimelineEntry(kind="decision", seq=o.seq,
                                          stage_before=o.stage_before.value,
                                          stage_after=o.stage.value, note=o.note, **common))
        else:
            self.out.append(TimelineEntry(kind="refused", note=attrs.outcome.failure.message,
                                          **common))

    def _timer_started(self, ev: Any, _when: str) -> None:
        summary = ev.user_metadata.summary
        self.timers[ev.timer_started_event_attributes.timer_id] = (
            str(decode([summary])[0]) if summary.data else "")

    def _timer_fired(self, ev: Any, when: str) -> None:
        what = self.timers.get(ev.timer_fired_event_attributes.timer_id, "")
        self.out.append(TimelineEntry(event_id=ev.event_id, at=when, kind="timer",
                                      action=what.split(" @ ")[0], note=what))

    def _signaled(self, ev: Any, when: str) -> None:
        attrs = ev.workflow_execution_signaled_event_attributes
        if attrs.signal_name != "change_deadline":
            known = attrs.signal_name == "reproject"
            self.out.append(TimelineEntry(
                event_id=ev.event_id, at=when, kind="signal", action=attrs.signal_name,
                actor=_outsider(attrs.identity),
                note="read model re-sent" if known else "not a signal of this workflow: ignored"))
            return
        self.deadline_signals += 1
        refused = f"{REFUSE_DEADLINE_SIGNAL_PATCH}-{self.deadline_signals}" in self.patches
        c = decode(attrs.input.payloads, [DeadlineChange])[0]
        self.out.append(TimelineEntry(
            event_id=ev.event_id, at=when, kind="refused" if refused else "deadline_change",
            action="extend_deadline" if c.scope == "batch" else "set_local_deadline",
            actor=c.actor, request_id=c.request_id, reason=c.reason,
            note=(f"signal from {attrs.identity or 'unknown'} refused, never applied "
                  "(deadline changes are the API's sealed update set_deadline): "
                  if refused else "") + f"{c.scope}: {c.new_deadline.isoformat()}"))

    def _cancel_requested(self, ev: Any, when: str) -> None:
        attrs = ev.workflow_execution_cancel_requested_event_attributes
        self.out.append(TimelineEntry(
            event_id=ev.event_id, at=when, kind="cancel_requested", action="cancel",
            actor=_outsider(attrs.identity), reason=attrs.cause,
            note="Temporal 取消请求：记录并忽略，项目继续 / cancel request from Temporal: "
                 "recorded and ignored, the project goes on"))

    def _terminated(self, ev: Any, when: str) -> None:
        attrs = ev.workflow_execution_terminated_event_attributes
        self.out.append(TimelineEntry(
            event_id=ev.event_id, at=when, kind="terminated", action="terminate",
            actor=_outsider(attrs.identity), reason=attrs.reason,
            note="流程在本计划之外被强制终止 / workflow terminated outside the programme"))

    def _reset(self, ev: Any, when: str) -> None:
        attrs = ev.workflow_task_failed_event_attributes
        self.out.append(TimelineEntry(
            event_id=ev.event_id, at=when, kind="reset", action="reset",
            actor=_outsider(attrs.identity), reason=attrs.failure.message,
            note=f"流程被重置：运行 {attrs.base_run_id} 在此之后的事件被丢弃，新运行 "
                 f"{attrs.new_run_id} / reset: the events of run {attrs.base_run_id} after "
                 f"this point were discarded; this is run {attrs.new_run_id}"))


_HANDLERS: dict[Any, Any] = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: _Reader._update_accepted,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: _Reader._update_completed,
    E.EVENT_TYPE_TIMER_STARTED: _Reader._timer_started,
    E.EVENT_TYPE_TIMER_FIRED: _Reader._timer_fired,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: _Reader._signaled,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED: _Reader._cancel_requested,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: _Reader._terminated,
}


RESET = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
_CLOSED = {E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "canceled",
           E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
           E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed_out"}


def _deadline_entry(event_id: int, when: str, c: DeadlineChange, attrs: Any) -> TimelineEntry:
    """A deadline change (the update set_deadline): the record it made, or its refusal."""
    common = {"event_id": event_id, "at": when, "actor": c.actor, "request_id": c.request_id,
              "reason": c.reason,
              "action": "extend_deadline" if c.scope == "batch" else "set_local_deadline"}
    what = f"{c.scope}: {c.new_deadline.isoformat()}"
    if attrs.outcome.HasField("success"):
        r = decode(attrs.outcome.success.payloads, [DecisionRecord])[0]
        return TimelineEntry(kind="deadline_change", seq=r.seq,
                             stage_before=r.stage_before.value, stage_after=r.stage_after.value,
                             note=f"{what} {r.note}".strip(), **common)
    return TimelineEntry(kind="refused", note=f"{what}: {attrs.outcome.failure.message}",
                         **common)
