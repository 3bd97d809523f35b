"""Train the week's Discover Weekly ranker on last week's pool.

Last week's `candidate_pool` holds every listener's shortlist with the features the
ranker sees (jobs/domain/discover.py); the events just ingested say which of those tracks each
listener then played past the skip threshold, for the first time (pool tracks were never
played before last week): the labels. LightGBM's lambdarank learns to order a shortlist
from them (jobs/domain/ranking.py `train_ranker`), with a share of the listeners held out to
compare its NDCG with the blend's on the same pools.

Writes the model (LightGBM's text format) under `ranker_files/week=W/` and one
`ranker_models` row: how the week is ranked, and why. The blend ranks instead, saying so,
in a first week (no pool last week), when the pool has no positive to learn from, and when
the held-out listeners say the model does worse than the blend. The playlist stage reads
the row (jobs/domain/discover.py `load_week_ranker`).

    spark-submit jobs/stages/train_ranker.py --week 2026-11-23
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Sequence

import numpy as np
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig
from jobs.core.entry import run_job
from jobs.core.tables import MissingTable, read_table, read_week, table_path, write_week
from jobs.domain.ranking import RankerUnavailable, TrainedRanker, train_ranker
from schemas import events
from schemas import pool as schema
from schemas.pool import FEATURES
from schemas.raw_events import PLAY

log = logging.getLogger(__name__)

K = 30  # the NDCG cut the ranker optimises and is validated at: a playlist's length


def labelled_pool(pool: DataFrame, events_df: DataFrame, start: date, end: date, skip_ms: int):
    """`pool` rows plus `label`: 1 where the listener played the track past `skip_ms` in
    [start, end), else 0."""
    played = (
        events_df.where(
            (F.col("date") >= F.lit(start))
            & (F.col("date") < F.lit(end))
            & (F.col("event_type") == PLAY)
            & (F.col("ms_played") >= skip_ms)
        )
        .select("user_id", "track_id")
        .distinct()
        .withColumn("label", F.lit(1))
    )
    return pool.join(played, ["user_id", "track_id"], "left").fillna({"label": 0})


def sampled_listeners(pool: DataFrame, most: int) -> DataFrame:
    """At most about `most` listeners' rows, chosen by a hash of the id (the same every run)."""
    listeners = pool.select("user_id").distinct().count()
    if listeners <= most:
        return pool
    buckets = 1_000_000
    kept = int(buckets * most / listeners)
    return pool.where(F.abs(F.xxhash64("user_id")) % buckets < kept)


def fit(labelled: DataFrame, config: PipelineConfig) -> TrainedRanker:
    """The ranker of a labelled pool (rows sorted by nothing in particular)."""
    settings = config.ranking
    table = labelled.select("user_id", *FEATURES, "blend_score", "label").toArrow()
    features = np.column_stack(
        [pc.fill_null(table.column(name), np.nan).to_numpy() for name in FEATURES]
    ).astype(np.float32)
    listeners = pc.dictionary_encode(table.column("user_id")).combine_chunks().indices
    return train_ranker(
        features,
        table.column("label").to_numpy().astype(np.float32),
        listeners.to_numpy(),
        table.column("blend_score").to_numpy(),
        {
            "learning_rate": settings.learning_rate,
            "num_leaves": settings.num_leaves,
            "min_data_in_leaf": settings.min_data_in_leaf,
        },
        settings.rounds,
        settings.validation_share,
        K,
        settings.seed,
        settings.min_listeners,
    )


def model_file(week: date) -> str:
    """The model's path under the warehouse."""
    return f"ranker_files/week={week.isoformat()}/model.txt"


def _record(spark: SparkSession, config: PipelineConfig, week: date, row: dict) -> None:
    columns = [field.name for field in schema.RANKER_MODELS.fields]
    values = {name: None for name in columns} | row | {"week": week}
    frame = spark.createDataFrame([tuple(values[name] for name in columns)], schema.RANKER_MODELS)
    write_week(frame, table_path(config, "ranker_models"), week)


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    last_week = week - timedelta(days=7)

    def blend(reason: str) -> None:
        log.warning("week %s is ranked by the blend: %s", week, reason)
        rows["ranker"] = 0
        _record(spark, config, week, {"ranked_by": schema.BLEND, "reason": reason})

    if not config.ranking.ranker:
        blend("the ranker is off ([ranking] ranker = false)")
        return
    try:
        pool = read_week(spark, config, "candidate_pool", schema.CANDIDATE_POOL, last_week)
    except MissingTable:
        blend(f"a first week: no candidate_pool of week {last_week} to learn from")
        return
    labelled = labelled_pool(
        sampled_listeners(pool, config.ranking.max_training_listeners),
        read_table(spark, config, "events", events.EVENTS),
        last_week,
        week,
        config.interactions.skip_ms,
    )
    try:
        trained = fit(labelled, config)
    except RankerUnavailable as unavailable:
        blend(str(unavailable))
        return
    path = config.warehouse_dir / model_file(week)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(trained.model_text)
    rows.update(
        {
            "ranker": int(trained.beats_blend),
            "ranker_training_rows": trained.training_rows,
            "ranker_positives": trained.positives,
            "ranker_validation_ndcg": round(trained.validation_ndcg, 4),
            "blend_validation_ndcg": round(trained.validation_ndcg_blend, 4),
        }
    )
    reason = None
    if not trained.beats_blend:
        reason = (
            f"the ranker's held-out NDCG@{K} {trained.validation_ndcg:.4f} is below the "
            f"blend's {trained.validation_ndcg_blend:.4f}"
        )
        log.warning("week %s is ranked by the blend: %s", week, reason)
    _record(
        spark,
        config,
        week,
        {
            "ranked_by": schema.RANKER if trained.beats_blend else schema.BLEND,
            "reason": reason,
            "trained_on_week": last_week,
            "training_rows": trained.training_rows,
            "training_listeners": trained.training_listeners,
            "positives": trained.positives,
            "validation_listeners": trained.validation_listeners,
            "validation_ndcg": trained.validation_ndcg,
            "validation_ndcg_blend": trained.validation_ndcg_blend,
            "importances": trained.importances,
            "model_file": model_file(week),
        },
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_job("train_ranker", argv, run, "Train the week's Discover Weekly ranker.")


if __name__ == "__main__":
    main()
