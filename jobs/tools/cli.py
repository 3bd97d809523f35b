"""`weekly-playlists`: the project's command line.

weekly-playlists generate --week 2026-11-23 --users 3000 --tracks 6000 --weeks 4
weekly-playlists demo     --week 2026-11-23      # generate, run the DAG, print summary
weekly-playlists summary  --week 2026-11-23 [--user U]   # a listener's two playlists
weekly-playlists run      --week 2026-11-23      # every stage in one Spark process
weekly-playlists backfill --from 2026-11-02 --to 2026-11-23 [--airflow]
weekly-playlists runs                            # weeks run, published or not, GX, NDCG
weekly-playlists report   --week 2026-11-23      # (re)write the HTML run report
weekly-playlists explore  [--port 8501]          # browse the warehouse (Streamlit, DuckDB)
weekly-playlists import spotify-history --source DIR
weekly-playlists import lastfm --source DIR --week 2026-11-23 [--features MUSICOSET_DIR]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Sequence

from jobs.core.config import PipelineConfig
from jobs.core.weeks import parse_week
from jobs.explore import DEFAULT_PORT, streamlit_command


def _add_sample_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--tracks", type=int, default=6000)
    parser.add_argument("--weeks", type=int, default=4, help="weeks of events before --week")
    parser.add_argument("--seed", type=int, default=42)


def _generate(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.sources.sample.world import generate

    started = time.perf_counter()
    counts = generate(config, args.week, args.users, args.tracks, args.weeks, args.seed)
    print(
        f"sample data in {config.home} ({time.perf_counter() - started:.1f} s): "
        + ", ".join(f"{name} {count:,}" for name, count in counts.items())
    )


def _generate_command(commands) -> None:
    parser = commands.add_parser("generate", help="write a synthetic sample dataset")
    parser.add_argument("--week", required=True, type=parse_week)
    _add_sample_args(parser)
    parser.set_defaults(run=_generate)


def _demo(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.ops.local_airflow import airflow_env, init_airflow, run_week
    from jobs.reporting.summary import print_summary

    _generate(args, config)
    env = airflow_env(config, args.spark_master)
    started = time.perf_counter()
    init_airflow(config, env)
    print(f"airflow home {config.home / 'airflow'} ready ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    print(f"running DAG weekly_playlists for week {args.week} (airflow dags test) ...", flush=True)
    log_file = run_week(config, env, args.week.isoformat())
    print(f"DAG run finished in {time.perf_counter() - started:.1f} s (log: {log_file})\n")
    print_summary(config, args.week)


def _demo_command(commands) -> None:
    parser = commands.add_parser("demo", help="sample data + one DAG run + summary")
    parser.add_argument("--week", required=True, type=parse_week)
    parser.add_argument("--spark-master", default="local[*]")
    _add_sample_args(parser)
    parser.set_defaults(run=_demo)


def _cluster(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.ops import cluster

    if args.action in ("demo", "run") and args.week is None:
        raise SystemExit(f"cluster {args.action}: --week YYYY-MM-DD is required")
    if args.action == "down":
        stopped = cluster.down(config)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return
    if args.action == "status":
        running = cluster.cluster_of(config).running()
        for name, alive in running.items():
            print(f"{name:22} {'running' if alive else 'DEAD'}")
        if not running:
            print("no cluster (weekly-playlists cluster up)")
        return
    started_at = time.perf_counter()
    where, started = cluster.up(config)
    elapsed = time.perf_counter() - started_at
    print(
        (f"cluster up in {elapsed:.0f} s" if started else "cluster already running")
        + f": Spark {cluster.spark_master_url()} (UI http://127.0.0.1:{cluster.SPARK_UI_PORT}),"
        f" Airflow http://127.0.0.1:{cluster.API_PORT}; logs {where.folder / 'logs'}"
    )
    if args.action in ("demo", "run"):
        if args.action == "demo":
            _generate(args, config)
        started_at = time.perf_counter()
        print(f"week {args.week} through the scheduler on the cluster ...", flush=True)
        run = cluster.run_week_on_cluster(
            config, args.week.isoformat(), timeout=args.wait_minutes * 60
        )
        print(f"run {run['run_id']}: {run['state']} in {time.perf_counter() - started_at:.0f} s")
        if run["state"] != "success":
            raise SystemExit(f"the run failed; task logs under {where.folder / 'airflow' / 'logs'}")
        from jobs.reporting.summary import print_summary

        print_summary(config, args.week)


def _cluster_command(commands) -> None:
    parser = commands.add_parser(
        "cluster",
        help="a Spark standalone cluster + Airflow scheduler on Postgres, on this machine",
    )
    parser.add_argument(
        "action",
        choices=["up", "down", "status", "demo", "run"],
        help="demo: sample data, then one week through the scheduler; run: the week alone",
    )
    parser.add_argument(
        "--week", type=parse_week, default=None, help="demo, run: the week to build"
    )
    parser.add_argument(
        "--wait-minutes",
        type=float,
        default=60,
        help="demo, run: how long to wait for the week's run (default: %(default)s)",
    )
    _add_sample_args(parser)
    parser.set_defaults(run=_cluster)


def _in_process(config: PipelineConfig, app_name: str):
    from jobs.core.spark import spark_session

    return spark_session(config, app_name)


def _print_stage(stage: str, record: dict) -> None:
    rows = ", ".join(f"{name} {count:,}" for name, count in record["rows"].items())
    print(f"  {stage:<20}{record['seconds']:>7.1f} s  {rows}", flush=True)


SKIPPED = 'no raw events (empty_week = "skip"); the published weeks are unchanged'


def _run(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.reporting.summary import print_summary
    from jobs.tools.pipeline import STAGES, run_week

    spark = _in_process(config, f"weekly-playlists-{args.week}")
    try:
        print(f"building week {args.week}: {len(STAGES)} stages", flush=True)
        built = run_week(spark, config, args.week, progress=_print_stage)
    finally:
        spark.stop()
    if not built:
        print(f"week {args.week} skipped: {SKIPPED}")
        return
    print_summary(config, args.week)


def _run_command(commands) -> None:
    parser = commands.add_parser("run", help="run every stage of a week in one Spark process")
    parser.add_argument("--week", required=True, type=parse_week)
    parser.set_defaults(run=_run)


def _simulate(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.tools.simulate import (
        OUTCOMES,
        estimates_against_outcomes,
        policy_outcomes,
        simulate,
        weekly_outcomes,
    )

    def simulated(run_week) -> None:
        def timed(week) -> None:
            started = time.perf_counter()
            print(f"week {week} ...", flush=True)
            run_week(week)
            print(f"week {week} built in {time.perf_counter() - started:.0f} s", flush=True)

        simulate(
            config,
            args.week,
            args.weeks,
            args.users,
            args.tracks,
            args.history_weeks,
            args.seed,
            timed,
        )

    if args.airflow:
        from jobs.ops.local_airflow import airflow_env, init_airflow, run_week

        env = airflow_env(config)
        init_airflow(config, env)
        simulated(lambda week: run_week(config, env, week.isoformat()))
    else:
        from jobs.tools import pipeline

        spark = _in_process(config, f"weekly-playlists-simulate-{args.week}")
        try:
            simulated(lambda week: pipeline.run_week(spark, config, week))
        finally:
            spark.stop()
    print("\nhow each week's playlists were received (playlist_feedback):")
    print(f"{'week':<12}" + "".join(f"{name:>10}" for name in OUTCOMES))
    for week, slots, *shares in weekly_outcomes(config):
        print(f"{week!s:<12}{slots:>10,}" + "".join(f"{share:>10.1%}" for share in shares))
    overall = policy_outcomes(config)
    if overall:
        print(
            f"\nover all {len(weekly_outcomes(config))} weeks: {overall['slots']:,} slots, "
            f"{overall['stream_rate']:.1%} streamed, {overall['save_rate']:.1%} saved, "
            f"{overall['skip_rate']:.1%} skipped; {overall['catalog_coverage']:.1%} of the "
            f"catalog served; {overall['cold_start_tracks']:,} cold-start tracks served, "
            f"{overall['cold_start_found'] or 0:.1%} of them found a listener"
        )
    estimates = estimates_against_outcomes(config)
    if estimates:
        print("\nadaptive policy: IPS estimate before each week against what it earned")
        print(f"{'week':<12}{'segment':<10}{'estimate':>10}{'earned':>10}")
        for week, segment, estimate, earned in estimates:
            print(f"{week!s:<12}{segment:<10}{estimate:>10.1%}{earned:>10.1%}")


def _simulate_command(commands) -> None:
    parser = commands.add_parser(
        "simulate",
        help="listeners who react to the published playlists, week after week",
    )
    parser.add_argument("--week", required=True, type=parse_week, help="first week to run")
    parser.add_argument("--weeks", type=int, default=8, help="weeks of reactions after it")
    parser.add_argument("--history-weeks", type=int, default=4, help="events before --week")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tracks", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--airflow", action="store_true", help="run each week through the DAG (airflow dags test)"
    )
    parser.set_defaults(run=_simulate)


def _backfill(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.core.weeks import weeks_between

    try:
        weeks = weeks_between(args.from_week, args.to_week)
    except ValueError as error:
        raise SystemExit(f"backfill: {error}") from None
    if args.airflow:
        _backfill_in_airflow(args)
        return
    from jobs.core.quality import ValidationFailed
    from jobs.tools.pipeline import STAGES, run_week

    spark = _in_process(config, f"weekly-playlists-backfill-{args.from_week}-{args.to_week}")
    started = time.perf_counter()
    try:
        for number, week in enumerate(weeks, start=1):
            print(f"[{number}/{len(weeks)}] week {week}: {len(STAGES)} stages", flush=True)
            try:
                if not run_week(spark, config, week, progress=_print_stage):
                    print(f"week {week} skipped: {SKIPPED}", flush=True)
            except ValidationFailed as failure:
                raise SystemExit(
                    f"week {week} failed validation; weeks before it are published, it and "
                    f"later ones are not. Fix the input, then resume with --from {week}.\n"
                    f"{failure}"
                ) from None
    finally:
        spark.stop()
    print(f"backfilled {len(weeks)} weeks in {time.perf_counter() - started:.0f} s")


def _backfill_command(commands) -> None:
    parser = commands.add_parser(
        "backfill", help="build a range of weeks in order, oldest first (both ends included)"
    )
    parser.add_argument("--from", dest="from_week", required=True, type=parse_week)
    parser.add_argument("--to", dest="to_week", required=True, type=parse_week)
    parser.add_argument(
        "--airflow",
        action="store_true",
        help="create an Airflow backfill instead (`airflow backfill create`; needs the "
        "scheduler of the Airflow this shell points at)",
    )
    parser.add_argument("--max-active-runs", type=int, default=2, help="with --airflow")
    parser.add_argument(
        "--dry-run", action="store_true", help="with --airflow: list the runs, create none"
    )
    parser.set_defaults(run=_backfill)


def _backfill_in_airflow(args: argparse.Namespace) -> None:
    """Hand the range to the Airflow this shell is configured for (its scheduler runs it).

    Airflow's dates are logical dates, the start of a run's data interval: the run that
    publishes week W has logical date W - 7 days (the week of events it closes)."""
    import shutil
    import subprocess
    from datetime import timedelta

    from jobs.ops.local_airflow import DAG_ID

    week = timedelta(days=7)
    command = [
        shutil.which("airflow") or "airflow",
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        (args.from_week - week).isoformat(),
        "--to-date",
        (args.to_week - week).isoformat(),
        "--max-active-runs",
        str(args.max_active_runs),
        "--reprocess-behavior",
        "completed",
        *(["--dry-run"] if args.dry_run else []),
    ]
    print(f"weeks {args.from_week} to {args.to_week}:", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def _evaluate(args: argparse.Namespace, config: PipelineConfig) -> None:
    from datetime import timedelta

    from jobs.core.runlog import stage_record
    from jobs.core.tables import table_path
    from jobs.tools import evaluate
    from jobs.tools.pipeline import run_week

    spark = _in_process(config, f"weekly-playlists-evaluate-{args.week}")
    try:
        if not args.published:
            before = args.week - timedelta(days=7)
            if not (table_path(config, "candidate_pool") / f"week={before}").exists():
                # The week's ranker learns from the week before's pool.
                print(f"building week {before} first: its pool trains week {args.week}'s ranker")
                run_week(spark, config, before)
            run_week(spark, config, args.week)
        with stage_record(config, args.week, f"evaluate_{args.dataset}") as record:
            results = evaluate.run(spark, config, args.week, record["rows"], args.dataset)
    finally:
        spark.stop()
    print(results.pivot(index="metric", columns="method", values="value").round(4).to_string())
    print(f"report: {evaluate.report_path(config, args.week, args.dataset)}")


def _evaluate_command(commands) -> None:
    parser = commands.add_parser(
        "evaluate", help="build week W from the events before it, then score it on week W's"
    )
    parser.add_argument("--week", required=True, type=parse_week)
    parser.add_argument("--dataset", default="generated", help="label in run_metrics")
    parser.add_argument(
        "--published", action="store_true", help="evaluate the already published week as is"
    )
    parser.set_defaults(run=_evaluate)


def _import(args: argparse.Namespace, config: PipelineConfig) -> None:
    from pathlib import Path

    from jobs.sources import adapters

    if args.features is not None and args.dataset != "lastfm":
        raise SystemExit(f"import {args.dataset}: --features is for lastfm only")
    if args.dataset == "spotify-history":
        _import_spotify_history(args, config)
        return
    if args.week is None:
        raise SystemExit(f"import {args.dataset}: --week is required")
    if args.dataset == "lastfm":
        features = None if args.features is None else Path(args.features)
        imported = adapters.import_lastfm_hetrec(
            Path(args.source), config, args.week, seed=args.seed, features_source=features
        )
    else:
        imported = adapters.import_movielens(Path(args.source), config, args.week, seed=args.seed)
    print(
        f"imported {imported.name} into {config.home}: "
        + ", ".join(f"{name} {count:,}" for name, count in imported.counts.items())
    )
    print(f"split: {imported.split}")
    label = args.dataset
    if imported.features is not None:
        print(f"features: {imported.features}")
        label = f"{args.dataset}-{adapters.MUSICOSET}"  # its own rows in run_metrics
    print(f"evaluate with: weekly-playlists evaluate --week {args.week} --dataset {label}")


def _import_command(commands) -> None:
    parser = commands.add_parser(
        "import", help="convert a public dataset into the raw event and catalog layout"
    )
    parser.add_argument("dataset", choices=["movielens", "lastfm", "spotify-history"])
    parser.add_argument("--source", required=True, help="the dataset's folder")
    parser.add_argument(
        "--week",
        type=parse_week,
        default=None,
        help="evaluation week (spotify-history: default the Monday after the last play)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--features",
        default=None,
        help="lastfm: MusicOSet folder whose audio features and genres the matched artists get",
    )
    parser.add_argument(
        "--user",
        default=None,
        help="spotify-history: listener id (default: the export's username, else a hash of "
        "its folder)",
    )
    parser.set_defaults(run=_import)


def _import_spotify_history(args: argparse.Namespace, config: PipelineConfig) -> None:
    from pathlib import Path

    from jobs.sources.spotify_history import import_spotify_history

    imported = import_spotify_history(Path(args.source), config, args.week, args.user)
    print(
        f"imported {imported.name} ({len(imported.files)} files) into {config.home}: "
        + ", ".join(f"{name} {count:,}" for name, count in imported.counts.items())
    )
    print(
        "not imported: "
        + ", ".join(f"{reason} {count:,}" for reason, count in imported.excluded.items())
    )
    print(f"week {imported.eval_week} ({imported.week_rule})")
    print(f"build its playlists with: weekly-playlists run --week {imported.eval_week}")
    if imported.counts["held_out_events"]:
        print(
            f"or score them on its plays: weekly-playlists evaluate --week {imported.eval_week} "
            f"--dataset {imported.name}"
        )


def _summary(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.reporting.summary import print_summary

    print_summary(config, args.week, args.user)


def _summary_command(commands) -> None:
    parser = commands.add_parser("summary", help="print a published week's summary")
    parser.add_argument("--week", required=True, type=parse_week)
    parser.add_argument("--user", default=None, help="listener to show (default: one with both)")
    parser.set_defaults(run=_summary)


def _runs(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.reporting.summary import print_runs

    print_runs(config)


def _runs_command(commands) -> None:
    parser = commands.add_parser("runs", help="list the weeks run: published, stages, GX, NDCG")
    parser.set_defaults(run=_runs)


def _report(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.reporting.report import write_report

    print(write_report(config, args.week))


def _report_command(commands) -> None:
    parser = commands.add_parser("report", help="(re)write a week's self-contained HTML report")
    parser.add_argument("--week", required=True, type=parse_week)
    parser.set_defaults(run=_report)


def _explore(args: argparse.Namespace, config: PipelineConfig) -> None:
    """Serve the explorer in this process's place (Ctrl-C, or a signal to this pid, stops it)."""
    import os

    if args.config:  # the app loads the config itself, from the environment
        os.environ["WP_CONFIG"] = os.path.abspath(args.config)
    print(f"explorer on http://127.0.0.1:{args.port}/ reading {config.warehouse_dir}", flush=True)
    command = streamlit_command(args.port)
    os.execv(command[0], command)


def _explore_command(commands) -> None:
    parser = commands.add_parser(
        "explore", help="browse listeners, tracks and runs in a Streamlit app on 127.0.0.1"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.set_defaults(run=_explore)


def _bench_command(commands) -> None:
    # Listed for --help; its own options are parsed by jobs/tools/bench.py (see the top of main).
    commands.add_parser(
        "bench", help="benchmark against raw implicit and Spark MLlib (bench --help)"
    )


# The sub-commands, in the order --help lists them.
COMMANDS = (
    _generate_command,
    _demo_command,
    _cluster_command,
    _simulate_command,
    _run_command,
    _backfill_command,
    _runs_command,
    _evaluate_command,
    _import_command,
    _bench_command,
    _summary_command,
    _report_command,
    _explore_command,
)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from jobs.tools import bench

        bench.main(argv[1:])
        return
    parser = argparse.ArgumentParser(
        prog="weekly-playlists",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=None, help="TOML config (default: WP_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMANDS:
        add_command(commands)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.run(args, PipelineConfig.load(args.config))


if __name__ == "__main__":
    main()
