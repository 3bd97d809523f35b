"""Great Expectations gate for one table of one week; a failed check fails the task, and
so nothing downstream (publishing above all) runs. Results are kept in the week's run
folder (`runs/week=.../validation/<suite>.json`).

    spark-submit jobs/validate.py --table raw_events --week 2026-11-23
    spark-submit jobs/validate.py --table playlists --week 2026-11-23   # the staged week
"""

from __future__ import annotations

import argparse
from datetime import date
from functools import partial
from typing import Callable, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.config import PipelineConfig
from jobs.entry import run_job
from jobs.quality import validate
from jobs.runlog import run_dir
from jobs.tables import ingest_days, read_parquet, read_raw_days, staging_path
from schemas import playlists, raw_events


def _staged_playlists(spark: SparkSession, config: PipelineConfig, week: date) -> DataFrame:
    """The staged week, read the way `publish` will expose it (with its `week` column)."""
    staged_schema = StructType([f for f in playlists.SCHEMA.fields if f.name != "week"])
    staged = staging_path(config, "playlists") / f"week={week.isoformat()}"
    return read_parquet(spark, staged, staged_schema).withColumn("week", F.lit(week))


# table -> (reads the week's data, builds the suite, per-run suite parameters)
CHECKS: dict[str, tuple[Callable, Callable, Callable[[PipelineConfig], dict]]] = {
    "raw_events": (
        lambda spark, config, week: read_raw_days(
            spark, config.raw_events_dir, ingest_days(config, week)
        ),
        raw_events.suite,
        lambda config: {"min_rows": 1},
    ),
    "playlists": (
        _staged_playlists,
        playlists.suite,
        lambda config: {"max_length": config.playlists.length},
    ),
}


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict, table: str) -> None:
    read, suite, parameters = CHECKS[table]
    df = read(spark, config, week)
    validate(df, suite(), parameters(config), run_dir(config, week) / "validation")
    rows[table] = df.count()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--table", required=True, choices=sorted(CHECKS))
    args, rest = parser.parse_known_args(argv)
    run_job(
        f"validate_{args.table}",
        rest,
        partial(run, table=args.table),
        f"Validate the week's {args.table}.",
    )


if __name__ == "__main__":
    main()
