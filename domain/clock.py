"""Programme time: every deadline is an instant, shown in Asia/Shanghai.

China has kept UTC+08:00 all year since 1991, so a fixed offset is exact for every date
this programme can meet, and unlike `ZoneInfo` it can be built inside the workflow
sandbox without touching the filesystem.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated

from pydantic import AwareDatetime, PlainSerializer

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def local(instant: datetime) -> datetime:
    """The instant as an official reads it (Asia/Shanghai)."""
    return require_aware(instant).astimezone(SHANGHAI)


def at_local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """The instant of a Shanghai wall-clock time, e.g. 13 April 17:00."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def require_aware(instant: datetime) -> datetime:
    """A naive datetime is ambiguous across the client, API and server: refuse it."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("datetime must carry a time zone (e.g. 2026-04-13T17:00+08:00)")
    return instant


def add_months(instant: datetime, months: int) -> datetime:
    """Same Shanghai wall-clock time `months` later; the 31st clamps to the month's end."""
    start = local(instant)
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def iso_local(instant: datetime) -> str:
    """ISO text with the +08:00 offset, as deadlines are written in notices."""
    return local(instant).isoformat(timespec="minutes")


def _iso_shanghai(instant: datetime) -> str:
    return local(instant).isoformat()


# An instant as every answer shows it: ISO 8601 with the +08:00 offset (the same moment
# whatever offset it was given or stored with).
Instant = Annotated[AwareDatetime, PlainSerializer(_iso_shanghai, return_type=str,
                                                   when_used="json")]
