"""The weekly run's stages in order, run in one process with one SparkSession.

Airflow runs each stage as its own `spark-submit` (dags/weekly_playlists.py); this runner
is for the places where one JVM for the whole week is the point: evaluation over many
weeks, benchmarks, and `weekly-playlists run`. Same stage functions, same tables.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Callable

from pyspark.sql import SparkSession

from jobs.core.config import PipelineConfig
from jobs.core.runlog import stage_record, week_lock
from jobs.reporting.report import write_report
from jobs.stages import (
    clusters,
    feedback,
    ingest,
    interactions,
    playlists,
    publish,
    rerank,
    train_als,
    train_ranker,
    validate,
)

STAGES = (
    ("validate_raw_events", partial(validate.run, table="raw_events")),
    ("ingest", ingest.run),
    ("feedback", feedback.run),
    ("train_ranker", train_ranker.run),
    ("interactions", interactions.run),
    ("train_als", train_als.run),
    ("clusters", clusters.run),
    ("rerank", rerank.run),
    ("playlists", playlists.run),
    ("validate_playlists", partial(validate.run, table="playlists")),
    ("publish", publish.run),
)


CHECK_EVENTS = "check_events"


def check_events(config: PipelineConfig, week: date) -> bool:
    """Whether the week has raw events to build from (`ingest.week_has_events`), recorded
    as the run's first stage: False means the week is skipped (`empty_week = "skip"`)."""
    with stage_record(config, week, CHECK_EVENTS) as record:
        return ingest.week_has_events(config, week, record["rows"])


def run_week(
    spark: SparkSession,
    config: PipelineConfig,
    week: date,
    progress: Callable[[str, dict], None] | None = None,
) -> dict[str, float]:
    """Every stage for `week`, then the run report (also written when a stage fails);
    returns the seconds each stage took, or {} for a week skipped for having no events.
    `progress(stage, record)` is called as each stage finishes (the CLI prints it: a week
    takes minutes)."""
    seconds = {}
    with week_lock(config, week, "pipeline"):
        if not check_events(config, week):
            return seconds
        failed_stage = None
        try:
            for stage, body in STAGES:
                failed_stage = stage  # until it finishes
                with stage_record(config, week, stage) as record:
                    body(spark, config, week, record["rows"])
                seconds[stage] = record["seconds"]
                if progress is not None:
                    progress(stage, record)
            failed_stage = None
        finally:
            # A failed run gets its report too: that is when someone reads it.
            write_report(config, week, failed_stage)
    return seconds
