"""Rendering the oversight CLI's rows: a table when it fits the width, else one record per
row (label: value, long values folded), never a cell cut to "…"; or JSON, one document.

Everything here is pure (rows in, text out), so it is tested without a server. Widths are
measured by rich in terminal cells, so Chinese text counts double."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from domain.clock import iso_local, local

UNBOUNDED = 100_000  # cells: room for any row on one line, to measure a table's natural width


@dataclass(frozen=True)
class Column:
    """A column: its header (Chinese and English) and how a row shows in it."""

    header: str
    cell: Callable[[Any], str]
    justify: str = "left"


def instant(value: datetime) -> str:
    """ISO 8601 with the +08:00 offset: to the minute (as deadlines are written) when the
    instant falls on one, else to the second."""
    if value.second == 0 and value.microsecond == 0:
        return iso_local(value)
    return local(value).isoformat(timespec="seconds")


def _local_instants(value: Any) -> Any:
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, dict):
        return {k: _local_instants(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_local_instants(v) for v in value]
    return value


def jsonable(row: BaseModel) -> Any:
    """A row as JSON values, its instants in +08:00."""
    return to_jsonable_python(_local_instants(row.model_dump(mode="python")))


def to_json(value: BaseModel | Sequence[BaseModel]) -> str:
    """One JSON document: a list of objects (a table's rows) or one object."""
    data = jsonable(value) if isinstance(value, BaseModel) else [jsonable(r) for r in value]
    return json.dumps(data, ensure_ascii=False, indent=2)


def to_text(renderable: RenderableType, width: int, color_system: str | None = None) -> str:
    """Render at `width` cells; plain text (no ANSI codes) unless a colour system is given,
    which the caller passes only when stdout is a terminal."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=color_system,  # type: ignore[arg-type]
                      force_terminal=color_system is not None, highlight=False,
                      emoji=False, legacy_windows=False, soft_wrap=False)
    console.print(renderable)
    text = buf.getvalue()
    if color_system is None:
        text = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    return text


def _table(rows: Sequence[Any], columns: Sequence[Column], title: str | None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title,
                  title_justify="left", header_style="bold")
    for c in columns:
        table.add_column(Text(c.header), justify=c.justify, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(Text(c.cell(row)) for c in columns))
    return table


def _records(rows: Sequence[Any], columns: Sequence[Column], title: str | None) -> Group:
    parts: list[RenderableType] = [Text(title, style="bold")] if title else []
    for n, row in enumerate(rows, 1):
        parts.append(Rule(Text(f"{n}/{len(rows)}"), align="left", style="dim"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column(overflow="fold")
        for c in columns:
            grid.add_row(Text(c.header), Text(c.cell(row)))
        parts.append(grid)
    return Group(*parts)


def layout(rows: Sequence[Any], columns: Sequence[Column], width: int,
           title: str | None = None) -> RenderableType:
    """A table if every cell fits on one line at `width`; else one record per row."""
    table = _table(rows, columns, title)
    probe = Console(file=io.StringIO(), width=UNBOUNDED, color_system=None)
    if Measurement.get(probe, probe.options, table).maximum <= width:  # its natural width
        return table
    return _records(rows, columns, title)


def render(rows: Sequence[Any], columns: Sequence[Column], *, width: int = 80,
           as_json: bool = False, empty: str, title: str | None = None,
           color_system: str | None = None) -> str:
    """The rows as JSON, or as the sentence `empty` when there are none, or laid out."""
    if as_json:
        return to_json(rows) + "\n"
    if not rows:
        return (f"{title}\n" if title else "") + empty + "\n"
    return to_text(layout(rows, columns, width, title), width, color_system)
