"""One SparkSession for the whole test session (small local master, one shuffle partition)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from jobs.config import PipelineConfig
from jobs.spark import spark_session


@pytest.fixture(scope="session")
def test_config(tmp_path_factory) -> PipelineConfig:
    home = tmp_path_factory.mktemp("wp_home")
    config = PipelineConfig.load(env={"WP_HOME": str(home)})
    return replace(config, spark_master="local[2]", shuffle_partitions=1, hive_catalog=False)


@pytest.fixture(scope="session")
def spark(test_config):
    os.environ.setdefault("PYSPARK_PYTHON", str(Path(os.sys.executable)))
    session = spark_session(test_config, "weekly-playlists-tests")
    yield session
    session.stop()
