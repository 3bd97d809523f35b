from datetime import date, datetime, timedelta, timezone

import pytest

from jobs.core.weeks import (
    days_before,
    monday_on_or_before,
    parse_week,
    week_for_run,
    weeks_between,
)

UTC = timezone.utc


def test_parse_week_accepts_a_monday():
    assert parse_week("2026-11-23") == date(2026, 11, 23)


@pytest.mark.parametrize(
    "text",
    # Warehouse paths are built from the parsed date, never from the text: traversal fails here.
    ["2026-11-24", "23/11/2026", "", "next week", "../../etc", "2026-11-23/../../x", "2026-11-23 "],
)
def test_parse_week_rejects_anything_but_an_iso_monday(text):
    with pytest.raises(ValueError, match="week must be"):
        parse_week(text)


def test_explicit_week_param_wins():
    start = datetime(2026, 11, 16, tzinfo=UTC)
    assert week_for_run("2026-01-05", start, start, start) == date(2026, 1, 5)


def test_weekly_data_interval_publishes_the_monday_that_closes_it():
    # CronDataIntervalTimetable("0 0 * * 1"): interval [Mon 16th, Mon 23rd), runs on the 23rd.
    start, end = datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    assert week_for_run(None, start, end, start) == date(2026, 11, 23)


def test_zero_width_interval_uses_the_monday_of_the_logical_date():
    # Bare cron / manual run / `dags test 2026-11-25`: interval is a point in time.
    moment = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
    assert week_for_run(None, moment, moment, moment) == date(2026, 11, 23)


def test_a_moment_is_placed_in_its_utc_week_whatever_its_time_zone():
    # Monday 01:00 in Berlin's summer time is still Sunday 23:00 UTC: last week's Monday.
    berlin_summer = timezone(timedelta(hours=2))
    assert monday_on_or_before(datetime(2026, 11, 23, 1, 0, tzinfo=berlin_summer)) == date(
        2026, 11, 16
    )
    # Sunday 20:00 in New York is Monday 01:00 UTC: that Monday.
    new_york = timezone(timedelta(hours=-5))
    assert monday_on_or_before(datetime(2026, 11, 22, 20, 0, tzinfo=new_york)) == date(2026, 11, 23)
    assert monday_on_or_before(date(2026, 11, 25)) == date(2026, 11, 23)


def test_manual_run_without_logical_date_uses_interval_end():
    moment = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert week_for_run(None, None, moment, None) == date(2026, 11, 23)


def test_run_without_any_date_is_an_error():
    with pytest.raises(ValueError, match="neither"):
        week_for_run(None, None, None, None)


def test_days_before_are_the_seven_days_ending_sunday():
    days = days_before(date(2026, 11, 23), 7)
    assert days[0] == date(2026, 11, 16) and days[-1] == date(2026, 11, 22) and len(days) == 7


def test_weeks_between_lists_mondays_both_ends_included():
    assert weeks_between(date(2026, 11, 2), date(2026, 11, 23)) == [
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
    ]
    assert weeks_between(date(2026, 11, 23), date(2026, 11, 23)) == [date(2026, 11, 23)]


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (date(2026, 11, 23), date(2026, 11, 2), "ends .* before it starts"),
        (date(2026, 11, 3), date(2026, 11, 23), "must be a Monday"),
    ],
)
def test_weeks_between_refuses_reversed_or_odd_ranges(first, last, message):
    with pytest.raises(ValueError, match=message):
        weeks_between(first, last)
