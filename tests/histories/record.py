"""Record full lifecycle histories from real runs, for the replay test.

    .venv/bin/python -m tests.histories.record                      # every scenario
    .venv/bin/python -m tests.histories.record complete_2026 --suffix _head   # one, beside

Runs each scenario on the time-skipping dev server with a worker and a PostgreSQL
database of its own, and writes `<scenario>.json` (the history as Temporal exports it)
beside this file plus `index.json` (the stages and end each must replay to). Re-record
only when a change is meant to be incompatible, and then behind `workflow.patched`:
the old files must keep replaying. With `--suffix`, the chosen scenarios are recorded
beside the old files (`<scenario><suffix>.json`) and added to `index.json`, so a change in
what the workflow records is kept in both forms: `complete_2026_head` is the complete
lifecycle after the projection began to return the chain head.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from audit.replay import replay_proof
from domain import search_attributes as sa
from domain.clock import SHANGHAI
from domain.roles import Role
from domain.stages import Stage
from runtime.db import scratch_database, sessions
from runtime.logging import configure_logging
from runtime.temporal import temporal_cli
from tests import support
from tests.driver import Drive, Harness, next_close
from worker import build_worker

HERE = Path(__file__).resolve().parent


async def complete(d: Drive) -> None:
    from tests.test_projection import complete_2026

    await complete_2026(d)


async def complete_2024(d: Drive) -> None:
    # Rules 2: passing the half-year round completes acceptance (recorded before them, the
    # file went on to the one-year round).
    await _halfyear_passed_and_awarded(d)
    await d.do("record_disbursement")


async def _halfyear_passed_and_awarded(d: Drive) -> None:
    """2024: to the half-year round (rules 3: on application, opened by the province;
    before: by timer), passed, and the subsidy decided."""
    from domain.clock import add_months
    from domain.stages import Stage

    view = await d.to_implementation()
    assert view.implementation_started_at is not None
    if view.rules >= 3:
        await d.advance_to(add_months(view.implementation_started_at, 6) - timedelta(days=1))
        await d.do("apply_for_acceptance")
        await d.do("open_halfyear_round")
    else:
        await d.advance_to(add_months(view.implementation_started_at, 6) + timedelta(minutes=1))
    await d.wait_stage(Stage.HALFYEAR_ACCEPTANCE)
    await d.do("pass_halfyear_acceptance", verified_investment_cny=1_500_000)
    await d.do("decide_subsidy", amount_cny=600_000)


async def _to_final_acceptance(d: Drive) -> None:
    from domain.stages import Stage

    await d.to_implementation()
    await d.do("request_early_acceptance", reason="已具备验收条件")
    await d.do("accept_early_acceptance")
    assert await d.stage() is Stage.FINAL_ACCEPTANCE


async def rectified_then_passed(d: Drive) -> None:
    """R16: rectify by a deadline, the report submitted, re-acceptance passes; no award
    on merit (R17), then supervision (R18) to completion."""
    await _to_final_acceptance(d)
    await d.do("rectify", days=30, reason="专账不完整")
    await d.do("submit_rectification", evidence=[support.SHA])
    await d.do("pass_acceptance", verified_investment_cny=2_000_000)
    await d.do("decide_no_award", reason="择优：成效不突出")
    await d.do("concur", Role.PROVINCE_FINANCE)
    await _through_supervision(d)


async def _through_supervision(d: Drive) -> None:
    from datetime import timedelta

    view = await d.view()
    assert view.supervision_ends_at is not None
    await d.advance_to(view.supervision_ends_at + timedelta(minutes=1))


async def terminated(d: Drive) -> None:
    """R21: the applicant asks to terminate, the city endorses, the province approves."""
    await d.to_implementation()
    await d.do("request_termination", reason="企业经营调整，主动终止")
    await d.do("endorse_termination")
    await d.do("approve_termination")


async def revoked_after_completion(d: Drive) -> None:
    """R18: fraud found in supervision after the subsidy was paid: clawback, repaid."""
    await _halfyear_passed_and_awarded(d)
    await d.do("record_disbursement", amount_cny=600_000, reference="鲁财拨1号")
    await d.do("revoke", reason="监管期内发现虚报投资", grounds="fraud")
    await d.do("record_repayment", amount_cny=600_000)
    await d.do("settle_clawback")


async def cosign_overdue(d: Drive) -> None:
    """Rules 3: the city finance bureau is reminded, the co-signature goes overdue, the
    bureau then concurs; at the close the province declares the project ineligible."""
    await d.to_city_review()
    await d.do("city_recommend", rank=1)
    pending = (await d.view()).pending_cosign
    assert pending is not None and pending.overdue_at is not None
    await d.advance_to(pending.overdue_at + timedelta(minutes=1))
    await d.do("concur", Role.CITY_FINANCE)
    await d.advance_to(d.close_at + timedelta(minutes=1))
    await d.wait_stage(Stage.PROVINCIAL_REVIEW)
    await d.do("declare_ineligible", rule="R6", reason="实施地点不在省内")


async def county_deadline(d: Drive) -> None:
    """Rules 3: the city's deadline for its counties passes with the project in county
    review: it ends not recommended (R10)."""
    await d.do("submit")
    close = d.project.batch.county_review_close[d.project.city_code]
    await d.advance_to(close + timedelta(minutes=1))


async def returned_then_closed(d: Drive) -> None:
    from datetime import timedelta

    await d.do("submit")
    await d.do("county_return", reason="补充材料")
    await d.do("resubmit")
    await d.do("county_approve")
    await d.advance_to(d.close_at + timedelta(minutes=1))


async def removed_in_publicity(d: Drive) -> None:
    await d.to_selected()
    await d.do("open_publicity")
    await d.do("raise_objection", reason="举报")
    await d.do("uphold_objection", reason="异议成立")


async def revoked(d: Drive) -> None:
    await d.to_implementation()
    await d.do("revoke", reason="弄虚作假")


async def not_selected(d: Drive) -> None:
    await d.to_provincial_review()
    await d.do("assign_experts", experts=[{"user_id": "expert-1"}])
    await d.do("score", score=40)
    await d.do("not_select", reason="评分未达线")
    await d.do("concur", Role.PROVINCE_FINANCE)


async def outside_actions(d: Drive) -> None:
    """What Temporal's own actions do (domain.outside): a deadline signal sent by hand is
    refused, a cancel request recorded and ignored, the API's sealed extension applied;
    the project then closes at the extended deadline (R10)."""
    from datetime import timedelta

    from domain.decisions import DeadlineChange
    from domain.stages import Stage
    from services.projects import change_deadline

    await d.do("submit")
    forged = DeadlineChange(request_id="forged", actor=support.ACTORS[Role.PROVINCE],
                            scope="batch", new_deadline=d.close_at + timedelta(days=30))
    await d.handle.signal("change_deadline", forged)
    await d.handle.cancel(reason="recorded: a cancel request")
    new_close = d.close_at + timedelta(days=1)
    await change_deadline(d.client, d.handle.id, DeadlineChange(
        request_id="ext-recorded", actor=support.ACTORS[Role.PROVINCE], scope="batch",
        new_deadline=new_close, reason="延期一天"))
    await d.do("county_approve")
    await d.advance_to(d.close_at + timedelta(minutes=1))
    assert await d.stage() is Stage.CITY_REVIEW
    await d.advance_to(new_close + timedelta(minutes=1))


SCENARIOS: dict[str, tuple[str, Callable[[Drive], Awaitable[None]]]] = {
    "complete_2026": ("2026", complete),
    "complete_2024": ("2024", complete_2024),
    "returned_then_not_recommended_2026": ("2026", returned_then_closed),
    "removed_in_publicity_2026": ("2026", removed_in_publicity),
    "revoked_2026": ("2026", revoked),
    "not_selected_2026": ("2026", not_selected),
    "outside_actions_2026": ("2026", outside_actions),
    # Rules version 2 (issue 16): the new ends.
    "rectified_then_passed_2026": ("2026", rectified_then_passed),
    "terminated_2026": ("2026", terminated),
    "revoked_after_completion_2024": ("2024", revoked_after_completion),
    # Rules version 3.
    "halfyear_round_2024": ("2024", complete_2024),
    "cosign_overdue_2026": ("2026", cosign_overdue),
    "county_deadline_2026": ("2026", county_deadline),
}
# Batch data of the scenarios that need it (a supervision period to revoke in).
BATCH_DATA: dict[str, dict[str, Any]] = {
    "rectified_then_passed_2026": {"supervision_years": 1},
    "revoked_after_completion_2024": {"supervision_years": 1},
}
# Days from now to the close, where the default 3 is too short for the scenario.
CLOSE_DAYS = {"cosign_overdue_2026": 20, "county_deadline_2026": 10}


async def main(names: list[str], suffix: str) -> None:
    configure_logging("console", "warning")
    with scratch_database("gongfu_record") as url:
        await record(url, names or list(SCENARIOS), suffix)


async def record(url: str, names: list[str], suffix: str = "") -> None:
    engine = create_engine(url)
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False), dev_server_existing_path=temporal_cli(),
        search_attributes=sa.ALL, data_converter=pydantic_data_converter,
        dev_server_extra_args=["--dynamic-config-value",
                               "frontend.WorkflowTimeSkippingEnabled=true"])
    kept = names != list(SCENARIOS) or suffix  # the others stay as they were recorded
    index = json.loads((HERE / "index.json").read_text()) if kept else {}
    try:
        async with build_worker(env.client, "record", db=sessions(engine)):
            harness = Harness(env, sessions(engine), "record")
            for name in names:
                preset, drive = SCENARIOS[name]
                scenario = f"{name}{suffix}"
                close = next_close(datetime.now(SHANGHAI), CLOSE_DAYS.get(name, 3))
                data = dict(BATCH_DATA.get(name, {}))
                if name == "county_deadline_2026":
                    data["county_review_close"] = {support.CITY: close - timedelta(days=5)}
                b = support.batch(preset, close, batch_id=f"recorded-{scenario}", **data)
                d = await harness.start(batch=b, project_id=f"recorded-{scenario}")
                await drive(d)
                await d.result()
                history = await d.handle.fetch_history()
                proof = await replay_proof(history)
                assert proof.replays, proof.reason
                (HERE / f"{scenario}.json").write_text(history.to_json())
                index[scenario] = {"workflow_id": history.workflow_id, "stages": proof.stages,
                                   "end": proof.end, "events": proof.events}
                print(f"{scenario}: {proof.events} events, {' → '.join(proof.stages)}")
    finally:
        await env.shutdown()
        engine.dispose()
    (HERE / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=2,
                                                default=str))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.histories.record")
    parser.add_argument("names", nargs="*", metavar="scenario",
                        help=f"any of {', '.join(SCENARIOS)}; default all")
    parser.add_argument("--suffix", default="", help="record beside the old files")
    args = parser.parse_args()
    if unknown := sorted(set(args.names) - set(SCENARIOS)):
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    asyncio.run(main(args.names, args.suffix))
    sys.stdout.flush()
    os._exit(0)
