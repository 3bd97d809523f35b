"""The real thing on a tiny sample: generate data, run the weekly DAG through Airflow's
task runner (`airflow dags test`, spark-submit per job), then read the published table
with plain DuckDB and check the playlist invariants on every row."""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pytest

from jobs.core.config import PipelineConfig
from jobs.ops.local_airflow import airflow_env, init_airflow, run_week
from jobs.reporting.summary import playlists_query
from jobs.sources.sample.world import generate
from schemas.candidates import SOURCES

pytestmark = pytest.mark.slow

WEEK = date(2026, 11, 23)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    home = tmp_path_factory.mktemp("e2e")
    config = PipelineConfig.load(env={"WP_HOME": str(home)})
    generate(config, WEEK, users=150, tracks=500, weeks=3, seed=7)
    env = airflow_env(config, "local[2]")
    env.update({"WP_TASK_RETRIES": "0", "WP_SPARK_DRIVER_MEMORY": "1g"})
    init_airflow(config, env)
    run_week(config, env, WEEK.isoformat())
    con = duckdb.connect()
    con.execute(f"CREATE VIEW playlists AS SELECT * FROM {playlists_query(config)}")
    con.execute(
        f"CREATE VIEW raw AS SELECT * FROM read_parquet('{config.raw_events_dir}/*/*.parquet')"
    )
    for table in ("tracks", "albums"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{config.catalog_dir}/{table}/*')"
        )
    for table in ("user_settings", "platform_rules", "discovery_mode"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{config.controls_dir}/{table}/*')"
        )
    return config, con


def scalar(con, sql):
    return con.execute(sql).fetchone()[0]


def test_both_playlists_are_published_for_the_week(published):
    _, con = published
    counts = dict(
        con.execute(
            "SELECT playlist_type, count(DISTINCT user_id) FROM playlists "
            f"WHERE week = DATE '{WEEK}' GROUP BY 1"
        ).fetchall()
    )
    assert counts["discover_weekly"] >= 100  # nearly every one of the 150 listeners
    assert counts["release_radar"] >= 1


def test_at_most_thirty_tracks_numbered_from_one(published):
    _, con = published
    worst = con.execute(
        "SELECT max(n), min(first), max(last - n) FROM (SELECT count(*) n, min(position) first, "
        "max(position) last FROM playlists GROUP BY user_id, playlist_type)"
    ).fetchone()
    assert worst[0] <= 30 and worst[1] == 1 and worst[2] == 0


def test_no_duplicate_tracks_in_a_playlist(published):
    _, con = published
    assert (
        scalar(
            con,
            "SELECT count(*) - count(DISTINCT (user_id, playlist_type, track_id)) FROM playlists",
        )
        == 0
    )


def test_nothing_the_listener_already_played(published):
    _, con = published
    assert (
        scalar(
            con,
            f"""
        SELECT count(*) FROM playlists p JOIN raw r USING (user_id, track_id)
        WHERE r.event_type = 'play' AND r.ts < TIMESTAMPTZ '{WEEK} 00:00:00+00'
    """,
        )
        == 0
    )


def test_release_radar_tracks_were_released_in_the_last_seven_days(published):
    _, con = published
    window = (WEEK - timedelta(days=7), WEEK - timedelta(days=1))
    released = con.execute("""
        SELECT min(a.release_date), max(a.release_date) FROM playlists p
        JOIN tracks t USING (track_id) JOIN albums a USING (album_id)
        WHERE p.playlist_type = 'release_radar'
    """).fetchone()
    assert released[0] >= window[0] and released[1] <= window[1]


def test_no_explicit_track_for_filtered_listeners_and_nothing_blocked(published):
    _, con = published
    moment = f"TIMESTAMPTZ '{WEEK} 00:00:00+00'"
    assert (
        scalar(
            con,
            f"""
        SELECT count(*) FROM playlists p JOIN tracks t USING (track_id)
        JOIN user_settings s USING (user_id)
        WHERE t.explicit AND s.explicit_filter
        UNION ALL
        SELECT count(*) FROM playlists p JOIN platform_rules r
          ON r.item_id = CASE r.item_type WHEN 'track' THEN p.track_id ELSE p.artist_id END
        WHERE r.valid_from <= {moment} AND coalesce(r.valid_until > {moment}, true)
        ORDER BY 1 DESC LIMIT 1
    """,
        )
        == 0
    )


def test_boosts_come_from_running_campaigns_within_the_cap(published):
    _, con = published
    moment = f"TIMESTAMPTZ '{WEEK} 00:00:00+00'"
    outside = scalar(
        con,
        f"""
        SELECT count(*) FROM playlists p LEFT JOIN discovery_mode d
          ON d.campaign_id = p.campaign_id AND d.track_id = p.track_id
          AND d.starts_at <= {moment} AND d.ends_at > {moment}
        WHERE p.boosted AND d.campaign_id IS NULL
    """,
    )
    most = scalar(
        con,
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) FILTER (WHERE boosted) n "
        "FROM playlists GROUP BY user_id, playlist_type)",
    )
    assert outside == 0 and most <= 2


def test_validation_results_and_stage_records_are_kept(published):
    config, _ = published
    run = config.runs_dir / f"week={WEEK}"
    for suite in ("raw_events", "candidate_pool", "playlists", "playlist_rules"):
        assert (run / "validation" / f"{suite}.json").exists()
    stages = {path.stem for path in (run / "stages").glob("*.json")}
    assert {
        "ingest",
        "interactions",
        "train_als",
        "clusters",
        "rerank",
        "train_ranker",
        "playlists",
        "publish",
    } <= stages
    assert (run / "clusters-k.png").exists()
    playlists_stage = json.loads((run / "stages" / "playlists.json").read_text())["rows"]
    assert playlists_stage["listeners_without_release_radar"] >= 0


SPARK_SQL_CHECK = """
import sys
from jobs.core.config import PipelineConfig
from jobs.core.spark import spark_session
spark = spark_session(PipelineConfig.load(), "catalog-check")
tables = sorted(t.name for t in spark.catalog.listTables())
rows = spark.sql("SELECT count(*) FROM playlists WHERE week = DATE'%s'").first()[0]
print("TABLES", ",".join(tables), "ROWS", rows)
spark.stop()
"""


def test_tables_are_registered_in_spark_catalog(published):
    import subprocess
    import sys

    config, con = published
    env = airflow_env(config, "local[1]")
    result = subprocess.run(
        [sys.executable, "-c", SPARK_SQL_CHECK % WEEK],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("TABLES"))
    _, tables, _, rows = line.split()
    registered = set(tables.split(","))
    assert {"events", "interactions", "user_factors", "candidate_pool", "playlists"} <= registered
    assert int(rows) == scalar(con, f"SELECT count(*) FROM playlists WHERE week = DATE '{WEEK}'")


def _week_views(config, con, *tables):
    for table in tables:
        con.execute(
            f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet("
            f"'{config.warehouse_dir}/{table}/week={WEEK}/*.parquet')"
        )


def test_the_playlists_record_counts_the_pool(published):
    config, con = published
    _week_views(config, con, "candidate_pool", "interactions")
    run = config.runs_dir / f"week={WEEK}"
    record = json.loads((run / "stages" / "playlists.json").read_text())["rows"]
    rows, listeners = con.execute(
        "SELECT count(*), count(DISTINCT user_id) FROM candidate_pool"
    ).fetchone()
    assert (record["candidate_pool"], record["candidate_pool_listeners"]) == (rows, listeners)
    for source in SOURCES:
        proposed = scalar(con, f"SELECT count({source}_score) FROM candidate_pool")
        assert record[f"candidate_pool_{source}"] == proposed
    assert record["candidate_pool_als"] > 0
    # Tracks nobody interacted with in the window: content's and tags' reach.
    for source in ("content", "tags"):
        cold = scalar(
            con,
            f"""SELECT count(DISTINCT track_id) FROM candidate_pool
            WHERE {source}_score IS NOT NULL
            AND track_id NOT IN (SELECT track_id FROM interactions)""",
        )
        assert record[f"{source}_cold_tracks"] == cold


def test_exploration_reaches_new_moods_and_never_played_tracks(published):
    config, con = published
    _week_views(config, con, "taste_profiles", "track_clusters", "clusters")
    min_share = config.playlists.min_mood_share
    con.execute(
        f"""CREATE OR REPLACE VIEW own_moods AS
        SELECT user_id, m.cluster FROM taste_profiles, unnest(moods) AS t(m)
        WHERE m.share >= {min_share}"""
    )
    discover = f"playlists WHERE week = DATE '{WEEK}' AND playlist_type = 'discover_weekly'"
    # Exploration slots come from clusters that are not the listener's moods...
    explored = scalar(con, f"SELECT count(*) FROM {discover} AND source = 'exploration'")
    assert explored > 0
    in_own_mood = f"""
        SELECT count(*) FROM {discover} AND source = 'exploration' AND EXISTS (
          SELECT 1 FROM own_moods o JOIN track_clusters c ON c.cluster = o.cluster
          WHERE o.user_id = playlists.user_id AND c.track_id = playlists.track_id)"""
    assert scalar(con, in_own_mood) == 0
    # ... and every listener with a profile and a cluster left to explore gets some,
    # the listeners with the fewest moods included.
    unexplored = f"""
        SELECT count(*) FROM taste_profiles t
        WHERE (SELECT count(*) FROM own_moods o WHERE o.user_id = t.user_id)
              < (SELECT count(*) FROM clusters)
          AND t.user_id IN (SELECT user_id FROM {discover})
          AND t.user_id NOT IN (SELECT user_id FROM {discover} AND source = 'exploration')"""
    assert scalar(con, unexplored) == 0
    # Tracks nobody ever played reach playlists, through the audio sources only.
    never_played = f"""
        SELECT source, count(*) FROM {discover} AND track_id NOT IN (
          SELECT track_id FROM raw
          WHERE event_type = 'play' AND ts < TIMESTAMPTZ '{WEEK} 00:00:00+00')
        GROUP BY source"""
    by_source = dict(con.execute(never_played).fetchall())
    assert by_source and set(by_source) <= {"content", "exploration"}


def test_the_album_and_cluster_caps_hold(published):
    config, con = published
    _week_views(config, con, "track_clusters")
    per_album = f"""
        SELECT max(n) FROM (SELECT count(*) n FROM playlists p JOIN tracks t USING (track_id)
        WHERE p.week = DATE '{WEEK}' AND p.playlist_type = 'discover_weekly'
        GROUP BY p.user_id, t.album_id)"""
    assert scalar(con, per_album) <= config.playlists.max_tracks_per_album
    per_cluster = f"""
        SELECT max(n) FROM (
          SELECT count(*) n FROM playlists p JOIN track_clusters c USING (track_id)
        WHERE p.week = DATE '{WEEK}' AND p.playlist_type = 'discover_weekly'
        GROUP BY p.user_id, c.cluster)"""
    playlists = config.playlists
    assert scalar(con, per_cluster) <= int(playlists.length * playlists.max_cluster_share)
