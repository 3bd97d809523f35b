"""Time in the generated world: UTC microseconds, and the window of whole weeks before the
publish week that the raw events cover. Every other part of the generator reads these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DAY_US = 86_400_000_000
WEEK_US = 7 * DAY_US
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class TimeWindow:
    """The data window: `weeks` whole weeks before the publish week, in UTC microseconds."""

    week: dt.date
    weeks: int
    start_us: int
    end_us: int

    @classmethod
    def before(cls, week: dt.date, weeks: int) -> "TimeWindow":
        end_us = (week - EPOCH).days * DAY_US
        return cls(week, weeks, end_us - weeks * WEEK_US, end_us)

    @property
    def days(self) -> list[dt.date]:
        return [self.week - dt.timedelta(days=n) for n in range(7 * self.weeks, 0, -1)]
