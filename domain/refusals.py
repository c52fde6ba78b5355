"""One shape for every refusal: the rule it breaks and a message officials can read.

The workflow's update validators raise these (so a refused decision leaves no trace in
the history), the API turns them into HTTP errors, and tests assert on `rule`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class RefusalKind(StrEnum):
    """Why, in the terms the API maps onto HTTP status codes."""

    AUTH = "auth"  # no valid token -> 401
    ROLE = "role"  # this role never makes this decision -> 403
    JURISDICTION = "jurisdiction"  # outside the actor's region or unit -> 403/404
    STAGE = "stage"  # the current stage does not allow it -> 409
    DEADLINE = "deadline"  # too late (R10) -> 409
    RULE = "rule"  # a programme rule forbids it -> 409
    INPUT = "input"  # the decision's data is malformed -> 422
    IDEMPOTENCY = "idempotency"  # a request id reused for another decision -> 409
    BUSY = "busy"  # too many decisions in flight for one project: retry later -> 429
    UNAVAILABLE = "unavailable"  # the workflow service cannot be reached -> 503


# Rule ids that are not in SPEC.md's R1..R18 but name a real reason.
LIFECYCLE = "LIFECYCLE"  # SPEC.md 'Lifecycle': the stage does not allow the decision
ROLE = "ROLE"
JURISDICTION = "JURISDICTION"
INPUT = "INPUT"
IDEMPOTENCY = "IDEMPOTENCY"


class Refusal(BaseModel):
    rule: str
    kind: RefusalKind
    message_zh: str
    message_en: str
    allowed: list[str] = []

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message_zh} / {self.message_en}"


class NotFound(LookupError):
    """Something the caller asked for does not exist, or is outside their jurisdiction
    (the two are not told apart). `what` is the Chinese noun (api.errors.NOUNS)."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key}")
        self.what, self.key = what, key


class Refused(Exception):
    """Raised by pure code; the workflow converts it to an ApplicationError."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def refusal(
    rule: str,
    kind: RefusalKind,
    zh: str,
    en: str,
    allowed: list[str] | None = None,
) -> Refusal:
    return Refusal(rule=rule, kind=kind, message_zh=zh, message_en=en, allowed=allowed or [])


# pydantic's error types, in Chinese: officials read `message_zh`.
_ERROR_ZH: dict[str, str] = {
    "missing": "缺少必填项", "extra_forbidden": "不允许的字段", "string_too_long": "文字过长",
    "string_too_short": "文字过短", "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文字", "int_type": "应为整数", "int_parsing": "应为整数",
    "float_type": "应为数字", "float_parsing": "应为数字", "bool_type": "应为是/否",
    "bool_parsing": "应为是/否", "greater_than": "数值过小", "greater_than_equal": "数值过小",
    "less_than": "数值过大", "less_than_equal": "数值过大", "too_long": "项目过多",
    "too_short": "项目过少", "list_type": "应为列表", "dict_type": "应为对象",
    "model_type": "应为对象", "json_invalid": "不是有效的JSON", "json_type": "不是有效的JSON",
    "enum": "不是允许的取值", "literal_error": "不是允许的取值", "value_error": "取值无效",
    "date_from_datetime_parsing": "日期格式不正确", "date_parsing": "日期格式不正确",
    "datetime_parsing": "时间格式不正确", "datetime_from_date_parsing": "时间格式不正确",
    "timezone_aware": "时间须带时区（如+08:00）", "finite_number": "应为有限数值",
    "url_parsing": "网址格式不正确", "uuid_parsing": "格式不正确",
}


def describe_error(error: Mapping[str, Any], prefix: str = "") -> tuple[str, str]:
    """One validation error as (Chinese, English): where, and what is wrong. The
    offending value is never echoed (it may be huge, or not printable)."""
    loc = [str(x) for x in error.get("loc", ()) if x not in ("body",)]
    where = ".".join(loc) or prefix or "request"
    kind = str(error.get("type", ""))
    zh = _ERROR_ZH.get(kind, "不符合要求")
    en = str(error.get("msg", "invalid"))[:200]
    ctx = error.get("ctx") or {}
    if kind == "value_error" and " / " in str(ctx.get("error", "")):
        # Our own validators say it in both languages: "中文 / English".
        zh, en = (part.strip()[:200] for part in str(ctx["error"]).split(" / ", 1))
    return f"{where}：{zh}", f"{where}: {en}"
