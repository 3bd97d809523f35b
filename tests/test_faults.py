"""Faults injected into real runs of a real week: a rerun, a Spark job SIGKILLed mid-write, the
same week started twice at once, bad raw input. Each test says what was kept and what the
error said. The week is built once, in process (`jobs.tools.pipeline.run_week`); the faulty jobs
run as real `spark-submit` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from jobs.core.config import PipelineConfig
from jobs.core.tables import MissingTable, RawInputError, staged_week, table_path
from jobs.ops.local_airflow import PROJECT, airflow_env
from jobs.sources.sample.world import generate
from jobs.stages import ingest, playlists, publish, validate
from jobs.stages.ingest import QuarantineThresholdExceeded
from jobs.tools.pipeline import run_week

pytestmark = pytest.mark.slow

WEEK = date(2026, 11, 23)


def published_rows(spark, config):
    frame = spark.read.parquet(str(table_path(config, "playlists") / f"week={WEEK}"))
    return sorted(tuple(row) for row in frame.collect())


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory, test_config):
    """A home with one published week, and what was published."""
    home = tmp_path_factory.mktemp("faults")
    # The spark-submit jobs read the same settings from this file.
    (home / "config.toml").write_text("hive_catalog = false\nshuffle_partitions = 1\n")
    config = PipelineConfig.load(home / "config.toml", env={"WP_HOME": str(home)})
    generate(config, WEEK, users=80, tracks=300, weeks=2, seed=3)
    run_week(spark, config, WEEK)
    return config, published_rows(spark, config)


def spark_submit(config: PipelineConfig, job: str, shuffle_partitions: int = 1) -> subprocess.Popen:
    """`spark-submit jobs/<job>.py --week WEEK` in its own process group (to kill it whole)."""
    settings = config.home / f"config-{shuffle_partitions}.toml"
    settings.write_text(f"hive_catalog = false\nshuffle_partitions = {shuffle_partitions}\n")
    env = {**airflow_env(config, "local[1]"), "WP_CONFIG": str(settings)}
    command = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master",
        "local[1]",
        "--driver-memory",
        "1g",
        str(PROJECT / "jobs" / "stages" / f"{job}.py"),
        "--week",
        WEEK.isoformat(),
    ]
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(spark, config, stages=("playlists", "validate_playlists", "publish")):
    """The week's last stages, in process, as the run after a fault runs them."""
    bodies = {
        "playlists": playlists.run,
        "validate_playlists": lambda *args: validate.run(*args, table="playlists"),
        "publish": publish.run,
    }
    for stage in stages:
        bodies[stage](spark, config, WEEK, {})


def test_rerunning_a_week_publishes_the_same_rows(spark, built):
    config, published = built
    assert len(published) > 80 * 10
    run_week(spark, config, WEEK)
    assert published_rows(spark, config) == published


def test_a_job_killed_mid_write_publishes_nothing_and_a_rerun_repairs(spark, built):
    config, published = built
    staged = staged_week(config, "playlists", WEEK)
    # Many small write tasks on one core: the write lasts seconds, so the kill lands in it.
    job = spark_submit(config, "playlists", shuffle_partitions=64)
    deadline = time.monotonic() + 300
    while not (staged / "_temporary").exists():
        assert job.poll() is None, f"the job ended before writing:\n{job.stdout.read()}"
        assert time.monotonic() < deadline, "the job never started writing"
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL
    assert staged.exists() and not (staged / "_SUCCESS").exists()
    # The half-written week is refused by both the gate and publish; last week stays.
    for stage in (lambda *a: validate.run(*a, table="playlists"), publish.run):
        with pytest.raises(MissingTable, match="incomplete .*interrupted"):
            stage(spark, config, WEEK, {})
    assert published_rows(spark, config) == published
    finish(spark, config)
    assert published_rows(spark, config) == published


def test_the_same_week_started_twice_runs_once(spark, built):
    config, published = built
    first, second = spark_submit(config, "playlists"), spark_submit(config, "playlists")
    outputs = [job.communicate(timeout=600)[0] for job in (first, second)]
    codes = sorted(job.returncode for job in (first, second))
    assert codes == [0, 1], outputs
    refused = next(out for job, out in zip((first, second), outputs) if job.returncode == 1)
    assert f"WeekBusy: week {WEEK} is being built by another process (pid " in refused
    assert ", playlists)" in refused
    finish(spark, config, ("validate_playlists", "publish"))  # the winner's staged week
    assert published_rows(spark, config) == published


def test_a_corrupt_raw_file_stops_ingest_by_name_or_is_quarantined(spark, built):
    config, published = built
    day = config.raw_events_dir / "date=2026-11-20"
    victim = sorted(day.glob("*.parquet"))[0]
    original = victim.read_bytes()
    events = spark.read.parquet(str(table_path(config, "events")))
    events_before = events.count()
    week_before = events.where(f"date >= DATE'{WEEK}' - INTERVAL 7 DAYS").count()
    try:
        victim.write_bytes(original[: len(original) // 2])  # cut off mid-upload
        with pytest.raises(RawInputError, match=f"not readable Parquet: {victim}"):
            ingest.run(spark, config, WEEK, {})
        assert spark.read.parquet(str(table_path(config, "events"))).count() == events_before
        rows = {}
        ingest.run(spark, replace(config, skip_unreadable_raw_files=True), WEEK, rows)
        quarantined = spark.read.parquet(str(table_path(config, "events_quarantine")))
        kept = quarantined.where(f"week = DATE'{WEEK}'").collect()
        assert [(r["reason"], r["source_file"]) for r in kept] == [
            ("unreadable Parquet file", victim.as_uri())
        ]
        assert 0 < rows["events"] < week_before
    finally:
        victim.write_bytes(original)
        ingest.run(spark, config, WEEK, {})
    assert published_rows(spark, config) == published


def test_a_week_of_junk_stops_ingest_keeps_the_rejects_and_the_published_week(spark, built):
    import pyarrow as pa
    import pyarrow.parquet as pq

    config, published = built
    day = config.raw_events_dir / "date=2026-11-21"
    junk = day / "zz-junk.parquet"
    clean = pq.read_table(sorted(day.glob("*.parquet"))[0])
    # A producer bug: a whole batch with negative ms_played, a tenth of the week.
    count = (
        spark.read.parquet(str(table_path(config, "events")))
        .where(f"date >= DATE'{WEEK}' - INTERVAL 7 DAYS")
        .count()
        // 10
    )
    bad = clean.slice(0, count).set_column(
        clean.schema.get_field_index("ms_played"),
        "ms_played",
        pa.array([-1] * min(count, clean.num_rows), pa.int64()),
    )
    bad = bad.set_column(
        0, "event_id", pa.array([f"junk-{n}" for n in range(bad.num_rows)], pa.string())
    )
    pq.write_table(bad, junk)
    try:
        with pytest.raises(QuarantineThresholdExceeded, match="negative ms_played"):
            ingest.run(spark, config, WEEK, {})
        quarantined = spark.read.parquet(str(table_path(config, "events_quarantine")))
        assert quarantined.where("reason = 'negative ms_played'").count() == bad.num_rows
    finally:
        junk.unlink()
    assert published_rows(spark, config) == published
