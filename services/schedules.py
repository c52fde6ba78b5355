"""The upkeep jobs as Temporal Schedules, created when the system starts.

`ensure_schedules` makes one schedule per job (`activities.upkeep.UpkeepJob`), each
starting `workflows.upkeep.UpkeepWorkflow` on the project task queue:

    gongfu-upkeep-archive      history archive sweep        daily (GONGFU_UPKEEP_ARCHIVE_MINUTES)
    gongfu-upkeep-read-model   read model check and repair  hourly (…_READ_MODEL_MINUTES)
    gongfu-upkeep-deadlines    missed deadlines scan        15 min (…_DEADLINES_MINUTES)
    gongfu-upkeep-stuck        stuck workflows scan         15 min (…_STUCK_MINUTES)

Overlap policy SKIP: every run looks at the whole current state, so a run that would
start while the previous one still works is dropped, not queued. A second sweep beside
the first would do the same work twice (and race it: two reprojections of one project);
a buffered one (BUFFER_ONE) would start the moment a long run ends and redo what it
just did. Nothing is lost by skipping: the next run sees everything. The catchup window
is one interval: after Temporal was down, at most the one run missed most recently is
made up, not a backlog.

Idempotent: a schedule that exists and already says what the settings want is left
alone; one that differs (interval, policy, task queue, workflow, timeout) is updated in
place, keeping its state, so a schedule an operator paused stays paused. Run by `gongfu
run` once its worker is up, and in production by `gongfu ops schedules` (the compose
`migrate` one-shot, the Kubernetes Job `gongfu-schedules`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.upkeep import UpkeepJob
from runtime.settings import Settings
from workflows.upkeep import UpkeepWorkflow

PREFIX = "gongfu-upkeep-"
OVERLAP = ScheduleOverlapPolicy.SKIP
MANAGED_BY = "services/schedules.py ensure_schedules (gongfu run, gongfu ops schedules)"


@dataclass(frozen=True)
class UpkeepSchedule:
    job: UpkeepJob
    every: timedelta
    # Where in each interval the job runs (epoch + n * every + offset, in UTC).
    offset: timedelta
    # A run that has not finished by then is ended; the next interval starts another.
    execution_timeout: timedelta
    what_zh: str
    what_en: str

    @property
    def id(self) -> str:
        return schedule_id(self.job)

    @property
    def note(self) -> str:
        return f"{self.what_zh} / {self.what_en}"

    @property
    def catchup_window(self) -> timedelta:
        return self.every


def schedule_id(job: UpkeepJob) -> str:
    return PREFIX + job.value.replace("_", "-")


# The archive at 02:30 in Shandong (18:30 UTC) when it runs daily; the others spread over
# the quarter hour so that they do not all start at once. Reduced modulo the interval.
_OFFSETS = {
    UpkeepJob.ARCHIVE: timedelta(hours=18, minutes=30),
    UpkeepJob.READ_MODEL: timedelta(minutes=20),
    UpkeepJob.DEADLINES: timedelta(minutes=5),
    UpkeepJob.STUCK: timedelta(minutes=10),
}
_TIMEOUTS = {
    UpkeepJob.ARCHIVE: timedelta(hours=12),
    UpkeepJob.READ_MODEL: timedelta(hours=4),
    UpkeepJob.DEADLINES: timedelta(hours=1),
    UpkeepJob.STUCK: timedelta(hours=1),
}
_WHAT = {
    UpkeepJob.ARCHIVE: (
        "流程历史归档：已结束项目的完整流程历史存入 PostgreSQL 供审计"
        "（Temporal 保留期满后仍可查），长期运行的项目每 30 天存一次快照",
        "History archive: each closed project's full workflow history copied into "
        "PostgreSQL for the auditors (kept after Temporal's retention deletes it); "
        "long-open projects snapshotted every 30 days"),
    UpkeepJob.READ_MODEL: (
        "读模型核对与修复：读模型与流程历史不一致的项目（如 Temporal 重置后）从历史重建",
        "Read model check and repair: projects whose read model differs from their "
        "workflow (e.g. after a Temporal reset) are rebuilt from the committed history"),
    UpkeepJob.DEADLINES: (
        "截止时间巡检：截止时间已过而计时器未推进的项目，逐一记入告警日志",
        "Deadline scan: open projects whose deadline passed without their timer moving "
        "them on, each logged as a warning"),
    UpkeepJob.STUCK: (
        "卡住流程巡检：工作流任务反复失败或活动长时间重试的项目，逐一记入告警日志",
        "Stuck scan: open projects whose workflow task keeps failing or whose activities "
        "keep retrying, each logged as an error"),
}


def upkeep_schedules(settings: Settings) -> list[UpkeepSchedule]:
    minutes = {
        UpkeepJob.ARCHIVE: settings.upkeep_archive_minutes,
        UpkeepJob.READ_MODEL: settings.upkeep_read_model_minutes,
        UpkeepJob.DEADLINES: settings.upkeep_deadlines_minutes,
        UpkeepJob.STUCK: settings.upkeep_stuck_minutes,
    }
    out = []
    for job in UpkeepJob:
        every = timedelta(minutes=minutes[job])
        out.append(UpkeepSchedule(job=job, every=every, offset=_OFFSETS[job] % every,
                                  execution_timeout=_TIMEOUTS[job],
                                  what_zh=_WHAT[job][0], what_en=_WHAT[job][1]))
    return out


def _schedule(u: UpkeepSchedule, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            UpkeepWorkflow.run, u.job, id=u.id, task_queue=task_queue,
            execution_timeout=u.execution_timeout,
            static_summary=f"upkeep: {u.job.value} 系统维护",
            static_details=u.note,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=u.every, offset=u.offset)]),
        policy=SchedulePolicy(overlap=OVERLAP, catchup_window=u.catchup_window,
                              pause_on_failure=False),
        state=ScheduleState(note=u.note),
    )


async def _decoded(client: Client, value: Any) -> Any:
    """A payload of a described schedule as a Python value (str stays str)."""
    if value is None or isinstance(value, str):
        return value
    return (await client.data_converter.decode([value]))[0]


async def _shape(client: Client, schedule: Schedule) -> dict[str, Any]:
    """What ensure_schedules manages of a schedule, comparable between the one wanted and
    the one described (whose arguments and metadata come back as payloads)."""
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    return {
        "intervals": [(i.every, i.offset or timedelta(0)) for i in schedule.spec.intervals],
        "calendars": len(schedule.spec.calendars) + len(schedule.spec.cron_expressions),
        "overlap": schedule.policy.overlap,
        "catchup_window": schedule.policy.catchup_window,
        "pause_on_failure": schedule.policy.pause_on_failure,
        "workflow": action.workflow,
        "workflow_id": action.id,
        "task_queue": action.task_queue,
        "args": [await _decoded(client, a) for a in action.args],
        "execution_timeout": action.execution_timeout,
        "summary": await _decoded(client, action.static_summary),
        "details": await _decoded(client, action.static_details),
    }


async def ensure_schedules(client: Client, task_queue: str, settings: Settings) -> list[str]:
    """Create the upkeep schedules that are missing and update those that differ from the
    settings; returns the ids created or updated (empty: everything was already so)."""
    log = structlog.get_logger()
    changed = []
    for u in upkeep_schedules(settings):
        wanted = _schedule(u, task_queue)
        try:
            await client.create_schedule(u.id, wanted, memo={
                "what_zh": u.what_zh, "what_en": u.what_en, "managed_by": MANAGED_BY})
            log.info("schedule.created", schedule_id=u.id, every=str(u.every),
                     task_queue=task_queue)
            changed.append(u.id)
            continue
        except ScheduleAlreadyRunningError:
            pass
        handle = client.get_schedule_handle(u.id)
        want = await _shape(client, wanted)
        if await _shape(client, (await handle.describe()).schedule) == want:
            continue

        async def update(current: ScheduleUpdateInput, wanted: Schedule = wanted,
                         want: dict[str, Any] = want) -> ScheduleUpdate | None:
            if await _shape(client, current.description.schedule) == want:
                return None  # another process updated it meanwhile
            # The state is the operator's: a paused schedule stays paused, its note kept.
            return ScheduleUpdate(schedule=dataclasses.replace(
                wanted, state=current.description.schedule.state))

        await handle.update(update)
        log.info("schedule.updated", schedule_id=u.id, every=str(u.every),
                 task_queue=task_queue)
        changed.append(u.id)
    return changed


class ScheduleRow(BaseModel):
    """A schedule as `gongfu ops schedules` shows it."""

    schedule_id: str
    every: str  # 1d, 1h, 15min
    overlap: str
    paused: bool
    note: str
    next_run: datetime | None
    last_run: datetime | None
    last_workflow_id: str | None
    runs: int
    skipped_overlap: int


def _every(every: timedelta) -> str:
    minutes = int(every.total_seconds() // 60)
    if minutes and minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}min" if every == timedelta(minutes=minutes) else str(every)


def _row(desc: ScheduleDescription) -> ScheduleRow:
    spec, info = desc.schedule.spec, desc.info
    recent = info.recent_actions[-1] if info.recent_actions else None
    started = getattr(recent.action, "workflow_id", None) if recent else None
    return ScheduleRow(
        schedule_id=desc.id,
        every=", ".join(_every(i.every) for i in spec.intervals) or "calendar",
        overlap=desc.schedule.policy.overlap.name, paused=desc.schedule.state.paused,
        note=desc.schedule.state.note or "",
        next_run=info.next_action_times[0] if info.next_action_times else None,
        last_run=recent.started_at if recent else None, last_workflow_id=started,
        runs=info.num_actions, skipped_overlap=info.num_actions_skipped_overlap)


async def describe_schedules(client: Client) -> list[ScheduleRow]:
    """The upkeep schedules that exist, in the order of the jobs."""
    rows = []
    for job in UpkeepJob:
        try:
            rows.append(_row(await client.get_schedule_handle(schedule_id(job)).describe()))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
    return rows
