"""Train the week's implicit-feedback ALS model on the driver with `implicit` (CG solver)
and persist it: `user_factors`, `track_factors` and one `models` row with the
hyper-parameters, training loss and wall time, so a week can be re-scored or audited.

    spark-submit jobs/stages/train_als.py --week 2026-11-23
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
from pyspark.sql import SparkSession

from jobs.core.config import AlsConfig, PipelineConfig
from jobs.core.entry import run_job
from jobs.core.quality import check_output
from jobs.core.tables import read_week, table_path, write_week
from jobs.domain.matrix import UserItems, to_user_items
from schemas import interactions as interactions_schema
from schemas import model as model_schema

log = logging.getLogger(__name__)

IMPLICIT = "implicit"
SPARK = "spark"
BACKENDS = (IMPLICIT, SPARK)


class ModelFitError(RuntimeError):
    """Training produced a model that must not be published (NaN/inf factors, bad shapes)."""


@dataclass(frozen=True)
class TrainedModel:
    user_ids: np.ndarray
    track_ids: np.ndarray
    user_factors: np.ndarray  # float32, one row per user_ids entry
    track_factors: np.ndarray  # float32, one row per track_ids entry
    training_loss: float | None
    train_seconds: float
    backend: str


def model_version(week: date, backend: str, config: AlsConfig) -> str:
    """Stable for the same week and hyper-parameters, so a re-run writes identical rows."""
    digest = hashlib.sha1(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:8]
    return f"als-{backend}-{week.isoformat()}-{digest}"


def implicit_als(config: AlsConfig):
    """implicit's CPU ALS with `config`'s hyper-parameters, unfitted: the one construction
    that `train_als` and the bench's raw-library baseline share."""
    from implicit.cpu.als import AlternatingLeastSquares

    return AlternatingLeastSquares(
        factors=config.factors,
        regularization=config.regularization,
        alpha=config.alpha,
        iterations=config.iterations,
        random_state=config.seed,
        num_threads=config.num_threads,
    )


def train_als(user_items: UserItems, config: AlsConfig) -> TrainedModel:
    """Fit implicit's CPU ALS on `user_items` (rows are users) and check the result."""
    from implicit.cpu import _als
    from implicit.recommender_base import ModelFitError as ImplicitFitError
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    # implicit parallelises over users itself; a multi-threaded BLAS underneath oversubscribes.
    with threadpool_limits(1, "blas"):
        model = implicit_als(config)
        try:
            model.fit(user_items.matrix, show_progress=False)
        except ImplicitFitError as error:
            raise ModelFitError(f"ALS diverged, factors are NaN: {error}") from error
        train_seconds = time.perf_counter() - started
        loss = _als.calculate_loss(
            (config.alpha * user_items.matrix).astype(np.float32),
            model.user_factors,
            model.item_factors,
            config.regularization,
            num_threads=config.num_threads,
        )
    n_users, n_tracks = user_items.shape
    if model.user_factors.shape[0] != n_users or model.item_factors.shape[0] != n_tracks:
        raise ModelFitError(
            f"factor shapes {model.user_factors.shape}/{model.item_factors.shape} do not match "
            f"the {n_users} users x {n_tracks} tracks matrix"
        )
    for name, factors in (("user", model.user_factors), ("track", model.item_factors)):
        bad_rows = int((~np.isfinite(factors).all(axis=1)).sum())
        if bad_rows:
            raise ModelFitError(f"{bad_rows} {name} factor rows are NaN or infinite")
    return TrainedModel(
        user_ids=user_items.user_ids,
        track_ids=user_items.track_ids,
        user_factors=np.ascontiguousarray(model.user_factors, dtype=np.float32),
        track_factors=np.ascontiguousarray(model.item_factors, dtype=np.float32),
        training_loss=float(loss),
        train_seconds=train_seconds,
        backend=IMPLICIT,
    )


def fit_spark_model(
    user_items: UserItems, config: AlsConfig, spark: SparkSession, checkpoint_dir: Path
):
    """Spark MLlib ALS (`implicitPrefs`) fitted on `user_items`; ids are its row/column
    indices. Hyper-parameters map one to one (factors -> rank, iterations -> maxIter,
    regularization -> regParam, alpha, seed)."""
    from pyspark.ml.recommendation import ALS

    coo = user_items.matrix.tocoo()
    ratings = spark.createDataFrame(
        pa.table(
            {
                "user": pa.array(coo.row, pa.int32()),
                "item": pa.array(coo.col, pa.int32()),
                "rating": pa.array(coo.data, pa.float32()),
            }
        )
    )
    # Materialised and deterministic before fit: a recomputed input breaks ALS on retry.
    ratings = ratings.repartition(spark.sparkContext.defaultParallelism).persist()
    ratings.count()
    # Without a checkpoint dir, checkpointInterval is silently ignored and the lineage
    # grows until a StackOverflowError.
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    spark.sparkContext.setCheckpointDir(str(checkpoint_dir))
    als = ALS(
        rank=config.factors,
        maxIter=config.iterations,
        regParam=config.regularization,
        alpha=config.alpha,
        implicitPrefs=True,
        seed=config.seed,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        checkpointInterval=5,
        intermediateStorageLevel="MEMORY_AND_DISK",
        finalStorageLevel="MEMORY_AND_DISK",
    )
    model = als.fit(ratings)
    ratings.unpersist()
    return model


def train_spark_als(
    user_items: UserItems, config: AlsConfig, spark: SparkSession, checkpoint_dir: Path
) -> TrainedModel:
    """Spark MLlib ALS on the same matrix and id index as `train_als`. The libraries weigh
    confidence slightly differently (Spark: 1 + alpha*r, implicit: alpha*r), so their
    factors are not numerically equal."""
    started = time.perf_counter()
    model = fit_spark_model(user_items, config, spark, checkpoint_dir)
    user_factors = _dense_factors(model.userFactors, user_items.shape[0], config.factors)
    track_factors = _dense_factors(model.itemFactors, user_items.shape[1], config.factors)
    train_seconds = time.perf_counter() - started
    for name, factors in (("user", user_factors), ("track", track_factors)):
        if not np.isfinite(factors).all():
            raise ModelFitError(f"Spark ALS produced non-finite {name} factors")
    return TrainedModel(
        user_ids=user_items.user_ids,
        track_ids=user_items.track_ids,
        user_factors=user_factors,
        track_factors=track_factors,
        training_loss=None,
        train_seconds=train_seconds,
        backend=SPARK,
    )


def _dense_factors(factors_df, n_rows: int, rank: int) -> np.ndarray:
    """Spark's (id, features) rows as a matrix indexed by id (ids are our dense indices)."""
    table = factors_df.toArrow()
    dense = np.zeros((n_rows, rank), dtype=np.float32)
    ids = table.column("id").to_numpy()
    features = table.column("features").combine_chunks().flatten().to_numpy()
    dense[ids] = features.reshape(-1, rank)
    return dense


def train(
    user_items: UserItems, config: AlsConfig, spark: SparkSession, checkpoint_dir: Path
) -> TrainedModel:
    """The configured backend: `implicit` on the driver (default) or Spark MLlib."""
    if config.backend == IMPLICIT:
        return train_als(user_items, config)
    if config.backend == SPARK:
        return train_spark_als(user_items, config, spark, checkpoint_dir)
    raise ValueError(f"unknown ALS backend {config.backend!r}; choose one of {BACKENDS}")


def factors_table(id_column: str, ids: np.ndarray, factors: np.ndarray) -> pa.Table:
    """Arrow table (id, factors: list<float>) built from the matrix without row loops."""
    n_rows, rank = factors.shape
    offsets = pa.array(np.arange(0, (n_rows + 1) * rank, rank, dtype=np.int32))
    vectors = pa.ListArray.from_arrays(offsets, pa.array(factors.reshape(-1), pa.float32()))
    return pa.table({id_column: pa.array(ids, pa.string()), "factors": vectors})


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    interactions = read_week(
        spark, config, "interactions", interactions_schema.SCHEMA, week
    ).select("user_id", "track_id", "confidence")
    user_items = to_user_items(interactions.toArrow())
    log.info(
        "training on %d users x %d tracks, %d non-zeros", *user_items.shape, user_items.matrix.nnz
    )
    trained = train(user_items, config.als, spark, config.checkpoint_dir / f"als-{week}")
    log.info("trained with %s in %.1f s", trained.backend, trained.train_seconds)

    version = model_version(week, trained.backend, config.als)
    matrix_rows = dict(zip(("user_factors", "track_factors"), user_items.shape))
    for table, id_column, ids, factors in (
        ("user_factors", "user_id", trained.user_ids, trained.user_factors),
        ("track_factors", "track_id", trained.track_ids, trained.track_factors),
    ):
        frame = spark.createDataFrame(factors_table(id_column, ids, factors))
        write_week(frame, table_path(config, table), week)
        rows[table] = len(ids)
        written = read_week(spark, config, table, model_schema.TABLES[table], week)
        check_output(
            config,
            week,
            model_schema.with_factor_stats(written),
            model_schema.factors_suite(id_column),
            # Every user and track of the training matrix, not just what the backend returned.
            {"rows": matrix_rows[table], "rank": config.als.factors},
        )
    model_row = {
        "model_version": version,
        "backend": trained.backend,
        "factors": config.als.factors,
        "regularization": config.als.regularization,
        "alpha": config.als.alpha,
        "iterations": config.als.iterations,
        "seed": config.als.seed,
        "users": user_items.shape[0],
        "tracks": user_items.shape[1],
        "nonzeros": int(user_items.matrix.nnz),
        "training_loss": trained.training_loss,
        "train_seconds": trained.train_seconds,
        "trained_at": datetime.now(timezone.utc),
        "week": week,
    }
    models = spark.createDataFrame([model_row], schema=model_schema.MODELS)
    write_week(models, table_path(config, "models"), week)
    rows["models"] = 1


def main(argv: Sequence[str] | None = None) -> None:
    run_job("train_als", argv, run, "Train the week's ALS model and persist its factors.")


if __name__ == "__main__":
    main()
