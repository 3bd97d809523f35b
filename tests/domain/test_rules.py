from datetime import date, datetime, timedelta, timezone

import pytest

from jobs.core.config import PlaylistConfig
from jobs.core.quality import ValidationFailed, validate
from jobs.domain.rules import (
    annotate,
    blocks_in_force,
    campaigns_in_force,
    hides_in_force,
)
from schemas import catalog, controls, playlists

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)
CONFIG = PlaylistConfig(length=3, max_tracks_per_artist=2, max_boosted_per_playlist=1)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _pairs(frame, *columns):
    return sorted(tuple(row[c] for c in columns) for row in frame.collect())


@pytest.fixture
def tracks(spark):
    return spark.createDataFrame(
        [
            ("t1", "One", "al1", "a1", 200_000, False, 50),
            ("t2", "Two", "al1", "a1", 200_000, True, 50),  # explicit
            ("t3", "Three", "al2", "a2", 200_000, False, 50),
            ("t4", "Four", "al3", "a3", 200_000, False, 50),
        ],
        schema=catalog.TRACKS,
    )


def test_a_hide_postpones_for_hide_days_and_dont_suggest_lasts_until_withdrawn(spark):
    hides = spark.createDataFrame(
        [
            ("u1", "track", "recent", "hide", days_ago(10), None),
            ("u1", "track", "expired", "hide", days_ago(31), None),
            ("u1", "artist", "forever", "dont_suggest", days_ago(400), None),
            ("u1", "artist", "withdrawn", "dont_suggest", days_ago(400), days_ago(3)),
            ("u1", "artist", "withdrawn_later", "dont_suggest", days_ago(400), NOW + timedelta(1)),
            ("u1", "track", "future", "hide", NOW + timedelta(hours=1), None),
        ],
        schema=controls.USER_HIDES,
    )
    got = _pairs(hides_in_force(hides, WEEK, hide_days=30), "item_id")
    assert got == [("forever",), ("recent",), ("withdrawn_later",)]


def test_platform_rules_block_only_while_in_force(spark):
    rules = spark.createDataFrame(
        [
            ("track", "open", "legal_takedown", days_ago(5), None),
            ("track", "ended", "rights_expired", days_ago(50), days_ago(1)),
            ("artist", "until_later", "policy", days_ago(5), NOW + timedelta(days=1)),
            ("artist", "not_yet", "policy", NOW + timedelta(days=1), None),
        ],
        schema=controls.PLATFORM_RULES,
    )
    assert _pairs(blocks_in_force(rules, WEEK), "item_type", "item_id") == [
        ("artist", "until_later"),
        ("track", "open"),
    ]


def test_a_track_in_two_running_campaigns_gets_the_larger_boost(spark):
    campaigns = spark.createDataFrame(
        [
            ("dm-1", "t1", 0.2, days_ago(7), NOW + timedelta(days=7)),
            ("dm-2", "t1", 0.4, days_ago(7), NOW + timedelta(days=7)),
            ("dm-3", "t2", 0.4, days_ago(14), days_ago(7)),  # over
            ("dm-4", "t3", 0.4, NOW + timedelta(days=1), NOW + timedelta(days=7)),  # not yet
        ],
        schema=controls.DISCOVERY_MODE,
    )
    got = _pairs(campaigns_in_force(campaigns, WEEK), "track_id", "campaign_id", "boost")
    assert got == [("t1", "dm-2", 0.4)]


def _playlist_rows(spark, rows):
    """(user, type, position, track, artist, boosted, campaign) -> playlists rows."""
    return spark.createDataFrame(
        [
            (u, pos, t, a, 1.0, "als", "why", boosted, campaign, "v1", WEEK, kind)
            for u, kind, pos, t, a, boosted, campaign in rows
        ],
        schema=playlists.SCHEMA,
    )


@pytest.fixture
def release_catalog(spark):
    tracks = spark.createDataFrame(
        [
            ("t1", "One", "old", "a1", 200_000, True, 50),
            ("t2", "Two", "old", "a1", 200_000, False, 50),
            ("t3", "Three", "old", "a1", 200_000, False, 50),
            ("n1", "New", "new", "a2", 200_000, False, 50),
            ("n2", "New 2", "new", "a2", 200_000, False, 50),
        ],
        schema=catalog.TRACKS,
    )
    albums = spark.createDataFrame(
        [
            ("old", "a1", "Old", "album", date(2020, 1, 1), 3),
            ("new", "a2", "New", "album", date(2026, 11, 20), 2),
        ],
        schema=catalog.ALBUMS,
    )
    return tracks, albums


def _violations(annotated):
    """{rule: [(user_id, playlist_type, position), ...]} of the rows that break it."""
    found = {}
    for row in annotated.collect():
        for rule in playlists.RULES:
            if row[f"violates_{rule}"] is not None:
                found.setdefault(rule, []).append(
                    (row["user_id"], row["playlist_type"], row["position"])
                )
    return {rule: sorted(rows) for rule, rows in found.items()}


def test_annotate_passes_a_playlist_that_obeys_every_rule(spark, release_catalog, controls_at):
    tracks, albums = release_catalog
    rows = _playlist_rows(
        spark,
        [
            ("u1", "discover_weekly", 1, "t1", "a1", False, None),
            ("u1", "discover_weekly", 2, "t2", "a1", False, None),
            ("u1", "release_radar", 1, "n1", "a2", False, None),
        ],
    )
    annotated = annotate(rows, tracks, albums, controls_at(WEEK), WEEK, CONFIG)
    assert _violations(annotated) == {}
    assert annotated.count() == 3


def test_annotate_names_every_rule_a_row_breaks(spark, release_catalog, controls_at, clean_event):
    tracks, albums = release_catalog
    running = (days_ago(7), NOW + timedelta(days=7))
    week_controls = controls_at(
        WEEK,
        settings=[("u1", True, None)],
        hides=[("u2", "artist", "a1", "dont_suggest", days_ago(100), None)],
        rules=[("track", "t3", "legal_takedown", days_ago(1), None)],
        campaigns=[("dm-1", "n1", 0.5, *running), ("dm-1", "n2", 0.5, *running)],
        events_=[clean_event(1, "u3", "t2", 2), clean_event(2, "u4", "n1", 2, ms=5_000)],
    )
    rows = _playlist_rows(
        spark,
        [
            ("u1", "discover_weekly", 1, "t1", "a1", False, None),  # explicit, u1 filters
            ("u2", "discover_weekly", 1, "t2", "a1", False, None),  # u2: don't suggest a1
            ("u3", "discover_weekly", 1, "t3", "a1", False, None),  # t3 blocked
            ("u3", "discover_weekly", 2, "t2", "a1", False, None),  # u3 played t2
            ("u3", "discover_weekly", 3, "t1", "a1", False, None),  # third a1 track
            ("u3", "discover_weekly", 5, "n1", "a2", False, None),  # position 4 missing
            ("u4", "release_radar", 1, "n1", "a2", True, "dm-1"),  # boosted after a skip
            ("u4", "release_radar", 2, "n2", "a2", True, "dm-1"),  # second boost; same release
            ("u4", "release_radar", 3, "t2", "a1", True, "dm-9"),  # old release, no campaign
        ],
    )
    got = _violations(annotate(rows, tracks, albums, week_controls, WEEK, CONFIG))
    u3, u4 = "discover_weekly", "release_radar"
    assert got == {
        "explicit_filter": [("u1", u3, 1)],
        "hidden": [("u2", u3, 1)],
        "blocked": [("u3", u3, 1)],
        "already_played": [("u3", u3, 2)],
        "artist_cap": [("u3", u3, 1), ("u3", u3, 2), ("u3", u3, 3)],
        "positions": [("u3", u3, 5)],
        "release_cap": [("u4", u4, 1), ("u4", u4, 2)],
        "release_window": [("u4", u4, 3)],
        "boost_cap": [("u4", u4, 1), ("u4", u4, 2), ("u4", u4, 3)],
        "boost_campaign": [("u4", u4, 3)],
        "boost_after_skip": [("u4", u4, 1)],
    }


def test_the_rules_suite_fails_on_a_violation_and_names_the_rule(
    spark, release_catalog, controls_at
):
    tracks, albums = release_catalog
    rows = _playlist_rows(spark, [("u1", "discover_weekly", 1, "t1", "a1", False, None)])
    annotated = annotate(
        rows, tracks, albums, controls_at(WEEK, settings=[("u1", True, None)]), WEEK, CONFIG
    )
    with pytest.raises(ValidationFailed) as failure:
        validate(annotated, playlists.rules_suite())
    message = str(failure.value)
    assert "1 of 11 expectations failed" in message
    assert "violates_explicit_filter" in message
    assert "discover_weekly of u1, position 1, track t1: explicit, filter on" in message


def test_spark_and_the_explorer_agree_on_the_rules_in_force_at_the_publish_moment(spark, tmp_path):
    """The rules in force are written twice: Spark (jobs/domain/rules.py) for the pipeline, DuckDB
    SQL (jobs/explore/data.py) for the explorer. The same control rows, many exactly at
    the publish moment (00:00 UTC of the week's Monday), must give both the same answer,
    and the one written here."""
    import pyarrow as pa

    from jobs.core.config import PipelineConfig
    from jobs.core.parquet import arrow_schema, arrow_table, write_table
    from jobs.core.tables import read_control
    from jobs.explore import data

    second = timedelta(seconds=1)
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    lapses_now = NOW - timedelta(days=config.playlists.hide_days)  # made hide_days ago
    hide_rows = [
        ("u1", "track", "lapses_now", "hide", lapses_now, None),
        ("u1", "track", "lapses_next_second", "hide", lapses_now + second, None),
        ("u1", "track", "made_now", "hide", NOW, None),
        ("u1", "track", "made_a_second_before", "hide", NOW - second, None),
        ("u1", "artist", "withdrawn_now", "dont_suggest", days_ago(400), NOW),
        ("u1", "artist", "withdrawn_next_second", "dont_suggest", days_ago(400), NOW + second),
        ("u1", "artist", "standing", "dont_suggest", days_ago(400), None),
        ("u2", "track", "someone_elses", "hide", days_ago(1), None),
    ]
    rule_rows = [
        ("track", "ends_now", "rights_expired", days_ago(5), NOW),
        ("track", "ends_next_second", "rights_expired", days_ago(5), NOW + second),
        ("artist", "starts_now", "policy", NOW, None),
        ("artist", "starts_next_second", "policy", NOW + second, None),
    ]
    for name, table_schema, rows in (
        ("user_hides", controls.USER_HIDES, hide_rows),
        ("platform_rules", controls.PLATFORM_RULES, rule_rows),
    ):
        types = arrow_schema(table_schema).types
        columns = [pa.array([row[i] for row in rows], kind) for i, kind in enumerate(types)]
        write_table(config.controls_dir / name, arrow_table(table_schema, columns))

    hidden = {
        "track": {"lapses_next_second", "made_a_second_before"},
        "artist": {"withdrawn_next_second", "standing"},
    }
    blocked = {"track": {"ends_next_second"}, "artist": {"starts_now"}}

    in_spark = hides_in_force(
        read_control(spark, config, "user_hides"), WEEK, config.playlists.hide_days
    )
    spark_hidden = _pairs(in_spark.where("user_id = 'u1'"), "item_type", "item_id")
    assert spark_hidden == sorted((kind, item) for kind, items in hidden.items() for item in items)
    spark_blocked = _pairs(
        blocks_in_force(read_control(spark, config, "platform_rules"), WEEK), "item_type", "item_id"
    )
    assert spark_blocked == sorted(
        (kind, item) for kind, items in blocked.items() for item in items
    )

    in_duckdb = data.controls_at(config, WEEK, "u1")
    assert in_duckdb.hidden_tracks == hidden["track"]
    assert in_duckdb.hidden_artists == hidden["artist"]
    assert in_duckdb.blocked_tracks == blocked["track"]
    assert in_duckdb.blocked_artists == blocked["artist"]
