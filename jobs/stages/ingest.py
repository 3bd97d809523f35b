"""Ingest one week of raw events: typed, de-duplicated clean `events` and an
`events_quarantine` that keeps every rejected row with its reason and source file.

    spark-submit jobs/stages/ingest.py --week 2026-11-23   # reads the 7 days before that Monday
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig
from jobs.core.entry import run_job
from jobs.core.quality import check_output
from jobs.core.runlog import ingest_lock, previous_rows, row_count_bounds, skip_share_bounds
from jobs.core.tables import (
    SOURCE_FILE,
    RawFiles,
    RawInputError,
    ingest_days,
    inspect_raw_days,
    raw_data_files,
    read_raw_files,
    table_path,
    with_schema,
    write_partitions,
    write_week,
)
from jobs.core.weeks import days_before, week_start
from schemas import catalog, events
from schemas import raw_events as raw

log = logging.getLogger(__name__)


def parse_events(
    raw_df: DataFrame, known_tracks: DataFrame, first_day: date, week: date
) -> tuple[DataFrame, DataFrame]:
    """Split raw rows into (clean events, quarantined rows with a reason).

    Fields are parsed with `try_cast` (Spark 4 runs in ANSI mode: a plain cast of a bad
    value would fail the whole job). A row fails on the first rule it breaks."""
    typed = raw_df.select(
        *[F.col(field.name).try_cast(field.dataType).alias(field.name) for field in raw.SCHEMA],
        F.col(SOURCE_FILE),
    )
    window_start, window_end = week_start(first_day), week_start(week)
    first_of_id = Window.partitionBy("event_id").orderBy("ts", SOURCE_FILE, "user_id", "track_id")
    tracks = known_tracks.select(F.col("track_id").alias("_known_track"))
    checked = (
        typed.withColumn("_copy", F.row_number().over(first_of_id))
        .join(tracks, F.col("track_id") == F.col("_known_track"), "left")
        .withColumn(
            "reason",
            F.when(F.col("event_id").isNull(), "missing event_id")
            .when(F.col("user_id").isNull() | (F.trim("user_id") == ""), "missing user_id")
            .when(F.col("track_id").isNull() | (F.trim("track_id") == ""), "missing track_id")
            .when(F.col("ts").isNull(), "missing or unparseable ts")
            .when(~F.col("event_type").isin(*raw.EVENT_TYPES), "unknown event_type")
            .when(F.col("ms_played").isNull(), "missing or unparseable ms_played")
            .when(F.col("ms_played") < 0, "negative ms_played")
            .when(F.col("ms_played") > raw.MAX_MS_PLAYED, "ms_played over 4 hours")
            .when(F.col("ts") < F.lit(window_start), "ts before the ingested days")
            .when(F.col("ts") >= F.lit(window_end), "ts after the week")
            .when(F.col("_known_track").isNull(), "track_id not in catalog")
            .when(F.col("_copy") > 1, "duplicate event_id"),
        )
    )
    clean = checked.where(F.col("reason").isNull()).withColumns(
        {
            # A play without a skipped flag counts as skipped when it ended within 30 s.
            "skipped": F.coalesce(
                F.col("skipped"),
                (F.col("event_type") == raw.PLAY) & (F.col("ms_played") < 30_000),
            ),
            "date": F.to_date("ts"),
        }
    )
    quarantine = checked.where(F.col("reason").isNotNull()).withColumn("week", F.lit(week))
    return with_schema(clean, events.EVENTS), with_schema(quarantine, events.QUARANTINE)


UNREADABLE_FILE = "unreadable Parquet file"


def unreadable_files(spark: SparkSession, raw_files: RawFiles, week: date) -> DataFrame:
    """One quarantine row per raw file that could not be read (its rows are unknown; the
    file stays where it is, for a re-run once it is replaced)."""
    return spark.createDataFrame(
        [
            (UNREADABLE_FILE, path.as_uri(), None, None, None, None, None, None, week)
            for path in raw_files.unreadable
        ],
        schema=events.QUARANTINE,
    )


class QuarantineThresholdExceeded(RuntimeError):
    """Too much of the week is malformed to trust the rest of it."""


def check_quarantine_share(
    clean_rows: int, quarantined: dict[str, int], threshold: float, week: date
) -> float:
    """The quarantined share of the week's rows; raises when it passes `threshold` or when
    the week has no rows at all (an empty week is never published silently)."""
    total = clean_rows + sum(quarantined.values())
    if total == 0:
        raise RawInputError(f"raw events for week {week} hold no rows: nothing to ingest")
    share = sum(quarantined.values()) / total
    if share > threshold:
        top = sorted(quarantined.items(), key=lambda item: (-item[1], item[0]))[:5]
        raise QuarantineThresholdExceeded(
            f"week {week}: {share:.1%} of {total:,} raw rows quarantined, over the "
            f"{threshold:.1%} threshold (max_quarantine_share); top reasons: "
            + ", ".join(f"{reason} ({count:,})" for reason, count in top)
            + "; the rows are kept in events_quarantine, clean events were not written"
        )
    return share


def raw_rows_in_week(config: PipelineConfig, week: date) -> int:
    """Rows in the raw files of `week`'s own seven days, from their Parquet footers (no
    Spark); never-ingested history that a first run would catch up on does not make a week
    non-empty. A file whose footer cannot be read counts as one row: it is input that ingest
    must look at, not an empty week."""
    total = 0
    for path in raw_data_files(config.raw_events_dir, days_before(week, 7)) or []:
        try:
            total += pq.read_metadata(path).num_rows
        except (pa.ArrowInvalid, OSError):
            total += 1
    return total


def week_has_events(config: PipelineConfig, week: date, rows: dict) -> bool:
    """Whether `week` has raw events to build playlists from. An empty week is never
    published: with `empty_week = "fail"` this raises, naming the days and the setting;
    with "skip" it logs why and returns False, and the run stops there with last week's
    playlists still the published ones."""
    rows["raw_rows"] = raw_rows_in_week(config, week)
    if rows["raw_rows"]:
        return True
    days = days_before(week, 7)
    message = (
        f"week {week}: the raw days {days[0]}..{days[-1]} under {config.raw_events_dir} "
        "hold no events"
    )
    if config.empty_week == "skip":
        log.warning('%s: skipping the week (empty_week = "skip"); nothing is published', message)
        return False
    raise RawInputError(f'{message}; set empty_week = "skip" to skip such weeks instead of failing')


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    with ingest_lock(config, week):
        _ingest(spark, config, week, rows)


def _ingest(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    days = ingest_days(config, week)
    if len(days) > 7:
        log.info("catching up %d never-ingested days from %s", len(days) - 7, days[0])
    raw_files = inspect_raw_days(config.raw_events_dir, days, config.skip_unreadable_raw_files)
    tracks = spark.read.schema(catalog.TRACKS).parquet(str(config.catalog_dir / "tracks"))
    clean, quarantine = parse_events(read_raw_files(spark, raw_files), tracks, days[0], week)
    if raw_files.unreadable:
        log.error("quarantining unreadable raw files: %s", raw_files.unreadable)
        quarantine = quarantine.unionByName(unreadable_files(spark, raw_files, week))
    # Both outputs come from one parse: cache it so the raw files are read once.
    clean = clean.persist()
    quarantine = quarantine.persist()
    # Quarantine first: whatever happens next, the rejected rows are kept with their reason.
    write_week(quarantine, table_path(config, "events_quarantine"), week)
    reasons = {
        row["reason"]: row["count"] for row in quarantine.groupBy("reason").count().collect()
    }
    counts = clean.agg(
        F.count(F.lit(1)).alias("events"), F.count_if("skipped").alias("skips")
    ).first()
    rows["events"], rows["skips"] = counts["events"], counts["skips"]
    rows["events_quarantine"] = sum(reasons.values())
    if reasons:
        log.warning(
            "quarantined %d rows for week %s: %s",
            rows["events_quarantine"],
            week,
            ", ".join(f"{reason}={count}" for reason, count in sorted(reasons.items())),
        )
    check_quarantine_share(rows["events"], reasons, config.max_quarantine_share, week)
    last_week = previous_rows(config, week, "ingest")
    per_day = last_week.get("events", 0) / last_week.get("ingested_days", 1)
    check_output(
        config,
        week,
        clean,
        events.suite(),
        {
            "first_day": days[0].isoformat(),
            "last_day": days[-1].isoformat(),
            **row_count_bounds(per_day * len(days), config.row_count_tolerance),
            **skip_share_bounds(last_week, config.skip_share_tolerance),
        },
    )
    write_partitions(clean, table_path(config, "events"), ("date",))
    rows["ingested_days"] = len(days)


def main(argv: Sequence[str] | None = None) -> None:
    run_job("ingest", argv, run, "Ingest a week of raw events into events + quarantine.")


if __name__ == "__main__":
    main()
