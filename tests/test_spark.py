"""The session factory."""

from __future__ import annotations


def test_spark_scratch_files_go_to_the_configured_scratch_dir(spark, test_config):
    assert spark.sparkContext.getConf().get("spark.local.dir") == str(test_config.scratch_dir)
