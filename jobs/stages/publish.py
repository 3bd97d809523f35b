"""Publish a validated week: swap the staged playlists into the `playlists` table's week
partition, then register the warehouse tables in Spark's catalog.

The swap is two directory renames; a crash between them leaves the old week in a hidden
`.replaced-week=...` folder, which the next publish restores before it starts. This job is
the only one that touches the metastore, so jobs never contend for embedded Derby.

    spark-submit jobs/stages/publish.py --week 2026-11-23
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Sequence

from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from jobs.core.config import PipelineConfig
from jobs.core.entry import run_job
from jobs.core.tables import MissingTable, finished_staged_week, staging_path, table_path
from schemas import (
    clusters,
    events,
    feedback,
    interactions,
    model,
    played,
    playlists,
    policy,
    pool,
    taste,
)

log = logging.getLogger(__name__)

# name -> (schema, partition columns) of every table the weekly run writes.
WAREHOUSE_TABLES: dict[str, tuple[StructType, tuple[str, ...]]] = {
    "events": (events.EVENTS, ("date",)),
    "events_quarantine": (events.QUARANTINE, ("week",)),
    "interactions": (interactions.SCHEMA, ("week",)),
    "played": (played.PLAYED, ("week",)),
    "user_factors": (model.USER_FACTORS, ("week",)),
    "track_factors": (model.TRACK_FACTORS, ("week",)),
    "models": (model.MODELS, ("week",)),
    "candidate_pool": (pool.CANDIDATE_POOL, ("week",)),
    "ranker_models": (pool.RANKER_MODELS, ("week",)),
    "taste_profiles": (taste.TASTE_PROFILES, ("week",)),
    **{name: (table, ("week",)) for name, table in clusters.TABLES.items()},
    "playlists": (playlists.SCHEMA, playlists.PARTITION_COLUMNS),
    "playlist_feedback": (feedback.SCHEMA, ("week",)),
    "policy": (policy.POLICY, ("week",)),
}


def swap_in_week(staging_root: Path, table_root: Path, week: date) -> Path:
    """Move `staging_root/week=W` to `table_root/week=W`, replacing what was there."""
    name = f"week={week.isoformat()}"
    staged, target, replaced = (
        staging_root / name,
        table_root / name,
        table_root / f".replaced-{name}",
    )
    if replaced.exists() and not target.exists():
        log.warning("restoring %s left by an interrupted publish", replaced)
        os.rename(replaced, target)
    if not staged.exists():
        raise MissingTable(f"nothing staged for {name} at {staged}: run the playlists stage first")
    table_root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(replaced, ignore_errors=True)
    if target.exists():
        os.rename(target, replaced)
    os.rename(staged, target)
    shutil.rmtree(replaced, ignore_errors=True)
    return target


def register_tables(spark: SparkSession, config: PipelineConfig) -> list[str]:
    """External Parquet tables over the warehouse folders, partitions recovered."""
    registered = []
    for name, (schema, partition_columns) in WAREHOUSE_TABLES.items():
        location = table_path(config, name)
        if not location.exists():
            continue
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS `{name}` ({columns}) USING parquet "
            f"PARTITIONED BY ({', '.join(partition_columns)}) LOCATION '{location}'"
        )
        spark.sql(f"ALTER TABLE `{name}` RECOVER PARTITIONS")
        registered.append(name)
    return registered


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    finished_staged_week(config, "playlists", week)
    target = swap_in_week(staging_path(config, "playlists"), table_path(config, "playlists"), week)
    log.info("published %s", target)
    if config.hive_catalog:
        log.info("registered tables: %s", ", ".join(register_tables(spark, config)))
    counts = spark.read.parquet(str(target)).groupBy("playlist_type").count().collect()
    rows.update({f"published_{row['playlist_type']}": row["count"] for row in counts})


def main(argv: Sequence[str] | None = None) -> None:
    run_job("publish", argv, run, "Swap the validated week into the playlists table.")


if __name__ == "__main__":
    main()
