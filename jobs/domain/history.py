"""Listening history questions several jobs ask of the clean `events` table, and the
`played` lists that answer the most frequent one - what did each listener ever play -
without scanning the whole history every week."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core.config import FeedbackConfig
from schemas import feedback
from schemas.raw_events import PLAY


def plays_before(events: DataFrame, week: date) -> DataFrame:
    """(user_id, track_id) of every play before `week`, repeats included."""
    return events.where((F.col("event_type") == PLAY) & (F.col("date") < F.lit(week))).select(
        "user_id", "track_id"
    )


def played_tracks(events: DataFrame, week: date) -> DataFrame:
    """Distinct (user_id, track_id) played before `week`: these are never recommended."""
    return plays_before(events, week).distinct()


def _grouped(plays: DataFrame) -> DataFrame:
    return plays.groupBy("user_id").agg(F.collect_set("track_id").alias("track_ids"))


def played_lists(events: DataFrame, week: date, last_week: DataFrame | None = None) -> DataFrame:
    """(user_id, track_ids): the distinct tracks each user played before `week`.

    With `last_week` (the same lists for `week` - 7 days, built from the events as they are
    now) only the last seven days of plays are read and merged in, one row per listener:
    the cost follows a week's plays, not the ever-growing history."""
    if last_week is None:
        return _grouped(plays_before(events, week))
    recent = _grouped(
        plays_before(events, week).where(F.col("date") >= F.lit(week - timedelta(days=7)))
    )
    none = F.array().cast("array<string>")
    return (
        last_week.select("user_id", F.col("track_ids").alias("before"))
        .join(recent, "user_id", "full")
        .select(
            "user_id",
            F.array_union(F.coalesce("before", none), F.coalesce("track_ids", none)).alias(
                "track_ids"
            ),
        )
    )


def events_fingerprint(events_dir: Path, before: date) -> str:
    """A digest of the names of the `events` files of every day before `before`. Spark names
    each file it writes uniquely, so a day ingested again, or caught up late, changes it:
    lists built from other files than today's are not merged into."""
    names = sorted(
        f"{day.name}/{file.name}"
        for day in events_dir.glob("date=*")
        if date.fromisoformat(day.name.removeprefix("date=")) < before
        for file in day.glob("*.parquet")
    )
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def listener_segments(
    clean_events: DataFrame, served_week: date, config: FeedbackConfig
) -> DataFrame:
    """(user_id, segment) of everyone with a play in the `lookback_weeks` before
    `served_week`; see schemas.feedback.SEGMENTS."""
    window_start = served_week - timedelta(weeks=config.lookback_weeks)
    plays = clean_events.where(
        (F.col("date") >= F.lit(window_start))
        & (F.col("date") < F.lit(served_week))
        & (F.col("event_type") == PLAY)
    )
    per_listener = plays.groupBy("user_id").agg(
        F.min("date").alias("first_day"), F.count(F.lit(1)).alias("plays")
    )
    new_since = served_week - timedelta(days=config.new_listener_days)
    heavy_plays = config.heavy_weekly_plays * config.lookback_weeks
    return per_listener.select(
        "user_id",
        F.when(F.col("first_day") >= F.lit(new_since), F.lit(feedback.NEW))
        .when(F.col("plays") >= F.lit(heavy_plays), F.lit(feedback.HEAVY))
        .otherwise(F.lit(feedback.CASUAL))
        .alias("segment"),
    )
