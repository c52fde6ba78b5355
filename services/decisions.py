"""Making decisions: one (checked for size, then sent to the project's workflow, which
decides by the rules), or the same decision over many projects, each reported on its own.

The caller has authorized the person (their role, and the project's visibility for a
single decision); the workflow checks everything else and answers with the rule."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.actions import Action
from domain.decisions import Actor, Decision, DecisionOutcome, request_id_of
from domain.jurisdiction import Person
from domain.refusals import INPUT, NotFound, Refusal, RefusalKind, Refused, refusal
from domain.stages import Stage
from services.jurisdiction import check_visible
from services.penalties import check_named_units
from services.projects import decide

# One decision's payload, as JSON: far below Temporal's 2 MB per payload, so that no
# decision can fail a project's workflow task (and block its other decisions).
MAX_PAYLOAD_BYTES = 16 * 1024
# A project busy with other decisions (Temporal's limit of updates in flight) is tried
# again this many times, backing off, before its item says 429.
BUSY_RETRIES = 4
_STATUS = {RefusalKind.ROLE: 403, RefusalKind.JURISDICTION: 403, RefusalKind.INPUT: 422,
           RefusalKind.AUTH: 401}


class BulkResult(BaseModel):
    project_id: str
    ok: bool
    status: int
    stage: Stage | None = None
    rule: str | None = None
    message_zh: str | None = None
    message_en: str | None = None


class BulkItem(BaseModel):
    project_id: str
    reason: str = ""
    evidence: list[str] = []
    payload: dict[str, Any] = {}


def payload_too_large(payload: dict[str, Any]) -> Refusal | None:
    if len(json.dumps(payload, ensure_ascii=False).encode()) <= MAX_PAYLOAD_BYTES:
        return None
    return refusal(INPUT, RefusalKind.INPUT,
                   f"决定内容过大（上限{MAX_PAYLOAD_BYTES // 1024}KB）",
                   f"the decision's payload is too large (at most "
                   f"{MAX_PAYLOAD_BYTES // 1024} KB)")


async def make_decision(*, client: Client, db: sessionmaker[Session], project_id: str,
                        action: str, actor: Actor, reason: str, evidence: list[str],
                        payload: dict[str, Any], request_id: str) -> DecisionOutcome:
    """Raises Refused (the rule that refuses it) or RPCError (Temporal unavailable/busy)."""
    too_large = payload_too_large(payload)
    if too_large is not None:
        raise Refused(too_large)
    if action == Action.REVOKE and payload.get("penalties"):  # R18: the named units are known
        await asyncio.to_thread(_check_named, db, payload)
    decision = Decision(request_id=request_id, action=action, actor=actor, reason=reason,
                        evidence=evidence, payload=payload)
    return await decide(client, project_id, decision)


async def make_decisions(*, client: Client, db: sessionmaker[Session], who: Person,
                         actor: Actor, action: str, items: list[BulkItem],
                         base_request_id: str) -> list[BulkResult]:
    """One decision per item; one refusal does not stop or hide the others."""
    out = []
    for item in items:
        out.append(await _one(client=client, db=db, who=who, actor=actor, action=action,
                              item=item, rid=request_id_of(base_request_id, item.project_id)))
    return out


async def _one(*, client: Client, db: sessionmaker[Session], who: Person, actor: Actor,
               action: str, item: BulkItem, rid: str) -> BulkResult:
    pid = item.project_id
    try:
        await asyncio.to_thread(check_visible, db, who, pid)
        for attempt in range(BUSY_RETRIES + 1):
            try:
                outcome = await make_decision(
                    client=client, db=db, project_id=pid, action=action, actor=actor,
                    reason=item.reason, evidence=item.evidence, payload=item.payload,
                    request_id=rid)
                return BulkResult(project_id=pid, ok=True, status=200, stage=outcome.stage)
            except RPCError as exc:
                if exc.status != RPCStatusCode.RESOURCE_EXHAUSTED or attempt == BUSY_RETRIES:
                    raise
                await asyncio.sleep(0.2 * 2 ** attempt)
        raise AssertionError("unreachable")
    except NotFound:
        return BulkResult(project_id=pid, ok=False, status=404, rule="NOT_FOUND",
                          message_zh=f"未找到项目：{pid}",
                          message_en=f"no project {pid} (or not in your jurisdiction)")
    except Refused as exc:
        ref = exc.refusal
        return BulkResult(project_id=pid, ok=False, status=_STATUS.get(ref.kind, 409),
                          rule=ref.rule, message_zh=ref.message_zh, message_en=ref.message_en)
    except RPCError as exc:
        busy = exc.status == RPCStatusCode.RESOURCE_EXHAUSTED
        return BulkResult(
            project_id=pid, ok=False, status=429 if busy else 503,
            rule="BUSY" if busy else "UNAVAILABLE",
            message_zh="该项目正在处理其他决定，请稍后重试" if busy
            else "流程服务暂时不可用，请稍后重试",
            message_en="the project is busy; retry later" if busy
            else "the workflow service is unavailable; retry later")


def _check_named(db: sessionmaker[Session], payload: dict[str, Any]) -> None:
    with db() as session:
        check_named_units(session, payload)
