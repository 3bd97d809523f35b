"""What every job's `main()` shares: parse `--week`/`--config`, build the session, time the
stage, stop the session. A job's `main` only reads, calls its transform and writes."""

from __future__ import annotations

import argparse
import logging
from datetime import date
from typing import Callable, Sequence

from pyspark.sql import SparkSession

from jobs.core.config import PipelineConfig
from jobs.core.runlog import stage_record, week_lock
from jobs.core.spark import spark_session
from jobs.core.weeks import parse_week

JobBody = Callable[[SparkSession, PipelineConfig, date, dict], None]


def run_job(
    stage: str,
    argv: Sequence[str] | None,
    body: JobBody,
    description: str,
    enabled: Callable[[PipelineConfig, date], bool] | None = None,
) -> None:
    """Run `body` for `--week` in a fresh session; a stage that `enabled` says is off in
    this config and week records that and starts no Spark (a JVM for nothing costs ~15 s a run)."""
    parser = argparse.ArgumentParser(prog=f"jobs/stages/{stage}.py", description=description)
    parser.add_argument("--week", required=True, type=parse_week, help="Monday, YYYY-MM-DD")
    parser.add_argument("--config", default=None, help="TOML config file (default: WP_CONFIG)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # GX logs hundreds of INFO lines per import: task logs keep its warnings only.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    config = PipelineConfig.load(args.config)
    with (
        week_lock(config, args.week, stage, whole_week=False),
        stage_record(config, args.week, stage) as record,
    ):
        if enabled is not None and not enabled(config, args.week):
            logging.getLogger(__name__).info("%s has nothing to do for this config and week", stage)
            record["rows"][stage] = 0
            return
        spark = spark_session(config, f"weekly-playlists-{stage}-{args.week}")
        try:
            body(spark, config, args.week, record["rows"])
        finally:
            spark.stop()
