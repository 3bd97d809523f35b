from dataclasses import replace
from datetime import date, timedelta

import pytest

from jobs.core.config import PipelineConfig
from jobs.core.tables import read_table, read_week, table_path, write_partitions
from jobs.domain.history import events_fingerprint, played_lists
from jobs.stages.interactions import write_played
from schemas import events, played

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)


def as_sets(lists) -> dict[str, set[str]]:
    return {row["user_id"]: set(row["track_ids"]) for row in lists.collect()}


@pytest.fixture
def history(spark, clean_event):
    return spark.createDataFrame(
        [
            clean_event(1, "u1", "a", 20),
            clean_event(2, "u1", "a", 10),  # a repeat: listed once
            clean_event(3, "u1", "b", 3, ms=5_000),  # skipped early, still heard
            clean_event(4, "u2", "c", 12),  # nothing in the last seven days
            clean_event(5, "u3", "d", 2),  # new this week
            clean_event(6, "u1", "saved", 2, ms=0, kind="save"),  # no play
            clean_event(7, "u1", "later", -1),  # in the week itself: not yet played
        ],
        schema=events.EVENTS,
    )


def test_played_lists_hold_every_distinct_track_played_before_the_week(history):
    assert as_sets(played_lists(history, WEEK)) == {"u1": {"a", "b"}, "u2": {"c"}, "u3": {"d"}}


def test_merging_last_weeks_lists_gives_the_lists_of_the_whole_history(history, spark):
    last_week = played_lists(history, WEEK - timedelta(days=7))
    assert as_sets(last_week) == {"u1": {"a"}, "u2": {"c"}}
    merged = played_lists(history, WEEK, last_week)
    assert as_sets(merged) == as_sets(played_lists(history, WEEK))
    # Only the last seven days are read: a play older than that comes from the lists alone.
    stale = spark.createDataFrame([("u1", ["gone"])], "user_id string, track_ids array<string>")
    assert as_sets(played_lists(history, WEEK, stale)) == {"u1": {"gone", "b"}, "u3": {"d"}}


@pytest.fixture
def warehouse(spark, tmp_path, history):
    config = replace(PipelineConfig.load(env={"WP_HOME": str(tmp_path)}), hive_catalog=False)
    write_partitions(history, table_path(config, "events"), ("date",))
    return config


def built(spark, config, week) -> tuple[dict, dict]:
    rows = {}
    write_played(spark, config, week, read_table(spark, config, "events", events.EVENTS), rows)
    return rows, as_sets(read_week(spark, config, "played", played.PLAYED, week))


def test_a_week_merges_last_weeks_lists_while_the_events_before_them_are_unchanged(
    spark, warehouse
):
    first, _ = built(spark, warehouse, WEEK - timedelta(days=7))
    assert first == {"played": 2, "played_from_history": 1}  # no lists for the week before
    rows, lists = built(spark, warehouse, WEEK)
    assert rows == {"played": 3, "played_from_history": 0}
    assert lists == {"u1": {"a", "b"}, "u2": {"c"}, "u3": {"d"}}
    assert (table_path(warehouse, "played") / f"week={WEEK}" / played.EVENTS_FINGERPRINT).exists()


def test_a_day_ingested_again_before_last_weeks_lists_rebuilds_from_the_whole_history(
    spark, warehouse, clean_event
):
    built(spark, warehouse, WEEK - timedelta(days=7))
    # Day 2026-11-13 re-ingested (a late file): u2 also played "e" that day.
    day = spark.createDataFrame(
        [clean_event(4, "u2", "c", 10), clean_event(8, "u2", "e", 10)], schema=events.EVENTS
    )
    write_partitions(day, table_path(warehouse, "events"), ("date",))
    rows, lists = built(spark, warehouse, WEEK)
    assert rows["played_from_history"] == 1
    assert lists["u2"] == {"c", "e"}


def test_the_fingerprint_follows_the_event_files_before_the_day_only(spark, warehouse, clean_event):
    events_dir = table_path(warehouse, "events")
    before = events_fingerprint(events_dir, WEEK - timedelta(days=7))
    recent = spark.createDataFrame([clean_event(9, "u4", "f", 3)], schema=events.EVENTS)
    write_partitions(recent, events_dir, ("date",))  # a day after the cut-off
    assert events_fingerprint(events_dir, WEEK - timedelta(days=7)) == before
    assert events_fingerprint(events_dir, WEEK) != events_fingerprint(
        events_dir, WEEK - timedelta(days=7)
    )
