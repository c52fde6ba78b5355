"""The API's idempotency keys, kept in the database so that they hold across API
processes and restarts (migration 0006)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class IdempotencyKey(Base):
    """One change request, by the caller's key: what it was (its fingerprint) and, once
    answered, the answer. A retry with the same key and request gets the same answer; the
    same key with another request is refused."""

    __tablename__ = "idempotency_key"

    # The caller (token subject) and its key: two users' equal keys are different requests.
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # Until answered: a request in progress holds the key until this instant (a crashed
    # API process's claim lapses, and a retry then runs the request again).
    lease_until: Mapped[datetime]
    status: Mapped[int | None]
    media_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    answered_at: Mapped[datetime | None]
