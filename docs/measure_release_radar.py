"""What Release Radar and Discover Weekly's ranking pass cost on one built week (the figures
in docs/ranking.md, "Release Radar: in the pass or not"). Run after `weekly-playlists
bench`, on its warehouse:

    WP_HOME=<bench root>/events-10000000 python docs/measure_release_radar.py 2026-11-16

Each is computed afresh from the week's tables into a Parquet folder under the scratch
directory, twice (the first warms the session); the lines give each run's seconds, then
the rows. To compare two versions of the code, run it from each checkout (PYTHONPATH)."""

import sys
import tempfile
import time
from dataclasses import replace
from datetime import date

from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig
from jobs.core.spark import spark_session
from jobs.core.tables import read_week
from jobs.domain.discover import discover_pool
from jobs.domain.rules import read_controls
from jobs.stages.playlists import new_releases, release_radar
from schemas import catalog
from schemas import played as played_schema

RUNS = 2


def main(week: date) -> None:
    config = replace(PipelineConfig.load(), hive_catalog=False)  # reads files only
    spark = spark_session(config, "measure-release-radar")
    played_pairs = read_week(spark, config, "played", played_schema.PLAYED, week).select(
        "user_id", F.explode("track_ids").alias("track_id")
    )
    controls = replace(read_controls(spark, config, week), played=played_pairs.cache())
    tracks = spark.read.schema(catalog.TRACKS).parquet(str(config.catalog_dir / "tracks"))
    albums = spark.read.schema(catalog.ALBUMS).parquet(str(config.catalog_dir / "albums"))
    releases = new_releases(tracks, albums, week, config.playlists).cache()
    built = {
        "discover weekly pass": lambda: discover_pool(spark, config, week, controls),
        "release radar": lambda: release_radar(spark, config, week, controls, releases, "measured"),
    }
    config.scratch_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in built.items():
        with tempfile.TemporaryDirectory(dir=config.scratch_dir) as folder:
            for _ in range(RUNS):
                started = time.perf_counter()
                frame().write.mode("overwrite").parquet(folder)
                print(f"{name:<22} {time.perf_counter() - started:7.1f} s", flush=True)
            print(f"{name:<22} {spark.read.parquet(folder).count():,} rows", flush=True)
    spark.stop()


if __name__ == "__main__":
    main(date.fromisoformat(sys.argv[1]))
