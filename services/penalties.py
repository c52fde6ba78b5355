"""R18 penalties: recorded from a revocation for fraud, checked at submission, lifted by
the province.

The revoke decision carries the penalty (`domain.payloads.Revoke`: grounds `fraud`, the
units the province names, from when, for which batches or until when, the decision's
文号). The workflow accepts or refuses the decision; the penalty rows follow from its
committed record in the read model (`services.projection` calls `follow_penalties` in the
same transaction that writes the record), so a penalty exists exactly when a revocation
for fraud is in a project's history, and a retried or repaired projection writes it once.
A revocation on other grounds, and a termination (R21), carry no penalty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import structlog
from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.orm import Session

from domain.decisions import Actor
from domain.refusals import Refusal, RefusalKind, Refused, refusal
from domain.roles import Role
from models import Unit, UnitPenalty
from models.base import table_of

log = structlog.get_logger()
_penalty, _unit = table_of(UnitPenalty), table_of(Unit)
Executor = Session | Connection


def follow_penalties(conn: Connection, project_id: str, records: Iterable[Mapping[str, Any]],
                     replaced_from: int | None = None) -> int:
    """Make the penalties of a project follow its stored decision records: those of
    records replaced from `replaced_from` on (never committed) go, unless lifted; a
    revoke record on grounds of fraud adds one row per named unit (once). Returns how
    many rows were added."""
    if replaced_from is not None:
        conn.execute(delete(_penalty).where(_penalty.c.project_id == project_id,
                                            _penalty.c.decision_seq >= replaced_from,
                                            _penalty.c.lifted_at.is_(None)))
    added = 0
    for r in records:
        payload = r.get("payload") or {}
        if r.get("action") != "revoke" or payload.get("grounds") != "fraud":
            continue
        have = set(conn.scalars(select(_penalty.c.unit_code).where(
            _penalty.c.project_id == project_id)))
        at: datetime = r["at"]
        for named in payload.get("penalties") or []:
            if named["unit_code"] in have:
                continue
            # Only a registered unit (the API checks before the decision is sent); an
            # unknown code never blocks the projection.
            values = {"project_id": project_id, "decision_seq": r["seq"],
                      "decision_ref": named.get("decision_ref") or payload.get(
                          "decision_ref", ""),
                      "starts_on": date.fromisoformat(named["starts_on"]) if named.get(
                          "starts_on") else at.date(),
                      "until": date.fromisoformat(named["until"]) if named.get("until")
                      else None,
                      "batch_ids": list(named.get("batch_ids") or []),
                      "reason": r.get("reason", "")[:2000], "recorded_by": r["actor_user"],
                      "recorded_at": datetime.now(UTC)}
            conn.execute(insert(_penalty).from_select(
                ["unit_code", *values], select(_unit.c.credit_code, *(
                    _literal(k, v) for k, v in values.items()))
                .where(_unit.c.credit_code == named["unit_code"])))
            added += 1
            log.info("penalty.recorded", project_id=project_id, unit=named["unit_code"],
                     decision_seq=r["seq"])
    return added


def _literal(key: str, value: Any) -> Any:
    from sqlalchemy import literal

    return literal(value, type_=_penalty.c[key].type).label(key)


def check_named_units(session: Session, payload: Mapping[str, Any]) -> None:
    """Before a revocation is sent: the units it names must be registered (a penalty is
    about a unit the registry knows)."""
    for named in payload.get("penalties") or []:
        code = named.get("unit_code", "")
        if session.get(Unit, code) is None:
            raise Refused(refusal("R18", RefusalKind.INPUT, f"处罚对象单位{code}尚未登记",
                                  f"the unit {code} named for a penalty is not registered"))


def check_penalties(db: Executor, codes: list[str], batch_id: str, today: date) -> Refusal | None:
    """R18 at submission: a unit under a penalty in force for this batch is refused."""
    rows = db.execute(select(_penalty, _unit.c.name).join(
        _unit, _unit.c.credit_code == _penalty.c.unit_code).where(
        _penalty.c.unit_code.in_(codes), _penalty.c.lifted_at.is_(None))).all()
    for row in rows:
        if in_force(row.starts_on, row.until, row.batch_ids, batch_id, today):
            scope = (f"适用批次：{'、'.join(row.batch_ids)}" if row.batch_ids else
                     f"期限至{row.until.isoformat()}" if row.until else "至解除为止")
            return refusal(
                "R18", RefusalKind.RULE,
                f"{row.name}因弄虚作假被撤销项目，依{row.decision_ref}不得申报（自"
                f"{row.starts_on.isoformat()}起，{scope}）",
                f"{row.name} is barred after a revocation for fraud (decision "
                f"{row.decision_ref}, from {row.starts_on.isoformat()})")
    return None


def in_force(starts_on: date, until: date | None, batch_ids: list[str], batch_id: str,
             today: date) -> bool:
    """Named batches: only those (from the start day on); else the period, open-ended
    when it has no end."""
    if today < starts_on:
        return False
    if batch_ids:
        return batch_id in batch_ids
    return until is None or today <= until


def lift(session: Session, *, who: Actor, penalty_id: int, reason: str,
         decision_ref: str) -> UnitPenalty:
    """Only the province lifts a penalty; the lifting is recorded on the row."""
    if who.role is not Role.PROVINCE:
        raise Refused(refusal("ROLE", RefusalKind.ROLE, "只有省工信厅可以解除处罚",
                              "only the province lifts a penalty"))
    row = session.get(UnitPenalty, penalty_id, with_for_update=True)
    if row is None:
        raise LookupError(penalty_id)
    if row.lifted_at is not None:
        raise Refused(refusal("R18", RefusalKind.RULE,
                              f"该处罚已于{row.lifted_at.date().isoformat()}解除",
                              "the penalty has already been lifted"))
    session.execute(update(UnitPenalty).where(and_(UnitPenalty.id == penalty_id))
                    .values(lifted_at=datetime.now(UTC), lifted_by=who.user_id,
                            lift_reason=reason, lift_decision_ref=decision_ref))
    session.refresh(row)
    log.info("penalty.lifted", penalty_id=penalty_id, unit=row.unit_code, by=who.user_id)
    return row


def penalties_of(session: Session, code: str) -> list[UnitPenalty]:
    return list(session.scalars(select(UnitPenalty).where(UnitPenalty.unit_code == code)
                                .order_by(UnitPenalty.id)))
