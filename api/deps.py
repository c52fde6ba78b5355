"""What routes depend on, defined once: who the caller is, which roles a route admits
(enforced and published as `x-roles` from the same list), the project or batch a path
names (404 outside one's jurisdiction), the idempotency key, and the error table.

Routers parse, authorize with these, call a service, and answer.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Header
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, PrincipalDep
from api.errors import ErrorBody, forbidden_role, not_found
from api.state import AppState, StateDep
from domain.decisions import request_id_of
from domain.lifecycle import ACTION_LABELS_ZH, roles_of
from domain.roles import Role
from models import Batch
from services.jurisdiction import check_visible

__all__ = ["ERRORS", "OFFICIALS", "AllowedRoles", "AppState", "BatchDep", "IdempotencyKey",
           "PrincipalDep", "Sha256", "StateDep", "VisibleProject", "allow", "deciders",
           "request_id"]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {401: "no or invalid token", 403: "wrong role", 404:
                       "unknown, or outside your jurisdiction", 409:
                       "not allowed in this stage, after the deadline, or by a rule",
                       413: "request too large", 422: "malformed input",
                       429: "the project is busy with other decisions: retry with the same key",
                       503: "workflow service unavailable"}.items()
}
OFFICIALS = tuple(r for r in Role if r is not Role.SYSTEM)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=100,
           description="the same key again returns the first answer and changes nothing"),
]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$",
                              description="sha256 of a document, 64 lowercase hex digits")]


def request_id(p: Principal, key: str | None) -> str:
    """Keys are the caller's: two users' equal keys are different requests (no key: a
    new request each time)."""
    return request_id_of(p.user_id, key or str(uuid.uuid4()))


AllowedRoles = dict[str, Any]


def allow(*roles: Role, what_en: str, what_zh: str) -> AllowedRoles:
    """Route keywords that admit only `roles`: a dependency refusing the others (403,
    before the body is looked at) and the same list in the OpenAPI `x-roles`."""
    admitted = frozenset(roles)

    def admit(p: PrincipalDep) -> None:
        if p.role not in admitted:
            raise forbidden_role(p.role.value, what_en, what_zh)

    return {"dependencies": [Depends(admit)],
            "openapi_extra": {"x-roles": sorted(r.value for r in admitted)}}


def deciders(action: str) -> AllowedRoles:
    """The route keywords admitting the roles that make `action` (in any preset; the
    workflow checks the project's own)."""
    return allow(*roles_of(action), what_en=f"make the decision {action}",
                 what_zh=f"{ACTION_LABELS_ZH[action]}（{action}）")


async def _visible_project(project_id: str, p: PrincipalDep, state: StateDep) -> str:
    # The database read runs on the thread pool: it never stalls the event loop that
    # also carries the Temporal calls.
    await run_in_threadpool(check_visible, state.db, p, project_id)
    return project_id


# The project id of the path, checked to be within the caller's jurisdiction (else 404).
VisibleProject = Annotated[str, Depends(_visible_project)]


def _batch(batch_id: str, state: StateDep) -> Batch:
    with state.db() as s:
        batch = s.get(Batch, batch_id)
    if batch is None:
        raise not_found("批次", batch_id)
    return batch


BatchDep = Annotated[Batch, Depends(_batch)]


