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
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from domain.refusals import NotFound, Refusal, RefusalKind, Refused, describe_error, refusal
from domain.roles import Role

STATUS: dict[RefusalKind, int] = {
    RefusalKind.AUTH: 401,
    RefusalKind.ROLE: 403,
    RefusalKind.JURISDICTION: 403,
    RefusalKind.STAGE: 409,
    RefusalKind.DEADLINE: 409,
    RefusalKind.RULE: 409,
    RefusalKind.INPUT: 422,
    RefusalKind.IDEMPOTENCY: 409,
    RefusalKind.BUSY: 429,
    RefusalKind.UNAVAILABLE: 503,
}
# What a 404 names, in both languages (the English message carries no Chinese noun).
NOUNS: dict[str, str] = {"项目": "project", "批次": "batch", "单位": "unit", "城市": "city",
                         "流程历史": "workflow history", "处罚": "penalty"}


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
    return ApiError(401, refusal("AUTH", RefusalKind.AUTH, zh, en))


def forbidden_role(role: str, what_en: str, what_zh: str | None = None) -> ApiError:
    """`what_en`: a verb phrase ("register units"), `what_zh` its Chinese."""
    zh_role = Role(role).label_zh if role in Role._value2member_map_ else role
    return ApiError(403, refusal("ROLE", RefusalKind.ROLE,
                                 f"{zh_role}无权执行此操作：{what_zh or what_en}",
                                 f"the role {role} may not {what_en}"))


def not_found(what: str, key: str) -> ApiError:
    """Also for things outside the caller's jurisdiction, so existence is not leaked.
    `what` is the Chinese noun (NOUNS gives its English)."""
    return ApiError(404, refusal("NOT_FOUND", RefusalKind.JURISDICTION, f"未找到{what}：{key}",
                                 f"no {NOUNS[what]} {key} (or not in your jurisdiction)"))


def bad_input(zh: str, en: str, rule: str = "INPUT") -> ApiError:
    return ApiError(422, refusal(rule, RefusalKind.INPUT, zh, en))


def _body(status: int, r: Refusal, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, headers=headers, content=ErrorBody(
        status=status, rule=r.rule, kind=r.kind.value, message_zh=r.message_zh,
        message_en=r.message_en, allowed=r.allowed).model_dump())


def error_response(status: int, rule: str, kind: RefusalKind, zh: str, en: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error shape, for middleware that answers before any route runs."""
    return _body(status, refusal(rule, kind, zh, en), headers)


# Errors the framework raises before a handler runs, by status: (rule, zh, en).
_HTTP: dict[int, tuple[str, str, str]] = {
    400: ("INPUT", "请求内容无法解析", "the request body could not be parsed"),
    401: ("AUTH", "未登录或令牌无效", "missing or invalid bearer token"),
    403: ("ROLE", "无权访问", "forbidden"),
    404: ("NOT_FOUND", "未找到该接口或资源", "no such endpoint or resource"),
    405: ("METHOD", "该接口不支持此请求方法", "this endpoint does not accept this method"),
    406: ("INPUT", "无法提供所请求的格式", "the requested format is not available"),
    413: ("INPUT", "请求内容过大", "the request is too large"),
    415: ("INPUT", "不支持的内容类型", "unsupported content type"),
}
RETRY_AFTER_SECONDS = 2


def install(app: FastAPI) -> None:
    log = structlog.get_logger()

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _body(exc.status, exc.refusal)

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return _body(STATUS[exc.refusal.kind], exc.refusal)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        error = not_found(exc.what, exc.key)
        return _body(error.status, error.refusal)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        zh, en = describe_error(errors[0] if errors else {"type": "value_error"})
        return _body(422, refusal("INPUT", RefusalKind.INPUT, f"请求内容不符合要求：{zh}",
                                  f"invalid request: {en}"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        rule, zh, en = _HTTP.get(exc.status_code, ("HTTP", "请求无法处理", "the request "
                                                   "cannot be handled"))
        kind = {401: RefusalKind.AUTH, 403: RefusalKind.ROLE, 404: RefusalKind.JURISDICTION
                }.get(exc.status_code, RefusalKind.INPUT)
        return _body(exc.status_code, refusal(rule, kind, zh, en),
                     dict(exc.headers) if exc.headers else None)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # A value the schemas let through but the database cannot hold: the caller's input.
        log.warning("api.data_error", error=str(exc.orig)[:200])
        return _body(422, refusal("INPUT", RefusalKind.INPUT,
                                  "数据不符合存储要求（过长或格式错误）",
                                  "a value is too long or malformed for storage"))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("api.integrity_error", error=str(exc.orig)[:200])
        return _body(409, refusal("CONFLICT", RefusalKind.RULE,
                                  "数据冲突（可能已存在或正被同时修改）",
                                  "a conflicting record exists or was written at the same time"))

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, exc: RPCError) -> JSONResponse:
        return temporal_error(exc)

    @app.exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError)
    async def _update_timeout(_: Request, exc: WorkflowUpdateRPCTimeoutOrCancelledError,
                              ) -> JSONResponse:
        log.warning("api.update_timed_out", error=str(exc)[:200])
        return unavailable()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("api.unexpected_error", error_type=type(exc).__name__, error=str(exc)[:300])
        return _body(500, refusal("INTERNAL", RefusalKind.UNAVAILABLE,
                                  "系统内部错误，已记录；请稍后使用同一幂等键重试",
                                  "internal error, logged; retry later with the same "
                                  "Idempotency-Key"))


def unavailable() -> JSONResponse:
    return _body(503, refusal("UNAVAILABLE", RefusalKind.UNAVAILABLE,
                              "流程服务暂时不可用，请稍后使用同一幂等键重试",
                              "the workflow service is unavailable; retry with the same "
                              "Idempotency-Key"),
                 {"Retry-After": str(RETRY_AFTER_SECONDS)})


def busy() -> JSONResponse:
    """Temporal admits a limited number of updates in flight per workflow (10 by
    default): beyond it, the project is busy, not the service down."""
    return _body(429, refusal("BUSY", RefusalKind.BUSY,
                              "该项目正在处理其他决定，请稍后使用同一幂等键重试",
                              "the project is handling other decisions; retry shortly with "
                              "the same Idempotency-Key"),
                 {"Retry-After": str(RETRY_AFTER_SECONDS)})


def temporal_error(exc: RPCError) -> JSONResponse:
    if exc.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        structlog.get_logger().info("api.project_busy", error=str(exc)[:200])
        return busy()
    structlog.get_logger().error("api.temporal_unavailable", error=str(exc)[:200])
    return unavailable()
