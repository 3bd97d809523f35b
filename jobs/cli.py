"""`weekly-playlists`: the project's command line.

weekly-playlists generate --week 2026-11-23 --users 3000 --tracks 6000 --weeks 4
weekly-playlists demo     --week 2026-11-23      # generate, run the DAG, print summary
weekly-playlists summary  --week 2026-11-23
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Sequence

from jobs.config import PipelineConfig
from jobs.weeks import parse_week


def _add_sample_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--tracks", type=int, default=6000)
    parser.add_argument("--weeks", type=int, default=4, help="weeks of events before --week")
    parser.add_argument("--seed", type=int, default=42)


def _generate(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.sample_data import generate

    started = time.perf_counter()
    counts = generate(config, args.week, args.users, args.tracks, args.weeks, args.seed)
    print(
        f"sample data in {config.home} ({time.perf_counter() - started:.1f} s): "
        + ", ".join(f"{name} {count:,}" for name, count in counts.items())
    )


def _demo(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.local_airflow import airflow_env, init_airflow, run_week
    from jobs.summary import print_summary

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


def _in_process(config: PipelineConfig, app_name: str):
    from jobs.spark import spark_session

    return spark_session(config, app_name)


def _run(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.pipeline import run_week
    from jobs.summary import print_summary

    spark = _in_process(config, f"weekly-playlists-{args.week}")
    try:
        run_week(spark, config, args.week)
    finally:
        spark.stop()
    print_summary(config, args.week)


def _evaluate(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs import evaluate
    from jobs.pipeline import run_week
    from jobs.runlog import stage_record

    spark = _in_process(config, f"weekly-playlists-evaluate-{args.week}")
    try:
        if not args.published:
            run_week(spark, config, args.week)
        with stage_record(config, args.week, f"evaluate_{args.dataset}") as record:
            results = evaluate.run(spark, config, args.week, record["rows"], args.dataset)
    finally:
        spark.stop()
    print(results.pivot(index="metric", columns="method", values="value").round(4).to_string())
    print(f"report: {evaluate.report_path(config, args.week, args.dataset)}")


def _import(args: argparse.Namespace, config: PipelineConfig) -> None:
    from pathlib import Path

    from jobs import adapters

    if args.dataset == "spotify-history":
        _import_spotify_history(args, config)
        return
    if args.week is None:
        raise SystemExit(f"import {args.dataset}: --week is required")
    importer = {"movielens": adapters.import_movielens, "lastfm": adapters.import_lastfm_hetrec}
    imported = importer[args.dataset](Path(args.source), config, args.week, seed=args.seed)
    print(
        f"imported {imported.name} into {config.home}: "
        + ", ".join(f"{name} {count:,}" for name, count in imported.counts.items())
    )
    print(f"split: {imported.split}")
    print(f"evaluate with: weekly-playlists evaluate --week {args.week} --dataset {args.dataset}")


def _import_spotify_history(args: argparse.Namespace, config: PipelineConfig) -> None:
    from pathlib import Path

    from jobs.spotify_history import import_spotify_history

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
    from jobs.summary import print_summary

    print_summary(config, args.week, args.user)


def _report(args: argparse.Namespace, config: PipelineConfig) -> None:
    from jobs.report import write_report

    print(write_report(config, args.week))


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from jobs import bench

        bench.main(argv[1:])
        return
    parser = argparse.ArgumentParser(
        prog="weekly-playlists",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=None, help="TOML config (default: WP_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a synthetic sample dataset")
    generate.add_argument("--week", required=True, type=parse_week)
    _add_sample_args(generate)
    generate.set_defaults(run=_generate)

    demo = commands.add_parser("demo", help="sample data + one DAG run + summary")
    demo.add_argument("--week", required=True, type=parse_week)
    demo.add_argument("--spark-master", default="local[*]")
    _add_sample_args(demo)
    demo.set_defaults(run=_demo)

    run = commands.add_parser("run", help="run every stage of a week in one Spark process")
    run.add_argument("--week", required=True, type=parse_week)
    run.set_defaults(run=_run)

    evaluate = commands.add_parser(
        "evaluate", help="build week W from the events before it, then score it on week W's"
    )
    evaluate.add_argument("--week", required=True, type=parse_week)
    evaluate.add_argument("--dataset", default="generated", help="label in run_metrics")
    evaluate.add_argument(
        "--published", action="store_true", help="evaluate the already published week as is"
    )
    evaluate.set_defaults(run=_evaluate)

    importer = commands.add_parser(
        "import", help="convert a public dataset into the raw event and catalog layout"
    )
    importer.add_argument("dataset", choices=["movielens", "lastfm", "spotify-history"])
    importer.add_argument("--source", required=True, help="the dataset's folder")
    importer.add_argument(
        "--week",
        type=parse_week,
        default=None,
        help="evaluation week (spotify-history: default the Monday after the last play)",
    )
    importer.add_argument("--seed", type=int, default=42)
    importer.add_argument(
        "--user",
        default=None,
        help="spotify-history: listener id (default: the export's username, else a hash of "
        "its folder)",
    )
    importer.set_defaults(run=_import)

    # Listed for --help; its own options are parsed by jobs/bench.py (see the top of main).
    commands.add_parser(
        "bench", help="benchmark against raw implicit and Spark MLlib (bench --help)"
    )

    summary = commands.add_parser("summary", help="print a published week's summary")
    summary.add_argument("--week", required=True, type=parse_week)
    summary.add_argument("--user", default=None, help="listener to show (default: one with both)")
    summary.set_defaults(run=_summary)

    report = commands.add_parser("report", help="(re)write a week's self-contained HTML report")
    report.add_argument("--week", required=True, type=parse_week)
    report.set_defaults(run=_report)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.run(args, PipelineConfig.load(args.config))


if __name__ == "__main__":
    main()
