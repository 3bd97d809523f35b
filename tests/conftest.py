"""One SparkSession for the whole test session (small local master, one shuffle partition)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jobs.core.config import PipelineConfig
from jobs.core.spark import spark_session


@pytest.fixture(scope="session")
def test_config(tmp_path_factory) -> PipelineConfig:
    home = tmp_path_factory.mktemp("wp_home")
    config = PipelineConfig.load(env={"WP_HOME": str(home)})
    return replace(config, spark_master="local[2]", shuffle_partitions=1, hive_catalog=False)


@pytest.fixture(scope="session")
def spark(test_config):
    os.environ.setdefault("PYSPARK_PYTHON", str(Path(os.sys.executable)))
    # Spark's Python workers unpickle test helpers the tests broadcast (candidate_lists).
    here = str(Path(__file__).parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [here, *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    session = spark_session(test_config, "weekly-playlists-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def clean_event():
    """Factory of `events` rows (schemas/events.py EVENTS order): one event `days_before`
    the Monday 2026-11-23, skipped when it played under 30 s."""

    def make(n, user, track, days_before, ms=180_000, kind="play", context=None):
        ts = datetime(2026, 11, 23, tzinfo=timezone.utc) - timedelta(days=days_before)
        return (
            f"e{n}",
            ts,
            user,
            track,
            ms,
            None,
            None,
            ms < 30_000,
            False,
            None,
            None,
            kind,
            context,
            ts.date(),
        )

    return make


@pytest.fixture(scope="session")
def controls_at(spark):
    """Factory of `jobs.domain.rules.Controls` for a week from plain rows in each table's schema
    order (settings, hides, platform rules, campaigns, events); all empty by default."""
    from jobs.domain.rules import Controls
    from schemas import controls, events

    def make(week, settings=(), hides=(), rules=(), campaigns=(), events_=(), hide_days=30):
        tables = [
            (settings, controls.USER_SETTINGS),
            (hides, controls.USER_HIDES),
            (rules, controls.PLATFORM_RULES),
            (campaigns, controls.DISCOVERY_MODE),
            (events_, events.EVENTS),
        ]
        frames = [spark.createDataFrame(list(rows), schema=schema) for rows, schema in tables]
        return Controls.at(week, *frames, hide_days)

    return make
