"""What the ranker's features are worth on one week's pool (docs/ranking.md, "The
listener's artists"): NDCG@30 of ordering each listener's shortlist by one column, and of
LightGBM rankers trained on half of the listeners with and without a group of features,
scored on the other half. Run after `weekly-playlists bench`, on its warehouse, for the
week before the measured one (its pool is labelled by the week after it):

    WP_HOME=<bench root>/events-1000000 python docs/measure_ranker_features.py 2026-11-09

Only main (non-exploration) rows of listeners with a first play in the week after count.
"""

import sys
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pyarrow.compute as pc

import jobs.domain.ranking as ranking
from jobs.core.config import PipelineConfig
from jobs.core.spark import spark_session
from jobs.core.tables import read_table, read_week
from jobs.stages.train_ranker import labelled_pool
from schemas import events
from schemas import pool as schema

K = 30
ONE_COLUMN = ["blend_score", "artist_pick_share", "artist_affinity", "track_popularity"]
LEAVE_OUT = {
    "every feature": (),
    "without the listener's artists": (
        "artist_share",
        "track_share_of_artist",
        "artist_pick_share",
    ),
}


def main(week: date) -> None:
    config = replace(PipelineConfig.load(), hive_catalog=False)  # reads files only
    spark = spark_session(config, "measure-ranker-features")
    pool = read_week(spark, config, "candidate_pool", schema.CANDIDATE_POOL, week)
    labelled = labelled_pool(
        pool.where(~pool.explore),
        read_table(spark, config, "events", events.EVENTS),
        week,
        week + timedelta(days=7),
        config.interactions.skip_ms,
    )
    table = labelled.select("user_id", *schema.FEATURES, "blend_score", "label").toArrow()
    spark.stop()
    listeners = pc.dictionary_encode(table.column("user_id")).combine_chunks().indices
    listeners = listeners.to_numpy()
    labels = table.column("label").to_numpy().astype(np.float32)
    with_positive = np.isin(listeners, listeners[labels > 0])
    order = np.flatnonzero(with_positive)
    order = order[np.argsort(listeners[order], kind="stable")]
    columns = {
        name: pc.fill_null(table.column(name), np.nan).to_numpy()[order]
        for name in (*schema.FEATURES, "blend_score")
    }
    listeners, labels = listeners[order], labels[order]
    print(
        f"{order.size:,} rows, {int(labels.sum()):,} positives, "
        f"{np.unique(listeners).size:,} listeners with one"
    )
    for name in ONE_COLUMN:
        scores = np.nan_to_num(columns[name], nan=-np.inf)
        print(
            f"ordered by {name:<40} NDCG@{K} {ranking.pool_ndcg(listeners, labels, scores, K):.4f}"
        )
    settings = config.ranking
    for label, left_out in LEAVE_OUT.items():
        names = tuple(name for name in schema.FEATURES if name not in left_out)
        ranking.FEATURES = names  # train_ranker checks the columns against FEATURES
        trained = ranking.train_ranker(
            np.column_stack([columns[name] for name in names]).astype(np.float32),
            labels,
            listeners,
            columns["blend_score"],
            {
                "learning_rate": settings.learning_rate,
                "num_leaves": settings.num_leaves,
                "min_data_in_leaf": settings.min_data_in_leaf,
            },
            settings.rounds,
            0.5,
            K,
            settings.seed,
            settings.min_listeners,
        )
        top = sorted(trained.importances, key=trained.importances.get, reverse=True)[:3]
        print(
            f"ranker, {label:<33} held-out NDCG@{K} {trained.validation_ndcg:.4f} "
            f"(blend {trained.validation_ndcg_blend:.4f}); most gain: {', '.join(top)}"
        )


if __name__ == "__main__":
    main(date.fromisoformat(sys.argv[1]))
