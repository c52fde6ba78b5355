"""The oversight CLI's rendering, without a server: every table readable at 80 columns
(nothing cut to "…", Chinese measured double width), `--json` one parseable document with
+08:00 instants, empty results said in words, and both forms of a project's id."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel
from rich.cells import cell_len

from audit.chain import Verification
from audit.replay import ReplayProof
from audit.timeline import TimelineEntry
from domain.batch import workflow_id_for
from domain.decisions import Actor
from domain.roles import Role
from services.operator import ArchiveOverdue, DeadlineRow, ReadModelDifference, StageCount, Stuck
from tools import oversight_cli as cli
from tools.tables import Column

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`

PID = "demo-2026-20261202-jn"
WID = workflow_id_for(PID)
REASON = ("经县级工业和信息化主管部门审核，申报材料中联合体协议未加盖公章，"
          "项目实施方案与揭榜任务“工业互联网平台赋能中小企业数字化转型”要求不符，"
          "请补充说明预期成效指标并重新提交。") * 2
ERROR = ("活动重试失败 activity failed: ConnectionError('数据库连接被拒绝 [bold]connection "
         "refused[/bold]') after 12 attempts; see worker log " + "x" * 90)
DUE = datetime(2026, 4, 13, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai


def squeeze(text: str) -> str:
    return "".join(text.split())


STAGES = [StageCount(batch="2026年工业互联网赋能百景第一批-" + "揭榜挂帅" * 8, city="3701",
                     stage="returned_not_resubmitted", count=12),
          StageCount(batch="demo-2026", city="3702", stage="city_review", count=3)]
DEADLINES = [DeadlineRow(workflow_id=WID, stage="city_review",
                         waiting_on=["city", "city_finance", "province", "province_finance"],
                         next_deadline=DUE, missed=True),
             DeadlineRow(workflow_id=workflow_id_for("乙-" + "很长的项目编号" * 6),
                         stage="publicity", waiting_on=[], missed=False,
                         next_deadline=datetime(2026, 5, 1, 1, 2, 3, tzinfo=UTC))]
ARCHIVES = [ArchiveOverdue(workflow_id=WID, project_id=PID, overdue_periods=[1, 2, 3],
                           archives_filed=0)]
STUCK = [Stuck(workflow_id=WID, kind="activity", attempt=17, what="project_read_model",
               error=ERROR),
         Stuck(workflow_id=WID, kind="workflow_task", attempt=3, what="workflow task",
               error=REASON)]
DIFFERENCES = [ReadModelDifference(project_id=PID, workflow_stage="provincial_review",
                                   read_model_stage="returned_not_resubmitted"),
               ReadModelDifference(project_id="gone", workflow_stage=None,
                                   read_model_stage="draft")]
ACTOR = Actor(user_id="县级审核员-张三", role=Role.COUNTY, region="370102")
TIMELINE = [
    TimelineEntry(event_id=12, seq=2, at="2026-04-13T17:00:05+08:00", kind="decision",
                  action="county_return", actor=ACTOR, request_id="r-2",
                  stage_before="county_review", stage_after="returned", reason=REASON,
                  note="退回修改 / returned for changes"),
    TimelineEntry(event_id=30, at="2026-04-20T17:00:00+08:00", kind="timer",
                  action="申报单位提交截止", note="申报单位提交截止 @ 2026-04-20T17:00+08:00"),
    TimelineEntry(event_id=41, at="2026-04-21T09:30:00+08:00", kind="refused",
                  action="submit", actor=ACTOR, reason="补充材料", note=ERROR),
]

RENDERERS: list[tuple[str, Callable[..., str], Sequence[BaseModel], Sequence[Column]]] = [
    ("stages", cli.render_stages, STAGES, cli.STAGE_COLUMNS),
    ("deadlines", cli.render_deadlines, DEADLINES, cli.DEADLINE_COLUMNS),
    ("archives-overdue", cli.render_archives_overdue, ARCHIVES, cli.ARCHIVE_COLUMNS),
    ("stuck", cli.render_stuck, STUCK, cli.STUCK_COLUMNS),
    ("read-model", cli.render_read_model, DIFFERENCES, cli.READ_MODEL_COLUMNS),
    ("timeline", lambda rows, *a, **k: cli.render_timeline(rows, PID, "archive", *a, **k),
     TIMELINE, cli.TIMELINE_COLUMNS),
]
IDS = [name for name, *_ in RENDERERS]


def assert_readable(out: str, rows: Sequence[BaseModel], columns: Sequence[Column],
                    width: int) -> None:
    assert "\x1b" not in out  # no colour codes when not on a terminal
    assert "…" not in out
    for line in out.splitlines():
        assert cell_len(line) <= width, line
    flat = squeeze(out)
    for row in rows:
        for column in columns:
            value = squeeze(column.cell(row))
            assert value in flat, (column.header, value)
        for header in columns:
            assert squeeze(header.header) in flat


@pytest.mark.parametrize(("name", "render", "rows", "columns"), RENDERERS, ids=IDS)
@pytest.mark.parametrize("width", [80, 60, 200])
def test_every_cell_survives_any_width(name: str, render: Callable[..., str],
                                       rows: Sequence[BaseModel], columns: Sequence[Column],
                                       width: int) -> None:
    out = render(rows, width)
    assert_readable(out, rows, columns, width)


@pytest.mark.parametrize(("name", "render", "rows", "columns"), RENDERERS, ids=IDS)
def test_narrow_output_is_one_record_per_row(name: str, render: Callable[..., str],
                                             rows: Sequence[BaseModel],
                                             columns: Sequence[Column]) -> None:
    out = render(rows, 80)
    assert f"1/{len(rows)}" in out and f"{len(rows)}/{len(rows)}" in out
    # each record names its fields, one to a line
    assert sum(line.startswith(columns[0].header) for line in out.splitlines()) == len(rows)


def test_a_table_when_it_fits() -> None:
    """Short rows stay a table at 80 columns: a header line with every column."""
    rows = [StageCount(batch="demo-2026", city="3701", stage="city_review", count=3)]
    out = cli.render_stages(rows, 80)
    header = out.splitlines()[0]
    assert all(c.header in header for c in cli.STAGE_COLUMNS)
    assert "city_review 市级审核推荐" in out.splitlines()[2]
    wide = cli.render_deadlines(DEADLINES[:1], 200)
    assert all(c.header in wide.splitlines()[0] for c in cli.DEADLINE_COLUMNS)


def test_chinese_is_measured_double_width() -> None:
    """A value of Chinese characters folds at 80 cells, not at 80 characters."""
    out = cli.render_timeline(TIMELINE[:1], PID, "temporal", 80)
    lines = [line for line in out.splitlines() if any("\u4e00" <= ch <= "\u9fff" for ch in line)]
    assert max(cell_len(line) for line in lines) <= 80
    assert max(cell_len(line) for line in lines) > 70  # the reason fills the line
    assert squeeze(REASON) in squeeze(out)


def test_colour_only_when_asked_for() -> None:
    plain = cli.render_deadlines(DEADLINES, 80)
    coloured = cli.render_deadlines(DEADLINES, 80, color_system="standard")
    assert "\x1b[" not in plain and "\x1b[" in coloured


def test_markup_in_values_is_shown_as_written() -> None:
    out = cli.render_stuck(STUCK, 200)
    assert "[bold]connection" in out


JSON_KEYS: dict[str, set[str]] = {
    "stages": {"batch", "city", "stage", "count"},
    "deadlines": {"workflow_id", "stage", "waiting_on", "next_deadline", "missed"},
    "archives-overdue": {"workflow_id", "project_id", "overdue_periods", "archives_filed"},
    "stuck": {"workflow_id", "kind", "attempt", "what", "error"},
    "read-model": {"project_id", "workflow_stage", "read_model_stage", "missing", "phantom",
                   "other_run", "workflow_status", "marked"},
    "timeline": {"event_id", "seq", "at", "kind", "action", "actor", "request_id",
                 "stage_before", "stage_after", "reason", "evidence", "payload", "note"},
}


@pytest.mark.parametrize(("name", "render", "rows", "columns"), RENDERERS, ids=IDS)
def test_json_is_one_document_of_objects(name: str, render: Callable[..., str],
                                         rows: Sequence[BaseModel],
                                         columns: Sequence[Column]) -> None:
    data = json.loads(render(rows, 80, True))
    assert isinstance(data, list) and len(data) == len(rows)
    assert all(set(item) == JSON_KEYS[name] for item in data)
    assert data == json.loads(render(rows, 30, True))  # the width does not matter


def test_json_instants_are_iso_with_the_shanghai_offset() -> None:
    data = json.loads(cli.render_deadlines(DEADLINES, as_json=True))
    assert data[0]["next_deadline"] == "2026-04-13T17:00+08:00"
    assert data[1]["next_deadline"] == "2026-05-01T09:02:03+08:00"  # seconds kept
    assert [datetime.fromisoformat(d["next_deadline"]) for d in data] == [
        r.next_deadline for r in DEADLINES]
    timeline = json.loads(cli.render_timeline(TIMELINE, PID, "temporal", as_json=True))
    assert timeline[0]["at"].endswith("+08:00") and timeline[0]["reason"] == REASON
    assert timeline[0]["actor"] == {"user_id": ACTOR.user_id, "role": "county",
                                    "region": "370102", "unit_code": None}


EMPTY: list[tuple[Callable[..., str], str, str]] = [
    (cli.render_stages, "没有符合条件的项目", "no matching projects"),
    (cli.render_deadlines, "没有临近或已错过的截止时间", "no deadline near or missed"),
    (cli.render_archives_overdue, "没有过程档案逾期的项目", "no project has overdue"),
    (cli.render_stuck, "没有卡住的流程", "nothing is stuck"),
    (cli.render_read_model, "读模型与流程一致", "no differences"),
    (lambda rows, *a, **k: cli.render_timeline(rows, PID, "temporal", *a, **k),
     "没有决定", "no decisions, timers"),
]


@pytest.mark.parametrize(("render", "zh", "en"), EMPTY)
def test_an_empty_result_says_so(render: Callable[..., str], zh: str, en: str) -> None:
    out = render([], 80)
    assert zh in out and en in out
    assert json.loads(render([], 80, True)) == []
    assert render([], 80, True).strip() == "[]"


def test_replay_and_verify_render_as_text_or_json() -> None:
    proof = ReplayProof(workflow_id=WID, replays=True, events=120,
                        stages=["draft", "submitted", "county_review"], end=None, seconds=0.25)
    text = cli.render_replay(proof, PID, "archive", 80)
    assert "replays: same stages" in text and "250 ms" in text and "\x1b" not in text
    assert json.loads(cli.render_replay(proof, PID, "archive", as_json=True))["replays"] is True
    checked = datetime(2026, 4, 13, 9, 0, 7, tzinfo=UTC)
    v = Verification(project_id=PID, records=5, chain_intact=False, first_broken_seq=3,
                     matches_history=False, checked_at=checked,
                     differences=[f"seq 3 reason: database '改过的理由', history {REASON!r}"])
    text = cli.render_verify(v, 80)
    assert "broken at seq 3" in text and "DIFFERS" in text
    assert squeeze(REASON) in squeeze(text)
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    data = json.loads(cli.render_verify(v, as_json=True))
    assert data["checked_at"] == "2026-04-13T17:00:07+08:00" and data["first_broken_seq"] == 3


def test_project_id_of_accepts_the_project_id_or_its_workflow_id() -> None:
    projects = {PID, "project-x"}  # a project id may itself begin with "project-"
    known: Callable[[str], bool] = projects.__contains__
    assert cli.project_id_of(PID, known) == PID
    assert cli.project_id_of(WID, known) == PID
    assert cli.project_id_of(f"  {WID}\n", known) == PID
    assert cli.project_id_of("project-x", known) == "project-x"  # the exact id wins
    assert cli.project_id_of(workflow_id_for("project-x"), known) == "project-x"
    assert cli.project_id_of(WID) == PID  # without a lookup: by form alone
    assert cli.project_id_of(PID) == PID


@pytest.mark.parametrize("text", ["nope", "project-nope", "project-", ""])
def test_an_unknown_project_is_one_clear_line(text: str) -> None:
    with pytest.raises(cli.UnknownProject) as caught:
        cli.project_id_of(text, {PID}.__contains__)
    message = str(caught.value)
    assert isinstance(caught.value, LookupError)
    assert "\n" not in message and "没有项目" in message and "no project" in message
