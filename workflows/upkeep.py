"""UpkeepWorkflow: one run of one upkeep job, started by its Temporal Schedule
(`services.schedules`, ids `gongfu-upkeep-<job>`) or by an operator triggering it.

The workflow only runs the job's activity (`activities.upkeep.UpkeepActivities`) with a
timeout and a few retries, and returns the activity's small report. A run that fails is
not retried by the workflow beyond those attempts: the schedule starts the next one at
its next interval, and the failure stays visible in the UI and the logs."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.upkeep import UpkeepActivities, UpkeepJob, UpkeepReport

# How long one attempt of each job may take. The sweeps walk every project (one or two
# Temporal calls each, and the archive writes each closed history once).
JOB_TIMEOUTS = {
    UpkeepJob.ARCHIVE: timedelta(hours=2),
    UpkeepJob.READ_MODEL: timedelta(hours=1),
    UpkeepJob.DEADLINES: timedelta(minutes=10),
    UpkeepJob.STUCK: timedelta(minutes=10),
}
_ACTIVITY = {
    UpkeepJob.ARCHIVE: UpkeepActivities.archive,
    UpkeepJob.READ_MODEL: UpkeepActivities.repair_read_model,
    UpkeepJob.DEADLINES: UpkeepActivities.scan_deadlines,
    UpkeepJob.STUCK: UpkeepActivities.scan_stuck,
}
# The activities heartbeat every 10 s: a worker that died is noticed within a minute.
HEARTBEAT_TIMEOUT = timedelta(minutes=1)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=30), maximum_attempts=3)


@workflow.defn
class UpkeepWorkflow:
    @workflow.run
    async def run(self, job: UpkeepJob) -> UpkeepReport:
        return await workflow.execute_activity_method(
            _ACTIVITY[job],
            start_to_close_timeout=JOB_TIMEOUTS[job],
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=_RETRY,
            summary=f"upkeep {job.value}",
        )
