"""A batch and what it is made of: calendar, tasks, quotas, local deadlines, and which
earlier batches count against its participation limits (R2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Batch(Base):
    __tablename__ = "batch"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int]
    preset: Mapped[str] = mapped_column(String(8))
    notice_date: Mapped[date | None]  # R6 (2024): projects start after it
    close_at: Mapped[datetime]  # R10: the system closes
    publicity_working_days: Mapped[int] = mapped_column(default=5)
    # Other instants and knobs of the calendar (acceptance offsets, archive periods,
    # calendar adjustments), as the BatchPolicy the workflows are started with.
    calendar: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Historical batches are loaded only so that their selected projects count (R2).
    historical: Mapped[bool] = mapped_column(default=False)


class BatchCounting(Base):
    """Earlier batches whose selected projects use up places in this one (R2)."""

    __tablename__ = "batch_counting"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"), primary_key=True)
    counts_batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"), primary_key=True)


class Task(Base):
    __tablename__ = "task"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    # 技术赋能 technology | 链式转型 chain | 载体赋能 carrier | 产业集群 cluster (2024)
    direction: Mapped[str] = mapped_column(String(16))
    title_zh: Mapped[str] = mapped_column(String(200))


class CityQuota(Base):
    """How many projects a city may recommend (附件4/5); R8."""

    __tablename__ = "city_quota"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"), primary_key=True)
    city_code: Mapped[str] = mapped_column(ForeignKey("region.code"), primary_key=True)
    quota: Mapped[int]
    # True where the number is made up (the notices' quota annex is not published).
    illustrative: Mapped[bool] = mapped_column(default=False)


class LocalDeadline(Base):
    """A city's or county's earlier deadline for its own applicants (never later)."""

    __tablename__ = "local_deadline"
    __table_args__ = (UniqueConstraint("batch_id", "region_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    deadline: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(64))


class EarlierWinner(Base):
    """A project selected in an earlier batch, imported from the province's list
    (`gongfu import winners`, migration 0007): it has no workflow here, only the units
    whose places it uses up in the batches that name its batch as counting (R2)."""

    __tablename__ = "earlier_winner"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batch.id"), primary_key=True)
    project_ref: Mapped[str] = mapped_column(String(64), primary_key=True)  # 项目编号
    task_code: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(200))


class EarlierWinnerUnit(Base):
    __tablename__ = "earlier_winner_unit"
    __table_args__ = (
        ForeignKeyConstraint(["batch_id", "project_ref"],
                             ["earlier_winner.batch_id", "earlier_winner.project_ref"]),
        Index("ix_earlier_winner_unit_unit_code", "unit_code"),
    )

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("unit.credit_code"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))  # lead | scene | member
