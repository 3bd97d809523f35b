"""Derive `playlist_feedback`: how last week's published slots were received, from the
events of the week they were out (schemas/feedback.py says what each column means).

The run of week W publishes W's playlists and, having ingested the days W-7 .. W-1, can
tell how the playlists of W-7 fared over exactly those days: this job writes the
`week=W-7` partition. A listener's reaction counts whatever the context of the play (the
event logs need not say which playlist a play came from): a served track the listener
streamed that week is a stream for its slot.

    spark-submit jobs/stages/feedback.py --week 2026-11-23
"""

from __future__ import annotations

from datetime import date
from typing import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.config import FeedbackConfig, PipelineConfig
from jobs.core.entry import run_job
from jobs.core.quality import check_output
from jobs.core.tables import read_table, read_week, table_path, with_schema, write_week
from jobs.core.weeks import WEEK, served_week_of
from jobs.domain.history import listener_segments
from schemas import events, playlists
from schemas import feedback as schema
from schemas import raw_events as raw


def derive_feedback(
    served: DataFrame,
    clean_events: DataFrame,
    served_week: date,
    stream_ms: int,
    config: FeedbackConfig,
) -> DataFrame:
    """One row per published slot of `served_week` (`served`: that week's playlists) with
    the listener's reactions to its track in the seven days from `served_week`."""
    following = clean_events.where(
        (F.col("date") >= F.lit(served_week)) & (F.col("date") < F.lit(served_week + WEEK))
    )
    is_play = F.col("event_type") == raw.PLAY
    reactions = following.groupBy("user_id", "track_id").agg(
        F.count(F.when(is_play, 1)).alias("plays"),
        F.max(is_play & (F.col("ms_played") >= F.lit(stream_ms))).alias("streamed"),
        F.max(F.col("event_type") == raw.SAVE).alias("saved"),
        F.max(F.col("event_type") == raw.PLAYLIST_ADD).alias("added"),
    )
    slots = (
        served.select("user_id", "playlist_type", "position", "track_id", "source", "boosted")
        .join(reactions, ["user_id", "track_id"], "left")
        # Listeners without a play before the week (their first one came with it) are new.
        .join(listener_segments(clean_events, served_week, config), "user_id", "left")
        .fillna({"plays": 0, "streamed": False, "saved": False, "added": False})
        .fillna({"segment": schema.NEW})
    )
    played = F.col("plays") > 0
    return with_schema(
        slots.withColumns(
            {
                "played": played,
                "skipped": played & ~F.col("streamed"),
                "week": F.lit(served_week),
            }
        ),
        schema.SCHEMA,
    )


def has_served_week(config: PipelineConfig, week: date) -> bool:
    """Whether last week's playlists were published (a first run has nothing to learn from)."""
    return (table_path(config, "playlists") / f"week={served_week_of(week).isoformat()}").exists()


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    if not has_served_week(config, week):
        rows["playlist_feedback"] = 0
        return
    served_week = served_week_of(week)
    served = read_week(spark, config, "playlists", playlists.SCHEMA, served_week)
    clean_events = read_table(spark, config, "events", events.EVENTS)
    feedback = derive_feedback(
        served, clean_events, served_week, config.interactions.skip_ms, config.feedback
    )
    write_week(feedback, table_path(config, "playlist_feedback"), served_week)
    written = read_week(spark, config, "playlist_feedback", schema.SCHEMA, served_week)
    rows["playlist_feedback"] = written.count()
    check_output(config, week, written, schema.suite(), {"slots": served.count()})


def main(argv: Sequence[str] | None = None) -> None:
    run_job(
        "feedback",
        argv,
        run,
        "Derive how last week's published playlists were received.",
        enabled=has_served_week,
    )


if __name__ == "__main__":
    main()
