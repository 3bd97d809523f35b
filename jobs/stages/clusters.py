"""Cluster the catalog's tracks by their audio features, once a week (Spark ML): the numeric
features min-max scaled (the scaler fitted on the week's catalog and stored with the
model), KMeans for every k in `clustering.k_values`, the k with the best silhouette kept.

Writes `track_clusters` (track, cluster, distance to its centroid), `clusters` (centroid,
size, top genres and artists, a label read off the centroid, e.g. "high energy / low
acousticness") and `cluster_models` (scaler, silhouette and cost per k), plus the
silhouette/elbow plot `runs/week=W/clusters-k.png`. Tracks without every feature (the
Spotify API no longer serves them to new apps) get no cluster and are counted.

    spark-submit jobs/stages/clusters.py --week 2026-11-23
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from functools import reduce
from pathlib import Path
from typing import Sequence

import numpy as np
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import MinMaxScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.ml.stat import Summarizer
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.core.config import ClusteringConfig, PipelineConfig
from jobs.core.entry import run_job
from jobs.core.quality import check_output
from jobs.core.runlog import run_dir
from jobs.core.tables import read_parquet, table_path, with_schema, write_week
from schemas import catalog
from schemas import clusters as schema

log = logging.getLogger(__name__)

FEATURES = catalog.AUDIO_FEATURE_COLUMNS
# How many genres and artists describe a cluster.
TOP = 3


def complete_features(audio_features: DataFrame) -> DataFrame:
    """(track_id, *FEATURES) of the tracks that have every feature, finite."""
    present = reduce(
        lambda both, name: both & F.col(name).isNotNull() & ~F.isnan(name), FEATURES, F.lit(True)
    )
    return audio_features.where(present).select("track_id", *FEATURES)


@dataclass(frozen=True)
class TrackClustering:
    k: int
    scores: list[tuple[int, float, float]]  # (k, silhouette, cost) for every k tried
    feature_min: list[float]
    feature_max: list[float]
    centroids: np.ndarray  # k x features, in the scaled space
    feature_mean: np.ndarray  # the scaled features' mean over all clustered tracks
    assigned: DataFrame  # (track_id, cluster, distance, features)


def _distance_to(centroids: np.ndarray) -> Column:
    """Euclidean distance from the `scaled` vector to its cluster's centroid."""
    table = F.array(*[F.array(*[F.lit(float(v)) for v in row]) for row in centroids])
    centroid = F.element_at(table, F.col("cluster") + 1)
    squares = F.zip_with(vector_to_array("scaled"), centroid, lambda x, c: (x - c) * (x - c))
    return F.sqrt(F.aggregate(squares, F.lit(0.0), lambda acc, x: acc + x))


def cluster_tracks(features: DataFrame, config: ClusteringConfig) -> TrackClustering:
    """Scale, fit KMeans for every k in `config.k_values` (those below the track count), keep
    the best silhouette (ties: the smaller k) and assign every track to its cluster."""
    assembled = VectorAssembler(inputCols=list(FEATURES), outputCol="raw").transform(features)
    scaler = MinMaxScaler(inputCol="raw", outputCol="scaled").fit(assembled)
    scaled = scaler.transform(assembled).select("track_id", "scaled").cache()
    tracks = scaled.count()
    k_values = sorted(k for k in set(config.k_values) if 2 <= k < tracks)
    if not k_values:
        raise ValueError(
            f"{tracks} tracks with complete audio features: too few for k in {config.k_values}"
        )
    evaluator = ClusteringEvaluator(featuresCol="scaled", predictionCol="cluster")
    fitted = []
    for k in k_values:
        model = KMeans(
            k=k,
            seed=config.seed,
            maxIter=config.max_iterations,
            featuresCol="scaled",
            predictionCol="cluster",
        ).fit(scaled)
        silhouette = evaluator.evaluate(model.transform(scaled))
        fitted.append((k, float(silhouette), float(model.summary.trainingCost), model))
        log.info("k=%d: silhouette %.4f, cost %.2f", k, silhouette, model.summary.trainingCost)
    k, _, _, best = max(fitted, key=lambda fit: (fit[1], -fit[0]))
    centroids = np.array(best.clusterCenters())
    mean = scaled.select(Summarizer.mean(F.col("scaled")).alias("mean")).first()["mean"]
    assigned = best.transform(scaled).select(
        "track_id",
        F.col("cluster").cast("int"),
        _distance_to(centroids).alias("distance"),
        vector_to_array("scaled").alias("features"),
    )
    return TrackClustering(
        k=k,
        scores=[(k_, s, c) for k_, s, c, _ in fitted],
        feature_min=scaler.originalMin.toArray().tolist(),
        feature_max=scaler.originalMax.toArray().tolist(),
        centroids=centroids,
        feature_mean=mean.toArray(),
        assigned=assigned,
    )


def centroid_labels(centroids: np.ndarray, feature_mean: np.ndarray) -> list[str]:
    """A label per centroid from its two features furthest from the mean (in the scaled
    space), e.g. "high energy / low acousticness"; a repeated label gets a number."""
    labels, seen = [], {}
    for centroid in centroids:
        offset = centroid - feature_mean
        strongest = np.argsort(-np.abs(offset), kind="stable")[:2]
        label = " / ".join(f"{'high' if offset[i] > 0 else 'low'} {FEATURES[i]}" for i in strongest)
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return labels


def _top_per_cluster(counted: DataFrame, value: str, alias: str) -> DataFrame:
    """(cluster, alias): the TOP most frequent `value`s per cluster, most frequent first."""
    ranked = counted.withColumn(
        "_rank",
        F.row_number().over(Window.partitionBy("cluster").orderBy(F.desc("count"), F.asc(value))),
    ).where(F.col("_rank") <= TOP)
    return ranked.groupBy("cluster").agg(
        F.transform(
            F.sort_array(F.collect_list(F.struct("_rank", value))), lambda s: s[value]
        ).alias(alias)
    )


def describe_clusters(
    clustering: TrackClustering, tracks: DataFrame, artists: DataFrame, week: date
) -> DataFrame:
    """CLUSTERS rows: each cluster's label, size, centroid, top genres and top artists."""
    spark = clustering.assigned.sparkSession
    members = clustering.assigned.join(tracks.select("track_id", "artist_id"), "track_id").join(
        artists.select("artist_id", F.col("name").alias("artist"), "genres"), "artist_id", "left"
    )
    genres = members.select("cluster", F.explode("genres").alias("genre"))
    described = spark.createDataFrame(
        [
            (cluster, label, [float(v) for v in centroid])
            for cluster, (label, centroid) in enumerate(
                zip(
                    centroid_labels(clustering.centroids, clustering.feature_mean),
                    clustering.centroids,
                )
            )
        ],
        "cluster int, label string, centroid array<double>",
    )
    sizes = clustering.assigned.groupBy("cluster").agg(F.count("*").alias("size"))
    table = (
        described.join(sizes, "cluster", "left")
        .join(
            _top_per_cluster(genres.groupBy("cluster", "genre").count(), "genre", "top_genres"),
            "cluster",
            "left",
        )
        .join(
            _top_per_cluster(
                members.where(F.col("artist").isNotNull()).groupBy("cluster", "artist").count(),
                "artist",
                "top_artists",
            ),
            "cluster",
            "left",
        )
        .fillna({"size": 0})
        .withColumns(
            {
                "top_genres": F.coalesce("top_genres", F.array().cast("array<string>")),
                "top_artists": F.coalesce("top_artists", F.array().cast("array<string>")),
                "week": F.lit(week),
            }
        )
    )
    return with_schema(table, schema.CLUSTERS)


def plot_scores(scores: list[tuple[int, float, float]], chosen: int, path: Path) -> None:
    """Silhouette and cost (the elbow) against k, the chosen k marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks, silhouettes, costs = zip(*scores)
    figure, silhouette_axis = plt.subplots(figsize=(6, 3.5))
    silhouette_axis.plot(ks, silhouettes, "o-", color="tab:blue")
    silhouette_axis.set_xlabel("k")
    silhouette_axis.set_ylabel("silhouette", color="tab:blue")
    silhouette_axis.axvline(chosen, color="grey", linestyle=":")
    cost_axis = silhouette_axis.twinx()
    cost_axis.plot(ks, costs, "s--", color="tab:orange")
    cost_axis.set_ylabel("within-cluster sum of squares", color="tab:orange")
    silhouette_axis.set_title(f"Track clusters: k = {chosen} (best silhouette)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    def catalog_table(name: str) -> DataFrame:
        return read_parquet(spark, config.catalog_dir / name, catalog.TABLES[name])

    tracks = catalog_table("tracks")
    features = complete_features(catalog_table("audio_features")).join(
        tracks.select("track_id"), "track_id", "left_semi"
    )
    if features.limit(max(config.clustering.k_values) + 1).count() <= min(
        config.clustering.k_values
    ):
        # A catalog without audio features (the Web API no longer serves them to new apps;
        # imported datasets have none): empty partitions, so the audio candidate sources
        # and the playlists' cluster spread simply have nothing to work with this week.
        skipped = tracks.count()
        log.warning("%d catalog tracks, too few with audio features: no clustering", skipped)
        for table, table_schema in (
            ("track_clusters", schema.TRACK_CLUSTERS),
            ("clusters", schema.CLUSTERS),
        ):
            write_week(spark.createDataFrame([], table_schema), table_path(config, table), week)
        rows.update({"track_clusters": 0, "clusters": 0, "skipped_tracks": skipped})
        return
    clustering = cluster_tracks(features, config.clustering)
    write_week(
        clustering.assigned.withColumn("week", F.lit(week)),
        table_path(config, "track_clusters"),
        week,
    )
    written = read_parquet(spark, table_path(config, "track_clusters"), schema.TRACK_CLUSTERS)
    written = written.where(F.col("week") == F.lit(week))
    clustered = written.count()
    skipped = tracks.count() - clustered
    if skipped:
        log.warning("%d catalog tracks lack audio features: no cluster for them", skipped)
    check_output(
        config, week, written, schema.suite(), {"max_cluster": clustering.k - 1, "rows": clustered}
    )
    write_week(
        describe_clusters(clustering, tracks, catalog_table("artists"), week),
        table_path(config, "clusters"),
        week,
    )
    model = spark.createDataFrame(
        [
            (
                list(FEATURES),
                clustering.feature_min,
                clustering.feature_max,
                clustering.k,
                [list(score) for score in clustering.scores],
                config.clustering.seed,
                clustered,
                skipped,
                week,
            )
        ],
        schema.CLUSTER_MODELS,
    )
    write_week(model, table_path(config, "cluster_models"), week)
    plot_scores(clustering.scores, clustering.k, run_dir(config, week) / "clusters-k.png")
    rows.update({"track_clusters": clustered, "clusters": clustering.k, "skipped_tracks": skipped})


def main(argv: Sequence[str] | None = None) -> None:
    run_job("clusters", argv, run, "Cluster the catalog's tracks by audio features.")


if __name__ == "__main__":
    main()
