"""Rules version 3 on a real Temporal server (time skipping) and through HTTP: the
co-signature's working-day timers and the operator view of overdue co-signatures, a city's
deadline for its counties and direct cities set as batch data, and the 2024 half-year
round opened by the province for the projects that applied."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx

from activities.notify import MemorySink
from domain.calendar import WorkingDayCalendar
from domain.clock import SHANGHAI, add_months
from domain.roles import Role
from domain.stages import Stage
from tests import support
from tests.api_support import Caller, token
from tests.driver import Harness, next_close
from tests.test_api_award_list import console_as, hidden


async def test_a_pending_cosignature_reminds_then_shows_as_overdue_to_operators(
    ts: Harness, http: httpx.AsyncClient, sink: MemorySink,
) -> None:
    # A close far enough away: the city's co-signature ends with the close (R10).
    d = await ts.start(batch=support.batch("2026", next_close(datetime.now(SHANGHAI), 20)))
    assert (await d.view()).rules == 3
    await d.to_city_review()
    out = await d.do("city_recommend", rank=1)
    assert out.stage is Stage.CITY_REVIEW  # waits for the city finance bureau
    view = await d.view()
    pending = view.pending_cosign
    assert pending is not None and pending.remind_at and pending.overdue_at
    # Working days from the calendar activity: 3 and 5 working days after the day held.
    expected = WorkingDayCalendar().after_working_days(pending.at, [3, 5]).ends_at
    assert [pending.remind_at, pending.overdue_at] == expected
    assert view.next_deadline == pending.overdue_at  # shown as the project's deadline

    operator = Caller(http, token("operator", f"op-{uuid.uuid4().hex[:6]}"))
    r = await operator.get("/operator/cosigns-overdue",
                           params={"batch_id": d.project.batch.batch_id})
    assert r.status_code == 200 and r.json() == []

    await d.advance_to(pending.remind_at + timedelta(minutes=1))
    mine = [n for n in sink.sent if n.project_id == d.project.project_id]
    for _ in range(100):  # the notification activity runs after the timer's task
        if any(n.kind == "cosign_reminder" for n in mine):
            break
        await _pause()
        mine = [n for n in sink.sent if n.project_id == d.project.project_id]
    assert any(n.kind == "cosign_reminder" and n.to_role is Role.CITY_FINANCE for n in mine)
    await d.advance_to(pending.overdue_at + timedelta(minutes=1))
    for _ in range(100):
        view = await d.view()
        if view.pending_cosign is not None and view.pending_cosign.overdue:
            break
        await _pause()
    assert view.pending_cosign is not None and view.pending_cosign.overdue
    assert view.stage is Stage.CITY_REVIEW and view.waiting_on == ["city_finance"]
    rows: list[dict[str, object]] = []
    for _ in range(100):  # visibility is eventually consistent
        r = await operator.get("/operator/cosigns-overdue",
                               params={"batch_id": d.project.batch.batch_id})
        assert r.status_code == 200, r.text
        rows = r.json()
        if rows:
            break
        await _pause()
    assert [(row["project_id"], row["action"], row["cosigner"]) for row in rows] == [
        (d.project.project_id, "city_recommend", "city_finance")]
    assert str(rows[0]["overdue_at"]).endswith("+08:00")
    # Overdue is a report: the bureau can still co-sign.
    assert (await d.do("concur", Role.CITY_FINANCE)).stage is Stage.RECOMMENDED
    r = await Caller(http, token("city", "city-x", "3701")).get("/operator/cosigns-overdue")
    assert r.status_code == 403


async def test_county_deadline_and_direct_cities_are_batch_data_through_http(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:6]
    province = Caller(http, token("province", f"prov-{tag}"))
    close = next_close(datetime.now(SHANGHAI), days=10)
    base = {"name": "2026年度测试批次", "year": 2026, "preset": "2026",
            "close_at": close.isoformat(), "quotas": {"3701": 3}}
    for bad, word in (
        ({"county_review_close": {"3701": (close + timedelta(hours=1)).isoformat()}},
         "晚于批次截止时间"),
        ({"direct_cities": ["3799"]}, "未知的市级代码"),
        ({"direct_cities": ["x"]}, "市级代码"),
        ({"cosign_reminder_working_days": 5, "cosign_overdue_working_days": 4}, "会签"),
    ):
        r = await province.post("/batches", {**base, "batch_id": f"bad-{uuid.uuid4().hex[:6]}",
                                             **bad})
        assert r.status_code == 422, (bad, r.text)
        assert word in r.json()["message_zh"], r.json()
    r = await province.post("/batches", {**base, "batch_id": f"b2024-{tag}", "year": 2024,
                                         "preset": "2024", "direct_cities": ["3701"]})
    assert r.status_code == 422 and "县级审核" in r.json()["message_zh"]

    county_close = close - timedelta(days=5)
    batch_id = f"b-{tag}"
    r = await province.post("/batches", {**base, "batch_id": batch_id,
                                         "county_review_close": {
                                             "3701": county_close.isoformat()},
                                         "direct_cities": ["3702"]})
    assert r.status_code == 201, r.text
    # The project's workflow follows the batch as created (services.drafts.policy_of).
    from models import Batch
    from services.drafts import policy_of
    with ts.db() as s:
        b = s.get(Batch, batch_id)
        assert b is not None
        policy = policy_of(b)
    assert policy.county_review_close == {"3701": county_close}
    assert policy.direct_cities == ["3702"]

    d = await ts.start("2026", batch=policy)
    await d.do("submit")
    view = await d.view()
    assert view.stage is Stage.COUNTY_REVIEW
    assert "county_review_close" in {x.kind for x in view.deadlines}
    assert view.next_deadline == county_close
    await d.advance_to(county_close + timedelta(minutes=1))
    ended = await d.wait_stage(Stage.NOT_RECOMMENDED)
    assert ended.end is not None and ended.end.rule == "R10"
    assert ended.end.action == "county_review_closed"

    direct = await ts.start("2026", batch=policy.model_copy(
        update={"direct_cities": ["3701"], "county_review_close": {}}))
    assert (await direct.do("submit")).stage is Stage.CITY_REVIEW


async def test_2024_half_year_round_opened_by_the_province_for_units_that_applied(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    b = support.batch("2024", next_close(datetime.now(SHANGHAI)))
    applied, silent = await ts.start(batch=b), await ts.start(batch=b)
    views = [await d.to_implementation(rank=rank)
             for rank, d in enumerate((applied, silent), start=1)]
    started = views[-1].implementation_started_at
    assert started is not None
    await applied.do("apply_for_acceptance")
    # The read model holds the application before the round opens.
    await ts.projected(applied.project.project_id, "apply_for_acceptance")
    province = Caller(http, token("province", "prov-round"))
    r = await Caller(http, token("city", "city-round", "3701")).post(
        f"/batches/{b.batch_id}/acceptance-rounds/halfyear", {"reason": "半年期"})
    assert r.status_code == 403
    async with console_as(ts, "prov-round") as console:  # the province's batch page
        page = await console.get(f"/console/batches/{b.batch_id}")
        assert page.status_code == 200 and "组织半年期集中验收" in page.text
        r = await console.post(f"/console/batches/{b.batch_id}/acceptance-round", data={
            "csrf": hidden(page.text, "csrf"), "key": hidden(page.text, "key"),
            "reason": "2024年度半年期集中验收"})
        assert r.status_code == 200 and 'data-testid="bulk-results"' in r.text, r.text[-2000:]
        assert applied.project.project_id in r.text
    assert await applied.stage() is Stage.HALFYEAR_ACCEPTANCE
    assert await silent.stage() is Stage.IMPLEMENTATION
    # Once opened, the round has no candidates left.
    r = await province.post(f"/batches/{b.batch_id}/acceptance-rounds/halfyear",
                            {"reason": "再次组织"}, key=f"round-{b.batch_id}")
    assert r.status_code == 200 and r.json() == [], r.text
    # The one that did not apply goes to the one-year round at its end.
    await silent.advance_to(add_months(started, 12) + timedelta(minutes=1))
    await silent.wait_stage(Stage.FINAL_ACCEPTANCE)
    r = await province.post("/batches/none-such/acceptance-rounds/halfyear", {})
    assert r.status_code == 404


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.1)


async def test_an_approved_change_is_a_new_baseline_version_in_the_export(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """R15: the approved change amends the record as version 2, version 1 kept, and the
    acceptance moves by the months the period change adds."""
    d = await ts.start("2026")
    view = await d.to_implementation()
    opens = next(x.at for x in view.deadlines if x.kind == "final_acceptance_opens")
    await d.do("request_change", kind="implementation_period", description="设备到货延迟",
               extend_months=3)
    await d.do("city_approve_change", Role.CITY)
    out = await d.do("province_approve_change")
    view = await d.view()
    assert [b.version for b in view.baselines] == [2]
    moved = next(x.at for x in view.deadlines if x.kind == "final_acceptance_opens")
    assert moved == add_months(opens, 3)
    province = Caller(http, token("province", "prov-baseline"))
    rows: list[list[str]] = []
    for _ in range(100):  # the projection follows the decision
        r = await province.get(f"/batches/{d.project.batch.batch_id}/baselines.csv")
        assert r.status_code == 200, r.text
        rows = [line.split(",") for line in r.text.lstrip("\ufeff").strip().splitlines()]
        if len(rows) == 3:
            break
        await _pause()
    assert rows[0][:4] == ["项目编号", "项目名称", "所在市", "基线版本"]
    pid = d.project.project_id
    assert [(r[0], r[3], r[4]) for r in rows[1:]] == [(pid, "1", "申报书（入围时）"),
                                                      (pid, "2", "实施期限")]
    assert rows[2][5:8] == ["设备到货延迟", "3", str(out.seq)]
    assert rows[2][8].endswith("+08:00")
