"""One JSON shape for every refusal: HTTP status, rule id, kind, Chinese and English
message, and the caller's allowed actions where that helps."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from domain.refusals import Refusal, RefusalKind, Refused, refusal

STATUS: dict[RefusalKind, int] = {
    RefusalKind.ROLE: 403,
    RefusalKind.JURISDICTION: 403,
    RefusalKind.STAGE: 409,
    RefusalKind.DEADLINE: 409,
    RefusalKind.RULE: 409,
    RefusalKind.INPUT: 422,
    RefusalKind.IDEMPOTENCY: 409,
}


class ErrorBody(BaseModel):
    status: int
    rule: str
    kind: str
    message_zh: str
    message_en: str
    allowed: list[str] = []


class ApiError(Exception):
    def __init__(self, status: int, r: Refusal) -> None:
        super().__init__(str(r))
        self.status, self.refusal = status, r

    @classmethod
    def of(cls, r: Refusal) -> ApiError:
        return cls(STATUS[r.kind], r)


def unauthorized(
    zh: str = "未登录或令牌无效", en: str = "missing or invalid bearer token"
) -> ApiError:
    return ApiError(401, refusal("AUTH", RefusalKind.ROLE, zh, en))


def forbidden_role(role: str, what: str) -> ApiError:
    return ApiError(403, refusal("ROLE", RefusalKind.ROLE, f"当前角色无权执行：{what}",
                                 f"the role {role} may not {what}"))


def not_found(what: str, key: str) -> ApiError:
    """Also for things outside the caller's jurisdiction, so existence is not leaked."""
    return ApiError(404, refusal("NOT_FOUND", RefusalKind.JURISDICTION, f"未找到{what}：{key}",
                                 f"no {what} {key} (or not in your jurisdiction)"))


def bad_input(zh: str, en: str, rule: str = "INPUT") -> ApiError:
    return ApiError(422, refusal(rule, RefusalKind.INPUT, zh, en))


def _body(status: int, r: Refusal) -> JSONResponse:
    return JSONResponse(status_code=status, content=ErrorBody(
        status=status, rule=r.rule, kind=r.kind.value, message_zh=r.message_zh,
        message_en=r.message_en, allowed=r.allowed).model_dump())


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _body(exc.status, exc.refusal)

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return _body(STATUS[exc.refusal.kind], exc.refusal)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _body(422, refusal("INPUT", RefusalKind.INPUT,
                                  f"请求内容不符合要求：{where}：{first.get('msg')}",
                                  f"invalid request: {where}: {first.get('msg')}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        rule = {401: "AUTH", 404: "NOT_FOUND", 405: "METHOD"}.get(exc.status_code, "HTTP")
        return _body(exc.status_code, refusal(rule, RefusalKind.INPUT, str(exc.detail),
                                              str(exc.detail)))

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # A value the schemas let through but the database cannot hold: the caller's input.
        structlog.get_logger().warning("api.data_error", error=str(exc.orig)[:200])
        return _body(422, refusal("INPUT", RefusalKind.INPUT,
                                  "数据不符合存储要求（过长或格式错误）",
                                  "a value is too long or malformed for storage"))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        structlog.get_logger().warning("api.integrity_error", error=str(exc.orig)[:200])
        return _body(409, refusal("CONFLICT", RefusalKind.RULE,
                                  "数据冲突（可能已存在或正被同时修改）",
                                  "a conflicting record exists or was written at the same time"))

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, exc: RPCError) -> JSONResponse:
        structlog.get_logger().error("api.temporal_unavailable", error=str(exc))
        return _body(503, refusal("UNAVAILABLE", RefusalKind.RULE,
                                  "流程服务暂时不可用，请稍后使用同一幂等键重试",
                                  "the workflow service is unavailable; retry with the same "
                                  "Idempotency-Key"))
