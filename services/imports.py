"""Lists the province imports (R19, R2): privileged unit facts, and the selected projects
of earlier batches. XLSX or CSV, one header row (Chinese or English column names), each
row validated and reported on its own; importing the same file again changes nothing.

Each row runs in a savepoint: a bad row is reported and skipped, the others are kept.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.clock import SHANGHAI
from domain.decisions import Actor
from domain.eligibility import check_credit_code
from domain.refusals import Refused, describe_error
from models import Batch, EarlierWinner, EarlierWinnerUnit, Unit
from services.units import ProvinceFacts, UnitRegistration, register_unit, state_facts

log = structlog.get_logger()
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024

# Column names: Chinese (as in the province's lists) or the field names.
FACT_COLUMNS = {
    "统一社会信用代码": "credit_code", "单位名称": "name",
    "中央驻鲁企业": "central_enterprise_in_shandong", "省属国企": "provincial_soe",
    "省属国有企业": "provincial_soe", "集团代码": "group_code", "集团名称": "group_name",
    "上级单位代码": "parent_code", "较大以上安全生产事故": "major_safety_accident_3y",
    "严重失信": "serious_dishonesty", "经营异常名录": "abnormal_operation",
    "法定代表人失信被执行": "legal_rep_dishonest_debtor",
    "不符合产业政策": "against_industrial_policy", "省工信厅标记": "flagged_by_province",
    "说明": "reason",
}
WINNER_COLUMNS = {
    "项目编号": "project_ref", "任务编号": "task_code", "项目名称": "title",
    "统一社会信用代码": "credit_code", "单位名称": "name", "单位类型": "kind",
    "所在地区划": "region_code", "角色": "role",
}
_KINDS = {"服务商": "service_provider", "制造业企业": "manufacturer",
          "集群管理机构": "cluster_body", "其他": "other"}
_ROLES = {"牵头": "lead", "牵头单位": "lead", "场景": "scene", "场景落地单位": "scene",
          "成员": "member"}
_TRUE, _FALSE = {"是", "true", "1", "y", "yes"}, {"否", "false", "0", "n", "no"}


class RowReport(BaseModel):
    row: int  # the line in the file (the header is row 1)
    status: Literal["created", "updated", "unchanged", "error"]
    credit_code: str = ""
    project_ref: str = ""
    message_zh: str = ""
    message_en: str = ""


class ImportReport(BaseModel):
    source: str
    rows: list[RowReport]

    @property
    def errors(self) -> int:
        return sum(r.status == "error" for r in self.rows)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out


class ImportProblem(Exception):
    """The file as a whole cannot be read (format, header, size)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def read_rows(data: bytes, filename: str, columns: dict[str, str]
              ) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {field: text}) for each non-empty row of an XLSX or CSV file."""
    if len(data) > MAX_BYTES:
        raise ImportProblem("导入文件过大（上限5MB）", "the file is too large (at most 5 MB)")
    name = filename.lower()
    if name.endswith(".xlsx"):
        table = _xlsx_rows(data)
    elif name.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportProblem("CSV文件须为UTF-8编码", "a CSV file must be UTF-8") from None
        if "\x00" in text:
            raise ImportProblem("文件含有NUL字符", "the file contains NUL characters")
        table = list(csv.reader(io.StringIO(text)))
    else:
        raise ImportProblem("只接受 .xlsx 或 .csv 文件", "only .xlsx or .csv files are accepted")
    if not table:
        raise ImportProblem("文件为空", "the file is empty")
    header = [columns.get(str(h).strip(), str(h).strip()) for h in table[0]]
    known = set(columns.values())
    unknown = [h for h in header if h and h not in known]
    if unknown or "credit_code" not in header:
        raise ImportProblem(f"表头无法识别：{'、'.join(unknown) or '缺少统一社会信用代码'}",
                            f"unrecognised header: {', '.join(unknown) or 'no credit_code'}")
    if len(table) - 1 > MAX_ROWS:
        raise ImportProblem(f"导入行数超过上限{MAX_ROWS}", f"more than {MAX_ROWS} rows")
    for n, values in enumerate(table[1:], start=2):
        cells = {h: str(v).strip() for h, v in zip(header, values, strict=False)
                 if h and v is not None and str(v).strip() != ""}
        if cells:
            yield n, cells


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise ImportProblem("无法读取XLSX文件", "the XLSX file cannot be read") from None
    sheet = book.worksheets[0]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def _bool(value: str, field: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"{field}：应为“是”或“否”|{field}: expected 是 or 否")


def _error(n: int, zh: str, en: str, **kw: str) -> RowReport:
    return RowReport(row=n, status="error", message_zh=zh, message_en=en, **kw)


def import_facts(session: Session, *, who: Actor, data: bytes, filename: str) -> ImportReport:
    """The province's list of privileged facts: each row states the facts of one
    registered unit (a blank cell leaves that fact as it is)."""
    report = ImportReport(source=filename, rows=[])
    for n, cells in read_rows(data, filename, FACT_COLUMNS):
        code = cells.get("credit_code", "")
        try:
            values: dict[str, Any] = {}
            for field, text in cells.items():
                if field in ("credit_code", "name", "reason"):
                    continue
                values[field] = _bool(text, field) if field in _BOOL_FACTS else text
            facts = ProvinceFacts(reason=cells.get("reason") or f"导入：{filename}", **values)
        except (ValueError, ValidationError) as exc:
            zh, en = _describe(exc)
            report.rows.append(_error(n, zh, en, credit_code=code))
            continue
        problem = check_credit_code(code)
        if problem is not None:
            report.rows.append(_error(n, problem.message_zh, problem.message_en,
                                      credit_code=code))
            continue
        if session.get(Unit, code) is None:
            report.rows.append(_error(n, "单位尚未登记", "the unit is not registered",
                                      credit_code=code))
            continue
        try:
            with session.begin_nested():
                _, changed = state_facts(session, who=who, code=code, facts=facts,
                                         source=f"import:{filename}")
        except Refused as exc:
            report.rows.append(_error(n, exc.refusal.message_zh, exc.refusal.message_en,
                                      credit_code=code))
            continue
        report.rows.append(RowReport(row=n, status="updated" if changed else "unchanged",
                                     credit_code=code))
    log.info("import.facts", source=filename, by=who.user_id, **report.counts())
    return report


_BOOL_FACTS = {"central_enterprise_in_shandong", "provincial_soe", "major_safety_accident_3y",
               "serious_dishonesty", "abnormal_operation", "legal_rep_dishonest_debtor",
               "against_industrial_policy"}


def _describe(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ValidationError):
        return describe_error(exc.errors()[0])
    zh, _, en = str(exc).partition("|")
    return zh, en or zh


def ensure_earlier_batch(session: Session, batch_id: str) -> Batch:
    """The earlier batch the winners belong to; created as historical when unknown. A
    batch that runs here (not historical) has its own selected projects: refused."""
    batch = session.get(Batch, batch_id)
    if batch is None:
        year = int(batch_id[:4]) if batch_id[:4].isdigit() else datetime.now(SHANGHAI).year
        # A historical batch never runs: its calendar is a placeholder (the year's end).
        batch = Batch(id=batch_id, name=f"{batch_id}（往期批次，导入）", year=year,
                      preset="2026" if year >= 2025 else "2024", calendar={},
                      close_at=datetime.combine(datetime(year, 12, 31).date(), time(17),
                                                tzinfo=SHANGHAI),
                      historical=True)
        session.add(batch)
        session.flush()
    elif not batch.historical:
        raise ImportProblem(f"批次{batch_id}在本系统中运行，其入围项目不能导入",
                            f"batch {batch_id} runs in this system; its winners are not "
                            "imported")
    return batch


def import_winners(session: Session, *, who: Actor, batch_id: str, data: bytes,
                   filename: str) -> ImportReport:
    """Earlier batches' selected projects, one row per unit of a project (project_ref,
    task, title, unit, role). A unit not yet registered is registered from the row when
    it gives the name, kind and region. Idempotent: a row already imported is
    `unchanged`."""
    rows = list(read_rows(data, filename, WINNER_COLUMNS))  # the whole file is readable
    ensure_earlier_batch(session, batch_id)
    report = ImportReport(source=filename, rows=[])
    for n, cells in rows:
        code, ref = cells.get("credit_code", ""), cells.get("project_ref", "")
        try:
            with session.begin_nested():
                status = _winner_row(session, who, batch_id, filename, cells)
        except (Refused, ValueError, ValidationError) as exc:
            if isinstance(exc, Refused):
                zh, en = exc.refusal.message_zh, exc.refusal.message_en
            else:
                zh, en = _describe(exc)
            report.rows.append(_error(n, zh, en, credit_code=code, project_ref=ref))
            continue
        report.rows.append(RowReport(row=n, status=status, credit_code=code,
                                     project_ref=ref))
    log.info("import.winners", source=filename, batch_id=batch_id, by=who.user_id,
             **report.counts())
    return report


def _winner_row(session: Session, who: Actor, batch_id: str, filename: str,
                cells: dict[str, str]) -> str:
    code, ref = cells.get("credit_code", ""), cells.get("project_ref", "")
    task, title = cells.get("task_code", ""), cells.get("title", "")
    if not ref or len(ref) > 64 or not task or len(task) > 16 or not title:
        raise ValueError("须填写项目编号（≤64字）、任务编号（≤16字）和项目名称"
                         "|project_ref (≤64), task_code (≤16) and title are required")
    problem = check_credit_code(code)
    if problem is not None:
        raise Refused(problem)
    role = _ROLES.get(cells.get("role", ""), cells.get("role", "member"))
    if role not in ("lead", "scene", "member"):
        raise ValueError("角色应为牵头、场景或成员|role must be lead, scene or member")
    status = "unchanged"
    if session.get(Unit, code) is None:
        if not all(cells.get(k) for k in ("name", "kind", "region_code")):
            raise ValueError("单位尚未登记；须填写单位名称、单位类型和所在地区划以便登记"
                             "|the unit is not registered; give name, kind and region_code")
        register_unit(session, who=who, body=UnitRegistration(
            credit_code=code, name=cells["name"], region_code=cells["region_code"],
            kind=_KINDS.get(cells["kind"], cells["kind"])), source=f"import:{filename}")
        status = "created"
    winner = session.get(EarlierWinner, (batch_id, ref))
    if winner is None:
        session.add(EarlierWinner(batch_id=batch_id, project_ref=ref, task_code=task,
                                  title=title[:200], imported_by=who.user_id,
                                  imported_at=datetime.now(UTC), source=filename[:200]))
        session.flush()
        status = "created"
    elif (winner.task_code, winner.title) != (task, title[:200]):
        winner.task_code, winner.title = task, title[:200]
        status = "updated" if status == "unchanged" else status
    member = session.get(EarlierWinnerUnit, (batch_id, ref, code))
    if member is None:
        session.add(EarlierWinnerUnit(batch_id=batch_id, project_ref=ref, unit_code=code,
                                      role=role))
        status = "created"
    elif member.role != role:
        member.role = role
        status = "updated" if status == "unchanged" else status
    session.flush()
    return status


def winners_of(session: Session, batch_id: str) -> list[EarlierWinnerUnit]:
    return list(session.scalars(select(EarlierWinnerUnit).where(
        EarlierWinnerUnit.batch_id == batch_id)))
