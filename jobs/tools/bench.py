"""`make bench`: our pipeline against raw `implicit` and Spark MLlib ALS on the same data.

For each size (total generated events over four weeks) it generates a sample, builds the
playlists of the third week (unmeasured: it ingests the history and leaves the candidate
pool the next week's ranker learns from), then those of the fourth, and measures on the
same matrix:

* ours       - every stage of the fourth week's run, raw-event checks to publishing (one
               process, one SparkSession, `jobs.tools.pipeline.STAGES`) and their sum,
               `ours_end_to_end`;
               then `train_als()` alone, and the ALS scoring alone: the retrieval pass's
               `als` source from the week's factor tables and `played` lists, played tracks
               filtered, its top 30 collected like Spark's (the compared figure) and its
               top `candidates_per_user` computed as the pass does;
* implicit   - the pipeline's own `AlternatingLeastSquares` (`train_als.implicit_als`, the
               same hyper-parameters and threads) fitted raw on the same CSR, without our
               checks, then `recommend` for every user in batches, already-played filtered;
* spark      - Spark MLlib ALS `fit` (same rank, iterations, alpha, regularisation) and
               `recommendForAllUsers(30)`; skipped above `--spark-max-events` (it is the
               slow one: ~16 s per iteration at 5M non-zeros on 2 cores).

Wall time, the peak memory (PSS) of the whole process tree (Python, the Spark JVM and its
Python workers), the peak bytes of Spark's scratch files (`scratch_dir`) and NDCG@30
against the tracks first played in the fourth week.
The last line is machine-readable (ratios at the largest size where every method ran).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
import psutil

from jobs.core.config import PipelineConfig
from jobs.core.weeks import parse_week

EVENTS_PER_USER = 240  # the generator makes ~60 plays per listener-week; four weeks
K = 30


class Peaks:
    """Samples, every second and once at the end, the proportional set size (PSS) of this
    process and all its children (the Spark JVM and its Python workers) and the bytes under
    `scratch` (Spark's shuffle and spill files); `peak_gib` and `scratch_gib` are the
    largest seen. PSS, not RSS: summed RSS counts shared and file-backed pages once per
    process, and read 24.4 GiB on this 23.4 GiB machine at 50M with nothing killed. Not
    more often: the kernel walks a process's page tables for its PSS, and every 0.2 s that
    cost the 1M bench 90 s of system time."""

    def __init__(self, scratch: Path) -> None:
        self.peak_gib = 0.0
        self.scratch_gib = 0.0
        self._scratch = scratch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while True:
            stopping = self._stop.is_set()
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak_gib = max(self.peak_gib, total / 2**30)
            self.scratch_gib = max(self.scratch_gib, _folder_bytes(self._scratch) / 2**30)
            if stopping:
                return
            self._stop.wait(1.0)

    def __enter__(self) -> "Peaks":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder`; files Spark deletes while it is walked count 0."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total


@contextmanager
def measured(results: dict, name: str, scratch: Path) -> Iterator[None]:
    started = time.perf_counter()
    with Peaks(scratch) as peaks:
        yield
    results[name] = {
        "seconds": time.perf_counter() - started,
        "peak_gib": peaks.peak_gib,
        "scratch_gib": peaks.scratch_gib,
    }


def sample_size(events: int) -> tuple[int, int]:
    users = max(500, events // EVENTS_PER_USER)
    return users, int(np.clip(users * 2, 5_000, 100_000))


def bench_size(
    events: int,
    root: Path,
    data_week: date,
    spark_max_events: int,
    shuffle_partitions: int | None = None,
    config_file: str | None = None,
) -> dict:
    """Generate `events`, run every method, return timings, memory and NDCG per method."""
    from jobs.core.spark import spark_session
    from jobs.core.tables import read_table, read_week, table_path
    from jobs.domain.history import played_tracks
    from jobs.domain.matrix import to_user_items
    from jobs.domain.metrics import artist_diversity, ndcg_at_k
    from jobs.sources.sample.world import generate
    from jobs.stages import train_als
    from jobs.tools.evaluate import popularity_recs, week_truth
    from jobs.tools.pipeline import STAGES
    from schemas import catalog
    from schemas import events as events_schema
    from schemas import interactions as interactions_schema

    config = PipelineConfig.load(config_file, env={"WP_HOME": str(root / f"events-{events}")})
    config = replace(config, hive_catalog=False, spark_driver_memory="10g")
    if shuffle_partitions:
        config = replace(config, shuffle_partitions=shuffle_partitions)
    users, tracks = sample_size(events)
    results: dict = {"events": events, "users": users, "tracks": tracks}
    started = time.perf_counter()
    generated = generate(config, data_week + timedelta(days=7), users, tracks, 4, seed=42)
    results["generated_events"] = generated["events"]
    print(
        f"\n== {generated['events']:,} events ({users:,} users, {tracks:,} tracks), "
        f"generated in {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    spark = spark_session(config, f"weekly-playlists-bench-{events}")
    try:
        # The week before first, as a weekly schedule would have run it: it ingests the
        # history and leaves the candidate pool that the measured week's ranker learns
        # from (with the events of the week in between as labels).
        started = time.perf_counter()
        for _, body in STAGES:
            body(spark, config, data_week - timedelta(days=7), {})
        results["warmup_week_seconds"] = time.perf_counter() - started
        print(f"  the week before: {results['warmup_week_seconds']:.0f} s", flush=True)
        rows: dict = {}
        for stage, body in STAGES:
            with measured(results, f"ours_{stage}", config.scratch_dir):
                body(spark, config, data_week, rows)
            # A large size runs for an hour: show where it is.
            done = results[f"ours_{stage}"]
            print(
                f"  {stage}: {done['seconds']:.1f} s, peak {done['peak_gib']:.2f} GiB, "
                f"scratch {done['scratch_gib']:.2f} GiB",
                flush=True,
            )
        stages = [results[f"ours_{stage}"] for stage, _ in STAGES]
        results["ours_end_to_end"] = {
            "seconds": sum(stage["seconds"] for stage in stages),
            "peak_gib": max(stage["peak_gib"] for stage in stages),
            "scratch_gib": max(stage["scratch_gib"] for stage in stages),
        }
        results["rows"] = dict(rows)
        _our_scoring(spark, config, data_week, results)

        tracks_df = spark.read.schema(catalog.TRACKS).parquet(str(config.catalog_dir / "tracks"))
        played = played_tracks(
            read_table(spark, config, "events", events_schema.EVENTS), data_week
        ).cache()
        truth = week_truth(spark, config, tracks_df, played, data_week)

        track_artists = tracks_df.select("track_id", "artist_id").toPandas()

        def ndcg(recs: pd.DataFrame) -> float:
            return ndcg_at_k(truth, recs, K)

        published = table_path(config, "playlists") / f"week={data_week}"
        ours = pd.read_parquet(published / "playlist_type=discover_weekly")
        ours = ours.rename(columns={"position": "rank"})
        results["ndcg_ours"] = ndcg(ours)
        results["artists_ours"] = artist_diversity(ours, K, track_artists)
        interactions_df = read_week(
            spark, config, "interactions", interactions_schema.SCHEMA, data_week
        )
        results["ndcg_popularity"] = ndcg(
            popularity_recs(interactions_df, played, data_week, K).toPandas()
        )

        user_items = to_user_items(
            interactions_df.select("user_id", "track_id", "confidence").toArrow()
        )
        results["nonzeros"] = int(user_items.matrix.nnz)
        with measured(results, "ours_train_als_call", config.scratch_dir):
            train_als.train_als(user_items, config.als)
        implicit_recs = _raw_implicit(user_items, config, results)
        results["ndcg_implicit"] = ndcg(implicit_recs)
        results["artists_implicit"] = artist_diversity(implicit_recs, K, track_artists)
        if events <= spark_max_events:
            results["ndcg_spark"] = ndcg(_spark_mllib(user_items, config, spark, results))
    finally:
        spark.stop()
    return results


def _our_scoring(spark, config: PipelineConfig, week: date, results: dict) -> None:
    """The retrieval pass's ALS scoring alone, from the tables the playlists stage reads:
    the week's factors and `played` lists (not cached)."""
    from jobs.core.tables import read_week
    from jobs.domain.retrieval import Sources, flat_candidates, listener_inputs, retrieve
    from jobs.domain.scoring import played_masks
    from jobs.domain.source_models import factor_source
    from schemas import model, played

    listeners = listener_inputs(
        read_week(spark, config, "user_factors", model.USER_FACTORS, week),
        None,
        played_masks(read_week(spark, config, "played", played.PLAYED, week)),
        None,
        None,
    )
    track_factors = read_week(spark, config, "track_factors", model.TRACK_FACTORS, week)

    def scored(k: int):
        return flat_candidates(retrieve(listeners, Sources(k=k, als=factor_source(track_factors))))

    with measured(results, "ours_scoring", config.scratch_dir):
        scored(K).toPandas()
    with measured(
        results, f"ours_scoring_top{config.playlists.candidates_per_user}", config.scratch_dir
    ):
        scored(config.playlists.candidates_per_user).write.format("noop").mode("overwrite").save()


def _raw_implicit(user_items, config: PipelineConfig, results: dict) -> pd.DataFrame:
    from threadpoolctl import threadpool_limits

    from jobs.stages.train_als import implicit_als
    from jobs.tools.evaluate import implicit_recommend_all

    with threadpool_limits(1, "blas"):
        model = implicit_als(config.als)  # the pipeline's own construction, fitted raw
        with measured(results, "implicit_fit", config.scratch_dir):
            model.fit(user_items.matrix, show_progress=False)
        with measured(results, "implicit_recommend", config.scratch_dir):
            return implicit_recommend_all(model, user_items, K)


def _spark_mllib(user_items, config: PipelineConfig, spark, results: dict) -> pd.DataFrame:
    from jobs.stages.train_als import fit_spark_model
    from jobs.tools.evaluate import spark_recommend_all

    with measured(results, "spark_fit", config.scratch_dir):
        model = fit_spark_model(user_items, config.als, spark, config.checkpoint_dir / "bench")
    with measured(results, "spark_recommend", config.scratch_dir):
        return spark_recommend_all(model, user_items, K)


def report(all_results: list[dict]) -> str:
    lines = [
        f"{'events':>12} {'method/stage':<26} {'seconds':>9} {'peak GiB':>9} {'scratch GiB':>12}"
    ]
    for results in all_results:
        for name, value in results.items():
            if isinstance(value, dict) and "seconds" in value:
                lines.append(
                    f"{results['generated_events']:>12,} {name:<26} "
                    f"{value['seconds']:>9.1f} {value['peak_gib']:>9.2f} "
                    f"{value['scratch_gib']:>12.2f}"
                )
        ndcgs = {k[5:]: v for k, v in results.items() if k.startswith("ndcg_")}
        lines.append(
            f"{results['generated_events']:>12,} NDCG@30 "
            + "  ".join(f"{name} {value:.4f}" for name, value in ndcgs.items())
        )
        artists = {k[8:]: v for k, v in results.items() if k.startswith("artists_")}
        lines.append(
            f"{results['generated_events']:>12,} artists per track "
            + "  ".join(f"{name} {value:.3f}" for name, value in artists.items())
        )
    largest = all_results[-1]
    compared = [r for r in all_results if "ndcg_spark" in r] or [largest]
    spark_row = compared[-1]

    def ratio(numerator: float | None, denominator: float | None) -> str:
        return "nan" if not numerator or not denominator else f"{numerator / denominator:.2f}"

    def seconds(results: dict, name: str) -> float | None:
        return results.get(name, {}).get("seconds")

    figures = {
        "als_vs_implicit": ratio(
            seconds(largest, "ours_train_als_call"), seconds(largest, "implicit_fit")
        ),
        "scoring_vs_spark": ratio(
            seconds(spark_row, "spark_recommend"), seconds(spark_row, "ours_scoring")
        ),
        "train_vs_spark": ratio(
            seconds(spark_row, "spark_fit"), seconds(spark_row, "ours_train_als_call")
        ),
        "ndcg_vs_spark": ratio(spark_row.get("ndcg_ours"), spark_row.get("ndcg_spark")),
        "ndcg_vs_pop": ratio(largest.get("ndcg_ours"), largest.get("ndcg_popularity")),
        "events": str(largest["generated_events"]),
        "ndcg_vs_implicit": ratio(largest.get("ndcg_ours"), largest.get("ndcg_implicit")),
        "artists_per_track": f"{largest.get('artists_ours', float('nan')):.3f}",
        "e2e_seconds": f"{seconds(largest, 'ours_end_to_end'):.0f}",
    }
    lines.append("bench: " + " ".join(f"{name}={value}" for name, value in figures.items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="weekly-playlists bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes", default="1000000,10000000,50000000", help="comma-separated total event counts"
    )
    parser.add_argument("--spark-max-events", type=int, default=10_000_000)
    parser.add_argument(
        "--shuffle-partitions",
        type=int,
        default=None,
        help="the config's shuffle_partitions for this run (default: the config's)",
    )
    parser.add_argument("--root", default=None, help="working folder (default: WP_HOME/bench)")
    parser.add_argument(
        "--config",
        default=None,
        help="a TOML file of settings to measure instead of the defaults (WP_CONFIG's format; "
        "leave locations out: each size has its own folder under the root)",
    )
    parser.add_argument(
        "--week",
        type=parse_week,
        default=parse_week("2026-11-16"),
        help="the week whose playlists are built (events: 3 weeks before, 1 after)",
    )
    args = parser.parse_args(argv)
    root = Path(args.root) if args.root else PipelineConfig.load().home / "bench"
    all_results = []
    for size in sorted(int(s) for s in args.sizes.split(",")):
        all_results.append(
            bench_size(
                size,
                root,
                args.week,
                args.spark_max_events,
                args.shuffle_partitions,
                args.config,
            )
        )
        print(report(all_results).rsplit("\n", 1)[0], flush=True)
    print(report(all_results))


if __name__ == "__main__":
    main()
