"""The API's seal on what it sends to a project's workflow: decisions and deadline changes.

A decision names its actor, and so does a deadline change; anyone who can reach
Temporal's frontend (its UI can send updates) could name any actor. Both are therefore
accepted only with the seal the API puts on them after it authenticated the official: an
HMAC-SHA256, by the key `GONGFU_SEAL_SECRET`, over the canonical content. The worker
checks it in the updates' validators (`workflows.project.ProjectWorkflow`:
`_validate_decision`, `_validate_deadline`).

A seal is made for one workflow: the id of the workflow it is sent to is part of what is
signed. Anyone who can read a project's history (the Temporal UI, `temporal workflow
show`) sees every sealed decision in it; without the workflow id in the seal, such a
decision could be sent again to another project's workflow (another request id there, so
no retry) and be taken as the API's. The workflow checks the seal against its own id.

Validators run when an update arrives, never on replay, so the key may be rotated: only
changes sealed with the old key and not yet delivered are refused after a rotation
(`configure` accepts the old key beside the new one during a rolling change). For the
same reason the seal's format could change (v1 had no workflow id): only changes sealed
by an API older than the worker and not yet delivered are refused.

The worker sets the key once at start (`configure`); this module is passed through the
workflow sandbox (workflows/sandbox.py: PASSTHROUGH), so the validators see it.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from pydantic import BaseModel

_LABEL = b"gongfu/seal/v2"
_keys: list[bytes] = []


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()


def configure(secret: str, *older: str) -> None:
    """The keys this process checks seals with (the first also makes them)."""
    _keys[:] = [_key(s) for s in (secret, *older) if s]


def _canonical(message: BaseModel, to: str) -> bytes:
    body = {"to": to, "message": message.model_dump(mode="json", exclude={"seal"})}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def make(message: BaseModel, secret: str, *, to: str) -> str:
    """The seal of `message` (its `seal` field excluded) under `secret`, for the workflow
    whose id is `to`."""
    return hmac.new(_key(secret), _canonical(message, to), hashlib.sha256).hexdigest()


def valid(message: BaseModel, seal: str, *, to: str) -> bool:
    """Whether `seal` was made for exactly this content, sent to the workflow `to`, with
    a configured key. False when no key is configured: nothing unsealed is ever taken for
    sealed."""
    if not seal or not _keys or not to:
        return False
    body = _canonical(message, to)
    return any(hmac.compare_digest(hmac.new(k, body, hashlib.sha256).hexdigest(), seal)
               for k in _keys)
