"""The session factory."""

from __future__ import annotations

import time

from pyspark.sql import functions as F


def _shuffle_files(scratch) -> set:
    return {path for path in scratch.rglob("shuffle_*") if path.is_file()}


def test_spark_scratch_files_go_to_the_configured_scratch_dir(spark, test_config):
    assert spark.sparkContext.getConf().get("spark.local.dir") == str(test_config.scratch_dir)


def test_a_querys_shuffle_files_are_deleted_when_it_ends(spark, test_config):
    before = _shuffle_files(test_config.scratch_dir)
    counts = spark.range(10_000).groupBy((F.col("id") % 7).alias("key")).count()
    assert counts.count() == 7
    # Deleted as the query ends, asynchronously: wait a little, not for the JVM's GC.
    deadline = time.monotonic() + 10
    while _shuffle_files(test_config.scratch_dir) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _shuffle_files(test_config.scratch_dir) - before
    # The same frame runs again after its shuffle is gone.
    assert sorted(row["key"] for row in counts.collect()) == list(range(7))
