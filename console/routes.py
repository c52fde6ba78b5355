"""The console's pages. Each handler reads and writes through the API (`console.client`)
and renders a template; see the package docstring for why it adds no rule of its own."""

from __future__ import annotations

import hmac
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, decode_token, issue_token
from api.errors import ApiError
from api.routers.decisions import OWN_ENDPOINT
from api.state import AppState
from console import i18n
from console.client import Api, ApiFailed, error_of
from domain.batch import workflow_id_for
from domain.clock import SHANGHAI, iso_local
from domain.lifecycle import BULK_ACTIONS, lifecycle_for, spec_of, stages_of
from domain.lifecycle import roles_of as decision_roles
from domain.payloads import DOCUMENT_KINDS
from domain.presets import PRESETS, PresetName
from domain.roles import Role
from domain.stages import END_STAGES, Stage
from models import Batch, Project, Region, Unit

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

TOKEN_COOKIE, CSRF_COOKIE, LANG_COOKIE = "gf_token", "gf_csrf", "gf_lang"
NEAR = timedelta(hours=72)


class SignIn(Exception):
    """No valid token: go to the sign-in page and come back."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next = quote(next_url, safe="")


# -- the request's context ----------------------------------------------------------------


@dataclass
class Ctx:
    request: Request
    lang: str
    csrf: str
    principal: Principal | None
    token: str | None
    new_csrf: bool = False
    flash: list[str] = field(default_factory=list)

    @property
    def api(self) -> Api:
        return Api(self.request, self.token)

    @property
    def state(self) -> AppState:
        return self.request.app.state.gongfu  # type: ignore[no-any-return]

    def t(self, key: str) -> str:
        return i18n.word(key, self.lang)

    def can(self, method: str, path: str) -> bool:
        """Whether the API declares this route for the user's role (its `x-roles`)."""
        return self.principal is not None and self.principal.role.value in _route_roles(
            self.request.app).get((method, path), ())


def _ctx(request: Request, signed_in: bool = True) -> Ctx:
    lang = request.cookies.get(LANG_COOKIE, "zh")
    lang = lang if lang in i18n.LANGS else "zh"
    csrf = request.cookies.get(CSRF_COOKIE, "")
    new = len(csrf) < 32
    if new:
        csrf = secrets.token_urlsafe(32)
    token = request.cookies.get(TOKEN_COOKIE)
    principal = None
    if token:
        try:
            principal = decode_token(token, request.app.state.gongfu.settings.token_secret)
        except ApiError:
            token = None
    if signed_in and principal is None:
        raise SignIn(str(request.url.path) + (f"?{request.url.query}" if request.url.query
                                               else ""))
    return Ctx(request, lang, csrf, principal, token, new_csrf=new)


def _route_roles(app: Any) -> dict[tuple[str, str], tuple[str, ...]]:
    """Each API operation's roles, as its OpenAPI description declares them (`x-roles`)."""
    cached = getattr(app.state, "console_route_roles", None)
    if cached is None:
        cached = {(method.upper(), path): tuple(op.get("x-roles", ()))
                  for path, ops in app.openapi()["paths"].items()
                  for method, op in ops.items()}
        app.state.console_route_roles = cached
    return cached


async def _form(request: Request, ctx: Ctx) -> Any:
    """The posted form, after the CSRF check (the form's token equals the cookie's)."""
    form = await request.form()
    sent = str(form.get("csrf", ""))
    if ctx.new_csrf or not hmac.compare_digest(sent, ctx.csrf):
        raise StaleForm()
    return form


class StaleForm(Exception):
    """A form post without the CSRF token of this browser's cookie."""


def error_page(request: Request, exc: ApiFailed) -> HTMLResponse:
    ctx = _ctx(request, signed_in=False)
    return _render(ctx, "error.html", exc.response.status_code, error=exc.error)


def stale_form_page(request: Request) -> HTMLResponse:
    return _render(_ctx(request, signed_in=False), "error.html", 403, error=_input_error(
        "页面已过期或来源不明，请刷新页面后重试（CSRF）",
        "the page has expired or came from elsewhere: reload it and try again (CSRF)"))


def _render(ctx: Ctx, name: str, status: int = 200, **data: Any) -> HTMLResponse:
    data.update(ctx=ctx, t=ctx.t, lang=ctx.lang, p=ctx.principal,
                stage_label=lambda s: i18n.stage_label(s, ctx.lang),
                action_label=lambda a: i18n.action_label(a, ctx.lang),
                role_label=lambda r: i18n.role_label(r, ctx.lang),
                when=_when, left=lambda d: _left(d, ctx.lang), overdue=_overdue,
                key=lambda: uuid.uuid4().hex)
    resp = templates.TemplateResponse(ctx.request, name, data, status_code=status)
    _cookie(resp, ctx)
    return resp


# The console's pages load only their own files, and post only to themselves.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _cookie(resp: Response, ctx: Ctx) -> None:
    resp.headers["Content-Security-Policy"] = CSP
    if ctx.new_csrf:
        resp.set_cookie(CSRF_COOKIE, ctx.csrf, httponly=True, samesite="strict",
                        secure=ctx.request.url.scheme == "https", path="/console")


def _redirect(ctx: Ctx, url: str) -> RedirectResponse:
    resp = RedirectResponse(url, status_code=303)
    _cookie(resp, ctx)
    return resp


# -- time ---------------------------------------------------------------------------------


def _instant(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _when(value: str | datetime | None) -> str:
    at = _instant(value)
    return iso_local(at).replace("T", " ") if at else ""


def _overdue(value: str | datetime | None) -> bool:
    at = _instant(value)
    return at is not None and at < datetime.now(UTC)


def _left(value: str | datetime | None, lang: str) -> str:
    at = _instant(value)
    if at is None:
        return ""
    delta = at - datetime.now(UTC)
    late = delta.total_seconds() < 0
    minutes = int(abs(delta.total_seconds()) // 60)
    d, h, m = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if lang == "en":
        text = f"{d} d {h} h" if d else f"{h} h {m} min"
        return f"overdue by {text}" if late else text
    text = f"{d}天{h}小时" if d else f"{h}小时{m}分"
    return f"已逾期{text}" if late else f"剩{text}"


# -- reference data (names; no authorization involved) -----------------------------------


def _names(state: AppState) -> dict[str, str]:
    with state.db() as s:
        names = {r.code: r.name for r in s.scalars(select(Region))}
        names.update({u.credit_code: u.name for u in s.scalars(select(Unit))})
    return names


def _batches(state: AppState) -> list[Batch]:
    with state.db() as s:
        return list(s.scalars(select(Batch).where(Batch.historical.is_(False))
                              .order_by(Batch.close_at.desc())))


def _counties(state: AppState) -> list[tuple[str, str]]:
    with state.db() as s:
        return [(r.code, r.name) for r in s.scalars(
            select(Region).where(Region.level == "county").order_by(Region.code))]


def _demo_users(state: AppState) -> list[dict[str, str]]:
    """The demo's users: the province's, and one per city, county and applicant unit that
    has projects (`gongfu run` only: GONGFU_CONSOLE_DEMO_SIGN_IN)."""
    names = _names(state)
    users = [dict(role="province", region="37", unit="", user="demo-province"),
             dict(role="province_finance", region="37", unit="", user="demo-province-finance")]
    with state.db() as s:
        rows = s.execute(select(Project.city_code, Project.county_code,
                                Project.applicant_code, Project.scores).order_by(
            Project.city_code, Project.county_code)).all()
    cities = dict.fromkeys(r.city_code for r in rows)
    counties = dict.fromkeys(r.county_code for r in rows)
    units = dict.fromkeys(r.applicant_code for r in rows)
    experts = dict.fromkeys(e for r in rows for e in (r.scores or {}))
    for c in cities:
        users += [dict(role="city", region=c, unit="", user=f"demo-city-{c}"),
                  dict(role="city_finance", region=c, unit="", user=f"demo-finance-{c}")]
    users += [dict(role="county", region=c, unit="", user=f"demo-county-{c}") for c in counties]
    users += [dict(role="applicant", region=code[2:6], unit=code, user=f"demo-app-{code[-6:]}")
              for code in units]
    users += [dict(role="expert", region="37", unit="", user=e)
              for e in ({"expert-1": None} | experts)]
    users += [dict(role="auditor", region="37", unit="", user="demo-auditor"),
              dict(role="operator", region="37", unit="", user="demo-operator")]
    for u in users:
        where = names.get(u["unit"]) or names.get(u["region"], "山东省")
        u["value"] = "|".join((u["role"], u["region"], u["unit"], u["user"]))
        u["where"] = where
    return users


# -- sign-in ------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/console/") -> HTMLResponse:
    ctx = _ctx(request, signed_in=False)
    demo = ctx.state.settings.console_demo_sign_in
    users = await run_in_threadpool(_demo_users, ctx.state) if demo else []
    return _render(ctx, "login.html", demo=demo, users=users, next=_local(next))


def _local(url: str) -> str:
    """Only a path of the console is a place to go back to (no open redirect)."""
    return url if url.startswith("/console/") and not url.startswith("//") else "/console/"


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = _ctx(request, signed_in=False)
    form = await _form(request, ctx)
    cfg = ctx.state.settings
    token = str(form.get("token", "")).strip()
    error = None
    if form.get("demo") and cfg.console_demo_sign_in:
        try:
            role, region, unit, user = str(form["demo"]).split("|", 3)
            principal = Principal(user_id=user, role=Role(role), region=region,
                                  unit_code=unit or None)
            token = issue_token(principal, cfg.token_secret,
                                timedelta(hours=cfg.token_ttl_hours))
        except (ValidationError, ValueError):
            error = ctx.t("error")
    if not error:
        try:
            decode_token(token, cfg.token_secret)
        except ApiError as exc:
            error = exc.refusal.message_en if ctx.lang == "en" else exc.refusal.message_zh
    if error:
        users = await run_in_threadpool(_demo_users, ctx.state) if cfg.console_demo_sign_in \
            else []
        return _render(ctx, "login.html", 401, demo=cfg.console_demo_sign_in, users=users,
                       next=_local(str(form.get("next", ""))), error=error)
    resp = _redirect(ctx, _local(str(form.get("next", ""))))
    resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="lax", path="/",
                    secure=request.url.scheme == "https",
                    max_age=cfg.token_ttl_hours * 3600)
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    ctx = _ctx(request, signed_in=False)
    await _form(request, ctx)
    resp = _redirect(ctx, "/console/login")
    resp.delete_cookie(TOKEN_COOKIE, path="/")
    return resp


@router.get("/lang/{lang}")
def set_lang(request: Request, lang: str, next: str = "/console/") -> Response:
    resp = RedirectResponse(_local(next), status_code=303)
    resp.set_cookie(LANG_COOKIE, lang if lang in i18n.LANGS else "zh", samesite="lax",
                    path="/", max_age=365 * 86400)
    return resp


# -- inbox ----------------------------------------------------------------------------------


def _bulk_actions(p: Principal) -> list[str]:
    return [a for a in BULK_ACTIONS if p.role in decision_roles(a)]


@router.get("/", response_class=HTMLResponse)
async def inbox(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    return await _inbox(ctx)


async def _inbox(ctx: Ctx, results: list[dict[str, Any]] | None = None,
                 error: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    assert ctx.principal is not None
    items = await ctx.api.all_projects(waiting_on_me="true")
    items.sort(key=lambda i: (i["next_deadline"] is None, i["next_deadline"] or ""))
    assigned = (await ctx.api.all_projects() if ctx.principal.role is Role.EXPERT else [])
    names = await run_in_threadpool(_names, ctx.state)
    return _render(ctx, "inbox.html", status, items=items, names=names, results=results,
                   error=error, actions=_bulk_actions(ctx.principal), assigned=assigned)


@router.post("/bulk", response_class=HTMLResponse)
async def bulk(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    action = str(form.get("action", ""))
    pids = [str(v) for v in form.getlist("pid")]
    reason = str(form.get("reason", ""))
    if not pids:
        return await _inbox(ctx, error=_input_error("请先选择项目", "select projects first"),
                            status=422)
    r = await ctx.api.call("POST", f"/decisions/{action}/bulk", key=str(form.get("key", "")),
                           json={"items": [{"project_id": p, "reason": reason} for p in pids]})
    if r.status_code != 200:
        return await _inbox(ctx, error=error_of(r), status=r.status_code)
    return await _inbox(ctx, results=r.json())


def _input_error(zh: str, en: str) -> dict[str, Any]:
    return {"status": 422, "rule": "INPUT", "kind": "input", "message_zh": zh,
            "message_en": en}


# -- project lists --------------------------------------------------------------------------

FILTERS = ("batch_id", "stage", "city_code", "county_code", "task_code")


@router.get("/projects", response_class=HTMLResponse)
async def projects(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    chosen = {k: request.query_params[k] for k in FILTERS if request.query_params.get(k)}
    items = await ctx.api.all_projects(**chosen)
    names = await run_in_threadpool(_names, ctx.state)
    everything = items if not chosen else await ctx.api.all_projects()
    options = {k: sorted({i[k.removesuffix("_id").removesuffix("_code") + (
        "_id" if k == "batch_id" else "_code") if k != "stage" else "stage"]
        for i in everything}) for k in FILTERS}
    return _render(ctx, "projects.html", items=items, names=names, chosen=chosen,
                   options=options, filters=FILTERS)


# -- one project ---------------------------------------------------------------------------

FIELD_LABELS = {
    "rank": ("排序", "Rank"), "score": ("评分（0–100）", "Score (0–100)"),
    "method": ("评审方式", "Method"), "working_days": ("公示工作日数", "Working days"),
    "kind": ("变更类型", "Kind of change"), "description": ("变更说明", "Description"),
    "title": ("标题", "Title"), "experts": ("评审专家", "Experts"),
    "verified_investment_cny": ("核定投资额（元）", "Verified investment (CNY)"),
    "amount_cny": ("补助金额（元）", "Subsidy (CNY)"),
}


@dataclass
class FormField:
    name: str
    kind: str  # integer | number | string | enum | boolean | experts | json
    required: bool
    options: list[str]
    default: Any


def form_fields(action: str) -> list[FormField]:
    """The form of a decision, generated from its payload schema (the API's own)."""
    spec = spec_of(action)
    assert spec is not None
    schema = spec.payload.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        p = prop
        if "anyOf" in p:
            p = next((x for x in p["anyOf"] if x.get("type") != "null"), p)
        if "$ref" in p:
            p = defs[p["$ref"].rsplit("/", 1)[-1]]
        if action == "assign_experts" and name == "experts":
            kind, options = "experts", []
        elif "enum" in p:
            kind, options = "enum", [str(v) for v in p["enum"]]
        elif "pattern" in p and p["pattern"].startswith("^(") and p.get("type") == "string":
            kind, options = "enum", p["pattern"][2:-2].split("|")
        elif p.get("type") in ("integer", "number", "string", "boolean"):
            kind, options = p["type"], []
        else:
            kind, options = "json", []
        out.append(FormField(name, kind, name in required, options, prop.get("default")))
    return out


def parse_payload(action: str, form: Any) -> dict[str, Any]:
    """The form's fields as the payload (their types only; the API judges the values)."""
    payload: dict[str, Any] = {}
    for f in form_fields(action):
        raw = str(form.get(f"f_{f.name}", "")).strip()
        if f.kind == "boolean":
            payload[f.name] = f"f_{f.name}" in form
        elif not raw:
            continue
        elif f.kind == "integer":
            payload[f.name] = int(raw)
        elif f.kind == "number":
            payload[f.name] = float(raw)
        elif f.kind == "experts":
            experts = []
            for line in raw.splitlines():
                user, _, ties = line.partition(":")
                if user.strip():
                    experts.append({"user_id": user.strip(), "declared_conflicts": [
                        c.strip() for c in ties.replace("，", ",").split(",") if c.strip()]})
            payload[f.name] = experts
        elif f.kind == "json":
            payload[f.name] = json.loads(raw)
        else:
            payload[f.name] = raw
    return payload


def _stepper(view: dict[str, Any]) -> list[tuple[str, str]]:
    """The preset's path through the lifecycle, each step done / current / ahead; an end
    that is not completion is shown where the project stopped."""
    lifecycle = lifecycle_for(PRESETS[PresetName(view["preset"])])
    path: list[Stage] = [s for s in stages_of(lifecycle)
                         if s not in END_STAGES and s not in (Stage.RETURNED,)]
    path.append(Stage.COMPLETED)
    stage = Stage(view["stage"])
    if stage in path:
        at = path.index(stage)
    else:  # returned: back before the first review; an end: after the last stage reached
        at = path.index(Stage.DRAFT if stage is Stage.RETURNED else _last_reached(view, path))
    steps = [(s.value, "done" if i < at else "current" if i == at and stage in path
              else "ahead") for i, s in enumerate(path)]
    if stage not in path:
        steps.insert(at + 1, (stage.value, "end" if stage.is_end else "current"))
        steps[at] = (steps[at][0], "done")
    return steps


def _last_reached(view: dict[str, Any], path: list[Stage]) -> Stage:
    end = view.get("end")
    if end is None:
        return Stage.DRAFT
    before = [s for s in path if s.value in view.get("_reached", ())]
    return before[-1] if before else Stage.DRAFT


async def _project_page(ctx: Ctx, pid: str, error: dict[str, Any] | None = None,
                        status: int = 200, open_action: str | None = None,
                        sent: dict[str, str] | None = None) -> HTMLResponse:
    r = await ctx.api.get(f"/projects/{pid}")
    if r.status_code != 200:
        return _render(ctx, "error.html", r.status_code, error=error_of(r))
    detail = r.json()
    view = detail["view"]
    view["_reached"] = [d["stage_before"] for d in detail["decisions"]] + [
        d["stage_after"] for d in detail["decisions"]]
    names = await run_in_threadpool(_names, ctx.state)
    allowed = detail["allowed_for_me"]
    forms = [(a, form_fields(a), _reason_required(a)) for a in allowed if a not in OWN_ENDPOINT]
    returns = [d for d in detail["decisions"] if d["stage_after"] == "returned"]
    cfg = ctx.state.settings
    ui = cfg.temporal_ui_url or \
        f"http://{cfg.temporal_address.rsplit(':', 1)[0]}:{cfg.temporal_ui_port}"
    temporal_link = f"{ui}/namespaces/{cfg.temporal_namespace}/workflows/{workflow_id_for(pid)}"
    return _render(ctx, "project.html", status, d=detail, v=view, names=names,
                   steps=_stepper(view), forms=forms, error=error, open_action=open_action,
                   returned=returns[-1] if returns and view["stage"] == "returned" else None,
                   can_edit="edit_application" in allowed,
                   can_upload="attach_document" in allowed, kinds=sorted(DOCUMENT_KINDS),
                   field_label=lambda n: FIELD_LABELS.get(n, (n, n))[ctx.lang == "en"],
                   temporal_link=temporal_link, done=ctx.request.query_params.get("done"),
                   sent=sent or {})


@router.get("/projects/{pid}", response_class=HTMLResponse)
async def project(request: Request, pid: str) -> HTMLResponse:
    return await _project_page(_ctx(request), pid)


@router.post("/projects/{pid}/decide/{action}", response_class=HTMLResponse)
async def decide(request: Request, pid: str, action: str) -> Response:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    try:
        payload = parse_payload(action, form)
    except (ValueError, json.JSONDecodeError):
        return await _project_page(ctx, pid, _input_error(
            "决定内容格式不正确", "the decision's content is malformed"), 422, action,
            _sent(form))
    body = {"reason": str(form.get("reason", "")),
            "evidence": [str(e) for e in form.getlist("evidence")], "payload": payload}
    r = await ctx.api.call("POST", f"/projects/{pid}/decisions/{action}",
                           key=str(form.get("key", "")) or None, json=body)
    if r.status_code != 200:
        return await _project_page(ctx, pid, error_of(r), r.status_code, action, _sent(form))
    return _redirect(ctx, f"/console/projects/{pid}?done={action}")


def _sent(form: Any) -> dict[str, str]:
    """What the user typed, to show again with a refusal (never the CSRF token or key)."""
    return {k: str(v) for k, v in form.items() if k not in ("csrf", "key") and isinstance(v, str)}


@router.post("/projects/{pid}/consent", response_class=HTMLResponse)
async def consent(request: Request, pid: str) -> Response:
    """A consortium member confirms or declines its participation (R20), with its own
    token: the API's consent endpoint decides."""
    ctx = _ctx(request)
    form = await _form(request, ctx)
    unit = ctx.principal.unit_code if ctx.principal else None
    body = {"agree": str(form.get("agree", "")) == "true", "note": str(form.get("note", ""))}
    r = await ctx.api.call("POST", f"/projects/{pid}/consortium/{unit}/consent", json=body)
    if r.status_code != 200:
        return await _project_page(ctx, pid, error_of(r), r.status_code)
    return _redirect(ctx, f"/console/projects/{pid}?done=consent")


@router.post("/projects/{pid}/upload", response_class=HTMLResponse)
async def upload(request: Request, pid: str) -> Response:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    file = form.get("file")
    if file is None or isinstance(file, str) or not file.filename:
        return await _project_page(ctx, pid, _input_error("请选择文件", "choose a file"), 422)
    data = await file.read()
    r = await ctx.api.call("POST", f"/projects/{pid}/documents",
                           key=str(form.get("key", "")) or None,
                           files={"file": (file.filename, data, file.content_type)},
                           data={"kind": str(form.get("kind", ""))})
    if r.status_code != 200:
        return await _project_page(ctx, pid, error_of(r), r.status_code)
    return _redirect(ctx, f"/console/projects/{pid}?done=attach_document")


@router.post("/projects/{pid}/edit", response_class=HTMLResponse)
async def edit(request: Request, pid: str) -> Response:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    current = await ctx.api.json(f"/projects/{pid}")
    application = dict(current["view"].get("application") or {})
    try:
        if str(form.get("investment", "")).strip():
            application["declared_investment_cny"] = float(str(form["investment"]))
    except ValueError:
        return await _project_page(ctx, pid, _input_error("金额格式不正确", "bad amount"), 422)
    if str(form.get("region", "")).strip():
        application["implementation_region"] = str(form["region"]).strip()
    body = {"title": str(form.get("title", "")).strip() or None, "application": application,
            "reason": str(form.get("reason", ""))}
    r = await ctx.api.call("PUT", f"/projects/{pid}/application",
                           key=str(form.get("key", "")) or None, json=body)
    if r.status_code != 200:
        return await _project_page(ctx, pid, error_of(r), r.status_code)
    return _redirect(ctx, f"/console/projects/{pid}?done=edit_application")


@router.get("/projects/{pid}/audit", response_class=HTMLResponse)
async def audit(request: Request, pid: str) -> HTMLResponse:
    ctx = _ctx(request)
    parts: dict[str, Any] = {}
    for name in ("timeline", "replay", "verify"):
        r = await ctx.api.get(f"/audit/projects/{pid}/{name}")
        parts[name] = r.json() if r.status_code == 200 else error_of(r)
    return _render(ctx, "audit.html", pid=pid, **parts)


# -- applicant: new application, units ------------------------------------------------------


@router.get("/new", response_class=HTMLResponse)
async def new_page(request: Request, batch: str = "") -> HTMLResponse:
    ctx = _ctx(request)
    return await _new(ctx, batch)


async def _new(ctx: Ctx, batch: str, error: dict[str, Any] | None = None,
               status: int = 200) -> HTMLResponse:
    batches = await run_in_threadpool(_batches, ctx.state)
    chosen = batch or (batches[0].id if batches else "")
    tasks = (await ctx.api.json(f"/batches/{chosen}"))["tasks"] if chosen else []
    counties = await run_in_threadpool(_counties, ctx.state)
    return _render(ctx, "new.html", status, batches=batches, chosen=chosen, tasks=tasks,
                   counties=counties, error=error)


@router.post("/new", response_class=HTMLResponse)
async def create(request: Request) -> Response:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    members = []
    for line in str(form.get("members", "")).splitlines():
        bits = line.replace(",", " ").split()
        if bits:
            members.append({"credit_code": bits[0], "role": bits[1] if len(bits) > 1
                            else "member"})
    county = str(form.get("county_code", ""))
    application: dict[str, Any] = {"implementation_region": county}
    try:
        if str(form.get("investment", "")).strip():
            application["declared_investment_cny"] = float(str(form["investment"]))
    except ValueError:
        return await _new(ctx, str(form.get("batch_id", "")),
                          _input_error("金额格式不正确", "bad amount"), 422)
    body: dict[str, Any] = {
            "batch_id": str(form.get("batch_id", "")), "task_code": str(form.get("task_code")),
            "title": str(form.get("title", "")), "county_code": county,
            "consortium": members, "application": application}
    r = await ctx.api.call("POST", "/projects", key=str(form.get("key", "")) or None, json=body)
    if r.status_code != 201:
        return await _new(ctx, str(body["batch_id"]), error_of(r), r.status_code)
    return _redirect(ctx, f"/console/projects/{r.json()['view']['project_id']}")


@router.get("/units", response_class=HTMLResponse)
async def units_page(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    counties = await run_in_threadpool(_counties, ctx.state)
    return _render(ctx, "units.html", counties=counties)


@router.post("/units", response_class=HTMLResponse)
async def register_unit(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    body = {"credit_code": str(form.get("credit_code", "")).strip(),
            "name": str(form.get("name", "")).strip(), "kind": str(form.get("kind", "")),
            "region_code": str(form.get("region_code", "")),
            "central_enterprise_in_shandong": "central" in form,
            "provincial_soe": "psoe" in form}
    r = await ctx.api.call("POST", "/units", key=str(form.get("key", "")) or None, json=body)
    counties = await run_in_threadpool(_counties, ctx.state)
    if r.status_code != 200:
        return _render(ctx, "units.html", r.status_code, counties=counties, error=error_of(r))
    return _render(ctx, "units.html", counties=counties, registered=r.json())


# -- batches: dashboard, ranking, deadlines, publicity, exports ------------------------------


@router.get("/batches", response_class=HTMLResponse)
async def batches(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    rows = await run_in_threadpool(_batches, ctx.state)
    return _render(ctx, "batches.html", batches=rows)


def _dashboard(items: list[dict[str, Any]], preset: str) -> dict[str, Any]:
    lifecycle = lifecycle_for(PRESETS[PresetName(preset)])
    order = [s.value for s in stages_of(lifecycle)]
    present = [s for s in order if any(i["stage"] == s for i in items)]
    matrix: dict[str, dict[str, int]] = {}
    for i in items:
        row = matrix.setdefault(i["city_code"], {})
        row[i["stage"]] = row.get(i["stage"], 0) + 1
    path = [s.value for s in stages_of(lifecycle)
            if s not in END_STAGES and s is not Stage.RETURNED] + ["completed"]
    where = {i["id"]: (path.index(i["stage"]) if i["stage"] in path else
                       path.index("draft") if i["stage"] == "returned" else -1) for i in items}
    funnel = [(s, sum(1 for v in where.values() if v >= n)) for n, s in enumerate(path)]
    ends = [(s, sum(1 for i in items if i["stage"] == s)) for s in order
            if Stage(s).is_end and s != "completed" and any(i["stage"] == s for i in items)]
    horizon = datetime.now(UTC) + NEAR
    soon = sorted((i for i in items if i["next_deadline"]
                   and (_instant(i["next_deadline"]) or horizon) < horizon),
                  key=lambda i: i["next_deadline"])
    return {"stages": present, "matrix": matrix, "funnel": funnel, "ends": ends,
            "soon": soon, "top": max([n for _, n in funnel] + [1])}


@router.get("/batches/{bid}", response_class=HTMLResponse)
async def batch_page(request: Request, bid: str) -> HTMLResponse:
    return await _batch(_ctx(request), bid)


async def _batch(ctx: Ctx, bid: str, error: dict[str, Any] | None = None,
                 results: list[dict[str, Any]] | None = None, status: int = 200,
                 note: str | None = None) -> HTMLResponse:
    r = await ctx.api.get(f"/batches/{bid}")
    if r.status_code != 200:
        return _render(ctx, "error.html", r.status_code, error=error_of(r))
    batch = r.json()
    items = await ctx.api.all_projects(batch_id=bid)
    quotas = []
    if ctx.can("GET", "/batches/{batch_id}/quotas"):
        quotas = await ctx.api.json(f"/batches/{bid}/quotas")
    names = await run_in_threadpool(_names, ctx.state)
    assert ctx.principal is not None
    own_city = ctx.principal.region if ctx.principal.role in (Role.CITY, Role.CITY_FINANCE) \
        else None
    cities = sorted({i["city_code"] for i in items} | {q["city_code"] for q in quotas
                                                       if q["used"] or q["exempt"]})
    return _render(ctx, "batch.html", status, b=batch, items=items, quotas=quotas,
                   names=names, dash=_dashboard(items, batch["preset"]), error=error,
                   results=results, own_city=own_city, cities=cities, note=note,
                   selected=[i for i in items if i["stage"] == "selected"])


def _deadline_of(form: Any) -> str:
    raw = str(form.get("new_deadline", "")).strip()
    at = datetime.fromisoformat(raw)
    return (at if at.tzinfo else at.replace(tzinfo=SHANGHAI)).isoformat()


@router.post("/batches/{bid}/deadline", response_class=HTMLResponse)
async def extend(request: Request, bid: str) -> HTMLResponse:
    return await _deadline(request, bid, "deadline")


@router.post("/batches/{bid}/local-deadline", response_class=HTMLResponse)
async def local_deadline(request: Request, bid: str) -> HTMLResponse:
    return await _deadline(request, bid, "local-deadline")


async def _deadline(request: Request, bid: str, which: str) -> HTMLResponse:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    try:
        at = _deadline_of(form)
    except ValueError:
        return await _batch(ctx, bid, _input_error("时间格式不正确", "bad time"), status=422)
    r = await ctx.api.call("POST", f"/batches/{bid}/{which}", key=str(form.get("key", "")),
                           json={"new_deadline": at, "reason": str(form.get("reason", ""))})
    if r.status_code != 200:
        return await _batch(ctx, bid, error_of(r), status=r.status_code)
    out = r.json()
    return await _batch(ctx, bid, note=f"{_when(out['deadline'])} ({out['signalled']})")


@router.post("/batches/{bid}/publicity", response_class=HTMLResponse)
async def publicity(request: Request, bid: str) -> HTMLResponse:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    pids = [str(v) for v in form.getlist("pid")]
    if not pids:
        return await _batch(ctx, bid, _input_error("请先选择项目", "select projects first"),
                            status=422)
    body: dict[str, Any] = {"project_ids": pids, "reason": str(form.get("reason", ""))}
    if str(form.get("working_days", "")).strip().isdigit():
        body["working_days"] = int(str(form["working_days"]))
    r = await ctx.api.call("POST", f"/batches/{bid}/publicity", key=str(form.get("key", "")),
                           json=body)
    if r.status_code != 200:
        return await _batch(ctx, bid, error_of(r), status=r.status_code)
    return await _batch(ctx, bid, results=r.json())


@router.post("/batches/{bid}/acceptance-round", response_class=HTMLResponse)
async def acceptance_round(request: Request, bid: str) -> HTMLResponse:
    """2024: the province opens the half-year round for every project that applied."""
    ctx = _ctx(request)
    form = await _form(request, ctx)
    r = await ctx.api.call("POST", f"/batches/{bid}/acceptance-rounds/halfyear",
                           key=str(form.get("key", "")),
                           json={"reason": str(form.get("reason", ""))})
    if r.status_code != 200:
        return await _batch(ctx, bid, error_of(r), status=r.status_code)
    results = r.json()
    return await _batch(ctx, bid, results=results,
                        note=None if results else ctx.t("halfyear_round_none"))


@router.get("/batches/{bid}/ranking", response_class=HTMLResponse)
async def ranking(request: Request, bid: str) -> HTMLResponse:
    return await _ranking(_ctx(request), bid)


async def _ranking(ctx: Ctx, bid: str, error: dict[str, Any] | None = None,
                   results: list[dict[str, Any]] | None = None, status: int = 200,
                   sent: dict[str, str] | None = None) -> HTMLResponse:
    items = await ctx.api.all_projects(batch_id=bid, stage="city_review")
    quotas = await ctx.api.json(f"/batches/{bid}/quotas") if ctx.can(
        "GET", "/batches/{batch_id}/quotas") else []
    members = {}
    for i in items:  # the exemption is the applicant unit's (as the API's R8 check reads it)
        members[i["id"]] = await ctx.api.json(f"/units/{i['applicant_code']}")
    names = await run_in_threadpool(_names, ctx.state)
    return _render(ctx, "ranking.html", status, bid=bid, items=items, quotas=quotas,
                   units=members, names=names, error=error, results=results, sent=sent or {})


@router.post("/batches/{bid}/ranking", response_class=HTMLResponse)
async def submit_ranking(request: Request, bid: str) -> HTMLResponse:
    ctx = _ctx(request)
    form = await _form(request, ctx)
    sent = {k[5:]: str(v).strip() for k, v in form.items() if k.startswith("rank_")}
    try:
        ranked = [{"project_id": pid, "rank": int(v)} for pid, v in sent.items() if v]
    except ValueError:
        return await _ranking(ctx, bid, _input_error("排序须为正整数", "a rank is a number"),
                              status=422, sent=sent)
    if not ranked:
        return await _ranking(ctx, bid, _input_error("请至少为一个项目填写排序",
                                                     "rank at least one project"), status=422)
    r = await ctx.api.call("POST", f"/batches/{bid}/recommendations",
                           key=str(form.get("key", "")),
                           json={"items": ranked, "reason": str(form.get("reason", ""))})
    if r.status_code != 200:
        return await _ranking(ctx, bid, error_of(r), status=r.status_code, sent=sent)
    return await _ranking(ctx, bid, results=r.json())


@router.get("/batches/{bid}/awards", response_class=HTMLResponse)
async def awards(request: Request, bid: str) -> HTMLResponse:
    return await _awards(_ctx(request), bid)


async def _awards(ctx: Ctx, bid: str, error: dict[str, Any] | None = None,
                  results: list[dict[str, Any]] | None = None, status: int = 200,
                  sent: dict[str, str] | None = None) -> HTMLResponse:
    r = await ctx.api.get(f"/batches/{bid}/award-list")
    if r.status_code != 200:
        return _render(ctx, "error.html", r.status_code, error=error_of(r))
    names = await run_in_threadpool(_names, ctx.state)
    return _render(ctx, "awards.html", status, bid=bid, out=r.json(), names=names, error=error,
                   results=results, sent=sent or {})


@router.post("/batches/{bid}/awards", response_class=HTMLResponse)
async def submit_awards(request: Request, bid: str) -> HTMLResponse:
    """The form's rows become the API's list: a ticked no award (with its reason), or a
    rank with an amount; a row left empty is not on the list."""
    ctx = _ctx(request)
    form = await _form(request, ctx)
    sent = {k: str(v).strip() for k, v in form.items()
            if k.split("_", 1)[0] in ("rank", "amount", "scenes", "none", "why")}
    pids = sorted({k.split("_", 1)[1] for k in sent if "_" in k})
    awarded: list[dict[str, Any]] = []
    declined: list[dict[str, Any]] = []
    try:
        for pid in pids:
            if sent.get(f"none_{pid}"):
                declined.append({"project_id": pid, "reason": sent.get(f"why_{pid}", "")})
            elif sent.get(f"rank_{pid}") or sent.get(f"amount_{pid}"):
                awarded.append({"project_id": pid, "rank": int(sent.get(f"rank_{pid}", "")),
                                "amount_cny": float(sent.get(f"amount_{pid}", "")),
                                "scenes": int(sent.get(f"scenes_{pid}") or 1)})
    except ValueError:
        return await _awards(ctx, bid, _input_error("排名、金额和场景数须为数字",
                                                    "rank, amount and scenes are numbers"),
                             status=422, sent=sent)
    if not awarded and not declined:
        return await _awards(ctx, bid, _input_error("请至少为一个项目填写排名和金额或不予奖补",
                                                    "decide at least one project"),
                             status=422, sent=sent)
    r = await ctx.api.call("POST", f"/batches/{bid}/award-list", key=str(form.get("key", "")),
                           json={"awards": awarded, "no_awards": declined,
                                 "reason": str(form.get("reason", ""))})
    if r.status_code != 200:
        return await _awards(ctx, bid, error_of(r), status=r.status_code, sent=sent)
    return await _awards(ctx, bid, results=r.json()["results"])


# -- files: exports and audit downloads, through the API with the user's token ------------

DOWNLOADS = ("batches/", "audit/projects/", "operator/projects/")


@router.get("/download/{path:path}")
async def download(request: Request, path: str) -> Response:
    ctx = _ctx(request)
    if not path.startswith(DOWNLOADS) or ".." in path:
        return _render(ctx, "error.html", 404, error=_input_error("没有该文件", "no such file"))
    r = await ctx.api.get(f"/{path}", params=dict(request.query_params))
    if r.status_code != 200:
        return _render(ctx, "error.html", r.status_code, error=error_of(r))
    headers = {k: v for k, v in r.headers.items() if k.lower() == "content-disposition"}
    return Response(r.content, media_type=r.headers.get("content-type"), headers=headers)


__all__ = ["ApiFailed", "SignIn", "StaleForm", "error_page", "router", "stale_form_page"]


def _reason_required(action: str) -> bool:
    spec = spec_of(action)
    return spec is not None and spec.reason_required
