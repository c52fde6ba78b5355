"""The demo batch: a 2026-preset batch with projects in several cities, moved through the
first stages on the real dev server, so there is something to look at in the UI.

Project and request ids are derived from the batch id, so running the demo twice on the
same day is idempotent: the same projects, the same decisions, nothing applied twice.
Quotas, credit codes and names here are illustrative, not programme data: the codes are
valid by GB 32100-2015 (R4) but carry "DEM" in their organization-code part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from domain.batch import BatchPolicy, ConsortiumMember, ProjectInput, workflow_id_for
from domain.catalogue import CARRIER_TASKS_2026, TASKS_2026
from domain.clock import SHANGHAI
from domain.decisions import Actor, Decision
from domain.eligibility import ApplicationFacts, UnitFacts, with_check_char
from domain.presets import PresetName
from domain.refusals import Refused
from domain.roles import Role
from services.projects import decide, start_project
from services.registry import TaskDef, ensure_batch, ensure_unit, register_project


@dataclass(frozen=True)
class DemoProject:
    key: str
    title: str
    city: str
    county: str
    task: str
    provider: str  # the leading service provider's name
    enterprise: str  # the scene unit's name
    investment_cny: float
    steps: tuple[tuple[str, Role, dict[str, object], str], ...]


_APPROVE: tuple[str, Role, dict[str, object], str] = (
    "county_approve", Role.COUNTY, {}, "材料齐全，同意推荐至市")
PROJECTS = (
    DemoProject("jn", "汽车零部件5G全连接工厂", "3701", "370112", "T1",
                "济南示例数字科技有限公司", "济南示例汽车零部件有限公司", 3_200_000,
                (("submit", Role.APPLICANT, {}, ""), _APPROVE,
                 ("city_recommend", Role.CITY, {"rank": 1}, "评审排名第一"),
                 ("concur", Role.CITY_FINANCE, {}, "市财政局会签同意"))),
    DemoProject("qd", "家电供应链协同平台+大模型", "3702", "370212", "T4",
                "青岛示例工业互联网有限公司", "青岛示例家电制造有限公司", 5_800_000,
                (("submit", Role.APPLICANT, {}, ""),
                 ("county_return", Role.COUNTY, {}, "可行性报告缺少投资明细，请补充"))),
    DemoProject("zb", "化工园区安全生产大模型应用", "3703", "370303", "T5",
                "淄博示例软件有限公司", "淄博示例化工有限公司", 2_400_000,
                (("submit", Role.APPLICANT, {}, ""), _APPROVE)),
    DemoProject("yt", "食品加工“工业机器人+”产线", "3706", "370602", "T2",
                "烟台示例智能装备有限公司", "烟台示例食品有限公司", 1_600_000, ()),
    DemoProject("wf", "动力装备产业链链式转型", "3707", "370705", "T8",
                "潍坊示例信息技术有限公司", "潍坊示例动力装备有限公司", 8_000_000,
                (("submit", Role.APPLICANT, {}, ""),
                 ("withdraw", Role.APPLICANT, {}, "企业调整申报方向"))),
    DemoProject("jnz", "济宁数字化转型公共服务载体", "3708", "370811", "T9",
                "济宁示例数字化转型促进中心有限公司", "济宁示例机械有限公司", 1_200_000,
                (("submit", Role.APPLICANT, {}, ""),)),
)
# Illustrative: the notices' quota annex (附件4/5) is not published.
QUOTAS = {code: 5 for code in ("3701", "3702", "3703", "3704", "3705", "3706", "3707", "3708",
                                "3709", "3710", "3711", "3713", "3714", "3715", "3716", "3717")}


def demo_credit_code(county: str, n: int) -> str:
    """A valid 统一社会信用代码 (R4) for a demo unit; not a real unit's code."""
    return with_check_char(f"91{county}DEM{n:06d}")


def demo_batch(now: datetime) -> BatchPolicy:
    close = (now + timedelta(days=14)).astimezone(SHANGHAI)
    return BatchPolicy(
        batch_id=f"demo-2026-{now.astimezone(SHANGHAI):%Y%m%d}",
        name="2026年度“工赋百景”制造业数字化转型揭榜挂帅（演示批次）",
        year=2026, preset=PresetName.P2026,
        close_at=close.replace(hour=17, minute=0, second=0, microsecond=0),
        carrier_tasks=list(CARRIER_TASKS_2026),
    )


def _actor(role: Role, p: DemoProject) -> Actor:
    region = {Role.COUNTY: p.county, Role.CITY: p.city, Role.CITY_FINANCE: p.city,
              Role.APPLICANT: p.city}.get(role, "37")
    return Actor(user_id=f"demo-{role.value}-{region}", role=role, region=region,
                 unit_code=demo_credit_code(p.county, 1) if role is Role.APPLICANT else None)


def _register(db: sessionmaker[Session], batch: BatchPolicy, p: DemoProject) -> ProjectInput:
    lead = UnitFacts(credit_code=demo_credit_code(p.county, 1), name=p.provider,
                     kind="service_provider", region_code=p.county)
    scene = UnitFacts(credit_code=demo_credit_code(p.county, 2), name=p.enterprise,
                      kind="manufacturer", region_code=p.county)
    project = ProjectInput(
        project_id=f"{batch.batch_id}-{p.key}", title=p.title, batch=batch, task_code=p.task,
        city_code=p.city, county_code=p.county, applicant_unit=lead.credit_code,
        consortium=[ConsortiumMember(credit_code=lead.credit_code, name=lead.name, role="lead"),
                    ConsortiumMember(credit_code=scene.credit_code, name=scene.name,
                                     role="scene")],
    )
    with db.begin() as s:
        tasks = [TaskDef(code=c, direction=d, title_zh=t) for c, d, t in TASKS_2026]
        ensure_batch(s, batch, tasks, QUOTAS, illustrative=True)
        ensure_unit(s, lead)
        ensure_unit(s, scene)
        register_project(s, project, ApplicationFacts(
            declared_investment_cny=p.investment_cny, implementation_region=p.county))
    return project


async def run_demo(
    client: Client, task_queue: str, now: datetime, db: sessionmaker[Session]
) -> list[tuple[str, str]]:
    """Register and start the demo projects and make their decisions; returns
    (workflow id, stage) for each."""
    batch = demo_batch(now)
    out = []
    for p in PROJECTS:
        project = _register(db, batch, p)
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
