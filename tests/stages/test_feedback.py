"""playlist_feedback: each published slot against the events of the week it was out."""

from dataclasses import replace
from datetime import date

import pytest

from jobs.core.config import FeedbackConfig, PipelineConfig
from jobs.core.tables import table_path, write_partitions
from jobs.stages import feedback
from schemas import events
from schemas import feedback as schema
from schemas import playlists as playlist_schema

pytestmark = pytest.mark.spark

SERVED = date(2026, 11, 16)  # published then; the events' Monday 2026-11-23 closes its week
CONFIG = FeedbackConfig(lookback_weeks=2, new_listener_days=7, heavy_weekly_plays=2)


def _slot(user, position, track, source="als", boosted=False, kind="discover_weekly"):
    return (user, position, track, "artist", 1.0, source, "why", boosted, None, "m1", SERVED, kind)


@pytest.fixture
def served(spark):
    rows = [
        _slot("u1", 1, "streamed"),
        _slot("u1", 2, "skipped", source="exploration"),
        _slot("u1", 3, "skipped_then_streamed"),
        _slot("u1", 4, "saved_unplayed", boosted=True),
        _slot("u1", 5, "outside_the_week"),
        _slot("u1", 1, "added", source="followed_artist", kind="release_radar"),
        _slot("u2", 1, "skipped"),
        _slot("u3", 1, "streamed"),
        _slot("u4", 1, "streamed"),
    ]
    return spark.createDataFrame(rows, playlist_schema.SCHEMA)


@pytest.fixture
def clean_events(spark, clean_event):
    # clean_event counts days before 2026-11-23: 1..7 is the served week, 8.. before it.
    rows = [
        clean_event(1, "u1", "streamed", 5),
        clean_event(2, "u1", "skipped", 4, ms=5_000),
        clean_event(3, "u1", "skipped_then_streamed", 6, ms=2_000),
        clean_event(4, "u1", "skipped_then_streamed", 2, ms=31_000),
        clean_event(5, "u1", "saved_unplayed", 3, ms=0, kind="save"),
        clean_event(6, "u1", "outside_the_week", 9),  # before it was served
        clean_event(7, "u1", "outside_the_week", 0),  # the day after the week
        clean_event(8, "u1", "added", 1, ms=0, kind="playlist_add"),
        clean_event(9, "u2", "streamed", 3),  # u2 streamed u1's track, not its own slot
        # History before SERVED: u1 has plays for two weeks and 4+ of them (heavy), u2
        # plays once two weeks back (casual), u3 starts within the last 7 days (new);
        # u4 never played before: new as well.
        *(clean_event(10 + n, "u1", f"old{n}", 16 + n) for n in range(4)),
        clean_event(20, "u2", "old", 16),
        clean_event(21, "u3", "old", 10),
    ]
    return spark.createDataFrame(rows, events.EVENTS)


@pytest.fixture
def slots(served, clean_events):
    result = feedback.derive_feedback(served, clean_events, SERVED, 30_000, CONFIG).collect()
    return {(r["user_id"], r["playlist_type"], r["track_id"]): r for r in result}


def _flags(row):
    return tuple(row[name] for name in ("plays", "played", "streamed", "skipped", "saved", "added"))


def test_every_slot_gets_one_row_with_its_source_boost_and_week(slots):
    assert len(slots) == 9
    assert slots[("u1", "discover_weekly", "skipped")]["source"] == "exploration"
    assert slots[("u1", "discover_weekly", "saved_unplayed")]["boosted"] is True
    assert {row["week"] for row in slots.values()} == {SERVED}


def test_reactions_within_the_week_after_publishing(slots):
    dw = {track: _flags(row) for (user, kind, track), row in slots.items() if user == "u1"}
    assert dw == {
        "streamed": (1, True, True, False, False, False),
        "skipped": (1, True, False, True, False, False),
        # A skip, then a stream: streamed (played = streamed or skipped, never both).
        "skipped_then_streamed": (2, True, True, False, False, False),
        "saved_unplayed": (0, False, False, False, True, False),
        "outside_the_week": (0, False, False, False, False, False),
        "added": (0, False, False, False, False, True),
    }


def test_a_listener_streaming_someone_elses_track_is_not_feedback_on_their_own_slot(slots):
    assert _flags(slots[("u2", "discover_weekly", "skipped")]) == (0, False) + (False,) * 4


def test_segments_at_publishing_time(slots):
    segments = {user: row["segment"] for (user, _, _), row in slots.items()}
    assert segments == {"u1": "heavy", "u2": "casual", "u3": "new", "u4": "new"}


@pytest.fixture
def home(spark, tmp_path, test_config, clean_events):
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    config = replace(config, spark_master=test_config.spark_master, hive_catalog=False)
    write_partitions(clean_events, table_path(config, "events"), ("date",))
    return config


def test_a_run_writes_last_weeks_feedback_and_checks_it(spark, home, served):
    week = date(2026, 11, 23)
    rows = {}
    feedback.run(spark, home, week, rows)
    assert rows == {"playlist_feedback": 0}  # nothing was published the week before
    assert not table_path(home, "playlist_feedback").exists()

    write_partitions(served, table_path(home, "playlists"), playlist_schema.PARTITION_COLUMNS)
    feedback.run(spark, home, week, rows)
    assert rows == {"playlist_feedback": 9}
    written = spark.read.schema(schema.SCHEMA).parquet(str(table_path(home, "playlist_feedback")))
    assert {row["week"] for row in written.collect()} == {SERVED}
    validation = home.runs_dir / f"week={week}" / "validation" / "playlist_feedback.json"
    assert '"success": true' in validation.read_text()
