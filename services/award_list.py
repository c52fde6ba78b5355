"""The province's merit list (择优, R17; issue 16), modelled on the city's ranked list
(services/recommendations.py): judged whole before anything changes, recorded once per
request, then one decision per project, each reported on its own.

- Judged whole: every project exists and is visible (else 404 naming it); then
  `domain.award_list.check_award_list` with each candidate as its workflow answers now and
  the rank the batch's lists have reached. The judgement and the list's row are made under
  a lock on the batch's row, so two lists cannot take the same ranks.
- Once per request: the list's row is keyed by the request id. A retry of the same
  request (a lost answer, or a retry that runs after the key's lease: api/middleware.py)
  finds its list and skips the judgement, which would now refuse the projects it decided;
  the decisions it sends again carry the same request ids (request_id_of(list request id,
  project id)), so each project's workflow answers with its first outcome and nothing is
  decided twice. The same request id with another list is refused (IDEMPOTENCY).
- Candidates not on a list are untouched: still decidable one by one or by a later list,
  whose ranks continue after the highest rank an earlier list gave that was not refused.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from domain.actions import Action
from domain.award_list import AwardEntry, AwardList, Candidate, check_award_list, fingerprint_of
from domain.clock import Instant
from domain.decisions import Actor, request_id_of
from domain.jurisdiction import Person
from domain.refusals import IDEMPOTENCY, NotFound, RefusalKind, Refused, refusal
from domain.roles import Role
from domain.stages import Stage
from models import AwardListEntry, AwardListRow, Batch, Project
from services.decisions import BulkItem, BulkResult, make_decisions
from services.jurisdiction import restrict, sees_row
from services.projects import handle_for
from workflows.project import ProjectWorkflow

# Views asked of the workflows at once while a list is judged.
QUERY_CONCURRENCY = 16


class AwardListOutcome(BaseModel):
    list_id: int
    batch_id: str
    first_rank: int | None
    replayed: bool  # a retry: the list was recorded by an earlier run of this request
    results: list[BulkResult]


async def decide_award_list(*, client: Client, db: sessionmaker[Session], who: Person,
                            actor: Actor, batch_id: str, body: AwardList,
                            request_id: str) -> AwardListOutcome:
    fingerprint = fingerprint_of(body)
    found = await asyncio.to_thread(_recorded, db, batch_id, request_id, fingerprint)
    replayed = found is not None
    if found is None:
        candidates = await _candidates(client, db, who, body.project_ids())
        found = await asyncio.to_thread(_record, db, who, batch_id, body, candidates,
                                        request_id, fingerprint)
    list_id, first_rank = found
    awards = await make_decisions(
        client=client, db=db, who=who, actor=actor, action=Action.DECIDE_SUBSIDY,
        items=[BulkItem(project_id=e.project_id, reason=body.reason,
                        payload=e.payload().model_dump(exclude_none=True))
               for e in ranked(body)], base_request_id=request_id)
    declined = await make_decisions(
        client=client, db=db, who=who, actor=actor, action=Action.DECIDE_NO_AWARD,
        items=[BulkItem(project_id=n.project_id, reason=n.reason) for n in body.no_awards],
        base_request_id=request_id)
    results = awards + declined
    await asyncio.to_thread(_write_results, db, list_id, results)
    return AwardListOutcome(list_id=list_id, batch_id=batch_id, first_rank=first_rank,
                            replayed=replayed, results=results)


def ranked(body: AwardList) -> list[AwardEntry]:
    """The awards in their ranked order (the list is judged on its ranks, not its order)."""
    return sorted(body.awards, key=lambda e: e.rank)


def _recorded(db: sessionmaker[Session], batch_id: str, request_id: str,
              fingerprint: str) -> tuple[int, int | None] | None:
    with db() as s:
        if s.get(Batch, batch_id) is None:
            raise NotFound("批次", batch_id)
        return _same_request(s, batch_id, request_id, fingerprint)


def _same_request(s: Session, batch_id: str, request_id: str,
                  fingerprint: str) -> tuple[int, int | None] | None:
    row = s.scalars(select(AwardListRow).where(AwardListRow.request_id == request_id)).first()
    if row is None:
        return None
    if row.fingerprint != fingerprint or row.batch_id != batch_id:
        raise Refused(refusal(IDEMPOTENCY, RefusalKind.IDEMPOTENCY,
                              "该请求编号已用于另一份奖补名单",
                              "this request id was already used for another award list"))
    return row.id, row.first_rank


async def _candidates(client: Client, db: sessionmaker[Session], who: Person,
                      ids: list[str]) -> dict[str, Candidate]:
    """Each named project as its workflow answers now; one not in subsidy by the read
    model (which a decision's answer waits for) is refused by its stage without asking."""
    rows = await asyncio.to_thread(_visible_rows, db, who, ids)
    missing = [pid for pid in ids if pid not in rows]
    if missing:
        raise NotFound("项目", missing[0])
    out: dict[str, Candidate] = {}
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def ask(pid: str) -> None:
        async with gate:
            view = await handle_for(client, pid).query(ProjectWorkflow.view)
        out[pid] = Candidate.from_view(view)

    for pid, (batch_id, stage) in rows.items():
        if stage != Stage.SUBSIDY.value:
            out[pid] = Candidate(project_id=pid, batch_id=batch_id, stage=Stage(stage),
                                 rules=0, verified_investment_cny=None, may_award=False,
                                 may_decline=False, cosign_pending=False,
                                 subsidy_decided=False)
    await asyncio.gather(*(ask(pid) for pid in rows if pid not in out))
    return out


def _visible_rows(db: sessionmaker[Session], who: Person,
                  ids: list[str]) -> dict[str, tuple[str, str]]:
    with db() as s:
        return {pr.id: (pr.batch_id, pr.stage) for pr in s.scalars(
            restrict(select(Project).where(Project.id.in_(ids)), who)) if sees_row(who, pr)}


def next_rank(s: Session, batch_id: str) -> int:
    """Where a new list's ranks start: after the highest rank an earlier list of the batch
    gave that its project's workflow did not refuse."""
    ranks = s.scalars(select(AwardListEntry.rank).join(
        AwardListRow, AwardListRow.id == AwardListEntry.list_id).where(
        AwardListRow.batch_id == batch_id, AwardListEntry.rank.is_not(None),
        AwardListEntry.ok.is_not(False)))
    return max((r for r in ranks if r is not None), default=0) + 1


def _record(db: sessionmaker[Session], who: Person, batch_id: str, body: AwardList,
            candidates: dict[str, Candidate], request_id: str,
            fingerprint: str) -> tuple[int, int | None]:
    with db.begin() as s:
        # One list of a batch at a time: its ranks are judged against the lists before it.
        s.execute(select(Batch.id).where(Batch.id == batch_id).with_for_update())
        again = _same_request(s, batch_id, request_id, fingerprint)
        if again is not None:  # the same request, recorded meanwhile by another process
            return again
        first = next_rank(s, batch_id)
        problem = check_award_list(batch_id, body, candidates, first)
        if problem is not None:
            raise Refused(problem)
        row = AwardListRow(batch_id=batch_id, request_id=request_id, fingerprint=fingerprint,
                           decided_by=who.user_id, decided_role=who.role.value,
                           decided_at=datetime.now(UTC), reason=body.reason,
                           first_rank=first if body.awards else None)
        s.add(row)
        s.flush()
        position = 0
        for e in ranked(body):
            position += 1
            s.add(AwardListEntry(
                list_id=row.id, project_id=e.project_id, position=position, kind="award",
                rank=e.rank, amount_cny=e.amount_cny, scenes=e.scenes, recipient=e.recipient,
                reason=body.reason, request_id=request_id_of(request_id, e.project_id)))
        for n in body.no_awards:
            position += 1
            s.add(AwardListEntry(
                list_id=row.id, project_id=n.project_id, position=position, kind="none",
                reason=n.reason, request_id=request_id_of(request_id, n.project_id)))
        return row.id, row.first_rank


def _write_results(db: sessionmaker[Session], list_id: int, results: list[BulkResult]) -> None:
    with db.begin() as s:
        for r in results:
            s.execute(update(AwardListEntry).where(
                AwardListEntry.list_id == list_id, AwardListEntry.project_id == r.project_id)
                .values(ok=r.ok, status=r.status, stage=r.stage.value if r.stage else None,
                        rule=r.rule, message_zh=(r.message_zh or "")[:500] or None,
                        message_en=(r.message_en or "")[:500] or None))


# -- reading the lists -----------------------------------------------------------------------

class EntryState(BaseModel):
    """One entry with what became of it, from the read model."""

    list_id: int
    position: int
    kind: str  # award | none
    rank: int | None
    project_id: str
    title: str
    task_code: str
    city_code: str
    amount_cny: float | None
    scenes: int | None
    recipient: str | None  # the award's recipient (default: the applicant)
    verified_investment_cny: float | None
    reason: str
    request_id: str
    ok: bool | None
    status: int | None
    rule: str | None
    message_zh: str | None
    message_en: str | None
    stage_now: str
    # decided (in effect) | awaiting_cosign | lapsed (dissent, retraction, stage change) |
    # refused (the workflow refused it) | in_progress (the list is being decided)
    state: str


class ListState(BaseModel):
    list_id: int
    decided_by: str
    decided_role: str
    decided_at: Instant
    reason: str
    first_rank: int | None
    entries: list[EntryState]


class UndecidedCandidate(BaseModel):
    project_id: str
    title: str
    task_code: str
    city_code: str
    verified_investment_cny: float | None


class AwardLists(BaseModel):
    batch_id: str
    next_rank: int
    lists: list[ListState]
    # Projects in subsidy with nothing decided and nothing awaiting co-signature: what a
    # later list (or a decision of its own) may still decide.
    undecided: list[UndecidedCandidate]


_DECIDED_NO_AWARD = frozenset({Stage.SUPERVISION.value, Stage.COMPLETED.value,
                               Stage.REVOKED.value})


def _state(e: AwardListEntry, pr: Project, latest: int) -> str:
    """`latest`: the last list whose entry for this project its workflow accepted."""
    if e.ok is None:
        return "in_progress"
    if not e.ok:
        return "refused"
    if e.list_id != latest:  # a later list decided the project again: this one lapsed
        return "lapsed"
    if e.kind == "award" and pr.subsidy_amount_cny is not None:
        return "decided" if pr.subsidy_amount_cny == e.amount_cny else "lapsed"
    if e.kind == "none" and pr.subsidy_amount_cny is None and pr.stage in _DECIDED_NO_AWARD:
        return "decided"
    if pr.stage == Stage.SUBSIDY.value and Role.PROVINCE_FINANCE.value in (pr.waiting_on or []):
        return "awaiting_cosign"
    return "lapsed"


def award_lists(db: sessionmaker[Session], who: Person, batch_id: str) -> AwardLists:
    """The batch's lists with the entries `who` sees (a list with none of them is left
    out), and the undecided candidates `who` sees."""
    with db() as s:
        if s.get(Batch, batch_id) is None:
            raise NotFound("批次", batch_id)
        visible = {pr.id: pr for pr in s.scalars(restrict(
            select(Project).where(Project.batch_id == batch_id), who)) if sees_row(who, pr)}
        rows = list(s.scalars(select(AwardListRow).where(AwardListRow.batch_id == batch_id)
                              .order_by(AwardListRow.id)))
        entries = list(s.scalars(select(AwardListEntry).join(
            AwardListRow, AwardListRow.id == AwardListEntry.list_id).where(
            AwardListRow.batch_id == batch_id).order_by(AwardListEntry.list_id,
                                                        AwardListEntry.position)))
        first = next_rank(s, batch_id)
    latest = {e.project_id: e.list_id for e in entries if e.ok}
    by_list: dict[int, list[EntryState]] = {}
    for e in entries:
        pr = visible.get(e.project_id)
        if pr is None:
            continue
        by_list.setdefault(e.list_id, []).append(EntryState(
            list_id=e.list_id, position=e.position, kind=e.kind, rank=e.rank,
            project_id=e.project_id, title=pr.title, task_code=pr.task_code,
            city_code=pr.city_code, amount_cny=e.amount_cny, scenes=e.scenes,
            recipient=(e.recipient or pr.applicant_code) if e.kind == "award" else None,
            verified_investment_cny=pr.verified_investment_cny, reason=e.reason,
            request_id=e.request_id, ok=e.ok, status=e.status, rule=e.rule,
            message_zh=e.message_zh, message_en=e.message_en, stage_now=pr.stage,
            state=_state(e, pr, latest.get(e.project_id, e.list_id))))
    lists = [ListState(list_id=r.id, decided_by=r.decided_by, decided_role=r.decided_role,
                       decided_at=r.decided_at, reason=r.reason, first_rank=r.first_rank,
                       entries=by_list[r.id]) for r in rows if r.id in by_list]
    undecided = [UndecidedCandidate(project_id=pr.id, title=pr.title, task_code=pr.task_code,
                                    city_code=pr.city_code,
                                    verified_investment_cny=pr.verified_investment_cny)
                 for pr in sorted(visible.values(), key=lambda x: (x.task_code, x.id))
                 if pr.stage == Stage.SUBSIDY.value and pr.subsidy_amount_cny is None
                 and Role.PROVINCE_FINANCE.value not in (pr.waiting_on or [])]
    return AwardLists(batch_id=batch_id, next_rank=first, lists=lists, undecided=undecided)
