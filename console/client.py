"""The console's one way to the programme: the API's own routes, called in-process over
ASGI (no network hop, no second implementation) with the signed-in user's bearer token.
The request passes the same middleware (request guard, idempotency keys), the same
authentication and jurisdiction checks, and reaches the same workflow decisions."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request


class Api:
    def __init__(self, request: Request, token: str | None) -> None:
        self.app, self.token = request.app, token

    async def call(self, method: str, path: str, key: str | None = None,
                   **kw: Any) -> httpx.Response:
        headers: dict[str, str] = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if key:
            headers["Idempotency-Key"] = key
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.internal",
                                     timeout=120) as http:
            return await http.request(method, path, headers=headers, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.call("GET", path, **kw)

    async def json(self, path: str, **kw: Any) -> Any:
        """A GET whose failure is not expected (the page cannot be drawn without it)."""
        r = await self.get(path, **kw)
        if r.status_code != 200:
            raise ApiFailed(r)
        return r.json()

    async def all_projects(self, **filters: str) -> list[dict[str, Any]]:
        """Every project the user sees (the API's pages of 200), with the filters given."""
        out: list[dict[str, Any]] = []
        for page in range(1, 51):
            body = await self.json("/projects", params={**filters, "page": page,
                                                         "page_size": 200})
            out.extend(body["items"])
            if len(out) >= body["total"] or not body["items"]:
                break
        return out


class ApiFailed(Exception):
    """An API answer that is not 200: its error body is shown to the user."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response

    @property
    def error(self) -> dict[str, Any]:
        return error_of(self.response)


def error_of(r: httpx.Response) -> dict[str, Any]:
    """The API's one error shape (status, rule, kind, message_zh, message_en)."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "rule" in body:
        return body
    return {"status": r.status_code, "rule": "HTTP", "kind": "error",
            "message_zh": f"服务返回 {r.status_code}", "message_en": f"answer {r.status_code}"}
