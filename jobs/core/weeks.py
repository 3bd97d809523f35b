"""The week is the unit of work: one helper decides which week a run publishes.

`week` is always the Monday (UTC) that a set of playlists is published for. Its playlists
are built from the events before it; its ingest reads the seven days that end on it.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone

WEEK = timedelta(weeks=1)


def parse_week(text: str) -> date:
    """An ISO date that must be a Monday, e.g. '2026-11-23'."""
    try:
        week = date.fromisoformat(text)
    except (TypeError, ValueError) as error:
        raise ValueError(f"week must be an ISO date like 2026-11-23, got {text!r}") from error
    if week.weekday() != 0:
        raise ValueError(f"week must be a Monday, got {text} ({week:%A})")
    return week


def monday_on_or_before(moment: datetime | date) -> date:
    day = moment.astimezone(timezone.utc).date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def week_for_run(
    explicit_week: str | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    logical_date: datetime | None,
) -> date:
    """The week an Airflow run publishes.

    1. An explicit `week` param (UI re-runs, `dags test -c`) wins.
    2. A real weekly data interval [Mon, next Mon) publishes the Monday that closes it:
       the week's events are complete only then.
    3. A zero-width interval (bare cron, manual run) publishes the Monday on or before
       the run's logical date (or its interval end, when there is no logical date).
    """
    if explicit_week:
        return parse_week(explicit_week)
    if data_interval_start and data_interval_end and data_interval_end > data_interval_start:
        return monday_on_or_before(data_interval_end)
    moment = logical_date or data_interval_end
    if moment is None:
        raise ValueError("run has neither a week param, a data interval nor a logical date")
    return monday_on_or_before(moment)


def week_start(week: date) -> datetime:
    return datetime.combine(week, time.min, tzinfo=timezone.utc)


def days_before(week: date, days: int) -> list[date]:
    """The `days` calendar days ending the day before `week`, oldest first."""
    return [week - timedelta(days=offset) for offset in range(days, 0, -1)]


def release_window(week: date, days: int, weekday: str) -> tuple[date, date]:
    """[first, last] release dates Release Radar covers for `week`: the `days` days that end
    with the last `weekday` (e.g. "friday") before `week`."""
    target = [name.lower() for name in calendar.day_name].index(weekday)
    last = week - timedelta(days=(week.weekday() - target - 1) % 7 + 1)
    return last - timedelta(days=days - 1), last


def weeks_between(first: date, last: date) -> list[date]:
    """The Mondays from `first` to `last`, both included; refuses an empty or odd range."""
    for week in (first, last):
        parse_week(week.isoformat())
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def served_week_of(week: date) -> date:
    """The week whose playlists the run of `week` reports on."""
    return week - WEEK
