"""An embedded Airflow for the demo and the end-to-end tests: its home, metadata DB
(SQLite) and logs live in the project's ignored working folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobs.core.config import PipelineConfig

PROJECT = Path(__file__).resolve().parents[2]
DAG_ID = "weekly_playlists"


def airflow_env(config: PipelineConfig, spark_master: str = "local[*]") -> dict[str, str]:
    """The environment every Airflow command (and through it, spark-submit) runs with."""
    bin_dir = str(Path(sys.executable).parent)
    home = config.home / "airflow"
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "WP_HOME": str(config.home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": spark_master}),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def airflow(args: list[str], env: dict[str, str], log_file: Path | None = None) -> None:
    """Run the venv's `airflow` CLI; on failure the error names the command and its log."""
    command = [str(Path(sys.executable).parent / "airflow"), *args]
    if log_file is None:
        subprocess.run(command, env=env, check=True)
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "w") as log:
        result = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "".join(log_file.read_text().splitlines(keepends=True)[-40:])
        raise RuntimeError(
            f"`airflow {' '.join(args)}` failed (exit {result.returncode}); "
            f"full log: {log_file}\n{tail}"
        )


def init_airflow(config: PipelineConfig, env: dict[str, str]) -> None:
    (config.home / "airflow").mkdir(parents=True, exist_ok=True)
    airflow(["db", "migrate"], env, config.home / "airflow" / "db-migrate.log")


def run_week(config: PipelineConfig, env: dict[str, str], week: str) -> Path:
    """One run of the weekly DAG through Airflow's task runner (`airflow dags test`)."""
    log_file = config.home / "airflow" / f"dags-test-{week}.log"
    airflow(["dags", "test", DAG_ID, week, "-c", json.dumps({"week": week})], env, log_file)
    return log_file


def task_states(env: dict[str, str], week: str) -> dict[str, str]:
    """task_id -> state in the latest run of the weekly DAG for `week` (its logical date)."""
    runs = airflow_json(["dags", "list-runs", DAG_ID], env)
    run_id = max(
        (run for run in runs if run["logical_date"].startswith(week)),
        key=lambda run: run["run_after"],
    )["run_id"]
    states = airflow_json(["tasks", "states-for-dag-run", DAG_ID, run_id], env)
    return {state["task_id"]: state["state"] for state in states}


def airflow_json(args: list[str], env: dict[str, str]) -> list[dict]:
    command = [str(Path(sys.executable).parent / "airflow"), *args, "--output", "json"]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    # Airflow logs its warnings to stdout too: the table is the last JSON line.
    return json.loads([line for line in result.stdout.splitlines() if line.startswith("[")][-1])
