"""The API's seal on what it sends to a project's workflow: decisions and deadline changes.

A decision names its actor, and so does a deadline change; anyone who can reach
Temporal's frontend (its UI can send updates) could name any actor. Both are therefore
accepted only with the seal the API puts on them after it authenticated the official: an
HMAC-SHA256, by the key `GONGFU_SEAL_SECRET`, over the canonical content. The worker
checks it in the updates' validators (`workflows.project.ProjectWorkflow`:
`_validate_decision`, `_validate_deadline`).

Validators run when an update arrives, never on replay, so the key may be rotated: only
changes sealed with the old key and not yet delivered are refused after a rotation
(`configure` accepts the old key beside the new one during a rolling change).

The worker sets the key once at start (`configure`); this module is passed through the
workflow sandbox (workflows/sandbox.py: PASSTHROUGH), so the validators see it.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from pydantic import BaseModel

_LABEL = b"gongfu/seal/v1"
_keys: list[bytes] = []


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()


def configure(secret: str, *older: str) -> None:
    """The keys this process checks seals with (the first also makes them)."""
    _keys[:] = [_key(s) for s in (secret, *older) if s]


def _canonical(message: BaseModel) -> bytes:
    body = message.model_dump(mode="json", exclude={"seal"})
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def make(message: BaseModel, secret: str) -> str:
    """The seal of `message` (its `seal` field excluded) under `secret`."""
    return hmac.new(_key(secret), _canonical(message), hashlib.sha256).hexdigest()


def valid(message: BaseModel, seal: str) -> bool:
    """Whether `seal` was made for exactly this content with a configured key. False
    when no key is configured: nothing unsealed is ever taken for sealed."""
    if not seal or not _keys:
        return False
    body = _canonical(message)
    return any(hmac.compare_digest(hmac.new(k, body, hashlib.sha256).hexdigest(), seal)
               for k in _keys)
