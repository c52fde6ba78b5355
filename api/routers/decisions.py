"""One endpoint per decision, generated from the lifecycle table.

`POST /projects/{project_id}/decisions/{action}` for every decision a person can make:
its body carries the reason, the evidence hashes and the action's own payload schema;
the roles that may call it are the table's. Adding a move to `domain/lifecycle.py` adds
its endpoint, its OpenAPI entry and its rows in the authorization-matrix test.
"""

# No `from __future__ import annotations` here: each endpoint's body type is made at run
# time, and FastAPI must see the class itself, not its name.
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field, create_model
from starlette.concurrency import run_in_threadpool

from api.access import check_visible
from api.auth import Principal, PrincipalDep
from api.errors import ErrorBody, bad_input, forbidden_role
from api.schemas import DecisionResponse
from api.state import AppState, StateDep
from domain.actions import Action
from domain.decisions import Decision, request_id_of
from domain.lifecycle import ACTION_LABELS_ZH, DECISIONS, MOVES, payload_example
from domain.roles import Role
from services.penalties import check_named_units
from services.projects import decide

router = APIRouter(tags=["decisions 决定"])
# One decision's payload, as JSON: far below Temporal's 2 MB per payload, so that no
# decision can fail a project's workflow task (and block its other decisions).
MAX_PAYLOAD_BYTES = 16 * 1024

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=100,
           description="the same key again returns the first answer and changes nothing"),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {401: "no or invalid token", 403: "wrong role", 404:
                       "unknown project, or outside your jurisdiction", 409:
                       "not allowed in this stage, after the deadline, or by a rule",
                       413: "request too large", 422: "malformed input",
                       429: "the project is busy with other decisions: retry with the same key",
                       503: "workflow service unavailable"}.items()
}


def decision_roles(action: str) -> frozenset[Role]:
    """Who may make the decision in any preset (the workflow checks the preset's own)."""
    return frozenset(r for m in MOVES if m.trigger == action for r in m.roles)


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$",
                              description="sha256 of a document, 64 lowercase hex digits")]


class DecisionBase(BaseModel):
    reason: str = Field(default="", max_length=2000, description="理由 / why")
    evidence: list[Sha256] = Field(default=[], max_length=50,
                                   description="sha256 of the supporting documents")


def request_id(p: Principal, key: str | None) -> str:
    """Keys are the caller's: two users' equal keys are different requests."""
    return request_id_of(p.user_id, key or str(uuid.uuid4()))


async def run_decision(
    state: AppState, p: Principal, project_id: str, action: str, reason: str,
    evidence: list[str], payload: dict[str, Any], rid: str,
) -> DecisionResponse:
    if p.role not in decision_roles(action):
        raise forbidden_role(p.role.value, f"make the decision {action}",
                             f"{ACTION_LABELS_ZH[action]}（{action}）")
    if len(json.dumps(payload, ensure_ascii=False).encode()) > MAX_PAYLOAD_BYTES:
        raise bad_input(f"决定内容过大（上限{MAX_PAYLOAD_BYTES // 1024}KB）",
                        f"the decision's payload is too large (at most "
                        f"{MAX_PAYLOAD_BYTES // 1024} KB)")
    await check_visible(state.db, p, project_id)
    if action == "revoke" and payload.get("penalties"):  # R18: the named units are known
        await run_in_threadpool(_check_named, state, payload)
    decision = Decision(request_id=rid, action=action, actor=p.actor, reason=reason,
                        evidence=evidence, payload=payload)
    outcome = await decide(state.client, project_id, decision)
    return DecisionResponse(**outcome.model_dump(), project_id=project_id,
                            allowed_for_me=outcome.allowed.get(p.role.value, []))


def _check_named(state: AppState, payload: dict[str, Any]) -> None:
    with state.db() as session:
        check_named_units(session, payload)


def _camel(action: str) -> str:
    return "".join(part.title() for part in action.split("_"))


def _add_route(action: str) -> None:
    schema = DECISIONS[Action(action)].payload
    required = any(f.is_required() for f in schema.model_fields.values())
    body_model = create_model(  # type: ignore[call-overload]
        f"{_camel(action)}Request",
        __base__=DecisionBase,
        payload=(schema, ... if required else Field(default_factory=schema)),
    )
    roles = sorted(r.value for r in decision_roles(action))
    example = {"reason": "示例理由", "evidence": [], "payload": payload_example(action)}

    async def endpoint(
        project_id: str, body: body_model,  # type: ignore[valid-type]
        p: PrincipalDep, state: StateDep, key: IdempotencyKey = None,
    ) -> DecisionResponse:
        return await run_decision(
            state, p, project_id, action, body.reason, body.evidence,  # type: ignore[attr-defined]
            body.payload.model_dump(mode="json"), request_id(p, key),  # type: ignore[attr-defined]
        )

    router.add_api_route(
        f"/projects/{{project_id}}/decisions/{action}", endpoint, methods=["POST"],
        response_model=DecisionResponse, responses=ERRORS,
        summary=f"{ACTION_LABELS_ZH[action]} ({action})", operation_id=f"decide_{action}",
        description=f"{ACTION_LABELS_ZH[action]}. Roles: {', '.join(roles)}. "
                    "The workflow refuses it, with the rule, if the project's stage, the "
                    "batch's preset or a deadline does not allow it.",
        openapi_extra={"x-roles": roles, "requestBody": {"content": {"application/json": {
            "example": example}}}},
    )


# Decisions with an endpoint of their own, which does what the decision needs first (the
# upload stores the bytes, so that a document attached is always one the store holds).
OWN_ENDPOINT = {Action.EDIT_APPLICATION: "PUT /projects/{project_id}/application",
                Action.ATTACH_DOCUMENT: "POST /projects/{project_id}/documents"}

for _action, _spec in DECISIONS.items():
    if not _spec.system and _action not in OWN_ENDPOINT:
        _add_route(_action.value)
