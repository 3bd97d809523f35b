"""The likeability re-ranker: a small dense network predicting whether a listener plays a
track to the end or skips it early, trained each week and applied to the week's candidates.

Inputs per (listener, track), 2 x audio features + 1 numbers:

* the listener's taste profile (`taste_profiles.profile`, scaled audio features),
* the track's scaled audio features (`track_clusters.features`),
* the ALS score u . v (`user_factors` x `track_factors`).

The network is scikit-learn's `MLPClassifier` (ReLU hidden layers, a logistic output,
Adam, log-loss, i.e. binary cross-entropy) behind a `StandardScaler`, fitted on the driver.
It writes `likeability` (P(completed play) per candidate) and one `reranker_metrics` row
(accuracy and ROC AUC on the training plays and on held-out listeners). Off by default
(`reranker.enabled`): docs/quality.md says why; `evaluate` measures it on your data.

Labels (`play_labels`), for the plays of the 7 days before the week:

* 1, completed: not ended by the listener (not `skipped`, `reason_end` not fwdbtn/backbtn)
  and `reason_end` is trackdone, or, where the source logs no `reason_end`, it lasted at
  least `skip_ms`;
* 0, early skip: under `skip_ms` and ended by the listener (`skipped`, fwdbtn or backbtn),
  or under `skip_ms` with no `reason_end` logged (what `jobs.stages.interactions` counts as a skip);
* no label (left out): late skips (skipped after `skip_ms`: the listener heard a good part
  first) and plays cut by the session (endplay, logout, remote: the app stopped, the
  listener did not judge the track).

Leakage: the week's profiles and ALS factors are computed from a look-back window that
ends where the week starts, so it holds exactly the plays labelled here: the ALS score of a
completed play is high because that play was in the matrix. A network fitted on them learns
an in-sample score it never sees on candidates (unplayed tracks), and its validation
figures flatter it. `run` therefore describes the training plays with the profiles and
factors of the week before (their window ends where those plays begin), as serving does:
week W's tables describe candidates for plays after W. Only when those partitions are
missing (the first week) does it fall back to the week's own, logs a warning and records
which week it used (`reranker_metrics.features_week`).

    spark-submit jobs/stages/rerank.py --week 2026-11-23
"""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig, RerankerConfig
from jobs.core.entry import run_job
from jobs.core.quality import check_output
from jobs.core.tables import (
    MissingTable,
    read_table,
    read_week,
    table_path,
    with_schema,
    write_week,
)
from jobs.domain.retrieval import flat_candidates, retrieve
from jobs.domain.source_models import positive_user_items, profiles_frame, week_retrieval
from jobs.domain.taste import taste_profiles, track_space
from schemas import events, interactions, model
from schemas import raw_events as raw
from schemas import rerank as schema
from schemas.clusters import TRACK_CLUSTERS

log = logging.getLogger(__name__)

COMPLETED, EARLY_SKIP = 1, 0
TRACKDONE = "trackdone"
LISTENER_ENDS = ("fwdbtn", "backbtn")  # the listener moved on; other ends are the session's
SCORED_DDL = "user_id string, track_id string, likeability float, week date"
# Listeners are split on a hash in [0, SPLIT_BUCKETS): validation_share of the buckets.
SPLIT_BUCKETS = 10_000


class NoSkipSignal(ValueError):
    """Nothing to learn likeability from: the plays hold one label only (a source without
    skips, such as Last.fm scrobbles), or none has features (a catalog without audio
    features has no taste profiles)."""


def play_labels(events_df: DataFrame, week: date, skip_ms: int) -> DataFrame:
    """(user_id, track_id, label) for every play of the 7 days before `week`: label 1
    (completed), 0 (early skip) or null (neither), as defined in the module docstring."""
    reason = F.col("reason_end")
    by_listener = F.col("skipped") | F.coalesce(reason.isin(*LISTENER_ENDS), F.lit(False))
    long_enough = F.col("ms_played") >= skip_ms
    completed = ~by_listener & (
        F.coalesce(reason == TRACKDONE, F.lit(False)) | (reason.isNull() & long_enough)
    )
    early_skip = ~long_enough & (by_listener | reason.isNull())
    return (
        events_df.where(
            (F.col("date") >= F.lit(week - timedelta(days=7))) & (F.col("date") < F.lit(week))
        )
        .where(F.col("event_type") == raw.PLAY)
        .select(
            "user_id",
            "track_id",
            F.when(completed, COMPLETED).when(early_skip, EARLY_SKIP).alias("label"),
        )
    )


def _als_score(user: str, track: str) -> Column:
    """u . v of two equal-length factor arrays, summed in double precision."""
    return F.aggregate(
        F.zip_with(user, track, lambda u, v: u * v), F.lit(0.0), lambda total, x: total + x
    )


def with_features(
    pairs: DataFrame,
    profiles: DataFrame,
    track_clusters: DataFrame,
    user_factors: DataFrame,
    track_factors: DataFrame,
) -> DataFrame:
    """`pairs` (user_id, track_id, ...) plus `features`: profile ++ track features ++
    [u . v], as doubles. Inner joins: a pair lacking a profile, track features or either
    factor vector has no row."""
    users = profiles.select("user_id", "profile").join(
        user_factors.select("user_id", F.col("factors").alias("_u")), "user_id"
    )
    tracks = track_clusters.select("track_id", F.col("features").alias("_audio")).join(
        track_factors.select("track_id", F.col("factors").alias("_v")), "track_id"
    )
    features = F.concat("profile", "_audio", F.array(_als_score("_u", "_v")))
    return (
        pairs.join(users, "user_id")
        .join(tracks, "track_id")
        .withColumn("features", features)
        .drop("profile", "_audio", "_u", "_v")
    )


def training_examples(
    events_df: DataFrame,
    profiles: DataFrame,
    track_clusters: DataFrame,
    user_factors: DataFrame,
    track_factors: DataFrame,
    week: date,
    skip_ms: int,
) -> DataFrame:
    """(user_id, track_id, label, features): one row per labelled play of the 7 days
    before `week` whose listener and track have features (see `with_features`). A track
    played several times gives several rows, each with its own label.

    Pass tables from before those plays (see the module docstring on leakage)."""
    labelled = play_labels(events_df, week, skip_ms).where(F.col("label").isNotNull())
    return with_features(labelled, profiles, track_clusters, user_factors, track_factors).select(
        "user_id", "track_id", "label", "features"
    )


def listener_split(user_ids: pd.Series, share: float, seed: int) -> np.ndarray:
    """True for the rows of held-out listeners: a seeded hash of the user id puts about
    `share` of the listeners, with all their rows, on the validation side."""
    hash_key = f"{seed:016d}"[-16:]  # pandas wants exactly 16 characters
    hashed = pd.util.hash_pandas_object(user_ids, index=False, hash_key=hash_key).to_numpy()
    return hashed % SPLIT_BUCKETS < round(share * SPLIT_BUCKETS)


def _matrix(features: pd.Series) -> np.ndarray:
    """An object column of equal-length arrays as a (rows x features) float matrix."""
    return np.stack(features.to_numpy()).astype(np.float64)


def _accuracy_and_auc(labels: np.ndarray, completed: np.ndarray) -> tuple[float | None, ...]:
    """(accuracy at 0.5, ROC AUC) of P(completed); None where undefined (no rows; AUC also
    when only one class is present)."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    if labels.size == 0:
        return None, None
    accuracy = float(accuracy_score(labels, completed >= 0.5))
    auc = float(roc_auc_score(labels, completed)) if np.unique(labels).size == 2 else None
    return accuracy, auc


def fit_reranker(examples: pd.DataFrame, config: RerankerConfig):
    """Fit StandardScaler + MLPClassifier on `examples` (user_id, track_id, label,
    features) and measure it. Returns (fitted sklearn Pipeline, metrics dict).

    `validation_share` of the listeners are held out whole (`listener_split`), so the
    validation figures are for listeners the network never saw. At most
    `max_training_rows` of the other rows, drawn with `seed`, are trained on. Rows are
    ordered by (user_id, track_id, label) first, so the same examples in any order give
    the same model. `positive_share` is over all examples, before sampling."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if examples.empty:
        raise NoSkipSignal(
            "no labelled play has features (the listener's taste profile and the track's "
            "audio features): does the catalog have audio features?"
        )
    ordered = examples.sort_values(["user_id", "track_id", "label"], ignore_index=True)
    labels = ordered["label"].to_numpy(dtype=np.int64)
    held_out = listener_split(ordered["user_id"], config.validation_share, config.seed)
    train = np.flatnonzero(~held_out)
    if train.size > config.max_training_rows:
        rng = np.random.default_rng(config.seed)
        train = np.sort(rng.choice(train, config.max_training_rows, replace=False))
    validation = np.flatnonzero(held_out)
    if np.unique(labels[train]).size < 2:
        raise NoSkipSignal(
            f"the {train.size} training plays need both completed plays and early skips"
        )
    x = _matrix(ordered["features"])
    network = MLPClassifier(
        hidden_layer_sizes=tuple(config.hidden_layers),
        activation="relu",
        solver="adam",
        max_iter=config.max_iterations,
        random_state=config.seed,
        early_stopping=False,  # the held-out listeners are the validation set
    )
    pipeline = make_pipeline(StandardScaler(), network)
    started = time.perf_counter()
    pipeline.fit(x[train], labels[train])
    train_seconds = time.perf_counter() - started
    log.info(
        "fitted %s on %d plays in %.1f s, %d of at most %d iterations",
        config.hidden_layers,
        train.size,
        train_seconds,
        network.n_iter_,
        config.max_iterations,
    )
    positive = list(pipeline.classes_).index(COMPLETED)
    completed = pipeline.predict_proba(x)[:, positive]
    train_accuracy, train_auc = _accuracy_and_auc(labels[train], completed[train])
    validation_accuracy, validation_auc = _accuracy_and_auc(
        labels[validation], completed[validation]
    )
    metrics = {
        "train_rows": int(train.size),
        "validation_rows": int(validation.size),
        "positive_share": float(labels.mean()),
        "train_accuracy": train_accuracy,
        "validation_accuracy": validation_accuracy,
        "train_auc": train_auc,
        "validation_auc": validation_auc,
        "train_seconds": train_seconds,
    }
    return pipeline, metrics


def batch_scorer(fitted) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The `mapInArrow` function: (user_id, track_id, features, week) -> (user_id,
    track_id, likeability, week), one `predict_proba` per Arrow batch."""
    from threadpoolctl import threadpool_limits

    positive = list(fitted.classes_).index(COMPLETED)
    width = fitted.n_features_in_

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # One Spark task per core already: a multi-threaded BLAS underneath oversubscribes.
        with threadpool_limits(1, "blas"):
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                features = batch.column("features")
                lengths = pc.list_value_length(features)
                if pc.any(pc.not_equal(lengths, width)).as_py():
                    raise ValueError(
                        f"feature vectors of {pc.min_max(lengths)} values; the re-ranker was "
                        f"trained on {width} (did the audio features change?)"
                    )
                x = features.flatten().to_numpy().reshape(batch.num_rows, width)
                completed = fitted.predict_proba(x)[:, positive]
                yield pa.RecordBatch.from_arrays(
                    [
                        batch.column("user_id"),
                        batch.column("track_id"),
                        pa.array(completed, pa.float32()),
                        batch.column("week"),
                    ],
                    names=["user_id", "track_id", "likeability", "week"],
                )

    return score


def score_candidates(
    candidates: DataFrame,
    profiles: DataFrame,
    track_clusters: DataFrame,
    user_factors: DataFrame,
    track_factors: DataFrame,
    fitted,
) -> DataFrame:
    """(user_id, track_id, likeability, week): P(completed play) for every distinct
    candidate (user_id, track_id, week) with features. The fitted pipeline is broadcast
    and each user partition streams through `mapInArrow`; a candidate without features
    gets no row (the playlist stage treats it as neutral)."""
    pairs = candidates.select("user_id", "track_id", "week").distinct()
    rows = with_features(pairs, profiles, track_clusters, user_factors, track_factors)
    shipped = candidates.sparkSession.sparkContext.broadcast(fitted)

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return batch_scorer(shipped.value)(batches)

    scored = rows.select("user_id", "track_id", "features", "week").mapInArrow(score, SCORED_DDL)
    return with_schema(scored, schema.LIKEABILITY)


def feature_tables(
    spark: SparkSession, config: PipelineConfig, week: date
) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame]:
    """(profiles, track_clusters, user_factors, track_factors) of `week`. The listeners'
    taste profiles are computed from its interactions and clusters: this stage runs before
    the playlists stage writes them."""
    track_clusters = read_week(spark, config, "track_clusters", TRACK_CLUSTERS, week)
    likes = positive_user_items(read_week(spark, config, "interactions", interactions.SCHEMA, week))
    space = track_space(track_clusters)
    return (
        profiles_frame(spark, None if space is None else taste_profiles(likes, space)),
        track_clusters,
        read_week(spark, config, "user_factors", model.USER_FACTORS, week),
        read_week(spark, config, "track_factors", model.TRACK_FACTORS, week),
    )


def training_features(
    spark: SparkSession, config: PipelineConfig, week: date
) -> tuple[date, tuple[DataFrame, DataFrame, DataFrame, DataFrame]]:
    """The week whose tables describe the training plays, and those tables: the week
    before `week` (leak-free), else `week` itself (see the module docstring)."""
    before = week - timedelta(days=7)
    try:
        return before, feature_tables(spark, config, before)
    except MissingTable as missing:
        log.warning(
            "no features as of %s (%s): training on week %s's own profiles and factors, "
            "which saw these plays; its figures are optimistic",
            before,
            missing,
            week,
        )
    return week, feature_tables(spark, config, week)


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    settings = config.reranker
    if not settings.enabled:
        log.info("re-ranker disabled (reranker.enabled = false): nothing trained or written")
        rows["reranker"] = 0
        return
    history = read_table(spark, config, "events", events.EVENTS)
    skip_ms = config.interactions.skip_ms
    labels = play_labels(history, week, skip_ms).groupBy("label").count().collect()
    plays = {row["label"]: row["count"] for row in labels}
    features_week, tables = training_features(spark, config, week)
    examples = training_examples(history, *tables, week, skip_ms).toArrow().to_pandas()
    labelled = plays.get(COMPLETED, 0) + plays.get(EARLY_SKIP, 0)
    rows.update(
        {
            "reranker": len(examples),
            "reranker_unlabelled_plays": plays.get(None, 0),
            "reranker_plays_without_features": labelled - len(examples),
        }
    )
    log.info(
        "%d labelled plays (%d neither completed nor skipped early), %d with features as of %s",
        labelled,
        plays.get(None, 0),
        len(examples),
        features_week,
    )
    fitted, metrics = fit_reranker(examples, settings)

    # The week's candidates, retrieved as the playlists stage will retrieve them (they are
    # never written): the re-ranker costs a retrieval pass of its own.
    tables = feature_tables(spark, config, week)
    retrieval = week_retrieval(spark, config, week, tables[0])
    candidates = flat_candidates(retrieve(retrieval.listeners, retrieval.sources)).withColumn(
        "week", F.lit(week)
    )
    likeability = score_candidates(candidates, *tables, fitted)
    write_week(likeability, table_path(config, "likeability"), week)
    written = read_week(spark, config, "likeability", schema.LIKEABILITY, week)
    rows["likeability"] = written.count()
    pairs = candidates.select("user_id", "track_id").distinct().count()
    check_output(config, week, written, schema.suite(), {"max_rows": pairs})

    row = {"week": week, "enabled": True, "features_week": features_week, **metrics}
    frame = spark.createDataFrame([row], schema=schema.RERANKER_METRICS)
    write_week(frame, table_path(config, "reranker_metrics"), week)
    check_output(
        config,
        week,
        read_week(spark, config, "reranker_metrics", schema.RERANKER_METRICS, week),
        schema.metrics_suite(),
    )
    rows["reranker_metrics"] = 1
    # Stage records hold numbers only: an undefined validation figure is left out.
    for name in ("train_accuracy", "validation_accuracy", "train_auc", "validation_auc"):
        if metrics[name] is not None:
            rows[f"reranker_{name}"] = round(metrics[name], 4)


def main(argv: Sequence[str] | None = None) -> None:
    run_job(
        "rerank",
        argv,
        run,
        "Train the likeability re-ranker and score the candidates.",
        enabled=lambda config, _week: config.reranker.enabled,
    )


if __name__ == "__main__":
    main()
