"""The province's merit list (issue 16) through HTTP, on the time-skipping dev server and
PostgreSQL: a 2026 batch with projects driven to subsidy, lists refused whole, a list
decided (each project's own decide_subsidy with its rank, or decide_no_award, waiting for
the finance department's co-signature), a retried request deciding nothing again, a second
list continuing the ranks, and the CSV equal to the decisions."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, func, select

from api.app import create_app
from api.auth import Principal, issue_token
from api.state import AppState
from domain.clock import SHANGHAI
from domain.roles import Role
from domain.stages import Stage
from models import AwardListEntry, AwardListRow, DecisionRow, IdempotencyKey
from tests import support
from tests.api_support import SETTINGS, Caller, token
from tests.driver import Drive, Harness, next_close


async def to_implementation(d: Drive, rank: int) -> None:
    """Drive.to_implementation with the city's rank given (projects of one city)."""
    await d.to_recommended(rank)
    await d.advance_to(d.close_at + timedelta(minutes=1))
    await d.wait_stage(Stage.PROVINCIAL_REVIEW)
    await d.do("assign_experts", experts=[{"user_id": "expert-1"}])
    await d.do("score", score=88)
    await d.do("select")
    await d.do("concur", Role.PROVINCE_FINANCE)
    await d.do("open_publicity")
    end = (await d.view()).publicity_end
    assert end is not None
    await d.advance_to(end + timedelta(minutes=1))
    await d.wait_stage(Stage.IMPLEMENTATION)


async def to_subsidy(d: Drive, rank: int, verified: float) -> None:
    await to_implementation(d, rank)
    await d.do("submit_archive", title="第一期过程档案", evidence=["b" * 64])
    await d.do("request_early_acceptance")
    await d.do("accept_early_acceptance")
    await d.do("pass_acceptance", verified_investment_cny=verified)
    assert await d.stage() is Stage.SUBSIDY


def records(ts: Harness, pids: list[str]) -> dict[str, int]:
    with ts.db() as s:
        return {pid: s.scalar(select(func.count()).select_from(DecisionRow).where(
            DecisionRow.project_id == pid)) or 0 for pid in pids}


async def refused(caller: Caller, url: str, body: dict[str, Any], status: int,
                  rule: str) -> dict[str, Any]:
    r = await caller.post(url, body, key=f"bad-{uuid.uuid4().hex[:8]}")
    assert r.status_code == status and r.json()["rule"] == rule, r.text
    return r.json()  # type: ignore[no-any-return]


@asynccontextmanager
async def console_as(ts: Harness, user: str) -> AsyncIterator[httpx.AsyncClient]:
    """The console in the same app, signed in as the province (its token's cookie)."""
    cfg = SETTINGS.model_copy(update={"storage_dir": Path(tempfile.mkdtemp())})
    app = create_app(AppState(client=ts.env.client, db=ts.db, settings=cfg,
                              task_queue=ts.queue))
    cookie = issue_token(Principal(user_id=user, role=Role.PROVINCE, region="37"),
                         SETTINGS.token_secret)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://console.test",
                                 cookies={"gf_token": cookie}) as client:
        yield client


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found is not None, name
    return found.group(1)


def award(pid: str, rank: int, amount: float, **kw: Any) -> dict[str, Any]:
    return {"project_id": pid, "rank": rank, "amount_cny": amount, **kw}


async def test_a_merit_list_through_http(ts: Harness, http: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:6]
    b = support.batch("2026", next_close(datetime.now(SHANGHAI)), batch_id=f"merit-{tag}")
    drives = [await ts.start(batch=b) for _ in range(5)]
    a, bb, c, d, e = drives
    await asyncio.gather(to_subsidy(a, 1, 2_400_000), to_subsidy(bb, 2, 800_000),
                         to_subsidy(c, 3, 1_000_000), to_subsidy(d, 4, 1_500_000),
                         to_implementation(e, 5))
    elsewhere = await ts.start()  # a draft of another batch
    A, B, C, D, E = (x.project.project_id for x in drives)
    ids = [A, B, C, D, E]

    province = Caller(http, token("province", f"prov-{tag}"))
    prov_fin = Caller(http, token("province_finance", f"pf-{tag}"))
    city = Caller(http, token("city", f"city-{tag}", support.CITY))
    other_city = Caller(http, token("city", f"city-qd-{tag}", "3702"))
    county = Caller(http, token("county", f"county-{tag}", support.COUNTY))
    url = f"/batches/{b.batch_id}/award-list"
    reason = "省级评审会议择优确定奖补名单"
    good = {"awards": [award(A, 1, 1_000_000), award(B, 2, 800_000)],
            "no_awards": [{"project_id": C, "reason": "实施成效一般，择优不予奖补"}],
            "reason": reason}

    # -- refused whole, naming the entry; nothing changes --------------------------------
    before = records(ts, ids)
    over_cap = await refused(province, url, {**good, "awards": [
        award(A, 1, 1_000_001), award(B, 2, 800_000)]}, 409, "R17")
    assert over_cap["message_zh"].startswith(f"排名第1项（{A}）：每个场景补助不超过")
    above = await refused(province, url, {**good, "awards": [
        award(A, 1, 1_000_000), award(B, 2, 800_001)]}, 409, "R17")
    assert f"rank 2 ({B})" in above["message_en"] and "800,000" in above["message_zh"]
    gap = await refused(province, url, {**good, "awards": [
        award(A, 1, 1_000_000), award(B, 3, 800_000)]}, 422, "R17")
    assert f"排名第3项（{B}）" in gap["message_zh"] and "without gaps" in gap["message_en"]
    twice = await refused(province, url, {**good, "no_awards": [
        {"project_id": A, "reason": "重复"}]}, 422, "R17")
    assert "more than once" in twice["message_en"]
    not_in_subsidy = await refused(province, url, {**good, "awards": [
        award(A, 1, 1_000_000), award(E, 2, 500_000)]}, 409, "LIFECYCLE")
    assert f"rank 2 ({E})" in not_in_subsidy["message_en"]
    wrong_batch = await refused(province, url, {**good, "awards": [
        award(elsewhere.project.project_id, 1, 500_000)], "no_awards": []}, 422, "INPUT")
    assert b.batch_id in wrong_batch["message_en"]
    await refused(province, url, {**good, "awards": [award(f"p-none-{tag}", 1, 1)]},
                  404, "NOT_FOUND")
    await refused(province, f"/batches/none-{tag}/award-list", good, 404, "NOT_FOUND")
    await refused(province, url, {**good, "awards": [award(A, 1, 0)]}, 422, "INPUT")
    for role in (city, prov_fin, county):
        await refused(role, url, good, 403, "ROLE")
    assert records(ts, ids) == before
    listed = (await province.get(url)).json()
    assert listed["lists"] == [] and listed["next_rank"] == 1
    assert {x["project_id"] for x in listed["undecided"]} == {A, B, C, D}

    # -- decided: each project its own decision, waiting for the finance department -------
    r = await province.post(url, good, key=f"list-{tag}")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["first_rank"] == 1 and not out["replayed"]
    assert [(x["project_id"], x["ok"], x["stage"]) for x in out["results"]] == [
        (A, True, "subsidy"), (B, True, "subsidy"), (C, True, "subsidy")]
    after = records(ts, ids)
    assert after == {**before, A: before[A] + 1, B: before[B] + 1, C: before[C] + 1}
    view = (await province.get(f"/projects/{A}")).json()
    last = view["decisions"][-1]
    assert last["action"] == "decide_subsidy" and last["payload"] == {
        "amount_cny": 1_000_000, "scenes": 1, "rank": 1}
    assert last["reason"] == reason and view["view"]["pending_cosign"]["cosigner"] == \
        "province_finance"

    # -- a retry decides nothing again ----------------------------------------------------
    again = await province.post(url, good, key=f"list-{tag}")
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    assert again.content == r.content
    # The answer lost (the key's record gone, as after a crash before it was stored): the
    # request runs again, finds its list, and each workflow answers its first outcome.
    with ts.db.begin() as s:
        s.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == f"prov-{tag}",
                                               IdempotencyKey.key == f"list-{tag}"))
    rerun = await province.post(url, good, key=f"list-{tag}")
    assert rerun.status_code == 200 and rerun.headers.get("idempotent-replayed") is None
    assert rerun.json()["replayed"] and rerun.json()["list_id"] == out["list_id"]
    assert rerun.json()["results"] == out["results"]
    assert records(ts, ids) == after
    with ts.db() as s:
        assert s.scalar(select(func.count()).select_from(AwardListRow).where(
            AwardListRow.batch_id == b.batch_id)) == 1
    clash = await province.post(url, {**good, "reason": "另一份名单"}, key=f"list-{tag}")
    assert clash.status_code == 409 and clash.json()["rule"] == "IDEMPOTENCY"

    # A project already on a list (its decision awaiting co-signature) cannot be listed.
    pending = await refused(province, url, {"awards": [award(A, 3, 1_000)], "reason": "x"},
                            409, "LIFECYCLE")
    assert "已有决定在等待会签" in pending["message_zh"]

    listed = (await province.get(url)).json()
    assert [(x["project_id"], x["rank"], x["state"]) for x in listed["lists"][0]["entries"]] \
        == [(A, 1, "awaiting_cosign"), (B, 2, "awaiting_cosign"), (C, None, "awaiting_cosign")]
    assert [x["project_id"] for x in listed["undecided"]] == [D] and listed["next_rank"] == 3

    # -- jurisdiction: the county of these projects sees them; another city sees none -----
    assert len((await county.get(url)).json()["lists"][0]["entries"]) == 3
    theirs = (await other_city.get(url)).json()
    assert theirs["lists"] == [] and theirs["undecided"] == []
    r = await other_city.get(f"{url}.csv")
    assert r.status_code == 200 and len(r.text.lstrip("\ufeff").splitlines()) == 1

    # -- the finance department co-signs two, dissents on one ------------------------------
    await prov_fin.decide(A, "concur", reason="同意")
    assert (await prov_fin.decide(C, "concur", reason="同意"))["stage"] == "supervision"
    await prov_fin.decide(B, "dissent", reason="资金安排不同意")
    detail = (await province.get(f"/projects/{A}")).json()["view"]
    assert detail["subsidy_amount_cny"] == 1_000_000 and detail["award"]["rank"] == 1
    listed = (await province.get(url)).json()
    assert [x["state"] for x in listed["lists"][0]["entries"]] == ["decided", "lapsed",
                                                                   "decided"]
    assert {x["project_id"] for x in listed["undecided"]} == {B, D}

    # -- a second list, from the console's page: the ranks continue; B, whose award lapsed,
    # may be listed again ------------------------------------------------------------------
    async with console_as(ts, f"prov-{tag}") as console:
        page = await console.get(f"/console/batches/{b.batch_id}/awards")
        assert page.status_code == 200 and "择优奖补名单" in page.text
        assert f'name="rank_{D}"' in page.text and f'name="rank_{B}"' in page.text
        assert f'name="rank_{A}"' not in page.text  # decided: shown in its list only
        assert "从第3名起连续编排" in page.text and "待省财政厅会签" not in page.text
        form = {"csrf": hidden(page.text, "csrf"), "key": hidden(page.text, "key"),
                "reason": "第二批择优", f"rank_{D}": "1", f"amount_{D}": "1500000",
                f"scenes_{D}": "2"}
        restart = await console.post(f"/console/batches/{b.batch_id}/awards", data=form)
        assert restart.status_code == 422 and "已排至第2名" in restart.text
        form.update({"key": uuid.uuid4().hex, f"rank_{D}": "3", f"rank_{B}": "4",
                     f"amount_{B}": "700000"})
        r = await console.post(f"/console/batches/{b.batch_id}/awards", data=form)
        assert r.status_code == 200 and 'data-testid="bulk-results"' in r.text, r.text[-2000:]
        assert "被拒绝" not in r.text.split('data-testid="bulk-results"')[1].split("</section>")[0]
    listed = (await province.get(url)).json()
    assert [(x["project_id"], x["rank"], x["amount_cny"], x["scenes"])
            for x in listed["lists"][1]["entries"]] == [(D, 3, 1_500_000, 2), (B, 4, 700_000, 1)]
    assert listed["lists"][1]["first_rank"] == 3 and listed["undecided"] == []
    for pid in (D, B):
        await prov_fin.decide(pid, "concur", reason="同意")

    # -- the CSV equals the decisions -------------------------------------------------------
    r = await province.get(f"{url}.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [(x["排名"], x["项目编号"], x["决定"], x["状态"]) for x in rows] == [
        ("1", A, "奖补", "已生效"), ("2", B, "奖补", "未生效（不同意、撤回或阶段变更）"),
        ("", C, "不予奖补", "已生效"), ("3", D, "奖补", "已生效"), ("4", B, "奖补", "已生效")]
    with ts.db() as s:
        entries = {(x.list_id, x.project_id): x.request_id for x in s.scalars(
            select(AwardListEntry))}
    for row in rows:
        pid = row["项目编号"]
        detail = (await province.get(f"/projects/{pid}")).json()
        list_id = int(row["名单编号"])
        made = next(x for x in detail["decisions"]
                    if x["request_id"] == entries[list_id, pid])
        if row["决定"] == "奖补":
            assert made["action"] == "decide_subsidy"
            assert made["payload"]["rank"] == int(row["排名"])
            assert made["payload"]["amount_cny"] == float(row["奖补金额（元）"])
            assert made["payload"]["scenes"] == int(row["场景数"])
            assert row["奖补对象（统一社会信用代码）"] == detail["view"]["applicant_unit"]
        else:
            assert made["action"] == "decide_no_award" and made["reason"] == row["理由"]
        assert float(row["验收核定投资（元）"]) == detail["view"]["verified_investment_cny"]
        if row["状态"] == "已生效" and row["决定"] == "奖补":
            assert detail["view"]["subsidy_amount_cny"] == float(row["奖补金额（元）"])
            assert detail["view"]["award"]["rank"] == int(row["排名"])
    results = list(csv.DictReader(io.StringIO(
        (await province.get(f"/batches/{b.batch_id}/results.csv")).text.lstrip("\ufeff"))))
    assert {x["project_id"]: x["subsidy_amount_cny"] for x in results if x["project_id"] in ids
            } == {A: "1000000.0", B: "700000.0", C: "", D: "1500000.0", E: ""}
