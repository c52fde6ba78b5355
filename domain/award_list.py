"""The province's merit list (择优, R17; issue 16): a batch's subsidy candidates ranked,
each with its amount, plus the candidates it decides to give nothing, decided as one list.

The list is judged whole before anything changes (`check_award_list`, pure): a wrong entry
refuses the whole list and the refusal names it. Each project's own rules are not
restated here: whether the province may decide its subsidy now is the workflow's own
answer (`Candidate.from_view`: its allowed decisions, which hold the lifecycle table's
stage and guards), and the amount rule is `domain.rules.checks.award_refusal`, the same
function the `decide_subsidy` decision checks. The list then becomes one `decide_subsidy`
(with the rank in its payload) or `decide_no_award` per project (services/award_list.py).

Ranks run batch-wide: a batch's first list ranks 1..n; a later list (for candidates still
undecided) continues after the highest rank an earlier list gave that was not refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain import payloads as p
from domain.actions import Action
from domain.refusals import INPUT, LIFECYCLE, Refusal, RefusalKind, refusal
from domain.roles import Role
from domain.rules import guards as g
from domain.rules.checks import award_refusal
from domain.stages import Stage
from domain.views import ProjectView

MAX_ENTRIES = 500


class AwardEntry(p.Subsidy):
    """A ranked award: the project and the payload its `decide_subsidy` will carry (the
    same fields with the same limits; the rank is required here)."""

    project_id: str = Field(min_length=1, max_length=64)
    rank: int = Field(ge=1, le=1000, description="place on the batch's merit list, 1 = first")

    @field_validator("amount_cny")
    @classmethod
    def _whole_fen(cls, value: float) -> float:
        """An amount is yuan and fen: a finer one (0.004) would be decided as sent and
        shown rounded in the list's exports, which would no longer equal the decision."""
        exponent = Decimal(repr(value)).as_tuple().exponent
        if not isinstance(exponent, int):  # Infinity (NaN is not above 0)
            raise ValueError("金额须为有限数值 / the amount must be a finite number")
        if exponent < -2:
            raise ValueError("金额最多精确到分（两位小数） / the amount has at most two "
                             "decimals (fen)")
        return value

    def payload(self) -> p.Subsidy:
        return p.Subsidy.model_validate(self.model_dump(exclude={"project_id"},
                                                        exclude_none=True))


class NoAwardEntry(BaseModel):
    """A candidate the list gives no award (择优不予奖补), with its own reason."""

    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class AwardList(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "awards": [{"project_id": "p-001", "rank": 1, "amount_cny": 1_000_000, "scenes": 1},
                   {"project_id": "p-002", "rank": 2, "amount_cny": 600_000}],
        "no_awards": [{"project_id": "p-003", "reason": "实施成效一般，择优不予奖补"}],
        "reason": "省级评审会议择优确定奖补名单"}]})
    awards: list[AwardEntry] = Field(default=[], max_length=MAX_ENTRIES)
    no_awards: list[NoAwardEntry] = Field(default=[], max_length=MAX_ENTRIES)
    reason: str = Field(min_length=1, max_length=2000, description="the list's reason")

    @model_validator(mode="after")
    def _not_empty(self) -> AwardList:
        if not self.awards and not self.no_awards:
            raise ValueError("名单至少决定一个项目 / the list decides at least one project")
        if not self.reason.strip():
            raise ValueError("名单须说明理由 / the list needs a reason")
        return self

    def project_ids(self) -> list[str]:
        return [e.project_id for e in self.awards] + [e.project_id for e in self.no_awards]


class Candidate(BaseModel):
    """What the list needs to know of one project, as its workflow answers it now."""

    project_id: str
    batch_id: str
    stage: Stage
    rules: int
    verified_investment_cny: float | None
    may_award: bool  # the province may decide its subsidy now (stage, guards)
    may_decline: bool  # … or decide no award (rules 2)
    cosign_pending: bool
    subsidy_decided: bool

    @classmethod
    def from_view(cls, view: ProjectView) -> Candidate:
        mine = view.allowed.get(Role.PROVINCE.value, [])
        return cls(project_id=view.project_id, batch_id=view.batch_id, stage=view.stage,
                   rules=view.rules, verified_investment_cny=view.verified_investment_cny,
                   may_award=Action.DECIDE_SUBSIDY.value in mine,
                   may_decline=Action.DECIDE_NO_AWARD.value in mine,
                   cosign_pending=view.pending_cosign is not None,
                   subsidy_decided=view.subsidy_amount_cny is not None or view.award is not None)


def _ranked(e: AwardEntry) -> tuple[str, str]:
    return f"排名第{e.rank}项（{e.project_id}）", f"rank {e.rank} ({e.project_id})"


def _declined(i: int, n: NoAwardEntry) -> tuple[str, str]:
    return f"不予奖补第{i}项（{n.project_id}）", f"no-award entry {i} ({n.project_id})"


def _named(who: tuple[str, str], r: Refusal) -> Refusal:
    return refusal(r.rule, r.kind, f"{who[0]}：{r.message_zh}", f"{who[1]}: {r.message_en}")


def _input(who: tuple[str, str], zh: str, en: str) -> Refusal:
    return refusal("R17", RefusalKind.INPUT, f"{who[0]}：{zh}", f"{who[1]}: {en}")


def _unknown(pid: str) -> Refusal:
    return refusal("NOT_FOUND", RefusalKind.JURISDICTION, f"未找到项目：{pid}", f"no project {pid}")


def _why_not(c: Candidate, batch_id: str, *, decline: bool) -> Refusal | None:
    """Why the province may not decide this project's subsidy now, or None."""
    if c.batch_id != batch_id:
        return refusal(INPUT, RefusalKind.INPUT, f"项目不属于批次{batch_id}",
                       f"the project is not in batch {batch_id}")
    if c.stage is not Stage.SUBSIDY:
        return refusal(LIFECYCLE, RefusalKind.STAGE,
                       f"项目处于“{c.stage.label_zh}”阶段，不在补助核定阶段",
                       f"the project is in {c.stage.value}, not in subsidy")
    if c.cosign_pending:
        guard = g.NO_COSIGN_PENDING
        return refusal(guard.rule, RefusalKind.RULE, guard.zh, guard.en)
    if c.subsidy_decided:
        guard = g.SUBSIDY_NOT_DECIDED
        return refusal(guard.rule, RefusalKind.RULE, guard.zh, guard.en)
    if decline and not c.may_decline:
        return refusal(LIFECYCLE, RefusalKind.STAGE,
                       "该项目适用的规则版本没有“择优不予奖补”决定",
                       "the project's rules version has no decide_no_award")
    if not (c.may_decline if decline else c.may_award):
        return refusal(LIFECYCLE, RefusalKind.STAGE, "项目当前不能核定补助",
                       "the project's subsidy cannot be decided now")
    return None


def check_award_list(batch_id: str, body: AwardList, candidates: Mapping[str, Candidate],
                     first_rank: int = 1) -> Refusal | None:
    """Why the list is refused as a whole (naming the entry), or None.

    `candidates` holds every project the list names (the caller has refused unknown and
    invisible ones with 404); `first_rank` is where this list's ranks start (1, or after
    the ranks earlier lists of the batch gave)."""
    named = ([(e.project_id, _ranked(e)) for e in body.awards]
             + [(n.project_id, _declined(i, n)) for i, n in enumerate(body.no_awards, 1)])
    seen: set[str] = set()
    for pid, who in named:
        if pid in seen:
            return _input(who, "项目在名单中出现多次", "the project appears more than once")
        seen.add(pid)

    last = first_rank + len(body.awards) - 1
    ranks: set[int] = set()
    for e in body.awards:
        if e.rank in ranks:
            return _input(_ranked(e), "排名重复", "the rank is given twice")
        ranks.add(e.rank)
    for e in body.awards:  # n distinct ranks, each within first..last: exactly that run
        if not first_rank <= e.rank <= last:
            before = first_rank - 1
            return _input(
                _ranked(e),
                f"排名须从第{first_rank}名起连续编排至第{last}名，不能有空缺"
                + (f"（本批次此前的名单已排至第{before}名）" if before else ""),
                f"ranks run from {first_rank} to {last} without gaps"
                + (f" (earlier lists of the batch ranked up to {before})" if before else ""))

    for e in body.awards:
        c = candidates.get(e.project_id)
        if c is None:
            return _unknown(e.project_id)
        problem = _why_not(c, batch_id, decline=False) or award_refusal(
            e.payload(), rules=c.rules, verified_investment_cny=c.verified_investment_cny)
        if problem is not None:
            return _named(_ranked(e), problem)
    for i, n in enumerate(body.no_awards, 1):
        c = candidates.get(n.project_id)
        if c is None:
            return _unknown(n.project_id)
        problem = _why_not(c, batch_id, decline=True) or (None if n.reason.strip() else refusal(
            INPUT, RefusalKind.INPUT, "不予奖补须填写理由", "no award needs a reason"))
        if problem is not None:
            return _named(_declined(i, n), problem)
    return None


def fingerprint_of(body: AwardList) -> str:
    """The list's content, for telling a retry of it from another list under its id."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()
