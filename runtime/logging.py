"""structlog set-up shared by the worker, the API, the CLI and the tests.

Every log line of a project carries workflow_id and project_id, and decision lines the
actor (user, role, region): bind them where they are known. The standard library's
loggers (the Temporal SDK's, uvicorn's, alembic's) render through the same processors, so
JSON mode is JSON on every line. No field is longer than FIELD_LIMIT characters: a
request that sends a megabyte of text gets a log line of a normal size.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

FIELD_LIMIT = 500


def cap_fields(_: object, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Cut every long string value (and long list) to FIELD_LIMIT, saying how long it was."""
    for key, value in list(event.items()):
        if isinstance(value, str) and len(value) > FIELD_LIMIT:
            event[key] = f"{value[:FIELD_LIMIT]}…(+{len(value) - FIELD_LIMIT} chars)"
        elif isinstance(value, list | tuple) and len(value) > 50:
            event[key] = [*value[:50], f"…(+{len(value) - 50} items)"]
    return event


def configure_logging(fmt: str = "console", level: str = "info") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        cap_fields,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level.upper())
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)  # one line per state change
    logging.getLogger("alembic").setLevel(logging.WARNING)
