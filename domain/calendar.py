"""The Chinese working-day calendar, for the publicity period (R13) and the
co-signature's reminder and overdue instants (rules 3).

Working days come from the `holidays` package, which carries the State Council's yearly
schedule including the adjusted working weekends (调休). A year whose official schedule
the package does not have yet is computed from the rules and marked provisional; the
province can enter an official notice as `CalendarAdjustments` on the batch.

Only activities call this: the package is updated over time, and an activity's result is
recorded in the workflow history, so a project replays the same period years later.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib.metadata import version

import holidays
from holidays.countries.china import ChinaStaticHolidays

from domain.batch import CalendarAdjustments
from domain.clock import at_local, local
from domain.messages import PublicityPeriod, WorkingDaysAnswer

_HOLIDAYS_VERSION = version("holidays")


@lru_cache(maxsize=8)
def _china(year: int) -> holidays.HolidayBase:
    china: holidays.HolidayBase = holidays.country_holidays("CN", years=year)
    return china


def official_years() -> frozenset[int]:
    """Years whose State Council schedule (with adjusted working days) the package has."""
    return frozenset(ChinaStaticHolidays.special_public_holidays)


class WorkingDayCalendar:
    def __init__(self, adjustments: CalendarAdjustments | None = None) -> None:
        adj = adjustments or CalendarAdjustments()
        self._holidays = frozenset(adj.holidays)
        self._workdays = frozenset(adj.workdays)
        self._noticed_years = {d.year for d in (*adj.holidays, *adj.workdays)}

    def is_working_day(self, day: date) -> bool:
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        return bool(_china(day.year).is_working_day(day))

    def is_official(self, year: int) -> bool:
        return year in official_years() or year in self._noticed_years

    def publicity_period(self, opened_at: datetime, working_days: int) -> PublicityPeriod:
        """Day 1 is the opening day if it is a working day, else the next working day;
        the period ends at 24:00 of the Nth working day (Asia/Shanghai)."""
        day = local(opened_at).date()
        counted: list[date] = []
        while len(counted) < working_days:
            if self.is_working_day(day):
                counted.append(day)
            day += timedelta(days=1)
        years = sorted({d.year for d in counted})
        return PublicityPeriod(
            opened_at=opened_at,
            working_days=working_days,
            first_day=counted[0],
            last_day=counted[-1],
            ends_at=at_local(counted[-1] + timedelta(days=1)),
            provisional_years=[y for y in years if not self.is_official(y)],
            source=f"holidays {_HOLIDAYS_VERSION}",
        )

    def after_working_days(self, start: datetime, counts: list[int]) -> WorkingDaysAnswer:
        """24:00 of the Nth working day after the start's day (the start's day is not
        counted: a decision held on a Monday with N=3 is due at the end of Thursday)."""
        day = local(start).date()
        ends, counted = [], 0
        for n in sorted(counts):
            while counted < n:
                day += timedelta(days=1)
                if self.is_working_day(day):
                    counted += 1
            ends.append((n, at_local(day + timedelta(days=1))))
        by_n = dict(ends)
        years = sorted({e.year for _n, e in ends})
        return WorkingDaysAnswer(
            ends_at=[by_n[n] for n in counts],
            provisional_years=[y for y in years if not self.is_official(y)],
            source=f"holidays {_HOLIDAYS_VERSION}")
