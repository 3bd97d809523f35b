"""The example consumer reads exactly the weeks its asset events announce."""

from __future__ import annotations

import logging
from datetime import date
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema
from jobs.core.tables import table_path
from jobs.reporting.consumers import announced_weeks, summarise_announced_weeks
from schemas.playlists import DISCOVER_WEEKLY, RELEASE_RADAR, SCHEMA


def publish(config: PipelineConfig, week: date, playlist_type: str, users: int) -> None:
    """A published partition as Spark writes it: week=/playlist_type= folders."""
    schema = arrow_schema(SCHEMA)
    for partition_column in ("week", "playlist_type"):
        schema = schema.remove(schema.names.index(partition_column))
    rows = [
        dict(
            user_id=f"u{user}",
            position=position,
            track_id=f"t{position}",
            artist_id="a",
            score=1.0,
            source="als",
            reason="r",
            boosted=False,
            campaign_id=None,
            model_version="m",
        )
        for user in range(users)
        for position in (1, 2)
    ]
    folder = table_path(config, "playlists") / f"week={week}" / f"playlist_type={playlist_type}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-0.parquet")


def event(week: str, **rows) -> SimpleNamespace:
    """The fields of an Airflow AssetEvent the consumer reads."""
    return SimpleNamespace(extra={"week": week, **rows})


@pytest.fixture
def config(tmp_path) -> PipelineConfig:
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    publish(config, date(2026, 11, 16), DISCOVER_WEEKLY, 3)
    publish(config, date(2026, 11, 23), DISCOVER_WEEKLY, 2)
    publish(config, date(2026, 11, 23), RELEASE_RADAR, 1)
    return config


def test_reads_each_announced_week_oldest_first(config, caplog):
    caplog.set_level(logging.WARNING)
    events = [event("2026-11-23", published_discover_weekly=4), event("2026-11-16")]
    assert summarise_announced_weeks(config, events) == [
        {"week": "2026-11-16", "discover_weekly_listeners": 3, "discover_weekly_rows": 6},
        {
            "week": "2026-11-23",
            "discover_weekly_listeners": 2,
            "discover_weekly_rows": 4,
            "release_radar_listeners": 1,
            "release_radar_rows": 2,
        },
    ]
    assert not caplog.records


def test_a_changed_partition_is_reported(config, caplog):
    caplog.set_level(logging.WARNING)
    summarise_announced_weeks(config, [event("2026-11-23", published_discover_weekly=99)])
    assert "99 rows announced, 4 in the table now" in caplog.text


def test_an_announced_week_without_rows_fails_by_name(config):
    with pytest.raises(RuntimeError, match="week 2026-11-30 was announced"):
        summarise_announced_weeks(config, [event("2026-11-30")])


@pytest.mark.parametrize("extra", [{}, {"week": "../../etc"}, {"week": "2026-11-24"}])
def test_events_without_a_valid_week_are_refused(extra):
    with pytest.raises(ValueError, match="week"):
        announced_weeks([SimpleNamespace(extra=extra)])
