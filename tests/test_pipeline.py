"""The whole week in one process (`jobs.pipeline.run_week`), run twice on the same data."""

from dataclasses import replace
from datetime import date

import pytest

from jobs.config import PipelineConfig
from jobs.pipeline import run_week
from jobs.sample_data import generate
from jobs.tables import table_path

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)


def published_rows(spark, config):
    frame = spark.read.parquet(str(table_path(config, "playlists")))
    return sorted(tuple(row) for row in frame.collect())


def test_rerunning_a_week_publishes_the_same_rows(spark, tmp_path, test_config):
    config = replace(
        PipelineConfig.load(env={"WP_HOME": str(tmp_path)}),
        hive_catalog=False,
        shuffle_partitions=test_config.shuffle_partitions,
    )
    generate(config, WEEK, users=80, tracks=300, weeks=2, seed=3)
    run_week(spark, config, WEEK)
    first = published_rows(spark, config)
    run_week(spark, config, WEEK)
    assert len(first) > 80 * 10
    assert published_rows(spark, config) == first
