"""GB/T 2260 regions: the province, its cities and county-level divisions."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Region(Base):
    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))  # province | city | county
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
