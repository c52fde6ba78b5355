"""Issue 17: who a unit is and where a project belongs are facts the system checks, not
claims. Each of the nine findings, reproduced through HTTP (R19, R20, R18, R2, R8)."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from openpyxl import Workbook
from sqlalchemy import select

from domain.clock import SHANGHAI
from domain.roles import Role
from models import Document, Place
from services.registry import ensure_batch
from tests import support
from tests.api_support import Caller, token
from tests.driver import Drive, Harness, next_close

CITY, COUNTY = support.CITY, support.COUNTY


def owner(http: httpx.AsyncClient, code: str, user: str | None = None) -> Caller:
    """The applicant whose token carries `code`."""
    return Caller(http, token("applicant", user or f"own-{code[-6:]}", CITY, code))


def province(http: httpx.AsyncClient) -> Caller:
    return Caller(http, token("province", "prov-17"))


async def register(http: httpx.AsyncClient, kind: str = "service_provider",
                   region: str = COUNTY, **extra: Any) -> tuple[str, Caller]:
    u = support.unit(kind, region=region)
    me = owner(http, u.credit_code)
    r = await me.post("/units", {"credit_code": u.credit_code, "name": u.name, "kind": kind,
                                 "region_code": region, **extra})
    assert r.status_code == 200 and r.json()["status"] == "created", r.text
    return u.credit_code, me


async def new_batch(http: httpx.AsyncClient, preset: str = "2026", **extra: Any) -> str:
    batch_id = f"b17-{uuid.uuid4().hex[:8]}"
    close = next_close(datetime.now(SHANGHAI), days=5)
    r = await province(http).post("/batches", {
        "batch_id": batch_id, "name": "测试批次", "year": int(preset), "preset": preset,
        "close_at": close.isoformat(), "quotas": {CITY: 5}, **extra})
    assert r.status_code == 201, r.text
    return batch_id


async def draft(me: Caller, batch_id: str, **extra: Any) -> httpx.Response:
    return await me.post("/projects", {"batch_id": batch_id, "task_code": "T1",
                                       "title": "数字化车间改造", **extra})


def as_role(http: httpx.AsyncClient, d: Drive, role: Role) -> Caller:
    a = d.actors[role]
    return Caller(http, token(role.value, a.user_id, a.region, a.unit_code))


# -- 1. self-declared SOE status exempts nothing -------------------------------------------


async def test_1_a_self_declared_soe_uses_quota_until_the_province_confirms(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    b = support.batch("2026", next_close(datetime.now(SHANGHAI)))
    with ts.db.begin() as s:
        ensure_batch(s, b, support.tasks_2026(), {CITY: 2})
    drives = [await ts.start(batch=b) for _ in range(3)]
    for d in drives:
        await d.to_city_review()
    for rank, d in enumerate(drives[:2], start=1):  # the city's two places are used
        await d.to_recommended(rank=rank)
    d3 = drives[2]
    code = d3.project.applicant_unit
    me = owner(http, code)
    unit = {"credit_code": code, "name": "自称省属国企", "kind": "service_provider",
            "region_code": COUNTY}
    r = await me.post("/units", {**unit, "provincial_soe": True})
    assert r.status_code == 403 and r.json()["rule"] == "R19", r.text
    assert r.json()["message_zh"] and r.json()["message_en"]
    r = await me.post("/units", {**unit, "soe_claim": "provincial_soe"})
    assert r.status_code == 200 and r.json()["soe_claim"] == "provincial_soe", r.text
    assert r.json()["provincial_soe"] is False
    city = as_role(http, d3, Role.CITY)
    r = await city.post(f"/projects/{d3.project.project_id}/decisions/city_recommend",
                        {"reason": "第三名", "payload": {"rank": 3}})
    assert r.status_code == 409 and r.json()["rule"] == "R8", r.text  # the claim exempts nothing
    r = await province(http).put(f"/units/{code}/facts",
                                 {"soe_claim": "confirm", "reason": "经核实为省属国企"})
    assert r.status_code == 200 and r.json()["provincial_soe"] is True, r.text
    assert r.json()["soe_claim"] is None
    who = [(c["field"], c["changed_by"], c["changed_role"]) for c in r.json()["changes"]]
    assert ("provincial_soe", "prov-17", "province") in who and ("soe_claim", "prov-17",
                                                                  "province") in who
    assert all(c["changed_at"].endswith("+08:00") for c in r.json()["changes"])
    out = await city.decide(d3.project.project_id, "city_recommend", {"rank": 3})
    assert out["stage"] == "city_review"  # reserved without a quota place, awaiting finance


# -- 2. a competitor's code cannot be squatted ---------------------------------------------


async def test_2_an_applicant_registers_only_its_own_unit_and_changes_are_never_ignored(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    x_code, _ = await register(http)
    victim = support.unit("manufacturer")
    x = owner(http, x_code)
    squat = {"credit_code": victim.credit_code, "name": "冒名登记", "kind": "manufacturer",
             "region_code": COUNTY}
    for body in (squat, {**squat, "serious_dishonesty": True}):
        r = await x.post("/units", body)
        assert r.status_code == 403 and r.json()["rule"] == "R19", r.text
        assert victim.credit_code in r.json()["message_zh"]
    z = owner(http, victim.credit_code, "z-user")
    mine = {"credit_code": victim.credit_code, "name": victim.name, "kind": "manufacturer",
            "region_code": COUNTY}
    r = await z.post("/units", mine)
    assert r.status_code == 200 and r.json()["status"] == "created"
    assert r.json()["name"] == victim.name and r.json()["serious_dishonesty"] is False
    r = await z.post("/units", {**mine, "name": "更名后的公司"})
    assert r.status_code == 200 and r.json()["status"] == "updated"
    assert r.json()["name"] == "更名后的公司"
    change = r.json()["changes"][-1]
    assert (change["field"], change["old_value"], change["new_value"], change["changed_by"]) == (
        "name", victim.name, "更名后的公司", "z-user")
    r = await z.post("/units", {**mine, "name": "更名后的公司"})
    assert r.json()["status"] == "unchanged"
    r = await z.post("/units", {**mine, "name": "更名后的公司", "region_code": "370202"})
    assert r.status_code == 409 and r.json()["rule"] == "R19"  # region: not the owner's to move
    r = await province(http).put(f"/units/{victim.credit_code}/facts",
                                 {"serious_dishonesty": True, "reason": "信用中国公示"})
    assert r.status_code == 200
    r = await z.post("/units", {**mine, "name": "更名后的公司", "serious_dishonesty": False})
    assert r.status_code == 403 and r.json()["rule"] == "R19"  # the province's flag stays
    r = await z.get(f"/units/{victim.credit_code}")
    assert r.json()["serious_dishonesty"] is True


# -- 3. unit data is not for everyone ------------------------------------------------------


async def test_3_unit_data_is_seen_only_by_those_entitled(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    code = d.project.applicant_unit
    await province(http).post(f"/units/{code}/flag", {"reason": "测试标记"})
    _, other = await register(http, region="370202")
    for caller in (other, Caller(http, token("expert", "expert-17")),
                   Caller(http, token("county", "c17", "370103")),
                   Caller(http, token("city", "qd17", "3702"))):
        r = await caller.get(f"/units/{code}")
        assert r.status_code == 404 and "测试标记" not in r.text, r.text
    for caller in (owner(http, code), Caller(http, token("county", "c17", COUNTY)),
                   Caller(http, token("city", "jn17", CITY)),
                   Caller(http, token("auditor", "aud17")),
                   Caller(http, token("province_finance", "pf17"))):
        r = await caller.get(f"/units/{code}")
        assert r.status_code == 200 and r.json()["flagged_by_province"] == "测试标记", r.text


# -- 4. jurisdiction is derived --------------------------------------------------------------


async def test_4_a_project_belongs_to_the_region_of_the_unit_the_notice_names(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    _, me = await register(http, region=COUNTY)
    b26 = await new_batch(http)
    r = await draft(me, b26, county_code="370202")  # a city that still has places
    assert r.status_code == 422 and r.json()["rule"] == "R19", r.text
    r = await draft(me, b26)
    assert r.status_code == 201, r.text
    pid = r.json()["view"]["project_id"]
    r = await Caller(http, token("county", "c17", COUNTY)).get(f"/projects/{pid}")
    assert r.status_code == 200  # its own county reviews it
    # 2024: the lead unit's region, whoever applies; a lead outside Shandong cannot lead.
    b24 = await new_batch(http, "2024")
    lead_code, _ = await register(http, region="370202")
    scene_code, scene = await register(http, "manufacturer", region=COUNTY)
    r = await draft(scene, b24, consortium=[{"credit_code": scene_code, "role": "scene"},
                                            {"credit_code": lead_code, "role": "lead"}])
    assert r.status_code == 201, r.text
    pid24 = r.json()["view"]["project_id"]
    r = await Caller(http, token("city", "qd17", "3702")).get(f"/projects/{pid24}")
    assert r.status_code == 200  # 青岛: the lead unit's city
    r = await Caller(http, token("city", "jn17", CITY)).get(f"/projects/{pid24}")
    assert r.status_code == 404
    _, outside = await register(http, region="110105")  # 北京市朝阳区
    r = await draft(outside, b24, consortium=[{"credit_code": scene_code, "role": "scene"}])
    assert r.status_code == 422 and r.json()["rule"] == "R19", r.text


# -- 5. consortium consent -----------------------------------------------------------------


async def test_5_a_member_agrees_with_its_own_token_before_its_place_is_claimed(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    b = await new_batch(http)
    rival_code, rival = await register(http)
    maker_code, maker = await register(http, "manufacturer")
    r = await draft(rival, b, consortium=[{"credit_code": maker_code, "role": "scene"}])
    assert r.status_code == 201, r.text
    pid = r.json()["view"]["project_id"]
    r = await rival.post(f"/projects/{pid}/decisions/submit", {"reason": "提交"})
    assert r.status_code == 409 and r.json()["rule"] == "R20", r.text
    assert maker_code in r.json()["message_zh"]
    r = await rival.post(f"/projects/{pid}/consortium/{maker_code}/consent", {"agree": True})
    assert r.status_code == 403 and r.json()["rule"] == "R20"  # not the rival's to give
    r = await maker.post(f"/projects/{pid}/consortium/{maker_code}/consent",
                         {"agree": False, "note": "未签订联合体协议"})
    assert r.status_code == 200 and r.json()["consent"] == "declined", r.text
    members = {m["credit_code"]: m for m in (await rival.get(f"/projects/{pid}/consortium"))
               .json()}
    assert members[maker_code]["consent"] == "declined"  # the applicant is told, and why
    assert members[maker_code]["consent_note"] == "未签订联合体协议"
    out = await rival.decide(pid, "submit")
    assert out["stage"] == "county_review"  # without the member that declined
    with ts.db() as s:
        assert s.scalars(select(Place.unit_code).where(Place.project_id == pid)).all() == [
            rival_code]
    r = await draft(maker, b)  # the manufacturer's only place (R2) is still its own
    assert r.status_code == 201
    assert (await maker.decide(r.json()["view"]["project_id"], "submit"))["stage"] == (
        "county_review")


# -- 6. R18 penalties ----------------------------------------------------------------------


async def _penalties(caller: Caller, code: str, n: int) -> list[dict[str, Any]]:
    for _ in range(100):  # the read model follows the workflow's record
        found = (await caller.get(f"/units/{code}")).json()["penalties"]
        if len(found) >= n:
            return found  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no penalty recorded for {code}")


async def test_6_a_revocation_for_fraud_records_a_penalty_that_refuses_later_submissions(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    prov = province(http)
    d = await ts.start("2026")
    await d.do("submit")
    cheat = d.project.applicant_unit
    scene = next(m.credit_code for m in d.project.consortium if m.role == "scene")
    pid = d.project.project_id
    r = await prov.post(f"/projects/{pid}/decisions/revoke", {
        "reason": "申报材料弄虚作假", "payload": {"grounds": "other", "penalties": [
            {"unit_code": cheat, "decision_ref": "鲁工信〔2026〕17号"}]}})
    assert r.status_code == 422  # only a revocation for fraud names penalties
    r = await prov.post(f"/projects/{pid}/decisions/revoke", {
        "reason": "申报材料弄虚作假", "payload": {"grounds": "fraud", "penalties": [
            {"unit_code": support.unit().credit_code, "decision_ref": "鲁工信〔2026〕17号"}]}})
    assert r.status_code == 422 and r.json()["rule"] == "R18"  # an unregistered unit
    r = await prov.post(f"/projects/{pid}/decisions/revoke", {
        "reason": "申报材料弄虚作假", "payload": {"grounds": "fraud",
                                         "decision_ref": "鲁工信〔2026〕17号",
                                         "penalties": [{"unit_code": cheat},
                                                       {"unit_code": scene,
                                                        "batch_ids": ["2027-1", "2027-2"]}]}})
    assert r.status_code == 200 and r.json()["stage"] == "revoked", r.text
    [penalty] = await _penalties(prov, cheat, 1)
    [scene_penalty] = await _penalties(prov, scene, 1)
    assert scene_penalty["batch_ids"] == ["2027-1", "2027-2"] and scene_penalty["until"] is None
    assert penalty["decision_ref"] == "鲁工信〔2026〕17号" and penalty["project_id"] == pid
    assert penalty["starts_on"] == datetime.now(SHANGHAI).date().isoformat()
    assert penalty["recorded_by"] == "prov-17" and penalty["lifted_at"] is None
    # Another revocation, not for fraud: no penalty for its unit.
    other = await ts.start("2026")
    await other.do("submit")
    r = await prov.post(f"/projects/{other.project.project_id}/decisions/revoke",
                        {"reason": "未按要求实施"})
    assert r.status_code == 200
    # Later: the penalised unit applies again and is refused with R18.
    later = await new_batch(http)
    me = owner(http, cheat)
    r = await draft(me, later)
    assert r.status_code == 201, r.text
    new_pid = r.json()["view"]["project_id"]
    r = await me.post(f"/projects/{new_pid}/decisions/submit", {"reason": "提交"})
    assert r.status_code == 409 and r.json()["rule"] == "R18", r.text
    assert "鲁工信〔2026〕17号" in r.json()["message_zh"]
    assert (await prov.get(f"/units/{other.project.applicant_unit}")).json()["penalties"] == []
    r = await Caller(http, token("city", "jn17", CITY)).post(
        f"/penalties/{penalty['id']}/lift", {"reason": "x", "decision_ref": "y"})
    assert r.status_code == 403
    r = await prov.post(f"/penalties/{penalty['id']}/lift",
                        {"reason": "整改到位", "decision_ref": "鲁工信〔2026〕18号"})
    assert r.status_code == 200 and r.json()["lifted_by"] == "prov-17", r.text
    assert r.json()["lift_decision_ref"] == "鲁工信〔2026〕18号"
    assert (await me.decide(new_pid, "submit"))["stage"] == "county_review"


# -- 7. earlier winners ----------------------------------------------------------------------


async def test_7_imported_winners_use_up_places_in_the_batches_that_count_them(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    prov = province(http)
    maker = support.unit("manufacturer")
    provider_code, _ = await register(http)
    earlier = f"w17-{uuid.uuid4().hex[:6]}-2025-1"
    rows = ("项目编号,任务编号,项目名称,统一社会信用代码,单位名称,单位类型,所在地区划,角色\n"
            f"2025-1-001,T1,往期项目,{provider_code},,,,牵头\n"
            f"2025-1-001,T1,往期项目,{maker.credit_code},{maker.name},制造业企业,{COUNTY},场景\n"
            "2025-1-002,T2,坏代码,91370102MA3C5XXXX1,某公司,服务商,370102,牵头\n"
            f"2025-1-003,T2,未登记,{support.unit().credit_code},,,,牵头\n")

    async def upload(data: bytes, name: str) -> httpx.Response:
        return await http.post(f"/batches/{earlier}/winners", headers=prov.headers,
                               files={"file": (name, data, "text/csv")})

    r = await upload(rows.encode(), "winners.csv")
    assert r.status_code == 200, r.text
    report = [(x["row"], x["status"]) for x in r.json()["rows"]]
    assert report == [(2, "created"), (3, "created"), (4, "error"), (5, "error")]
    assert r.json()["rows"][2]["message_zh"] and r.json()["rows"][3]["message_en"]
    r = await upload(rows.encode(), "winners.csv")  # idempotent
    assert [x["status"] for x in r.json()["rows"]] == ["unchanged", "unchanged", "error",
                                                       "error"]
    book = Workbook()
    sheet = book.active
    sheet.append(["项目编号", "任务编号", "项目名称", "统一社会信用代码", "角色"])
    sheet.append(["2025-1-001", "T1", "往期项目", maker.credit_code, "场景"])
    buf = io.BytesIO()
    book.save(buf)
    r = await upload(buf.getvalue(), "winners.xlsx")
    assert [x["status"] for x in r.json()["rows"]] == ["unchanged"], r.text
    r = await upload(b"not,a,list\n", "winners.csv")
    assert r.status_code == 422 and r.json()["rule"] == "INPUT"
    # A 2026 batch that names the earlier one: the manufacturer's one place is used.
    b26 = await new_batch(http, counts=[earlier])
    me = owner(http, maker.credit_code)
    r = await draft(me, b26)
    assert r.status_code == 201, r.text
    r = await me.post(f"/projects/{r.json()['view']['project_id']}/decisions/submit",
                      {"reason": "提交"})
    assert r.status_code == 409 and r.json()["rule"] == "R2", r.text
    b_other = await new_batch(http)  # a batch that does not count it: free to apply
    r = await draft(me, b_other)
    assert (await me.decide(r.json()["view"]["project_id"], "submit"))["stage"] == (
        "county_review")


# -- 8. uploads are what they say ------------------------------------------------------------


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"PE\x00\x00"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


async def test_8_uploads_are_sniffed_against_the_declared_type_and_extension(
    ts: Harness, http: httpx.AsyncClient,
) -> None:
    d = await ts.start("2026")
    me = as_role(http, d, Role.APPLICANT)
    url = f"/projects/{d.project.project_id}/documents"

    async def upload(name: str, data: bytes, media: str) -> httpx.Response:
        return await http.post(url, files={"file": (name, data, media)},
                               data={"kind": "proof"}, headers=me.headers)

    for name, data, media in (("a.pdf", EXE, "application/pdf"),
                              ("a.pdf", HTML, "application/pdf"),
                              ("a.png", HTML, "image/png"),
                              ("a.pdf", PNG, "image/png"),
                              ("a.pdf", PNG, "application/pdf"),
                              ("a.png", b"%PDF-1.7 real", "application/pdf"),
                              ("a\x00.pdf", b"%PDF-1.7 x", "application/pdf"),
                              ("dir/a.pdf", b"%PDF-1.7 x", "application/pdf")):
        r = await upload(name, data, media)
        assert r.status_code == 422 and r.json()["rule"] == "INPUT", (name, media, r.text)
        assert r.json()["message_zh"] and r.json()["message_en"]
    r = await upload("证明.png", PNG, "image/png")
    assert r.status_code == 200, r.text
    with ts.db() as s:
        assert s.get(Document, r.json()["sha256"]).sniffed_type == "image/png"  # type: ignore[union-attr]


# -- 9. tokens: see tests/test_tokens.py -----------------------------------------------------


async def test_9_a_numeric_string_exp_is_refused(ts: Harness, http: httpx.AsyncClient) -> None:
    import jwt

    from tests.api_support import SETTINGS

    claims = {"sub": "prov-x", "role": "province", "region": "37",
              "iat": int(datetime.now(SHANGHAI).timestamp()),
              "exp": str(int((datetime.now(SHANGHAI) + timedelta(hours=1)).timestamp()))}
    bad = jwt.encode(claims, SETTINGS.token_secret, algorithm="HS256")
    r = await http.get("/projects", headers={"Authorization": f"Bearer {bad}"})
    assert r.status_code == 401 and r.json()["rule"] == "AUTH"
    good = jwt.encode({**claims, "exp": int(claims["exp"])}, SETTINGS.token_secret,
                      algorithm="HS256")
    assert (await http.get("/projects", headers={"Authorization": f"Bearer {good}"})
            ).status_code == 200


def test_7_gongfu_import_winners_loads_the_sample_file_idempotently(pg_url: str) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sample = root / "docs" / "samples" / "earlier-winners-2025-1.csv"
    batch = f"2025-1-cli-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "GONGFU_DATABASE_URL": pg_url, "GONGFU_LOG_LEVEL": "warning"}

    def gongfu(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tools.cli", "import", *args], cwd=root,
                              env=env, capture_output=True, text=True, timeout=120)

    first = gongfu("winners", str(sample), "--batch", batch)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "created 4" in first.stdout
    again = gongfu("winners", str(sample), "--batch", batch, "--json")
    assert again.returncode == 0, again.stderr
    import json

    assert {r["status"] for r in json.loads(again.stdout)["rows"]} == {"unchanged"}
    facts = gongfu("facts", str(root / "docs" / "samples" / "unit-facts.csv"))
    assert facts.returncode == 0 and "updated 1" in facts.stdout, facts.stderr + facts.stdout


def test_6_a_penalty_is_in_force_for_its_batches_or_its_period() -> None:
    from datetime import date

    from services.penalties import in_force

    d = date(2026, 5, 1)
    assert not in_force(d, None, [], "b", date(2026, 4, 30))  # not yet
    assert in_force(d, None, [], "b", date(2030, 1, 1))  # until lifted
    assert in_force(d, date(2027, 4, 30), [], "b", date(2027, 4, 30))
    assert not in_force(d, date(2027, 4, 30), [], "b", date(2027, 5, 1))
    assert in_force(d, None, ["2027-1"], "2027-1", date(2027, 3, 1))
    assert not in_force(d, None, ["2027-1"], "2027-2", date(2027, 9, 1))
