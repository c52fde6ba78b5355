"""Workflow histories kept beyond Temporal's retention, for auditors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class HistoryArchive(Base):
    """The full history of a project's workflow as Temporal exports it (JSON), with its
    sha256 and the code version that archived it. A closed project's row is final; an
    open project's row is a snapshot, replaced by later ones."""

    __tablename__ = "history_archive"

    workflow_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    closed: Mapped[bool]
    events: Mapped[int]
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    code_version: Mapped[str] = mapped_column(String(64))
    archived_at: Mapped[datetime]
    history_json: Mapped[str] = mapped_column(Text)
