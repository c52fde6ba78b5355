"""What every request goes through before its route: limits on what a body may be, and the
idempotency contract of every change.

Both are ASGI middleware, so no route can skip them (a test walks the route table):

- `RequestGuard`: a body larger than the limit (413), JSON nested deeper than
  MAX_JSON_DEPTH or holding a NUL (422) is refused before any handler parses it, and
  nothing reaches Temporal or the database.
- `Idempotency`: every POST, PUT, PATCH and DELETE that carries an `Idempotency-Key` is
  answered once. The key belongs to the caller (the token's subject); the first answer is
  stored in the database (shared by every API process, kept across restarts), a retry
  with the same key and the same request gets it again (header `Idempotent-Replayed`),
  and the same key with another request gets 409 IDEMPOTENCY. A retry that arrives while
  the first is still being answered waits for that answer. A change sent without a key
  is a new request each time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, error_response
from domain.refusals import RefusalKind
from models import IdempotencyKey

MAX_JSON_BYTES = 2 * 1024 * 1024
MAX_JSON_DEPTH = 32
# An answer is stored for status codes that are the request's own outcome; a retry of
# these (the service was down, the project busy, an internal error) runs it again.
_RETRYABLE = frozenset({429, 500, 502, 503, 504})
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# How long a request in progress holds its key. A retry meanwhile waits for its answer;
# after it (the process that took it crashed, or it is very slow), the retry runs the
# request itself, which is safe: every change's effect is keyed by the request (update
# ids, project ids, signals' request ids), so a second run has the first's effect.
LEASE = timedelta(seconds=10)
WAIT_STEP = 0.2
_KEY_ALPHABET = frozenset(map(chr, range(0x21, 0x7F)))


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def json_depth(value: Any) -> int:
    """Nesting depth, without recursion (a hostile body cannot exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


class RequestGuard:
    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app, self.max_upload_bytes = app, max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("path", "") + "?" + scope.get("query_string", b"").decode("latin-1")
        if "\x00" in raw or "%00" in raw.lower():
            await _nul()(scope, receive, send)
            return
        if scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        limit = MAX_JSON_BYTES if not ctype.startswith("multipart/") else self.max_upload_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        body = await _read_body(receive)
        if len(body) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        if ctype in ("application/json", "") and body:
            problem = _json_problem(body)
            if problem is not None:
                await problem(scope, receive, send)
                return
        await self.app(scope, _replay(body), send)


def _json_problem(body: bytes) -> ASGIApp | None:
    if b"\x00" in body or b"\\u0000" in body:
        return _nul()
    try:
        value = json.loads(body)
    except RecursionError:
        return _too_deep()
    except ValueError:
        return None  # the route's parser answers with its own 422
    if json_depth(value) > MAX_JSON_DEPTH:
        return _too_deep()
    return None


def _nul() -> ASGIApp:
    return error_response(422, "INPUT", RefusalKind.INPUT, "请求中含有不允许的控制字符（NUL）",
                          "the request contains a NUL character")


def _too_deep() -> ASGIApp:
    return error_response(422, "INPUT", RefusalKind.INPUT,
                          f"请求内容嵌套层级过深（最多{MAX_JSON_DEPTH}层）",
                          f"the request is nested too deeply (at most {MAX_JSON_DEPTH} levels)")


def _too_large(limit: int) -> ASGIApp:
    mb = limit / 1024 / 1024
    return error_response(413, "INPUT", RefusalKind.INPUT, f"请求内容过大（上限{mb:g}MB）",
                          f"the request is too large (at most {mb:g} MB)")


def fingerprint(method: str, path: str, query: bytes, ctype: str, body: bytes) -> str:
    """What makes two requests the same: method, path, query and body. A JSON body is
    compared as data (key order and spacing do not matter); a multipart body without its
    boundary, which every client draws at random."""
    canonical = body
    if ctype.startswith("application/json"):
        try:
            canonical = json.dumps(json.loads(body), sort_keys=True,
                                   separators=(",", ":")).encode()
        except (ValueError, RecursionError):
            pass
    elif ctype.startswith("multipart/"):
        boundary = ctype.split("boundary=", 1)[-1].split(";")[0].strip().strip('"')
        if boundary:
            canonical = body.replace(boundary.encode("latin-1"), b"BOUNDARY")
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class Idempotency:
    """See the module docstring. `who` reads the caller from the request (None: no valid
    token, and the route answers 401 itself)."""

    def __init__(self, app: ASGIApp, who: Callable[[Scope], str | None],
                 db: Callable[[Scope], Any]) -> None:
        self.app, self.who, self.db = app, who, db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 100 or not set(key) <= _KEY_ALPHABET:
            await error_response(422, "INPUT", RefusalKind.INPUT,
                                 "幂等键须为1至100个可打印ASCII字符",
                                 "an Idempotency-Key is 1 to 100 printable ASCII characters",
                                 )(scope, receive, send)
            return
        try:
            user = self.who(scope)
        except ApiError:
            user = None
        if user is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        ctype = (_header(scope, b"content-type") or "").lower()
        fp = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), ctype,
                         body)
        db = self.db(scope)
        claim = await run_in_threadpool(_claim, db, user, key, scope, fp)
        while claim == "in_progress":  # the same request is being answered: wait for it
            await asyncio.sleep(WAIT_STEP)
            claim = await run_in_threadpool(_claim, db, user, key, scope, fp)
        if isinstance(claim, IdempotencyKey):
            await _answer_stored(claim)(scope, receive, send)
            return
        if claim == "other_request":
            await error_response(409, "IDEMPOTENCY", RefusalKind.IDEMPOTENCY,
                                 f"幂等键 {key} 已用于另一项请求",
                                 f"the Idempotency-Key {key} was already used for a different "
                                 "request")(scope, receive, send)
            return
        captured = _Captured(send)

        async def settle() -> None:
            if not captured.settled:
                captured.settled = True
                await run_in_threadpool(_settle, db, user, key, captured)

        # The answer is stored before its last byte is sent, so a retry (to any API
        # process) that follows the answer finds it; the lease is renewed while the
        # request runs, so a slow first request is not taken over by its retry.
        captured.before_last = settle
        renewing = asyncio.create_task(_renew_lease(db, user, key))
        try:
            await self.app(scope, _replay(body), captured.send)
        finally:
            renewing.cancel()
            await settle()


class _Captured:
    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None
        self.media_type: str | None = None
        self.body = bytearray()
        self.settled = False
        self.before_last: Callable[[], Awaitable[None]] | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for k, v in message.get("headers", []):
                if k.lower() == b"content-type":
                    self.media_type = v.decode("latin-1")
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))
            if not message.get("more_body", False) and self.before_last is not None:
                await self.before_last()
        await self._send(message)


async def _renew_lease(db: Any, user: str, key: str) -> None:
    mine = (IdempotencyKey.user_id == user, IdempotencyKey.key == key,
            IdempotencyKey.status.is_(None))

    def renew() -> None:
        with db.begin() as s:
            s.execute(update(IdempotencyKey).where(*mine).values(
                lease_until=datetime.now(UTC) + LEASE))

    while True:
        await asyncio.sleep(LEASE.total_seconds() / 3)
        try:
            await run_in_threadpool(renew)
        except Exception:  # the database away: the lease runs out, a retry takes over
            return


def _answer_stored(row: IdempotencyKey) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", (row.media_type or "application/json").encode("latin-1")),
                   (b"idempotent-replayed", b"true"),
                   (b"content-length", str(len(row.body or b"")).encode())]
        await send({"type": "http.response.start", "status": row.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(row.body or b"")})

    return app


def _insert(dialect: str) -> Callable[..., Any]:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def _claim(db: Any, user: str, key: str, scope: Scope, fp: str) -> IdempotencyKey | str:
    """Take the key for this request, or say why not: the stored answer (the same
    request again), 'other_request', 'in_progress'; '' when taken."""
    now = datetime.now(UTC)
    with db.begin() as s:
        dialect = s.get_bind().dialect.name
        inserted = s.execute(_insert(dialect)(IdempotencyKey).values(
            user_id=user, key=key, method=scope["method"], path=scope["path"][:500],
            fingerprint=fp, created_at=now, lease_until=now + LEASE)
            .on_conflict_do_nothing().returning(IdempotencyKey.key)).first()
        if inserted is not None:
            return ""
        row = s.scalars(select(IdempotencyKey).where(IdempotencyKey.user_id == user,
                                                     IdempotencyKey.key == key)).one()
        if row.fingerprint != fp:
            return "other_request"
        if row.status is not None:
            stored: IdempotencyKey = row
            return stored
        if row.lease_until > now:
            return "in_progress"
        # The process that took it is gone (or very slow): this request runs it again.
        taken = s.execute(update(IdempotencyKey).where(
            IdempotencyKey.user_id == user, IdempotencyKey.key == key,
            IdempotencyKey.status.is_(None), IdempotencyKey.lease_until == row.lease_until)
            .values(lease_until=now + LEASE)).rowcount
        structlog.get_logger().info("idempotency.lease_taken_over", user=user, key=key)
        return "" if taken else "in_progress"


def _settle(db: Any, user: str, key: str, captured: _Captured) -> None:
    """Store the answer; or let the key go when the answer says to retry."""
    mine = (IdempotencyKey.user_id == user, IdempotencyKey.key == key,
            IdempotencyKey.status.is_(None))
    with db.begin() as s:
        if captured.status is None or captured.status in _RETRYABLE:
            s.execute(delete(IdempotencyKey).where(*mine))
        else:
            s.execute(update(IdempotencyKey).where(*mine).values(
                status=captured.status, media_type=captured.media_type,
                body=bytes(captured.body), answered_at=datetime.now(UTC)))


def who_from_token(decode: Callable[[str], str]) -> Callable[[Scope], str | None]:
    def who(scope: Scope) -> str | None:
        auth = _header(scope, b"authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return decode(token.strip())

    return who


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
