"""The province's merit list (issue 16), judged whole before anything changes: pure tests of
`domain.award_list.check_award_list`, with candidates as the workflow's view answers them
(a real ProjectState driven to subsidy) and as plain data."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.award_list import AwardList, Candidate, check_award_list, fingerprint_of
from domain.roles import Role
from domain.rules.checks import award_refusal
from domain.stages import Stage
from tests.support import decision
from tests.test_rules_v2 import _to_subsidy, do, state

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

BATCH = "b-merit"


def cand(pid: str, *, stage: Stage = Stage.SUBSIDY, batch_id: str = BATCH,
         verified: float | None = 2_000_000, rules: int = 2, **kw: Any) -> Candidate:
    in_subsidy = stage is Stage.SUBSIDY
    facts: dict[str, Any] = {"may_award": in_subsidy, "may_decline": in_subsidy and rules >= 2,
                             "cosign_pending": False, "subsidy_decided": False, **kw}
    return Candidate(project_id=pid, batch_id=batch_id, stage=stage, rules=rules,
                     verified_investment_cny=verified, **facts)


def body(awards: list[tuple[str, int, float]] | None = None,
         no_awards: list[str] | None = None, **extra: Any) -> AwardList:
    return AwardList.model_validate({
        "awards": [{"project_id": p, "rank": r, "amount_cny": a} for p, r, a in awards or []],
        "no_awards": [{"project_id": p, "reason": "成效一般"} for p in no_awards or []],
        "reason": "省级评审会议择优确定", **extra})


POOL = {p: cand(p) for p in ("p1", "p2", "p3", "p4")}


def test_a_valid_list_passes() -> None:
    ok = body([("p1", 1, 1_000_000), ("p2", 2, 600_000)], ["p3"])
    assert check_award_list(BATCH, ok, POOL) is None
    # ranks may be given in any order, as long as they are 1..n
    assert check_award_list(BATCH, body([("p2", 2, 1), ("p1", 1, 1)]), POOL) is None


def test_a_gap_or_a_repeat_in_the_ranks_refuses_the_list_naming_the_entry() -> None:
    gap = check_award_list(BATCH, body([("p1", 1, 500_000), ("p2", 3, 500_000)]), POOL)
    assert gap is not None and (gap.rule, gap.kind.value) == ("R17", "input")
    assert "排名第3项（p2）" in gap.message_zh and "rank 3 (p2)" in gap.message_en
    assert "1 to 2 without gaps" in gap.message_en
    twice = check_award_list(BATCH, body([("p1", 1, 500_000), ("p2", 1, 500_000)]), POOL)
    assert twice is not None and "排名第1项（p2）：排名重复" in twice.message_zh
    zero_based = check_award_list(BATCH, body([("p1", 2, 1)]), POOL)
    assert zero_based is not None and zero_based.rule == "R17"


def test_a_later_list_continues_the_ranks() -> None:
    later = body([("p3", 3, 500_000), ("p4", 4, 400_000)])
    assert check_award_list(BATCH, later, POOL, first_rank=3) is None
    restart = check_award_list(BATCH, body([("p3", 1, 500_000)]), POOL, first_rank=3)
    assert restart is not None and "已排至第2名" in restart.message_zh
    assert "earlier lists of the batch ranked up to 2" in restart.message_en


def test_a_project_appears_once() -> None:
    twice = check_award_list(BATCH, body([("p1", 1, 500_000)], ["p1"]), POOL)
    assert twice is not None and twice.rule == "R17" and twice.kind.value == "input"
    assert "不予奖补第1项（p1）" in twice.message_zh and "more than once" in twice.message_en


def test_amounts_follow_the_decisions_own_rule() -> None:
    over_cap = check_award_list(BATCH, body([("p1", 1, 1_000_001)]), POOL)
    assert over_cap is not None and (over_cap.rule, over_cap.kind.value) == ("R17", "rule")
    assert over_cap.message_zh.startswith("排名第1项（p1）：每个场景补助不超过1,000,000元")
    two_scenes = AwardList.model_validate({"awards": [
        {"project_id": "p1", "rank": 1, "amount_cny": 1_500_000, "scenes": 2}], "reason": "x"})
    assert check_award_list(BATCH, two_scenes, POOL) is None
    small = {"p1": cand("p1", verified=300_000)}
    above = check_award_list(BATCH, body([("p1", 1, 300_001)]), small)
    assert above is not None and "验收核定的实际投资（300,000元）" in above.message_zh
    # rules 1: the flat cap, scenes or not
    old = {"p1": cand("p1", rules=1)}
    flat = AwardList.model_validate({"awards": [
        {"project_id": "p1", "rank": 1, "amount_cny": 1_500_000, "scenes": 2}], "reason": "x"})
    refused = check_award_list(BATCH, flat, old)
    assert refused is not None and "单个场景补助不超过" in refused.message_zh


def test_each_project_must_be_an_undecided_candidate_of_the_batch() -> None:
    cases = {
        "other-batch": (cand("x", batch_id="b-other"), "INPUT", "input"),
        "implementation": (cand("x", stage=Stage.IMPLEMENTATION), "LIFECYCLE", "stage"),
        "cosign": (cand("x", cosign_pending=True, may_award=False), "LIFECYCLE", "rule"),
        "decided": (cand("x", subsidy_decided=True, may_award=False), "R17", "rule"),
    }
    for name, (c, rule, kind) in cases.items():
        refusal = check_award_list(BATCH, body([("x", 1, 100_000)]), {"x": c})
        assert refusal is not None, name
        assert (refusal.rule, refusal.kind.value) == (rule, kind), (name, refusal)
        assert refusal.message_zh.startswith("排名第1项（x）："), refusal
    old = {"x": cand("x", rules=1)}
    no_decline = check_award_list(BATCH, body(no_awards=["x"]), old)
    assert no_decline is not None and no_decline.rule == "LIFECYCLE"
    unknown = check_award_list(BATCH, body([("ghost", 1, 1)]), {})
    assert unknown is not None and unknown.rule == "NOT_FOUND"


def test_the_list_shape_is_checked_on_input() -> None:
    with pytest.raises(ValidationError):
        AwardList.model_validate({"reason": "空名单"})  # decides nothing
    with pytest.raises(ValidationError):
        body([("p1", 1, 0)])  # an amount is positive (the Subsidy payload's own limit)
    with pytest.raises(ValidationError):
        AwardList.model_validate({"awards": [{"project_id": "p1", "rank": 1,
                                              "amount_cny": 1}], "reason": ""})
    blank = body(no_awards=["p1"])
    blank.no_awards[0].reason = "  "
    refusal = check_award_list(BATCH, blank, POOL)
    assert refusal is not None and refusal.rule == "INPUT"
    assert fingerprint_of(body([("p1", 1, 1)])) == fingerprint_of(body([("p1", 1, 1)]))
    assert fingerprint_of(body([("p1", 1, 1)])) != fingerprint_of(body([("p1", 1, 2)]))


def test_candidates_from_the_workflows_view_and_one_owner_of_the_amount_rule() -> None:
    """The candidate is what the project's own state answers: its allowed decisions hold
    the lifecycle table's stage and guards, and its amount check is the decision's."""
    s = state("2026")
    at = _to_subsidy(s, verified=1_200_000)
    c = Candidate.from_view(s.view(at))
    assert (c.stage, c.may_award, c.may_decline, c.cosign_pending, c.subsidy_decided,
            c.rules, c.verified_investment_cny) == (Stage.SUBSIDY, True, True, False, False,
                                                    2, 1_200_000)
    lst = body([(s.project.project_id, 1, 1_100_000)])
    by_list = check_award_list(s.batch.batch_id, lst, {c.project_id: c})
    by_decision = s.assess(decision("decide_subsidy", amount_cny=1_100_000), at)
    assert by_list is not None and by_decision is not None
    assert by_list.message_en.endswith(by_decision.message_en)
    assert by_list.message_zh.endswith(by_decision.message_zh)
    alone = award_refusal(lst.awards[0].payload(), rules=2, verified_investment_cny=1_200_000)
    assert alone is not None and alone.message_en == by_decision.message_en

    # The list's decision carries the rank into the award (an optional payload field).
    payload = lst.awards[0].model_copy(update={"amount_cny": 900_000}).payload()
    assert payload.model_dump(exclude_none=True) == {"amount_cny": 900_000, "scenes": 1,
                                                     "rank": 1}
    s.apply(decision("decide_subsidy", **payload.model_dump(exclude_none=True)), at)
    pending = Candidate.from_view(s.view(at))
    assert pending.cosign_pending and not pending.may_award
    refusal = check_award_list(s.batch.batch_id, body([(c.project_id, 1, 1)]),
                               {c.project_id: pending})
    assert refusal is not None and "已有决定在等待会签" in refusal.message_zh
    do(s, "concur", at=at, role=Role.PROVINCE_FINANCE)
    assert s.data.award is not None and s.data.award.rank == 1
    decided = Candidate.from_view(s.view(at))
    assert decided.subsidy_decided and not decided.may_award
    refusal = check_award_list(s.batch.batch_id, body([(c.project_id, 1, 1)]),
                               {c.project_id: decided})
    assert refusal is not None and refusal.rule == "R17" and "补助金额已核定" in refusal.message_zh


def test_an_award_without_a_rank_still_replays() -> None:
    """Histories recorded before the rank existed carry payloads without it."""
    s = state("2024")
    at = _to_subsidy(s)
    do(s, "decide_subsidy", at=at, amount_cny=800_000)
    assert s.data.award is not None and s.data.award.rank is None
