"""Notifications to applicants and officials (reminders, overdue archives).

The SMS / mail gateway is outside this system. `NotificationSink` is the seam: the
default sink writes a structured log line that an operator's log pipeline can forward;
tests use an in-memory sink, which is a fake of that outside gateway only.
"""

from __future__ import annotations

from typing import Protocol

import structlog
from temporalio import activity

from domain.messages import NOTIFY
from domain.views import Notification


class NotificationSink(Protocol):
    def send(self, notification: Notification, workflow_id: str) -> None: ...


class LogSink:
    def send(self, notification: Notification, workflow_id: str) -> None:
        structlog.get_logger().info(
            "notification.sent", workflow_id=workflow_id, project_id=notification.project_id,
            to_role=notification.to_role.value, to_unit=notification.to_unit,
            kind=notification.kind, message_zh=notification.message_zh,
        )


class MemorySink:
    """Keeps what was sent; for tests and the demo's summary."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification, workflow_id: str) -> None:
        self.sent.append(notification)


class NotifyActivities:
    def __init__(self, sink: NotificationSink | None = None) -> None:
        self.sink = sink or LogSink()

    @activity.defn(name=NOTIFY)
    async def notify(self, notification: Notification) -> None:
        self.sink.send(notification, activity.info().workflow_id or "")
