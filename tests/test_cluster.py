"""The production shape for real (`make test-cluster`): a Spark standalone master with two
workers and Airflow's scheduler on PostgreSQL, started by `jobs.cluster`; a backfill of
three weeks with two runs at a time goes through the scheduler onto the cluster."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from jobs import cluster
from jobs.config import PipelineConfig
from jobs.local_airflow import DAG_ID, airflow
from jobs.runlog import read_stage_records
from jobs.sample_data import generate
from jobs.summary import playlists_query
from jobs.tables import table_path

pytestmark = pytest.mark.cluster

WEEKS = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    home = tmp_path_factory.mktemp("cluster")
    config = PipelineConfig.load(env={"WP_HOME": str(home)})
    # Events up to the last backfilled week only: the run the scheduler starts for the
    # latest week on unpause finds none and is skipped (the cluster's empty_week = "skip").
    generate(config, WEEKS[-1], users=80, tracks=300, weeks=4, seed=11)
    where, started = cluster.up(config)
    assert started
    yield config, where
    cluster.down(config)


def test_a_second_up_finds_the_running_cluster(running):
    config, where = running
    assert cluster.up(config) == (where, False)
    assert all(where.running().values()) and len(where.running()) == 7


def test_a_backfill_of_three_weeks_two_at_a_time_publishes_exactly_those_weeks(running):
    config, where = running
    env = cluster.cluster_env(config)
    airflow(["dags", "reserialize"], env, where.folder / "logs" / "reserialize.log")
    airflow(["dags", "unpause", DAG_ID], env, where.folder / "logs" / "unpause.log")
    cli = Path(sys.executable).parent / "weekly-playlists"
    subprocess.run(
        [str(cli), "backfill", "--from", str(WEEKS[0]), "--to", str(WEEKS[-1]), "--airflow"]
        + ["--max-active-runs", "2"],
        env=env,
        check=True,
    )
    runs = cluster.wait_for_runs(env, "backfill", len(WEEKS), timeout=3000)
    assert [run["state"] for run in runs] == ["success"] * len(WEEKS), runs

    published = sorted(path.name for path in table_path(config, "playlists").glob("week=*"))
    assert published == [f"week={week}" for week in WEEKS]
    con = duckdb.connect()
    con.execute(f"CREATE VIEW playlists AS SELECT * FROM {playlists_query(config)}")
    for week in WEEKS:
        # Each week's own rows, whole and valid: its run validated and published them.
        stages = {record["stage"] for record in read_stage_records(config, week)}
        assert {"ingest", "train_als", "validate_playlists", "publish"} <= stages
        users, worst, duplicates = con.execute(
            "SELECT count(DISTINCT user_id), max(position), count(*) - count(DISTINCT "
            "(user_id, playlist_type, track_id)) FROM playlists WHERE week = ?",
            [week],
        ).fetchone()
        assert users >= 60 and worst <= 30 and duplicates == 0
    # Two weeks ran side by side: their Spark applications overlapped on the cluster.
    starts = sorted(
        (run["start_date"], run["end_date"]) for run in runs if run["start_date"] is not None
    )
    assert any(later[0] < earlier[1] for earlier, later in zip(starts, starts[1:]))
