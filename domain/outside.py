"""What Temporal's own actions, taken outside the programme, do to a project.

The programme's rules live in the workflow's validators and the API's authorization;
Temporal's frontend, CLI and UI can reach a workflow around both. What each does
(docs/production.md, "What Temporal's actions do to a project"):

- a **cancel request** is recorded in the decision log (who, as far as Temporal tells:
  the request's identity and reason) and ignored: the project goes on. Only the
  programme's decisions end a project;
- **termination** cannot be intercepted: `services.outside` finds terminated projects,
  the read model marks them (`end_rule` = `WF_TERMINATED`), `ops read-model`, `ops stuck`
  and `audit` report them;
- a **reset** rewrites what the workflow committed after the reset point: the read model
  is rebuilt from the new run's history (`ops reproject`, the hourly upkeep);
- a **deadline change** is an update with a validator, sealed by the API (domain.seal)
  and checked like a decision: who may make it and within which limits. A signal
  carrying one, or anything the API did not seal, is refused and logged, never applied.

Pure code, like the rest of `domain`: the workflow and the activities call it.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel

from domain import seal
from domain.batch import workflow_id_for
from domain.clock import Instant, iso_local
from domain.decisions import Actor, DeadlineChange, Decision, DecisionRecord
from domain.project import ProjectState
from domain.refusals import JURISDICTION, LIFECYCLE, ROLE, Refusal, RefusalKind, refusal
from domain.roles import Role

CANCEL_ACTION = "cancel_requested"
# The signal change_deadline is refused from this patch on; one id per signal received
# ("…-1", "…-2"), since a patch's answer is fixed for the whole run and signals applied
# before the change must stay applied on replay. audit.timeline reads the markers.
REFUSE_DEADLINE_SIGNAL_PATCH = "refuse-deadline-signal"
# The local activity that reads who requested the cancel (activities.outside).
CANCEL_REQUEST = "cancel_request_of"
# Actions that are in the log but are no one's decision through the API.
OUTSIDE_ACTIONS = frozenset({CANCEL_ACTION, "extend_deadline", "set_local_deadline"})
# The read model's end_rule for a project whose workflow Temporal closed outside the
# programme ('WF_' + the execution status): the stage stays the last the programme knew.
CLOSED_OUTSIDE = {"TERMINATED": "WF_TERMINATED", "CANCELED": "WF_CANCELED",
                  "FAILED": "WF_FAILED", "TIMED_OUT": "WF_TIMED_OUT"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CancelRequest(BaseModel):
    """What Temporal tells of a cancel request: the WorkflowExecutionCancelRequested
    event's identity (as the requesting client gave it), reason and time."""

    identity: str = ""
    reason: str = ""
    requested_at: Instant | None = None
    event_id: int | None = None


def _text(value: str, limit: int) -> str:
    return _CONTROL.sub(" ", value)[:limit]


def record_cancel_request(state: ProjectState, request: CancelRequest,
                          now: datetime) -> DecisionRecord:
    """The cancel request in the project's log, ignored: the stage does not change."""
    who = _text(request.identity, 64).strip() or "unknown"
    d = Decision(
        request_id=f"temporal:cancel:{len(state.log) + 1}", action=CANCEL_ACTION,
        actor=Actor(user_id=who, role=Role.OPERATOR, region="37"),
        reason=_text(request.reason, 2000),
        payload={"identity": _text(request.identity, 200),
                 "requested_at": request.requested_at.isoformat() if request.requested_at
                 else None,
                 "event_id": request.event_id})
    return state.record_event(
        d, now, rule=LIFECYCLE,
        note="ignored: 揭榜挂帅项目不能从外部取消，项目继续；项目只因本计划的决定而结束 / a "
             "programme project cannot be cancelled from outside: it goes on, and ends only "
             "by the programme's decisions")


def deadline_record(state: ProjectState, request_id: str) -> DecisionRecord | None:
    """The record a deadline change with this request id already made (a retry)."""
    return next((r for r in reversed(state.log) if r.request_id == request_id), None)


def decision_refusal(decision: Decision, workflow_id: str) -> Refusal | None:
    """A decision the API did not seal for this workflow, whatever actor it names, is
    refused (a decision sealed for another project's workflow included)."""
    if seal.valid(decision, decision.seal, to=workflow_id):
        return None
    return refusal("SEAL", RefusalKind.AUTH,
                   "决定未经系统签章（只能通过系统接口由有权限的官员作出）",
                   "the decision does not carry the API's seal: only an authorized official, "
                   "through the API, makes decisions")


def deadline_refusal(state: ProjectState, change: DeadlineChange, now: datetime,
                     workflow_id: str | None = None) -> Refusal | None:
    """Why this deadline change may not be applied, or None; changes nothing. The same
    limits as `ProjectState.change_deadline` applies (which records a change it would
    not apply as 'ignored'): here they refuse it, before it reaches the history.
    `workflow_id`: the workflow checking it (the seal is for one workflow); by default
    the project's own."""
    to = workflow_id or workflow_id_for(state.project.project_id)
    if not seal.valid(change, change.seal, to=to):
        return refusal("SEAL", RefusalKind.AUTH,
                       "截止时间变更未经系统签章（只能通过系统接口由有权限的官员作出）",
                       "the deadline change does not carry the API's seal: only an "
                       "authorized official, through the API, changes deadlines")
    if deadline_record(state, change.request_id) is not None:
        return None  # a retry: answered with the first record
    if state.ended:
        assert state.end is not None
        return refusal(LIFECYCLE, RefusalKind.STAGE,
                       f"项目已结束（{state.end.label_zh}），截止时间不再变更",
                       f"the project has ended ({state.end.stage.value}); no deadline changes")
    actor, new, project = change.actor, change.new_deadline, state.project
    if change.scope == "batch":
        if actor.role is not Role.PROVINCE:
            return refusal(ROLE, RefusalKind.ROLE, "只有省工信厅可以调整批次截止时间",
                           "only the province changes the batch deadline")
        if actor.region != "37":
            return refusal(JURISDICTION, RefusalKind.JURISDICTION, "不在管辖范围内",
                           "outside the actor's region")
        if state.data.rules >= 2 and now >= state.data.close_at:
            # E10: projects the close ended stay ended; extending after it would reopen
            # some and not others, so it is refused (rules 2).
            return refusal("R10", RefusalKind.DEADLINE,
                           f"批次已于{iso_local(state.data.close_at)}关闭，不能再延长",
                           "the batch has closed; it can no longer be extended")
        if new <= state.data.close_at:
            return refusal("R10", RefusalKind.RULE,
                           f"批次截止时间只能延长（当前{iso_local(state.data.close_at)}）",
                           "the batch deadline can only be extended")
        return None
    if actor.role not in (Role.CITY, Role.COUNTY):
        return refusal(ROLE, RefusalKind.ROLE, "只有市、县工信局可以设定本地截止时间",
                       "only a city or county bureau sets a local deadline")
    if actor.region != change.scope or change.scope not in (project.city_code,
                                                            project.county_code):
        return refusal(JURISDICTION, RefusalKind.JURISDICTION,
                       "只能为本地区的项目设定本地截止时间",
                       "a local deadline is set only for the bureau's own region's projects")
    if new > state.data.close_at:
        return refusal("R10", RefusalKind.RULE,
                       f"本地截止时间不得晚于全省截止时间{iso_local(state.data.close_at)}",
                       "a local deadline is never later than the batch's")
    return None
