"""公示 working days on the real State Council schedule carried by the `holidays` package."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from domain.batch import CalendarAdjustments
from domain.calendar import WorkingDayCalendar, official_years
from domain.clock import SHANGHAI, at_local

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`


def test_spring_festival_2026_with_its_adjusted_working_saturday() -> None:
    # Thu 12 Feb, Fri 13, Sat 14 (调休 working day), holiday 15-23 Feb, Tue 24, Wed 25.
    period = WorkingDayCalendar().publicity_period(at_local(date(2026, 2, 12), 10), 5)
    assert period.first_day == date(2026, 2, 12)
    assert period.last_day == date(2026, 2, 25)
    assert period.ends_at == datetime(2026, 2, 26, 0, 0, tzinfo=SHANGHAI)
    assert period.provisional_years == []


def test_national_day_2026_with_its_adjusted_working_saturday() -> None:
    # Tue 29 Sep, Wed 30, holiday 1-7 Oct, Thu 8, Fri 9, Sat 10 (调休 working day).
    period = WorkingDayCalendar().publicity_period(at_local(date(2026, 9, 29), 9), 5)
    assert period.last_day == date(2026, 10, 10)


def test_opening_on_a_weekend_starts_counting_on_the_next_working_day() -> None:
    period = WorkingDayCalendar().publicity_period(at_local(date(2026, 6, 6), 9), 5)  # Sat
    assert period.first_day == date(2026, 6, 8)
    assert period.last_day == date(2026, 6, 12)


def test_notice_adjustments_override_the_package_and_make_a_year_official() -> None:
    future = max(official_years()) + 3
    monday = next(date(future, 3, d) for d in range(1, 8) if date(future, 3, d).weekday() == 0)
    plain = WorkingDayCalendar().publicity_period(at_local(monday, 9), 5)
    assert plain.provisional_years == [future]
    adj = CalendarAdjustments(
        holidays=[monday.replace(day=monday.day + 2)],
        workdays=[monday.replace(day=monday.day + 5)],
    )
    period = WorkingDayCalendar(adj).publicity_period(at_local(monday, 9), 5)
    assert period.provisional_years == []
    assert period.last_day == monday.replace(day=monday.day + 5)  # Mon Tue Thu Fri Sat


def test_2026_schedule_is_known_to_be_official() -> None:
    assert 2026 in official_years()
