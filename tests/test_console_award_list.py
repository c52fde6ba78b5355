"""The province's merit list page (择优奖补名单) in a real browser (Debian's chromium, as in
tests/test_console_browser.py): three 2026 projects in subsidy, one list already decided
through the API, the next one filled in on the page and sent. Its screenshot is
`province-award-list.png` (GONGFU_SCREENSHOTS=docs/screenshots)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from domain.clock import SHANGHAI
from tests import support
from tests.api_support import Caller, token
from tests.browser import screenshot_dir, why_no_browser
from tests.driver import Harness, next_close
from tests.test_api_award_list import to_subsidy
from tests.test_console_browser import browser as browser
from tests.test_console_browser import sign_in
from tests.test_console_browser import site as site

pytestmark = pytest.mark.skipif(why_no_browser() is not None, reason=str(why_no_browser()))


async def test_the_province_fills_in_and_sends_a_merit_list(
    ts: Harness, site: str, browser: Any, http: httpx.AsyncClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shots = screenshot_dir(tmp_path_factory.mktemp("screenshots"))
    tag = uuid.uuid4().hex[:6]
    b = support.batch("2026", next_close(datetime.now(SHANGHAI)), batch_id=f"award-{tag}"
                      ).model_copy(update={"name": "2026年度工赋百景揭榜挂帅（奖补演示）"})
    drives = [await ts.start(batch=b) for _ in range(4)]
    await asyncio.gather(*(to_subsidy(d, i, v) for i, (d, v) in enumerate(
        zip(drives, (2_400_000, 900_000, 1_200_000, 600_000), strict=True), 1)))
    a, bb, c, dd = (d.project.project_id for d in drives)
    province_api = Caller(http, token("province", f"prov-{tag}"))
    r = await province_api.post(f"/batches/{b.batch_id}/award-list", {
        "awards": [{"project_id": a, "rank": 1, "amount_cny": 1_000_000}],
        "no_awards": [{"project_id": dd, "reason": "实施成效一般，择优不予奖补"}],
        "reason": "省级评审会议（第一次）择优确定"}, key=f"first-{tag}")
    assert r.status_code == 200 and all(x["ok"] for x in r.json()["results"]), r.text

    province = await sign_in(browser, site, shots, "province", f"prov-{tag}")
    await province.go(f"/console/batches/{b.batch_id}")
    await province.page.click('[data-testid="awards-link"]')
    await province.page.wait_for_load_state()
    assert "从第2名起连续编排" in await province.text("main")
    await province.page.fill(f"#rank-{bb}", "2")
    await province.page.fill(f"#amount-{bb}", "900000")
    await province.page.fill(f"#rank-{c}", "3")
    await province.page.fill(f"#amount-{c}", "1000000")
    await province.page.fill("#award-reason", "省级评审会议（第二次）择优确定")
    await province.shot("province-award-list")
    await province.page.click('[data-testid="awards-form"] button[type=submit]')
    await province.page.wait_for_load_state()
    results = await province.text('[data-testid="bulk-results"]')
    assert bb in results and c in results and "被拒绝" not in results
    assert "待省财政厅会签" in await province.text('main')
