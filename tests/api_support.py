"""Calling the API as each role: tokens, an httpx client on the ASGI app."""

from __future__ import annotations

from typing import Any

import httpx

from api.auth import Principal, issue_token
from runtime.settings import Settings

SETTINGS = Settings(token_secret="test-secret-" + "x" * 32)


def token(role: str, user: str, region: str = "37", unit: str | None = None) -> dict[str, str]:
    p = Principal(user_id=user, role=role, region=region, unit_code=unit)
    return {"Authorization": f"Bearer {issue_token(p, SETTINGS.token_secret)}"}


class Caller:
    """One official: their token on every request; an idempotency key when asked."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.http, self.headers = http, headers

    async def post(self, url: str, body: Any = None, key: str | None = None,
                   **kw: Any) -> httpx.Response:
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        return await self.http.post(url, json=body, headers=headers, **kw)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.get(url, headers=self.headers, **kw)

    async def put(self, url: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.http.put(url, json=body, headers=self.headers, **kw)

    async def decide(self, project_id: str, action: str, payload: dict[str, Any] | None = None,
                     reason: str = "", key: str | None = None, expect: int = 200) -> dict[str, Any]:
        r = await self.post(f"/projects/{project_id}/decisions/{action}",
                            {"reason": reason or f"理由：{action}", "payload": payload or {}},
                            key=key)
        assert r.status_code == expect, r.text
        return r.json()  # type: ignore[no-any-return]
