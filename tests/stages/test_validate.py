"""The playlists gate as the DAG runs it: staged week in, both suites, nothing published."""

from dataclasses import replace
from datetime import date

import pytest

from jobs.core.config import PipelineConfig
from jobs.core.quality import ValidationFailed
from jobs.core.tables import staging_path, table_path
from jobs.stages import validate
from schemas import catalog, controls, events, playlists

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)


@pytest.fixture
def home(spark, tmp_path, test_config, clean_event):
    """A working folder with a tiny catalog, controls and events: u1 filters explicit
    tracks; t2 is explicit."""
    config = replace(PipelineConfig.load(env={"WP_HOME": str(tmp_path)}), hive_catalog=False)
    tables = {
        config.catalog_dir / "tracks": (
            [
                ("t1", "One", "al1", "a1", 200_000, False, 50),
                ("t2", "Two", "al1", "a1", 200_000, True, 50),
                ("t3", "Three", "al2", "a2", 200_000, False, 50),
            ],
            catalog.TRACKS,
        ),
        config.catalog_dir / "albums": (
            [
                ("al1", "a1", "Old", "album", date(2020, 1, 1), 2),
                ("al2", "a2", "New", "single", date(2026, 11, 20), 1),
            ],
            catalog.ALBUMS,
        ),
        config.controls_dir / "user_settings": ([("u1", True, None)], controls.USER_SETTINGS),
        table_path(config, "events"): ([clean_event(1, "u1", "t3", 40)], events.EVENTS),
    }
    for path, (rows, schema) in tables.items():
        spark.createDataFrame(rows, schema=schema).write.parquet(str(path))
    return config


def stage(spark, config, rows):
    """(user, type, position, track, artist) rows as the playlists stage stages them."""
    frame = spark.createDataFrame(
        [
            (u, pos, t, a, 1.0, "als", "why", False, None, "v1", WEEK, kind)
            for u, kind, pos, t, a in rows
        ],
        schema=playlists.SCHEMA,
    )
    staged = staging_path(config, "playlists") / f"week={WEEK}"
    frame.drop("week").write.partitionBy("playlist_type").parquet(str(staged))


def test_a_week_that_obeys_the_rules_passes_both_suites(spark, home):
    stage(spark, home, [("u1", "discover_weekly", 1, "t1", "a1")])
    rows = {}
    validate.run(spark, home, WEEK, rows, table="playlists")
    assert rows == {"playlists": 1}
    results = home.runs_dir / f"week={WEEK}" / "validation"
    assert sorted(p.name for p in results.iterdir()) == ["playlist_rules.json", "playlists.json"]


def test_a_rule_violation_fails_the_gate_before_anything_is_published(spark, home):
    stage(spark, home, [("u1", "discover_weekly", 1, "t2", "a1")])  # explicit, u1 filters
    with pytest.raises(ValidationFailed) as failure:
        validate.run(spark, home, WEEK, {}, table="playlists")
    message = str(failure.value)
    assert "suite 'playlist_rules': 1 of" in message
    assert "discover_weekly of u1, position 1, track t2: explicit, filter on" in message
    assert not table_path(home, "playlists").exists()
