"""Airflow itself, on the weekly DAG: a week without events skipped task by task (nothing
published), and `weekly-playlists backfill --airflow` asking Airflow for one run per week."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from jobs.core.config import PipelineConfig
from jobs.core.runlog import read_stage_records
from jobs.core.tables import table_path
from jobs.ops.local_airflow import airflow, airflow_env, init_airflow, run_week, task_states

pytestmark = pytest.mark.slow

WEEK = date(2026, 11, 23)


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    """An Airflow home whose tasks read a config that skips empty weeks; no events at all."""
    home = tmp_path_factory.mktemp("airflow_runs")
    settings = home / "config.toml"
    settings.write_text('empty_week = "skip"\nhive_catalog = false\n')
    config = PipelineConfig.load(settings, env={"WP_HOME": str(home)})
    env = {**airflow_env(config, "local[1]"), "WP_CONFIG": str(settings), "WP_TASK_RETRIES": "0"}
    init_airflow(config, env)
    # What the dag-processor does in a deployment: backfills need the DAG in the database.
    airflow(["dags", "reserialize"], env, home / "reserialize.log")
    return config, env


def test_a_week_without_events_is_skipped_and_nothing_is_published(airflow_home):
    config, env = airflow_home
    run_week(config, env, WEEK.isoformat())
    states = task_states(env, WEEK.isoformat())
    ran = {"resolve_week": "success", "check_events": "success"}
    assert {task: state for task, state in states.items() if task in ran} == ran
    skipped = {task for task, state in states.items() if state == "skipped"}
    assert skipped == set(states) - set(ran)
    assert {"publish_playlists", "announce_playlists", "cluster_tracks"} <= skipped
    assert not (table_path(config, "playlists") / f"week={WEEK}").exists()
    (record,) = read_stage_records(config, WEEK)
    assert record["stage"] == "check_events" and record["rows"] == {"raw_rows": 0}


def test_backfill_asks_airflow_for_one_run_per_week(airflow_home):
    _, env = airflow_home
    cli = Path(sys.executable).parent / "weekly-playlists"
    result = subprocess.run(
        [
            str(cli),
            "backfill",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-23",
            "--airflow",
            "--dry-run",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # Logical dates are a week before the Monday each run publishes.
    logical = [
        line.split("|")[1].strip() for line in result.stdout.splitlines() if "| 2026" in line
    ]
    assert logical == [
        "2026-10-26 00:00:00+00:00",
        "2026-11-02 00:00:00+00:00",
        "2026-11-09 00:00:00+00:00",
        "2026-11-16 00:00:00+00:00",
    ]
