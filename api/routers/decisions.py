"""One endpoint per decision, generated from the decision table.

`POST /projects/{project_id}/decisions/{action}` for every decision a person can make:
its body carries the reason, the evidence hashes and the action's own payload schema;
the roles that may call it are the table's. Adding a decision to `domain/lifecycle.py`
adds its endpoint, its OpenAPI entry and its rows in the authorization-matrix test.
"""

# No `from __future__ import annotations` here: each endpoint's body type is made at run
# time, and FastAPI must see the class itself, not its name.

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, create_model

from api.deps import (
    ERRORS,
    IdempotencyKey,
    PrincipalDep,
    Sha256,
    StateDep,
    VisibleProject,
    deciders,
    request_id,
)
from api.schemas import DecisionResponse
from domain.actions import Action
from domain.lifecycle import ACTION_LABELS_ZH, DECISIONS, payload_example
from services.decisions import make_decision

router = APIRouter(tags=["decisions 决定"])


class DecisionBase(BaseModel):
    reason: str = Field(default="", max_length=2000, description="理由 / why")
    evidence: list[Sha256] = Field(default=[], max_length=50,
                                   description="sha256 of the supporting documents")


def _camel(action: str) -> str:
    return "".join(part.title() for part in action.split("_"))


def _add_route(action: str) -> None:
    schema = DECISIONS[Action(action)].payload
    required = any(f.is_required() for f in schema.model_fields.values())
    body_model: Any = create_model(
        f"{_camel(action)}Request",
        __base__=DecisionBase,
        payload=(schema, ... if required else Field(default_factory=schema)),
    )
    example = {"reason": "示例理由", "evidence": [], "payload": payload_example(action)}
    route = deciders(action)
    route["openapi_extra"]["requestBody"] = {"content": {"application/json": {
        "example": example}}}

    async def endpoint(project_id: VisibleProject, body: DecisionBase, p: PrincipalDep,
                       state: StateDep, key: IdempotencyKey = None) -> DecisionResponse:
        outcome = await make_decision(
            client=state.client, db=state.db, project_id=project_id, action=action,
            actor=p.actor, reason=body.reason, evidence=body.evidence,
            payload=body.payload.model_dump(mode="json"),  # type: ignore[attr-defined]
            request_id=request_id(p, key))
        return DecisionResponse.of(outcome, project_id, p.role.value)

    endpoint.__annotations__["body"] = body_model  # the action's own request body

    router.add_api_route(
        f"/projects/{{project_id}}/decisions/{action}", endpoint, methods=["POST"],
        response_model=DecisionResponse, responses=ERRORS,
        summary=f"{ACTION_LABELS_ZH[action]} ({action})", operation_id=f"decide_{action}",
        description=f"{ACTION_LABELS_ZH[action]}. Roles: "
                    f"{', '.join(route['openapi_extra']['x-roles'])}. "
                    "The workflow refuses it, with the rule, if the project's stage, the "
                    "batch's preset or a deadline does not allow it.",
        **route,
    )


# Decisions with an endpoint of their own, which does what the decision needs first (the
# upload stores the bytes, so that a document attached is always one the store holds).
OWN_ENDPOINT = {Action.EDIT_APPLICATION: "PUT /projects/{project_id}/application",
                Action.ATTACH_DOCUMENT: "POST /projects/{project_id}/documents"}

for _action, _spec in DECISIONS.items():
    if not _spec.system and _action not in OWN_ENDPOINT:
        _add_route(_action.value)
