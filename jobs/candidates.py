"""Score ALS candidates for every user, in Spark: user partitions stream through
`mapInArrow`, the track factors are broadcast, each Arrow batch is one BLAS matrix product
plus a partial top-K (`argpartition`), and already-played tracks are masked before the
top-K. No cross join, no per-user Python loop.

    spark-submit jobs/candidates.py --week 2026-11-23
"""

from __future__ import annotations

from datetime import date
from typing import Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.config import PipelineConfig
from jobs.entry import run_job
from jobs.history import played_tracks
from jobs.tables import read_table, read_week, table_path, with_schema, write_week
from schemas import candidates as schema
from schemas import events, model

SCORED = pa.schema(
    [
        pa.field("user_id", pa.string()),
        pa.field("track_id", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("rank", pa.int32()),
    ]
)
SCORED_DDL = "user_id string, track_id string, score float, rank int"


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's k best finite scores, best first.

    Ties are broken by the lower column index, so the result does not depend on batching."""
    k = min(k, scores.shape[1])
    candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    order = np.lexsort((candidates, -candidate_scores), axis=1)
    best = np.take_along_axis(candidates, order, axis=1)
    return best, np.take_along_axis(candidate_scores, order, axis=1)


def batch_scorer(
    track_ids: np.ndarray, track_factors: np.ndarray, k: int
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The `mapInArrow` function: (user_id, factors, played track indices) -> top-k rows."""
    rank_ = track_factors.shape[1]

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            users = batch.column("factors").flatten().to_numpy().reshape(-1, rank_)
            scores = users.astype(np.float32, copy=False) @ track_factors.T
            played = batch.column("played")
            scores[played.value_parent_indices().to_numpy(), played.flatten().to_numpy()] = -np.inf
            best, best_scores = top_k(scores, k)
            keep = np.isfinite(best_scores)  # users who played almost everything get fewer
            row_of = np.broadcast_to(np.arange(batch.num_rows)[:, None], best.shape)[keep]
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("user_id").take(pa.array(row_of)),
                    pa.array(track_ids[best[keep]], pa.string()),
                    pa.array(best_scores[keep], pa.float32()),
                    pa.array(np.cumsum(keep, axis=1)[keep], pa.int32()),
                ],
                schema=SCORED,
            )

    return score


def score_candidates(
    user_factors: DataFrame,
    track_factors: DataFrame,
    played: DataFrame,
    week: date,
    k: int,
) -> DataFrame:
    """Top-`k` unplayed tracks per user by the ALS score u . v."""
    spark = user_factors.sparkSession
    tracks = track_factors.orderBy("track_id").toArrow()
    track_ids = tracks.column("track_id").to_numpy(zero_copy_only=False)
    vectors = tracks.column("factors").combine_chunks()
    rank_ = len(vectors[0]) if len(vectors) else 0
    matrix = vectors.flatten().to_numpy().reshape(-1, rank_).astype(np.float32)
    index = spark.createDataFrame(
        pa.table({"track_id": pa.array(track_ids), "track_index": np.arange(len(track_ids))})
    )
    played_index = (
        played.join(index, "track_id")
        .groupBy("user_id")
        .agg(F.sort_array(F.collect_list("track_index")).alias("played"))
    )
    users = user_factors.select("user_id", "factors").join(played_index, "user_id", "left")
    shipped = spark.sparkContext.broadcast((track_ids, matrix))

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        ids, factors = shipped.value
        return batch_scorer(ids, factors, k)(batches)

    scored = users.mapInArrow(score, SCORED_DDL)
    return with_schema(
        scored.withColumns({"source": F.lit(schema.ALS), "week": F.lit(week)}), schema.SCHEMA
    )


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    spark.conf.set(
        "spark.sql.execution.arrow.maxRecordsPerBatch", str(config.playlists.scoring_batch_rows)
    )
    candidates = score_candidates(
        read_week(spark, config, "user_factors", model.USER_FACTORS, week),
        read_week(spark, config, "track_factors", model.TRACK_FACTORS, week),
        played_tracks(read_table(spark, config, "events", events.EVENTS), week),
        week,
        config.playlists.candidates_per_user,
    )
    write_week(candidates, table_path(config, "candidates"), week)
    rows["candidates"] = spark.read.parquet(
        str(table_path(config, "candidates") / f"week={week}")
    ).count()


def main(argv: Sequence[str] | None = None) -> None:
    run_job("candidates", argv, run, "Score top-K ALS candidates per user.")


if __name__ == "__main__":
    main()
