"""Every change has the same idempotency contract, checked on every mutating route of the
route table (a new endpoint is in this test the moment it exists):

- the same key with the same request: the first answer again, marked as replayed, and
  nothing changes;
- the same key with another request: 409 IDEMPOTENCY;
- the keys live in the database: another API process answers a retry the same way.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.state import AppState
from models import DecisionRow, IdempotencyKey
from tests.api_support import SETTINGS
from tests.driver import Harness
from tests.test_api_authorization import ROUTES, World, build, principal
from tests.test_api_authorization import world as world

MUTATING = [r for r in ROUTES if r[0] in ("POST", "PUT", "PATCH", "DELETE")]


def fixed_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The same request twice: a body made by a factory is made once."""
    out = {k: v for k, v in spec.items() if k != "json_factory"}
    if "json_factory" in spec:
        out["json"] = spec["json_factory"]()
    return out


def other_request(spec: dict[str, Any]) -> dict[str, Any]:
    """A different request to the same route: another body, or another query."""
    out = copy.deepcopy(spec)
    if "json" in out and isinstance(out["json"], dict):
        out["json"]["reason"] = f"另一个请求 {uuid.uuid4().hex[:6]}"
    elif "files" in out:
        name, data, media = out["files"]["file"]
        out["files"] = {"file": (name, data + b" other", media)}
    else:
        out["params"] = {**out.get("params", {}), "other": "1"}
    return out


async def send(http: httpx.AsyncClient, method: str, spec: dict[str, Any],
               headers: dict[str, str]) -> httpx.Response:
    kw = {k: v for k, v in spec.items() if k != "url"}
    return await http.request(method, spec["url"], headers=headers, **kw)


@pytest.mark.parametrize(("method", "path", "roles"), MUTATING,
                         ids=[f"{m} {p}" for m, p, _ in MUTATING])
async def test_every_change_answers_a_key_once(method: str, path: str, roles: list[str],
                                               world: World, http: httpx.AsyncClient,
                                               ts: Harness) -> None:
    from domain.roles import Role

    spec, _, _ = build(method, path, world)
    spec = fixed_spec(spec)
    headers = {**principal(Role(roles[0]), True, world),
               "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = await send(http, method, spec, headers)
    assert first.status_code < 500, first.text
    if first.status_code in (429, 503):
        pytest.skip("the service asked for a retry; the key was not kept")
    records = count_records(ts, world.project_id)
    again = await send(http, method, spec, headers)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers.get("idempotent-replayed") == "true"
    assert count_records(ts, world.project_id) == records  # nothing changed
    clash = await send(http, method, other_request(spec), headers)
    assert clash.status_code == 409 and clash.json()["rule"] == "IDEMPOTENCY", clash.text
    assert clash.json()["kind"] == "idempotency"
    # Another API process, the same database: the same answer.
    other = create_app(AppState(client=ts.env.client, db=ts.db, settings=SETTINGS,
                                task_queue=ts.queue))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other),
                                 base_url="http://api2") as http2:
        replay = await send(http2, method, spec, headers)
    assert (replay.status_code, replay.content) == (first.status_code, first.content)


def count_records(ts: Harness, project_id: str) -> int:
    with ts.db() as s:
        return s.scalar(select(func.count()).select_from(DecisionRow)
                        .where(DecisionRow.project_id == project_id)) or 0


async def test_keys_belong_to_their_caller(world: World, http: httpx.AsyncClient,
                                           ts: Harness) -> None:
    """Two users' equal keys are two requests; a key is kept in the database."""
    from domain.roles import Role

    key = f"shared-{uuid.uuid4().hex[:8]}"
    url = f"/projects/{world.project_id}/decisions/revoke"
    province = {**principal(Role.PROVINCE, True, world), "Idempotency-Key": key}
    county = {**principal(Role.COUNTY, True, world), "Idempotency-Key": key}
    a = await http.post(url, json={"reason": "甲"}, headers=county)
    b = await http.post(url, json={"reason": "乙"}, headers=province)
    assert a.status_code == 403 and a.json()["rule"] == "ROLE"
    assert b.json().get("rule") != "IDEMPOTENCY", b.text
    with ts.db() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey).where(
            IdempotencyKey.key == key)) == 2


async def test_a_key_must_be_printable_ascii(world: World, http: httpx.AsyncClient) -> None:
    from domain.roles import Role

    for bad in ("", "x" * 101, "键"):
        headers = {**principal(Role.PROVINCE, True, world)}
        r = await http.post(f"/projects/{world.project_id}/decisions/revoke",
                            json={"reason": "x"},
                            headers={**headers, "Idempotency-Key": bad.encode()})
        assert r.status_code == 422 and r.json()["rule"] == "INPUT", (bad, r.text)
