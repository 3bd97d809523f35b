"""Build the week's `interactions` (user, track, confidence) from the clean events of the
look-back window before the week, and its `played` lists (every track each listener ever
played, jobs/domain/history.py).

Confidence (docs/design.md, "Confidence"), per (user, track), each event weighted by time decay
`d = 0.5 ** (age_days / half_life_days)`:

    positive = sum(d * completion over plays not skipped early)
             + save_weight * sum(d over saves) + playlist_add_weight * sum(d over adds)
    negative = skip_penalty * sum(d over plays that ended before skip_ms)
    confidence = log1p(positive) - log1p(negative)

`completion` is ms_played / duration (capped at 1); log1p gives repeat plays diminishing
returns. A negative confidence is kept: implicit's ALS reads it as "confident dislike".
Alpha is applied once, by the model.

    spark-submit jobs/stages/interactions.py --week 2026-11-23
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.config import InteractionsConfig, PipelineConfig
from jobs.core.entry import run_job
from jobs.core.quality import check_output
from jobs.core.runlog import previous_rows, row_count_bounds
from jobs.core.tables import (
    read_control,
    read_table,
    read_week,
    table_path,
    with_schema,
    write_week,
)
from jobs.core.weeks import week_start
from jobs.domain.history import events_fingerprint, played_lists
from schemas import catalog, events, played
from schemas import interactions as schema
from schemas import raw_events as raw
from schemas.played import EVENTS_FINGERPRINT

SECONDS_PER_DAY = 86_400.0


def build_interactions(
    clean_events: DataFrame,
    tracks: DataFrame,
    exclusions: DataFrame,
    week: date,
    config: InteractionsConfig,
) -> DataFrame:
    """Confidence per (user, track) as in the module docstring. Plays in a context the
    listener excluded from their taste profile (`exclusions`: user_id, context, created_at)
    are left out here; they still count as played for novelty (jobs/domain/history.py)."""
    window_start = week - timedelta(weeks=config.lookback_weeks)
    week_moment = F.lit(week_start(week))
    signals = (
        clean_events.where((F.col("date") >= F.lit(window_start)) & (F.col("date") < F.lit(week)))
        .where(F.col("event_type").isin(raw.PLAY, raw.SAVE, raw.PLAYLIST_ADD))
        .join(exclusions.select("user_id", "context"), ["user_id", "context"], "left_anti")
        .join(tracks.select("track_id", "duration_ms"), "track_id", "left")
        .withColumns(
            {
                "age_days": (week_moment.cast("double") - F.col("ts").cast("double"))
                / SECONDS_PER_DAY,
                "is_play": F.col("event_type") == raw.PLAY,
                "early_skip": (F.col("event_type") == raw.PLAY)
                & (F.col("ms_played") < config.skip_ms),
            }
        )
        .withColumns(
            {
                "decay": F.pow(F.lit(0.5), F.col("age_days") / F.lit(config.half_life_days)),
                "completion": F.least(
                    F.lit(1.0),
                    F.col("ms_played") / F.greatest(F.coalesce("duration_ms", F.lit(1)), F.lit(1)),
                ),
            }
        )
    )
    listened = F.col("is_play") & ~F.col("early_skip")
    weighted = F.col("decay")
    per_pair = signals.groupBy("user_id", "track_id").agg(
        F.sum(F.when(listened, weighted * F.col("completion")).otherwise(0.0)).alias("listen"),
        F.sum(F.when(F.col("event_type") == raw.SAVE, weighted).otherwise(0.0)).alias("saves"),
        F.sum(F.when(F.col("event_type") == raw.PLAYLIST_ADD, weighted).otherwise(0.0)).alias(
            "adds"
        ),
        F.sum(F.when(F.col("early_skip"), weighted).otherwise(0.0)).alias("skipped"),
        F.count(F.when(listened, 1)).alias("plays"),
        F.count(F.when(F.col("early_skip"), 1)).alias("skips"),
        F.max(F.when(F.col("is_play"), F.col("ts"))).alias("last_played"),
    )
    positive = (
        F.col("listen")
        + F.lit(config.save_weight) * F.col("saves")
        + F.lit(config.playlist_add_weight) * F.col("adds")
    )
    negative = F.lit(config.skip_penalty) * F.col("skipped")
    result = (
        per_pair.withColumn("confidence", F.log1p(positive) - F.log1p(negative))
        .where(F.col("confidence") != 0.0)
        .withColumn("week", F.lit(week))
    )
    return with_schema(result, schema.SCHEMA)


def write_played(
    spark: SparkSession, config: PipelineConfig, week: date, clean_events: DataFrame, rows: dict
) -> None:
    """Write and check the week's `played` lists: last week's lists plus last week's plays
    when last week's were built from the event files there are now, else from the whole
    history (`rows["played_from_history"]` says which)."""
    events_dir, table = table_path(config, "events"), table_path(config, "played")
    fingerprint = events_fingerprint(events_dir, week)
    last_week = week - timedelta(days=7)
    last_fingerprint = table / f"week={last_week}" / EVENTS_FINGERPRINT
    reusable = last_fingerprint.exists() and last_fingerprint.read_text() == events_fingerprint(
        events_dir, last_week
    )
    last_lists = read_week(spark, config, "played", played.PLAYED, last_week) if reusable else None
    lists = played_lists(clean_events, week, last_lists).withColumn("week", F.lit(week))
    write_week(with_schema(lists, played.PLAYED), table, week)
    written = read_week(spark, config, "played", played.PLAYED, week)
    rows["played"] = written.count()
    rows["played_from_history"] = int(not reusable)
    expected = previous_rows(config, week, "interactions").get("played")
    check_output(
        config,
        week,
        written,
        played.suite(),
        row_count_bounds(expected, config.row_count_tolerance),
    )
    # Only checked lists are ever merged into: the fingerprint goes last.
    (table / f"week={week}" / EVENTS_FINGERPRINT).write_text(fingerprint)


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    clean_events = read_table(spark, config, "events", events.EVENTS)
    write_played(spark, config, week, clean_events, rows)
    tracks = spark.read.schema(catalog.TRACKS).parquet(str(config.catalog_dir / "tracks"))
    exclusions = read_control(spark, config, "taste_profile_exclusions")
    interactions = build_interactions(clean_events, tracks, exclusions, week, config.interactions)
    write_week(interactions, table_path(config, "interactions"), week)
    written = read_week(spark, config, "interactions", schema.SCHEMA, week)
    rows["interactions"] = written.count()
    expected = previous_rows(config, week, "interactions").get("interactions")
    check_output(
        config,
        week,
        written,
        schema.suite(),
        row_count_bounds(expected, config.row_count_tolerance),
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_job("interactions", argv, run, "Build the week's user x track confidence table.")


if __name__ == "__main__":
    main()
