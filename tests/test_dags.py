"""The DAG folder imports cleanly, reads no Connection at parse time, and is wired as
documented."""

import os
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    # Airflow puts the DAGs folder on sys.path; a DagBag built in a test process does not.
    dags_path = str(DAGS)
    if dags_path not in sys.path:
        sys.path.insert(0, dags_path)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"weekly_playlists", "catalog_sync", "playlists_consumer"} <= set(dagbag.dags)


def test_task_order(dagbag):
    dag = dagbag.dags["weekly_playlists"]
    downstream = {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}
    assert downstream == {
        "resolve_week": ["announce_playlists", "check_events"],
        "check_events": ["cluster_tracks", "validate_raw_events"],
        "cluster_tracks": ["rerank_candidates"],
        "validate_raw_events": ["ingest_events"],
        "ingest_events": ["build_interactions", "derive_feedback"],
        "derive_feedback": ["assemble_playlists", "publish_playlists", "train_ranker"],
        "train_ranker": ["assemble_playlists"],
        "build_interactions": ["train_als"],
        "train_als": ["rerank_candidates"],
        "rerank_candidates": ["assemble_playlists"],
        "assemble_playlists": ["validate_playlists"],
        "validate_playlists": ["publish_playlists"],
        "publish_playlists": ["announce_playlists"],
        "announce_playlists": [],
    }


def test_schedule_retries_and_asset(dagbag):
    dag = dagbag.dags["weekly_playlists"]
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression == "0 0 * * 1"
    assert all(task.retries >= 1 for task in dag.tasks if task.task_type == "SparkSubmitOperator")
    # Backfilled weeks may run side by side; their ingests must not, and a week's feedback
    # waits for the week before to be published (derive_feedback's downstream).
    assert [t.task_id for t in dag.tasks if t.depends_on_past] == [
        "ingest_events",
        "derive_feedback",
    ]
    assert [t.task_id for t in dag.tasks if t.wait_for_downstream] == ["derive_feedback"]
    announce = dag.get_task("announce_playlists")
    assert [outlet.name for outlet in announce.outlets] == ["weekly_playlists.playlists"]


def test_spark_jobs_exist_and_take_the_resolved_week(dagbag):
    dag = dagbag.dags["weekly_playlists"]
    for task in dag.tasks:
        if task.task_type == "SparkSubmitOperator":
            assert Path(task.application).exists(), task.application
            assert task.application_args[-2:] == [
                "--week",
                "{{ ti.xcom_pull(task_ids='resolve_week') }}",
            ]


@pytest.mark.parametrize("week", ["../../warehouse", "2026-11-23; rm -rf /", "23.11.2026"])
def test_week_param_refuses_anything_but_an_iso_date(dagbag, week):
    from airflow.sdk.definitions.param import ParamValidationError

    param = dagbag.dags["weekly_playlists"].params.get_param("week")
    with pytest.raises(ParamValidationError):
        param.resolve(week)
    assert param.resolve("2026-11-23") == "2026-11-23"


def test_catalog_sync_runs_daily_one_at_a_time(dagbag):
    dag = dagbag.dags["catalog_sync"]
    assert dag.schedule == "@daily"
    assert dag.max_active_runs == 1 and dag.catchup is False
    task = dag.get_task("sync_catalog")
    assert task.retries >= 1 and task.execution_timeout is not None


def test_consumer_is_scheduled_on_the_playlists_asset(dagbag):
    from assets import PLAYLISTS

    dag = dagbag.dags["playlists_consumer"]
    assert dag.timetable.asset_condition.objects == (PLAYLISTS,)


def test_the_dag_runs_the_stages_of_the_in_process_runner_in_its_order(dagbag):
    """The stage order is written twice: the DAG's wiring and `jobs.tools.pipeline.STAGES` (the
    in-process runner of `weekly-playlists run`, evaluate and bench). Every Spark task is one
    stage, every stage one task, and no task runs after a stage that comes later in STAGES."""
    from jobs.tools.pipeline import STAGES

    dag = dagbag.dags["weekly_playlists"]
    stage_of = {}
    for task in dag.tasks:
        if not hasattr(task, "application"):
            continue  # the Python tasks: resolve the week, check for events, announce
        job = Path(task.application).stem
        arguments = list(task.application_args)
        table = arguments[arguments.index("--table") + 1] if "--table" in arguments else None
        stage_of[task.task_id] = f"{job}_{table}" if table else job
    position = {name: place for place, (name, _) in enumerate(STAGES)}
    assert sorted(stage_of.values()) == sorted(position)
    for task_id, stage in stage_of.items():
        for upstream in dag.get_task(task_id).get_flat_relatives(upstream=True):
            if upstream.task_id in stage_of:
                assert position[stage_of[upstream.task_id]] < position[stage], (
                    f"{upstream.task_id} runs before {task_id} in the DAG, "
                    "but after it in jobs.tools.pipeline.STAGES"
                )
