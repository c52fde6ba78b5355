"""The demo batch: a 2026-preset batch with projects in several cities, moved through the
first stages on the real dev server, so there is something to look at in the UI.

Project and request ids are derived from the batch id, so running the demo twice on the
same day is idempotent: the same projects, the same decisions, nothing applied twice.
Quotas, credit codes and names here are illustrative, not programme data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import Client

from domain.batch import BatchPolicy, ProjectInput, workflow_id_for
from domain.clock import SHANGHAI
from domain.decisions import Actor, Decision
from domain.presets import PresetName
from domain.refusals import Refused
from domain.roles import Role
from services.projects import decide, start_project


@dataclass(frozen=True)
class DemoProject:
    key: str
    title: str
    city: str
    county: str
    task: str
    unit: str
    steps: tuple[tuple[str, Role, dict[str, object], str], ...]


_APPROVE = ("county_approve", Role.COUNTY, {}, "材料齐全，同意推荐至市")
PROJECTS = (
    DemoProject("jn", "汽车零部件智能工厂改造", "3701", "370112", "T1", "91370100DEMO00001A",
                (("submit", Role.APPLICANT, {}, ""), _APPROVE,
                 ("city_recommend", Role.CITY, {"rank": 1}, "评审排名第一"),
                 ("concur", Role.CITY_FINANCE, {}, "财政同意"))),
    DemoProject("qd", "家电行业工业互联网平台应用", "3702", "370212", "T4", "91370200DEMO00002B",
                (("submit", Role.APPLICANT, {}, ""),
                 ("county_return", Role.COUNTY, {}, "可行性报告缺少投资明细，请补充"))),
    DemoProject("zb", "化工园区5G+安全生产监测", "3703", "370303", "T2", "91370300DEMO00003C",
                (("submit", Role.APPLICANT, {}, ""), _APPROVE)),
    DemoProject("yt", "食品加工数字化车间", "3706", "370602", "T3", "91370600DEMO00004D", ()),
    DemoProject("wf", "动力装备链式数字化转型", "3707", "370705", "T5", "91370700DEMO00005E",
                (("submit", Role.APPLICANT, {}, ""),
                 ("withdraw", Role.APPLICANT, {}, "企业调整申报方向"))),
    DemoProject("jnz", "数字化转型促进中心（载体）", "3708", "370811", "T9", "91370800DEMO00006F",
                (("submit", Role.APPLICANT, {}, ""),)),
)


def demo_batch(now: datetime) -> BatchPolicy:
    close = (now + timedelta(days=14)).astimezone(SHANGHAI)
    return BatchPolicy(
        batch_id=f"demo-2026-{now.astimezone(SHANGHAI):%Y%m%d}",
        name="2026年度“工赋百景”制造业数字化转型揭榜挂帅（演示批次）",
        year=2026, preset=PresetName.P2026,
        close_at=close.replace(hour=17, minute=0, second=0, microsecond=0),
        carrier_tasks=["T9"],
    )


def _actor(role: Role, p: DemoProject) -> Actor:
    region = {Role.COUNTY: p.county, Role.CITY: p.city, Role.CITY_FINANCE: p.city,
              Role.APPLICANT: p.city}.get(role, "37")
    return Actor(user_id=f"demo-{role.value}-{region}", role=role, region=region,
                 unit_code=p.unit if role is Role.APPLICANT else None)


async def run_demo(client: Client, task_queue: str, now: datetime) -> list[tuple[str, str]]:
    """Start the demo projects and make their decisions; returns (workflow id, stage)."""
    batch = demo_batch(now)
    out = []
    for p in PROJECTS:
        project = ProjectInput(
            project_id=f"{batch.batch_id}-{p.key}", title=p.title, batch=batch, task_code=p.task,
            city_code=p.city, county_code=p.county, applicant_unit=p.unit,
        )
        await start_project(client, project, task_queue)
        stage = "draft"
        for n, (action, role, payload, reason) in enumerate(p.steps, 1):
            d = Decision(request_id=f"{project.project_id}-{n}", action=action,
                         actor=_actor(role, p), reason=reason, payload=payload)
            try:
                stage = (await decide(client, project.project_id, d)).stage.value
            except Refused as exc:
                stage = f"refused: {exc.refusal}"
                break
        out.append((workflow_id_for(project.project_id), stage))
    return out
