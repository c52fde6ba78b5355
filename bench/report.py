"""Results as JSON and one Markdown table: each figure beside its floor, as min / median
over repetitions, with the target and whether this run met it."""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def spread(rows: list[dict[str, float]], key: str) -> dict[str, float]:
    values = [r[key] for r in rows]
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


@dataclass
class Line:
    """One row of the table; `ratio` is the figure ÷ the floor's, per repetition, and the
    target is judged on its median."""

    measure: str
    value: dict[str, float]
    floor: dict[str, float] | None = None
    ratio: dict[str, float] | None = None
    target: str = ""
    met: bool | None = None
    unit: str = ""


@dataclass
class Result:
    name: str
    title: str
    params: dict[str, Any]
    rows: list[dict[str, Any]]
    lines: list[Line]
    notes: list[str] = field(default_factory=list)

    def save(self) -> Path:
        OUT.mkdir(exist_ok=True)
        path = OUT / f"{self.name}.json"
        doc = {"measured_at": datetime.now(UTC).isoformat(), "machine": machine(), **asdict(self)}
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
        return path


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform()}


def _fmt(v: dict[str, float] | None, unit: str) -> str:
    if v is None:
        return ""
    if v["min"] == v["median"]:
        return f"{_num(v['min'])}{unit}"
    return f"{_num(v['min'])} / {_num(v['median'])}{unit}"


def _num(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def markdown(results: list[Result]) -> str:
    out = ["| benchmark | measure | value (min / median) | floor (min / median) | "
           "× floor (min / median) | target | met |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for line in r.lines:
            met = "" if line.met is None else ("yes" if line.met else "**no**")
            out.append(f"| {r.title} | {line.measure} | {_fmt(line.value, line.unit)} | "
                       f"{_fmt(line.floor, line.unit)} | {_fmt(line.ratio, '×')} | "
                       f"{line.target} | {met} |")
    notes = [f"- **{r.title}** ({', '.join(f'{k}={v}' for k, v in r.params.items())}): "
             + " ".join(r.notes) for r in results]
    return "\n".join(out) + "\n\n" + "\n".join(notes) + "\n"


def load(name: str) -> Result | None:
    path = OUT / f"{name}.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    return Result(name=doc["name"], title=doc["title"], params=doc["params"], rows=doc["rows"],
                  lines=[Line(**line) for line in doc["lines"]], notes=doc.get("notes", []))
