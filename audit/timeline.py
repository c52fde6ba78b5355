"""The timeline of a project, built from its workflow history (not from the read model):
each decision with its actor, time (Asia/Shanghai), stage before → after, reason and
evidence; each refusal that reached the history; each timer that fired; each deadline
change."""

from __future__ import annotations

from datetime import UTC

from pydantic import BaseModel
from temporalio.client import WorkflowHistory

from audit.history import E, decode
from domain.clock import local
from domain.decisions import Actor, DeadlineChange, Decision, DecisionOutcome


class TimelineEntry(BaseModel):
    event_id: int
    seq: int | None = None  # the decision's number in the project's log
    at: str  # ISO, Asia/Shanghai
    kind: str  # decision | refused | timer | deadline_change
    action: str
    actor: Actor | None = None
    request_id: str | None = None
    stage_before: str | None = None
    stage_after: str | None = None
    reason: str = ""
    evidence: list[str] = []
    payload: dict[str, object] = {}
    note: str = ""


def timeline(history: WorkflowHistory) -> list[TimelineEntry]:
    accepted: dict[str, tuple[int, str, Decision]] = {}
    timers: dict[str, str] = {}
    out: list[TimelineEntry] = []
    for ev in history.events:
        at = local(ev.event_time.ToDatetime().replace(tzinfo=UTC))
        when = at.isoformat(timespec="seconds")
        t = ev.event_type
        if t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            attrs = ev.workflow_execution_update_accepted_event_attributes
            request = attrs.accepted_request
            decision = decode(request.input.args.payloads, [Decision])[0]
            accepted[request.meta.update_id] = (ev.event_id, when, decision)
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            done = ev.workflow_execution_update_completed_event_attributes
            event_id, when_accepted, d = accepted.pop(done.meta.update_id)
            common = {"event_id": event_id, "at": when_accepted, "action": d.action,
                      "actor": d.actor, "request_id": d.request_id, "reason": d.reason,
                      "evidence": d.evidence, "payload": d.payload}
            if done.outcome.HasField("success"):
                o = decode(done.outcome.success.payloads, [DecisionOutcome])[0]
                out.append(TimelineEntry(kind="decision", seq=o.seq,
                                         stage_before=o.stage_before.value,
                                         stage_after=o.stage.value, note=o.note, **common))
            else:
                out.append(TimelineEntry(kind="refused", note=done.outcome.failure.message,
                                         **common))
        elif t == E.EVENT_TYPE_TIMER_STARTED:
            summary = ev.user_metadata.summary
            timers[ev.timer_started_event_attributes.timer_id] = (
                str(decode([summary])[0]) if summary.data else "")
        elif t == E.EVENT_TYPE_TIMER_FIRED:
            what = timers.get(ev.timer_fired_event_attributes.timer_id, "")
            out.append(TimelineEntry(event_id=ev.event_id, at=when, kind="timer",
                                     action=what.split(" @ ")[0], note=what))
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signaled = ev.workflow_execution_signaled_event_attributes
            if signaled.signal_name == "change_deadline":
                c = decode(signaled.input.payloads, [DeadlineChange])[0]
                out.append(TimelineEntry(event_id=ev.event_id, at=when, kind="deadline_change",
                                         action="extend_deadline" if c.scope == "batch"
                                         else "set_local_deadline", actor=c.actor,
                                         request_id=c.request_id, reason=c.reason,
                                         note=f"{c.scope}: {c.new_deadline.isoformat()}"))
    return out
