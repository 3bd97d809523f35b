"""
### Weekly playlists

Every Monday 00:00 UTC, turn the week that just ended into Discover Weekly and Release
Radar for every listener:

check for events → validate raw events → ingest → interactions → train ALS → re-rank (when
enabled) → assemble playlists (retrieval and ranking in one pass) → validate playlists →
publish → announce the `playlists` asset, with the catalog's audio-feature clusters built
alongside (cluster tracks → re-rank), and how last week's playlists were received derived from the
events just ingested (derive feedback → assemble playlists), and the week's ranker
learnt from last week's pool and those events (derive feedback → train ranker → assemble
playlists).

A run publishes the Monday that closes its data interval (`jobs.core.weeks.week_for_run`);
trigger with `{"week": "YYYY-MM-DD"}` to (re)build a given week. Each Spark job rewrites
only its week, so re-runs and backfills (`airflow backfill create`) are safe.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import CronDataIntervalTimetable, Metadata, Param, chain, dag, task
from assets import PLAYLISTS

STAGE_SCRIPTS = Path(__file__).resolve().parents[1] / "jobs" / "stages"
WEEK = "{{ ti.xcom_pull(task_ids='resolve_week') }}"


def spark_job(task_id: str, job: str, *extra_args: str, **kwargs) -> SparkSubmitOperator:
    return SparkSubmitOperator(
        task_id=task_id,
        application=str(STAGE_SCRIPTS / f"{job}.py"),
        application_args=[*extra_args, "--week", WEEK],
        name=f"weekly-playlists-{task_id}",
        driver_memory=os.environ.get("WP_SPARK_DRIVER_MEMORY", "4g"),
        # On a cluster, the project's code reaches the executors as this zip.
        py_files=os.environ.get("WP_PY_FILES"),
        **kwargs,
    )


@dag(
    dag_id="weekly_playlists",
    schedule=CronDataIntervalTimetable("0 0 * * 1", timezone="UTC"),
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    tags=["playlists", "spark"],
    doc_md=__doc__,
    params={
        "week": Param(
            None,
            type=["null", "string"],
            # The UI refuses anything else; resolve_week then insists on a Monday.
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="Monday (YYYY-MM-DD) to build; empty: the run's own week",
        )
    },
    default_args={
        "conn_id": "spark_default",
        "retries": int(os.environ.get("WP_TASK_RETRIES", "2")),
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=3),
    },
)
def weekly_playlists():
    @task
    def resolve_week(
        params=None, data_interval_start=None, data_interval_end=None, logical_date=None
    ) -> str:
        from jobs.core.weeks import week_for_run

        return week_for_run(
            params.get("week"), data_interval_start, data_interval_end, logical_date
        ).isoformat()

    @task.short_circuit
    def check_events(week: str) -> bool:
        """False (every later task skipped, nothing published) for a week without raw
        events when `empty_week = "skip"`; with "fail", the task fails saying why."""
        from jobs.core.config import PipelineConfig
        from jobs.tools import pipeline

        return pipeline.check_events(PipelineConfig.load(), date.fromisoformat(week))

    @task(outlets=[PLAYLISTS])
    def announce_playlists(week: str, *, outlet_events=None):
        from jobs.core.config import PipelineConfig
        from jobs.core.runlog import read_stage_records
        from jobs.reporting.report import write_report

        config, day = PipelineConfig.load(), date.fromisoformat(week)
        rows = {}
        for record in read_stage_records(config, day):
            if record["stage"] == "publish":
                rows = record["rows"]
        report = write_report(config, day)
        yield Metadata(PLAYLISTS, extra={"week": week, **rows, "report": str(report)})

    week = resolve_week()
    has_events = check_events(week)
    rerank = spark_job("rerank_candidates", "rerank")
    # The catalog's audio-feature clusters need no events: a branch of their own, joined
    # where the re-ranker, the taste profiles and the audio candidate sources need them.
    has_events >> spark_job("cluster_tracks", "clusters") >> rerank
    # Weeks read the days earlier weeks ingested: ingest them in order, even in backfills.
    ingest = spark_job("ingest_events", "ingest", depends_on_past=True)
    assemble = spark_job("assemble_playlists", "playlists")
    publish = spark_job("publish_playlists", "publish")
    # Last week's slots meet the days just ingested, once last week's run has published
    # them (backfilled weeks run side by side): wait_for_downstream waits for the previous
    # run's tasks directly downstream of this one, so publish is one of them. Assembly
    # reads the feedback (the adaptive policy); a failed feedback check stops the run.
    feedback = spark_job(
        "derive_feedback", "feedback", depends_on_past=True, wait_for_downstream=True
    )
    ingest >> feedback >> [assemble, publish]
    # The ranker learns from last week's pool, written by last week's assembly: after
    # feedback, which waits for last week's run to have published.
    feedback >> spark_job("train_ranker", "train_ranker") >> assemble
    chain(
        has_events,
        spark_job("validate_raw_events", "validate", "--table", "raw_events"),
        ingest,
        spark_job("build_interactions", "interactions"),
        spark_job("train_als", "train_als"),
        rerank,
        assemble,
        spark_job("validate_playlists", "validate", "--table", "playlists"),
        publish,
        announce_playlists(week),
    )


weekly_playlists()
