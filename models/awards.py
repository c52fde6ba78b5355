"""The province's merit lists (择优, R17; issue 16): who decided which list when and why,
and its entries in ranked order with what each project's decision answered.

A list is written once per request (its `request_id` is unique: a retried request finds
it and decides nothing again); the decisions themselves are in each project's record, and
an entry names the request id its project's decision carries (`decision_record`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class AwardListRow(Base):
    __tablename__ = "award_list"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(
        Integer(), "sqlite"), primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(160), unique=True)
    # sha256 of the list's content: the same request id with another list is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_role: Mapped[str] = mapped_column(String(24))
    decided_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(2000))
    first_rank: Mapped[int | None]  # None: a list of no-award entries only


class AwardListEntry(Base):
    __tablename__ = "award_list_entry"
    __table_args__ = (Index("ix_award_list_entry_project_id", "project_id"),)

    list_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("award_list.id"), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("project.id"), primary_key=True)
    position: Mapped[int]  # order in the list: ranked awards first, then no awards
    kind: Mapped[str] = mapped_column(String(8))  # award | none
    rank: Mapped[int | None]
    amount_cny: Mapped[float | None]
    scenes: Mapped[int | None]
    recipient: Mapped[str | None] = mapped_column(String(18))
    reason: Mapped[str] = mapped_column(String(2000))  # a no award's own reason, or the list's
    # The request id of the project's decision (decision_record.request_id).
    request_id: Mapped[str] = mapped_column(String(160))
    # What the project's workflow answered; None while the list is being decided.
    ok: Mapped[bool | None]
    status: Mapped[int | None]
    stage: Mapped[str | None] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(16))
    message_zh: Mapped[str | None] = mapped_column(String(500))
    message_en: Mapped[str | None] = mapped_column(String(500))
