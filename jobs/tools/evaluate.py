"""Offline evaluation of a published week: does our Discover Weekly predict what listeners
went on to discover, better than the obvious alternatives?

Time split: everything is trained on events before week W; the truth is the set of tracks
each listener played (not skipped early) in [W, W+7) and had never played before. Compared
on the same listeners, top 30 each:

* `weekly_playlists` - the published Discover Weekly of week W (our pipeline);
* `without_exploration` / `with_reranker` - ours rebuilt from the same week's tables with
                       the audio sources off, and with the likeability re-ranker toggled;
* `popularity`       - the most-listened tracks of the look-back window, unplayed ones;
* `implicit_defaults`- `implicit` ALS with library defaults on raw play counts, `recommend`
                       with its already-liked filter;
* `spark_als`        - Spark MLlib ALS (same rank, iterations, confidence as ours) and
                       `recommendForAllUsers(30)`, which cannot filter played tracks.

Metrics land in the `run_metrics` table and a self-contained HTML report in the week's
run folder.

    spark-submit jobs/tools/evaluate.py --week 2026-11-16 [--dataset generated]
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import logging
import time
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig
from jobs.core.entry import run_job
from jobs.core.runlog import run_dir
from jobs.core.tables import read_raw_days, read_table, read_week, table_path, write_week
from jobs.core.weeks import days_before
from jobs.domain.history import played_tracks
from jobs.domain.matrix import UserItems, to_user_items
from jobs.domain.metrics import ranking_report
from jobs.domain.retrieval import Sources, flat_candidates, listener_inputs, retrieve
from jobs.domain.rules import read_controls
from jobs.domain.scoring import masked_by_user
from jobs.domain.source_models import popularity_source, positive_user_items
from jobs.stages import playlists as playlists_job
from jobs.stages import rerank
from jobs.stages.ingest import parse_events
from jobs.stages.train_als import fit_spark_model
from schemas import catalog, events, interactions, metrics, playlists
from schemas import raw_events as raw

log = logging.getLogger(__name__)

K = 30
OURS = "weekly_playlists"


def discovery_truth(week_events: DataFrame, played_before: DataFrame, skip_ms: int) -> DataFrame:
    """(user_id, track_id) first discovered in the week: listened to past `skip_ms`, and
    never played before the week."""
    return (
        week_events.where((F.col("event_type") == raw.PLAY) & (F.col("ms_played") >= skip_ms))
        .select("user_id", "track_id")
        .distinct()
        .join(played_before, ["user_id", "track_id"], "left_anti")
    )


def week_truth(
    spark: SparkSession, config: PipelineConfig, tracks_df: DataFrame, played: DataFrame, week: date
) -> pd.DataFrame:
    """`discovery_truth` of `week`, from its raw days (parsed as ingest parses them) and the
    tracks each listener `played` before it: what evaluations score a week's playlists on."""
    next_week = week + timedelta(days=7)
    week_events, _ = parse_events(
        read_raw_days(spark, config.raw_events_dir, days_before(next_week, 7)),
        tracks_df,
        week,
        next_week,
    )
    return discovery_truth(week_events, played, config.interactions.skip_ms).toPandas()


def popularity_recs(interactions_df: DataFrame, played: DataFrame, week: date, k: int):
    """Top-k by listeners in the look-back window, unplayed, for every listener with history."""
    cold = interactions_df.select("user_id").distinct()  # popularity serves whom it is told
    listeners = listener_inputs(None, interactions_df, masked_by_user(played), cold, None)
    sources = Sources(k=k, popularity=popularity_source(positive_user_items(interactions_df)))
    return flat_candidates(retrieve(listeners, sources)).select("user_id", "track_id", "rank")


def implicit_recommend_all(model, user_items: UserItems, k: int, batch: int = 4096):
    """implicit's `recommend` for every row of `user_items` in batches, already-played
    filtered (each batch gets exactly its own CSR rows, as implicit requires)."""
    parts = []
    for start in range(0, user_items.shape[0], batch):
        users = np.arange(start, min(start + batch, user_items.shape[0]))
        ids, _ = model.recommend(users, user_items.matrix[users], N=k)
        parts.append((np.repeat(users, ids.shape[1]), ids.reshape(-1)))
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    valid = cols >= 0  # implicit pads short lists with -1
    return pd.DataFrame(
        {
            "user_id": user_items.user_ids[rows[valid]],
            "track_id": user_items.track_ids[cols[valid]],
            "rank": np.tile(np.arange(1, k + 1), len(rows) // k)[valid],
        }
    )


def implicit_default_recs(plays: UserItems, k: int, seed: int) -> pd.DataFrame:
    """`implicit` as its README shows it: default hyper-parameters, raw play counts."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(random_state=seed)
        model.fit(plays.matrix, show_progress=False)
        return implicit_recommend_all(model, plays, k)


def spark_recommend_all(model, user_items: UserItems, k: int) -> pd.DataFrame:
    """Spark MLlib's `recommendForAllUsers(k)` (no already-played filter) mapped to our ids."""
    recommended = (
        model.recommendForAllUsers(k)
        .select("user", F.posexplode("recommendations").alias("position", "rec"))
        .select("user", (F.col("position") + 1).alias("rank"), F.col("rec.item").alias("item"))
        .toPandas()
    )
    return pd.DataFrame(
        {
            "user_id": user_items.user_ids[recommended["user"].to_numpy()],
            "track_id": user_items.track_ids[recommended["item"].to_numpy()],
            "rank": recommended["rank"].to_numpy(),
        }
    )


def spark_als_recs(
    confidences: UserItems, spark: SparkSession, config: PipelineConfig, week: date, k: int
) -> pd.DataFrame:
    model = fit_spark_model(
        confidences, config.als, spark, config.checkpoint_dir / f"evaluate-{week}"
    )
    return spark_recommend_all(model, confidences, k)


def discover_weekly_variants(
    spark: SparkSession, config: PipelineConfig, week: date
) -> dict[str, PipelineConfig]:
    """Our Discover Weekly built other ways from the same week's tables, to show what each
    part buys: without the audio sources (no exploration slots, no content candidates), and
    with the likeability re-ranker toggled (trained here for the week when it is off)."""
    settings = config.playlists
    no_audio = {**settings.source_weights, "content": 0.0}
    variants = {
        "without_exploration": replace(
            config,
            playlists=replace(
                settings,
                exploration_share=0.0,
                source_weights=no_audio,
                new_listener_weights={**settings.new_listener_weights, "content": 0.0},
            ),
        )
    }
    toggled = replace(
        config, reranker=replace(config.reranker, enabled=not config.reranker.enabled)
    )
    if toggled.reranker.enabled:
        try:
            rerank.run(spark, toggled, week, {})  # the week's likeability, for this variant
        except rerank.NoSkipSignal as missing:
            log.warning("no with_reranker variant for week %s: %s", week, missing)
            return variants
    variants["with_reranker" if toggled.reranker.enabled else "without_reranker"] = toggled
    return variants


def discover_weekly_recs(spark: SparkSession, config: PipelineConfig, week: date) -> pd.DataFrame:
    built = playlists_job.discover_weekly(spark, config, week, read_controls(spark, config, week))
    return built.select("user_id", "track_id", F.col("position").alias("rank")).toPandas()


def evaluate_week(spark: SparkSession, config: PipelineConfig, week: date) -> pd.DataFrame:
    """Metrics per method for `week` as a long frame (method, metric, value)."""
    tracks_df = spark.read.schema(catalog.TRACKS).parquet(str(config.catalog_dir / "tracks"))
    history = read_table(spark, config, "events", events.EVENTS)
    played = played_tracks(history, week).cache()
    truth = week_truth(spark, config, tracks_df, played, week)
    interactions_df = read_week(spark, config, "interactions", interactions.SCHEMA, week)
    pairs = interactions_df.select("user_id", "track_id", "confidence", "plays").toArrow()

    recs: dict[str, pd.DataFrame] = {}
    seconds: dict[str, float] = {}

    def timed(method: str, compute) -> None:
        started = time.perf_counter()
        recs[method] = compute()
        seconds[method] = time.perf_counter() - started
        log.info("%s: %d recommendations in %.1f s", method, len(recs[method]), seconds[method])

    timed(
        OURS,
        lambda: (
            read_table(spark, config, "playlists", playlists.SCHEMA)
            .where(
                (F.col("week") == F.lit(week))
                & (F.col("playlist_type") == playlists.DISCOVER_WEEKLY)
            )
            .select("user_id", "track_id", F.col("position").alias("rank"))
            .toPandas()
        ),
    )
    for variant, variant_config in discover_weekly_variants(spark, config, week).items():
        timed(variant, partial(discover_weekly_recs, spark, variant_config, week))
    timed("popularity", lambda: popularity_recs(interactions_df, played, week, K).toPandas())
    play_counts = pairs.filter(pa.compute.greater(pairs.column("plays"), 0))
    timed(
        "implicit_defaults",
        partial(implicit_default_recs, to_user_items(play_counts, "plays"), K, config.als.seed),
    )
    timed("spark_als", partial(spark_als_recs, to_user_items(pairs), spark, config, week, K))

    catalog_df = tracks_df.select("track_id", "artist_id").toPandas()
    played_counts = pairs.group_by("track_id").aggregate([("plays", "sum")]).to_pandas()
    played_counts.columns = ["track_id", "plays"]
    # Percentiles rank against the whole catalog: never-played tracks count as 0 plays.
    popularity = catalog_df[["track_id"]].merge(played_counts, on="track_id", how="left")
    popularity["plays"] = popularity["plays"].fillna(0)
    rows = []
    for method, method_recs in recs.items():
        report = ranking_report(truth, method_recs, K, len(catalog_df), catalog_df, popularity)
        report["seconds"] = seconds[method]
        rows += [{"method": method, "metric": m, "value": float(v)} for m, v in report.items()]
    return pd.DataFrame(rows)


def html_report(results: pd.DataFrame, dataset: str, week: date) -> str:
    """Self-contained HTML: a table and one bar chart per metric (PNG, inline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = results.pivot(index="metric", columns="method", values="value")
    charts = []
    for metric, values in table.iterrows():
        figure, axis = plt.subplots(figsize=(5, 2.6))
        axis.barh(values.index, values.to_numpy(), color="#1db954")
        axis.set_title(metric)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
        plt.close(figure)
        encoded = base64.b64encode(buffer.getvalue()).decode()
        charts.append(f'<img alt="{html.escape(metric)}" src="data:image/png;base64,{encoded}">')
    return (
        f"<!doctype html><meta charset='utf-8'><title>Evaluation {week} ({dataset})</title>"
        f"<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 10px;"
        f"text-align:right}}img{{margin:6px}}</style>"
        f"<h1>Discover Weekly, week {week}: offline evaluation ({html.escape(dataset)})</h1>"
        f"<p>Top {K} per listener vs. tracks first played in the week after. "
        f"See jobs/tools/evaluate.py for each method.</p>"
        f"{table.to_html(float_format=lambda v: f'{v:.4f}')}"
        f"<div>{''.join(charts)}</div>"
    )


def report_path(config: PipelineConfig, week: date, dataset: str) -> Path:
    return run_dir(config, week) / f"evaluation-{dataset}.html"


def run(
    spark: SparkSession, config: PipelineConfig, week: date, rows: dict, dataset: str
) -> pd.DataFrame:
    results = evaluate_week(spark, config, week)
    results_df = spark.createDataFrame(
        results.assign(dataset=dataset, week=week)[[f.name for f in metrics.SCHEMA.fields]],
        schema=metrics.SCHEMA,
    )
    write_week(results_df, table_path(config, "run_metrics") / f"dataset={dataset}", week)
    report = report_path(config, week, dataset)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(html_report(results, dataset, week))
    rows["run_metrics"] = len(results)
    log.info("report: %s", report)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--dataset", default="generated")
    args, rest = parser.parse_known_args(argv)
    run_job("evaluate", rest, partial(run, dataset=args.dataset), "Evaluate a published week.")


if __name__ == "__main__":
    main()
