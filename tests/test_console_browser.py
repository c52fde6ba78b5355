"""The console in a real browser (Debian's chromium, driven by Playwright), on the real
stack: the app served by uvicorn, the time-skipping Temporal dev server with the real
worker, and PostgreSQL. Nothing is mocked; only the workflow clock is moved on.

One whole 2026 lifecycle is clicked through page by page, by each role in turn; on the
way, a refusal is shown to the user, an official of another county sees none of it, the
county approves in bulk, and the city's ranked list is refused for exceeding the quota
and then accepted. Screenshots of the main pages are written (see tests/browser.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import Principal, issue_token
from api.state import AppState
from domain.clock import SHANGHAI
from tests import support
from tests.api_support import SETTINGS, Caller, token
from tests.browser import chromium_path, screenshot_dir, serve, why_no_browser
from tests.driver import Harness, next_close
from tests.test_api_lifecycle import advance_to

pytestmark = pytest.mark.skipif(why_no_browser() is not None, reason=str(why_no_browser()))

CITY, COUNTY, OTHER_COUNTY = "3701", "370102", "370103"


@pytest.fixture(scope="module")
async def site(ts: Harness, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    cfg = SETTINGS.model_copy(update={"storage_dir": tmp_path_factory.mktemp("console-docs"),
                                      "console_demo_sign_in": True})
    app = create_app(AppState(client=ts.env.client, db=ts.db, settings=cfg, task_queue=ts.queue))
    async with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path(),
                                     args=["--no-sandbox", "--disable-gpu"])
        yield b
        await b.close()


class User:
    """One official in a browser context of their own (their own cookies)."""

    def __init__(self, site: str, page: Any, shots: Path) -> None:
        self.site, self.page, self.shots = site, page, shots

    async def go(self, path: str) -> None:
        await self.page.goto(self.site + path)

    async def shot(self, name: str) -> None:
        await self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    async def text(self, selector: str) -> str:
        return await self.page.inner_text(selector)  # type: ignore[no-any-return]

    async def decide(self, pid: str, action: str, fields: dict[str, str] | None = None,
                     reason: str = "") -> None:
        """Open the project page, open the decision's form, fill it in, send it."""
        await self.go(f"/console/projects/{pid}")
        form = self.page.locator(f'form[data-action="{action}"]')
        details = self.page.locator(f'details:has(form[data-action="{action}"])')
        if not await details.evaluate("d => d.open"):
            await self.page.click(f'[data-testid="action-{action}"]')
        for name, value in (fields or {}).items():
            field = form.locator(f'[name="f_{name}"]')
            if await field.evaluate("e => e.tagName") == "SELECT":
                await field.select_option(value)
            else:
                await field.fill(value)
        if reason:
            await form.locator('[name="reason"]').fill(reason)
        await form.locator('button[type="submit"]').click()
        await self.page.wait_for_load_state()

    async def until(self, path: str, selector: str, text: str, tries: int = 60) -> None:
        """Reload until the text is there (lists read the read model, a moment behind)."""
        for _ in range(tries):
            await self.go(path)
            if text in await self.page.inner_text(selector):
                return
            await self.page.wait_for_timeout(100)
        raise AssertionError(f"{text!r} never appeared in {selector} of {path}: "
                             f"{(await self.page.inner_text('body'))[:1500]}")


async def sign_in(browser: Any, site: str, shots: Path, role: str, user: str,
                  region: str = "37", unit: str | None = None) -> User:
    """The demo picker when it offers this user, else the token (the API's own) pasted."""
    context = await browser.new_context(viewport={"width": 1280, "height": 860},
                                        locale="zh-CN", timezone_id="Europe/London")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await page.goto(f"{site}/console/")
    assert "/console/login" in page.url  # signed out: to the sign-in page
    value = "|".join((role, region, unit or "", user))
    if await page.locator(f'#demo option[value="{value}"]').count():
        await page.select_option("#demo", value)
        await page.click("form:has(#demo) button[type=submit]")
    else:
        p = Principal(user_id=user, role=role, region=region, unit_code=unit)  # type: ignore[arg-type]
        await page.fill("#token", issue_token(p, SETTINGS.token_secret))
        await page.click("form:has(#token) button[type=submit]")
    await page.wait_for_load_state()
    assert user in await page.inner_text('[data-testid="me"]')
    return User(site, page, shots)


async def test_a_2026_lifecycle_clicked_through_by_every_role(
    ts: Harness, site: str, browser: Any, http: httpx.AsyncClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    started = time.monotonic()
    shots = screenshot_dir(tmp_path_factory.mktemp("screenshots"))
    tag = uuid.uuid4().hex[:6]
    lead = support.unit("service_provider", region=COUNTY)
    scene = support.unit("manufacturer", region=COUNTY)
    close = next_close(datetime.now(SHANGHAI))
    batch_id = f"c-{tag}"
    # The batch is the province's set-up (the API's POST /batches); quota 1 for the city.
    province_api = Caller(http, token("province", f"prov-{tag}"))
    r = await province_api.post("/batches", {
        "batch_id": batch_id, "name": "2026年度工赋百景揭榜挂帅（浏览器测试）", "year": 2026,
        "preset": "2026", "close_at": close.isoformat(), "quotas": {CITY: 1}})
    assert r.status_code == 201, r.text
    other = await _second_project(http, batch_id, tag)

    # -- applicant: units, the application, a document, submit --------------------------
    app = await sign_in(browser, site, shots, "applicant", f"app-{tag}", CITY, lead.credit_code)
    # Each unit registers itself (R19: an applicant token registers only its own unit).
    scene_app = await sign_in(browser, site, shots, "applicant", f"scene-{tag}", CITY,
                              scene.credit_code)
    for who, u in ((app, lead), (scene_app, scene)):
        await who.go("/console/units")
        await who.page.fill("#u-code", u.credit_code)
        await who.page.fill("#u-name", u.name)
        await who.page.select_option("#u-kind", u.kind)
        await who.page.select_option("#u-region", COUNTY)
        await who.page.click("form.card button[type=submit]")
        assert u.credit_code in await who.text("main")
        assert "refusal" not in await who.page.content()
    await app.go(f"/console/new?batch={batch_id}")
    await app.page.fill("#n-title", "生产制造大模型应用（浏览器）")
    await app.page.select_option("#n-task", "T3")
    await app.page.select_option("#n-county", COUNTY)
    await app.page.fill("#n-investment", "3000000")
    await app.page.fill("#n-members", f"{scene.credit_code} scene")
    await app.shot("applicant-new")
    await app.page.click("form.card button[type=submit]")
    await app.page.wait_for_url("**/console/projects/p-*")
    pid = app.page.url.rsplit("/", 1)[-1]
    # R20: the scene unit confirms its participation on the project page, with its token.
    assert "待确认参与" in await app.text('[data-testid="consortium"]')
    await scene_app.go(f"/console/projects/{pid}")
    await scene_app.page.fill("#consent-note", "已签订联合体协议")
    await scene_app.page.click("button[name=agree][value=true]")
    await scene_app.page.wait_for_url("**done=consent")
    assert "已确认参与" in await scene_app.text(f'[data-testid="consent-{scene.credit_code}"]')
    await app.go(f"/console/projects/{pid}")
    assert await app.text('[data-testid="stage"]') == "草稿"
    await app.page.click('[data-testid="action-attach_document"]')
    await app.page.select_option("#up-kind", "feasibility_report")
    await app.page.set_input_files("#up-file", files=[{
        "name": "可行性研究报告.pdf", "mimeType": "application/pdf",
        "buffer": b"%PDF-1.4 feasibility study"}])
    await app.page.click("form[enctype] button[type=submit]")
    await app.page.wait_for_url("**done=attach_document")
    assert "可行性研究报告.pdf" in await app.text('[data-testid="documents"]')
    await app.decide(pid, "submit")
    assert await app.text('[data-testid="stage"]') == "县级审核"

    # -- county: the inbox, a bulk approval of both projects ------------------------------
    county = await sign_in(browser, site, shots, "county", f"demo-county-{COUNTY}", COUNTY)
    await county.until("/console/", "main", other)
    await county.until("/console/", "main", pid)
    await county.shot("county-inbox")
    await county.page.check(f"#pick-{pid}")
    await county.page.check(f"#pick-{other}")
    await county.page.select_option("#bulk-action", "county_approve")
    await county.page.fill("#bulk-reason", "材料齐全，同意推荐至市")
    await county.page.click("fieldset.bulk button")
    results = await county.text('[data-testid="bulk-results"]')
    assert results.count("成功") == 2, results

    # -- another county's official sees none of it ----------------------------------------
    outsider = await sign_in(browser, site, shots, "county", f"county-x-{tag}", OTHER_COUNTY)
    assert pid not in await outsider.text("main") and other not in await outsider.text("main")
    await outsider.go(f"/console/projects?batch_id={batch_id}")
    assert pid not in await outsider.text("main")
    await outsider.go(f"/console/projects/{pid}")
    assert "NOT_FOUND" in await outsider.text('[data-testid="refusal"]')
    assert "生产制造大模型应用" not in await outsider.text("main")

    # -- city: the ranked list, refused over the quota, then accepted ----------------------
    city = await sign_in(browser, site, shots, "city", f"demo-city-{CITY}", CITY)
    await city.until(f"/console/batches/{batch_id}/ranking", "main", other)
    await city.until(f"/console/batches/{batch_id}/ranking", "main", pid)
    await city.page.fill(f"#rank-{pid}", "1")
    await city.page.fill(f"#rank-{other}", "2")
    await city.page.click('[data-testid="ranking-form"] button[type=submit]')
    refusal = await city.text('[data-testid="refusal"]')
    assert "R8" in refusal and "名额" in refusal, refusal
    await city.shot("city-ranking-refused")
    await city.page.fill(f"#rank-{other}", "")
    await city.page.click('[data-testid="ranking-form"] button[type=submit]')
    results = await city.text('[data-testid="bulk-results"]')
    assert "成功" in results and "被拒绝" not in results, results
    assert "1 / 1" in await city.text('[data-testid="quota-meter"]')
    await city.shot("city-ranking-accepted")
    await city.go(f"/console/batches/{batch_id}")
    async with city.page.expect_download() as download:
        await city.page.click(f'[data-testid="summary-{CITY}"]')
    assert (await download.value).suggested_filename.endswith(f"{CITY}.xlsx")

    # -- city finance: the co-signature queue ---------------------------------------------
    fin = await sign_in(browser, site, shots, "city_finance", f"demo-finance-{CITY}", CITY)
    await fin.until("/console/", "main", pid)
    await fin.shot("city-finance-queue")
    await fin.decide(pid, "concur", reason="市财政局会签同意")
    assert await fin.text('[data-testid="stage"]') == "已推荐至省"

    # -- the system closes; the province reviews ------------------------------------------
    await advance_to(ts, pid, close + timedelta(minutes=1))
    province = await sign_in(browser, site, shots, "province", "demo-province")
    await province.until(f"/console/projects/{pid}", '[data-testid="stage"]', "省级评审")
    expert_id = f"expert-{tag}"
    await province.decide(pid, "assign_experts", {"experts": expert_id})
    assert "分配评审专家" in await province.text('[data-testid="done"]')

    expert = await sign_in(browser, site, shots, "expert", expert_id)
    await expert.until("/console/", "main", pid)
    await expert.decide(pid, "score", {"score": "91", "method": "online_defence"})
    await expert.shot("expert-scored")
    assert "91" in await expert.text('[data-testid="scores"]')

    await province.decide(pid, "select", reason="专家评审通过")
    pf = await sign_in(browser, site, shots, "province_finance", "demo-province-finance")
    await pf.until("/console/", "main", pid)
    await pf.decide(pid, "concur", reason="省财政厅会签同意")
    assert await pf.text('[data-testid="stage"]') == "拟入围"

    await province.until(f"/console/batches/{batch_id}", '[data-testid="publicity-form"]', pid)
    await province.shot("province-dashboard")
    await province.page.check(f'[data-testid="publicity-form"] input[value="{pid}"]')
    await province.page.click('[data-testid="publicity-form"] button[type=submit]')
    assert "成功" in await province.text('[data-testid="bulk-results"]')

    # -- 公示 ends; implementation, early acceptance, subsidy, disbursement ----------------
    end = datetime.fromisoformat((await province_api.get(f"/projects/{pid}")).json()["view"]
                                 ["publicity_end"])
    await advance_to(ts, pid, end + timedelta(minutes=1))
    await app.until(f"/console/projects/{pid}", '[data-testid="stage"]', "项目实施")
    await app.decide(pid, "request_early_acceptance", reason="已具备验收条件")
    await province.decide(pid, "accept_early_acceptance", reason="同意提前验收")
    await province.decide(pid, "pass_acceptance", {"verified_investment_cny": "2900000"})
    await province.decide(pid, "decide_subsidy", {"amount_cny": "1200000"})
    refusal = await province.text('[data-testid="refusal"]')  # over the cap: refused (R17)
    assert "R17" in refusal, refusal
    assert await province.page.input_value("#decide_subsidy-amount_cny") == "1200000"
    await province.shot("refusal-shown")
    await province.decide(pid, "decide_subsidy", {"amount_cny": "1000000"})
    await pf.decide(pid, "concur", reason="同意补助")
    await province.decide(pid, "record_disbursement", reason="已拨付")
    # R18: after the subsidy the project is supervised for the batch's period.
    assert await province.text('[data-testid="stage"]') == "监管期"
    await province.shot("project-completed")

    # -- the auditor: timeline, replay proof, verification ---------------------------------
    auditor = await sign_in(browser, site, shots, "auditor", "demo-auditor")
    await auditor.go(f"/console/projects/{pid}")
    assert "Temporal UI" in await auditor.text('[data-testid="audit-links"]')
    await auditor.page.click('[data-testid="audit-links"] a >> nth=0')
    assert "重放一致" in await auditor.text('[data-testid="replay"]')
    assert "完整" in await auditor.text('[data-testid="verify"]')
    await auditor.shot("auditor-proof")

    # -- the province extends the batch close (fanned out to the open projects) ------------
    later = close + timedelta(days=2)
    await province.go(f"/console/batches/{batch_id}")
    await province.page.fill("#deadline-at", later.strftime("%Y-%m-%dT%H:%M"))
    await province.page.fill("#deadline-reason", "应各市申请延期两天")
    await province.page.click("form[action$='/deadline'] button[type=submit]")
    assert later.isoformat(timespec="minutes").replace("T", " ") in await province.text(
        '[data-testid="close-at"]')

    # -- the English switch ------------------------------------------------------------------
    await county.go("/console/")
    await county.page.click("text=English")
    assert (await county.text("h1")).startswith("Inbox")
    await county.page.click("text=中文")
    assert (await county.text("h1")).startswith("待办")
    print(f"console lifecycle in the browser: {time.monotonic() - started:.1f} s")


async def _second_project(http: httpx.AsyncClient, batch_id: str, tag: str) -> str:
    """Another applicant's project in the same county, submitted through the API."""
    lead = support.unit("service_provider", region=COUNTY)
    applicant = Caller(http, token("applicant", f"app2-{tag}", CITY, lead.credit_code))
    r = await applicant.post("/units", {"credit_code": lead.credit_code, "kind": lead.kind,
                                        "name": "第二服务商有限公司", "region_code": COUNTY})
    assert r.status_code == 200, r.text
    r = await applicant.post("/projects", {
        "batch_id": batch_id, "task_code": "T1", "title": "第二个项目：5G工厂",
        "county_code": COUNTY,
        "application": {"declared_investment_cny": 1_000_000, "implementation_region": COUNTY}})
    assert r.status_code == 201, r.text
    pid: str = r.json()["view"]["project_id"]
    await applicant.decide(pid, "submit")
    return pid


async def test_docs_and_redoc_work_offline(site: str, browser: Any) -> None:
    """Every request that leaves 127.0.0.1 is blocked and recorded: none may be made."""
    context = await browser.new_context()
    page = await context.new_page()
    outside: list[str] = []

    async def only_local(route: Any) -> None:
        if route.request.url.startswith(site):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_local)
    await page.goto(f"{site}/docs")
    await page.wait_for_selector(".opblock", timeout=20_000)
    assert await page.locator(".opblock").count() > 60
    await page.goto(f"{site}/redoc")
    await page.wait_for_selector("h1", timeout=20_000)
    assert "API" in await page.inner_text("h1")
    assert outside == []
    await context.close()


async def test_a_form_post_without_the_csrf_token_is_refused(site: str) -> None:
    async with httpx.AsyncClient(base_url=site) as c:
        r = await c.post("/console/login", data={"token": "x", "csrf": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text
