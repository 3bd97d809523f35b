"""Discover Weekly in one pass per listener batch: retrieval and ranking together.

Each listener travels in one row with what retrieval reads of them (ALS factors, played
tracks, plays, taste profile and moods; jobs/domain/retrieval.py) and what their playlist
depends on: controls (explicit filter, hides, preferred genres, skips of boosted tracks)
and, with the adaptive policy, their source factors and exploration share, all joined by
broadcast so that the listener rows are never shuffled. The week's source models
(jobs/domain/source_models.py), the listeners' artist affinities, the catalog arrays and
the week's ranker are broadcast. One `mapInArrow` call per batch then retrieves every
source's top K for the batch's listeners and ranks them in numpy
(jobs/domain/discover_batch.py): the candidate lists live only in memory.

It returns the listeners' pool (`candidate_pool`): the shortlist the ranker ordered, with
features, scores and the picks' positions; the picks, named, are the playlist.
No Spark window or join over the candidates.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig
from jobs.core.tables import MissingTable, read_parquet, read_table, read_week, with_schema
from jobs.domain.discover_batch import (
    POOL_DDL,
    CatalogArrays,
    PassSettings,
    catalog_arrays,
    rank_batch,
    with_candidates,
    with_listener_artists,
)
from jobs.domain.history import listener_segments
from jobs.domain.policy import listener_policy
from jobs.domain.ranking import Ranker, RankerUnavailable
from jobs.domain.retrieval import Sources
from jobs.domain.rules import Controls
from jobs.domain.source_models import Retrieval, week_retrieval
from schemas import catalog, rerank, taste
from schemas import clusters as clusters_schema
from schemas import controls as controls_schema
from schemas import events as events_schema
from schemas import interactions as interactions_schema
from schemas import pool as schema
from schemas.policy import POLICY

log = logging.getLogger(__name__)


def empty_list(element: str) -> F.Column:
    """An empty array of `element` (a Spark SQL type): what a listener without any has."""
    return F.expr(f"cast(array() as array<{element}>)")


def listener_artists(interactions: DataFrame, tracks: DataFrame) -> pa.Table:
    """(user_id, artists [(artist_id, affinity)]) sorted by listener, on the driver: each
    listener's positive confidence summed per artist (10M: 1.4M pairs of 41,666 listeners)."""
    return (
        interactions.where(F.col("confidence") > 0)
        .join(tracks.select("track_id", "artist_id"), "track_id")
        .groupBy("user_id", "artist_id")
        .agg(F.sum("confidence").cast("float").alias("affinity"))
        .groupBy("user_id")
        .agg(F.collect_list(F.struct("artist_id", "affinity")).alias("artists"))
        .toArrow()
        .sort_by("user_id")
        .combine_chunks()
    )


def listener_rows(
    listeners: DataFrame,
    interactions: DataFrame,
    controls: Controls,
    policy: DataFrame | None,
    likeability: DataFrame | None,
) -> DataFrame:
    """One row per listener (`listener_inputs`: what retrieval reads of them, their taste
    profile and moods included) plus everything `rank_batch` reads of them but their
    candidates and artists."""
    # Every side holds a few numbers per listener: broadcast, so that the listener rows are
    # read where they lie, never shuffled.
    play_count = interactions.groupBy("user_id").agg(F.sum("plays").alias("play_count"))
    rows = listeners.join(F.broadcast(play_count), "user_id", "left").join(
        F.broadcast(controls.preferred_genres), "user_id", "left"
    )
    if likeability is not None:  # the re-ranker's P(completed play) of each candidate
        liked = likeability.groupBy("user_id").agg(
            F.collect_list(F.struct("track_id", "likeability")).alias("liked")
        )
        rows = rows.join(liked, "user_id", "left")
    if policy is not None:
        rows = rows.join(
            F.broadcast(
                policy.select(
                    "user_id", F.col("factors").alias("policy_factors"), "exploration_share"
                )
            ),
            "user_id",
            "left",
        )
    else:
        rows = rows.withColumns(
            {
                "policy_factors": F.lit(None).cast("map<string,double>"),
                "exploration_share": F.lit(None).cast("double"),
            }
        )
    return with_control_lists(rows, controls).withColumns(
        {"preferred_genres": F.coalesce("preferred_genres", empty_list("string"))}
    )


def with_control_lists(rows: DataFrame, controls: Controls) -> DataFrame:
    """`rows` (one per listener) plus what the rules of a numpy pass read of each listener:
    `hidden_tracks`, `hidden_artists`, `skipped` (boosted tracks they skipped: a boost never
    follows a skip) and `explicit_filter`."""
    hides = controls.hides.groupBy("user_id").agg(
        F.collect_list(F.when(F.col("item_type") == controls_schema.TRACK, F.col("item_id"))).alias(
            "hidden_tracks"
        ),
        F.collect_list(
            F.when(F.col("item_type") == controls_schema.ARTIST, F.col("item_id"))
        ).alias("hidden_artists"),
    )
    skipped = (
        controls.skipped.join(controls.campaigns.select("track_id"), "track_id", "left_semi")
        .groupBy("user_id")
        .agg(F.collect_list("track_id").alias("skipped"))
    )
    return (
        rows.join(F.broadcast(hides), "user_id", "left")
        .join(F.broadcast(skipped), "user_id", "left")
        .join(
            F.broadcast(controls.explicit_filtered.withColumn("explicit_filter", F.lit(True))),
            "user_id",
            "left",
        )
        .withColumns(
            {
                "hidden_tracks": F.coalesce("hidden_tracks", empty_list("string")),
                "hidden_artists": F.coalesce("hidden_artists", empty_list("string")),
                "skipped": F.coalesce("skipped", empty_list("string")),
                "explicit_filter": F.coalesce("explicit_filter", F.lit(False)),
            }
        )
    )


def ranked_pool(
    rows: DataFrame,
    offered: Sources,
    artists: pa.Table,
    catalog: CatalogArrays,
    ranker_text: str | None,
    settings: PassSettings,
) -> DataFrame:
    """`candidate_pool` rows (without `week`) of every listener row (`listener_rows`) with
    candidates: per Arrow batch, retrieval (`offered.retriever()`: every source's top K)
    then `rank_batch`, in one pass. The source models, the listeners' artists
    (`listener_artists`), the catalog arrays and the ranker's text are broadcast."""
    shipped = rows.sparkSession.sparkContext.broadcast(
        (offered, artists, catalog, ranker_text, settings)
    )

    def rank(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        models, listened, arrays, text, pass_settings = shipped.value
        retrieve_batch = models.retriever()
        ranker = None if text is None else Ranker(text, "the broadcast ranker")
        for batch in batches:
            if batch.num_rows:
                listed = with_candidates(batch, retrieve_batch(batch))
                if listed.num_rows:
                    yield rank_batch(
                        with_listener_artists(listed, listened), arrays, ranker, pass_settings
                    )

    return rows.mapInArrow(rank, POOL_DDL)


def load_week_ranker(
    spark: SparkSession, config: PipelineConfig, week: date
) -> tuple[str | None, str]:
    """(the week's ranker as LightGBM text, or None for the blend; why). A missing or
    unreadable ranker is logged and the blend ranks: never an empty playlist."""
    if not config.ranking.ranker:
        return None, "the ranker is off ([ranking] ranker = false)"
    try:
        record = read_week(spark, config, "ranker_models", schema.RANKER_MODELS, week).first()
    except MissingTable as missing:
        return None, f"no ranker for the week ({missing})"
    if record is None or record["ranked_by"] != schema.RANKER:
        return None, record["reason"] if record is not None else "no ranker_models row"
    path = config.warehouse_dir / record["model_file"]
    try:
        ranker = Ranker.load(path)
    except RankerUnavailable as unavailable:
        log.warning("Discover Weekly falls back to the blend: %s", unavailable)
        return None, str(unavailable)
    return ranker.text, f"ranker trained on week {record['trained_on_week']}"


def build_discover_pool(
    listeners: DataFrame,
    offered: Sources,
    interactions: DataFrame,
    tracks: DataFrame,
    albums: DataFrame,
    artists: DataFrame,
    controls: Controls,
    week: date,
    settings: PassSettings,
    track_clusters: DataFrame | None = None,
    listener_policy: DataFrame | None = None,
    likeability: DataFrame | None = None,
    ranker_text: str | None = None,
) -> DataFrame:
    """`candidate_pool` rows of every listener with candidates: the pure transform.

    listeners: `listener_inputs` rows; offered: the week's source models (anything whose
    `retriever()` turns a batch of listener rows into their `RETRIEVED` candidate lists);
    interactions: (user_id, track_id, confidence, plays); track_clusters: (track_id,
    cluster[, features]); listener_policy: (user_id, factors, exploration_share);
    likeability: (user_id, track_id, likeability); ranker_text: the week's LightGBM model,
    or None to blend."""
    listened = (
        interactions.where(F.col("confidence") > 0)
        .groupBy("track_id")
        .agg(F.count("*").alias("listeners"))
    )
    catalog_ = catalog_arrays(
        tracks.select("track_id", "artist_id", "album_id", "explicit").toArrow(),
        albums.select("album_id", "release_date").toArrow(),
        artists.select("artist_id", "genres").toArrow(),
        listened.toArrow(),
        None if track_clusters is None else track_clusters.toArrow(),
        controls.blocks.toArrow(),
        controls.campaigns.toArrow(),
        week,
    )
    rows = listener_rows(listeners, interactions, controls, listener_policy, likeability)
    # The pass is CPU-bound per listener: spread the rows evenly, two partitions a core (the
    # joins left them in as many as their bytes filled: 3 on 2 cores at 10M, one core idle
    # for the last third).
    rows = rows.repartition(2 * rows.sparkSession.sparkContext.defaultParallelism, "user_id")
    pool = ranked_pool(
        rows, offered, listener_artists(interactions, tracks), catalog_, ranker_text, settings
    )
    return with_schema(pool.withColumn("week", F.lit(week)), schema.CANDIDATE_POOL)


def discover_pool(
    spark: SparkSession,
    config: PipelineConfig,
    week: date,
    controls: Controls,
    rows: dict | None = None,
    retrieval: Retrieval | None = None,
) -> DataFrame:
    """The week's `candidate_pool` rows from its tables, as `config` says to rank them
    (the playlist stage's, and evaluation's for its variants: without exploration, with
    the re-ranker): retrieved and ranked in one pass. `retrieval` is the week's, built
    from its tables (`week_retrieval`) when not given; `rows` (a stage record's) learns
    whether the ranker ranked it."""
    ranker_text, why = load_week_ranker(spark, config, week)
    log.info("Discover Weekly ranked by the %s: %s", "ranker" if ranker_text else "blend", why)
    if rows is not None:
        rows["ranked_by_ranker"] = int(ranker_text is not None)

    def optional_week(table: str, table_schema) -> DataFrame | None:
        try:  # a week without audio clusters has neither clusters nor taste profiles
            return read_week(spark, config, table, table_schema, week)
        except MissingTable:
            return None

    track_clusters = optional_week("track_clusters", clusters_schema.TRACK_CLUSTERS)
    if track_clusters is not None:
        track_clusters = track_clusters.select("track_id", "cluster", "features")
    if retrieval is None:
        retrieval = week_retrieval(
            spark, config, week, optional_week("taste_profiles", taste.TASTE_PROFILES)
        )

    def catalog_table(name: str) -> DataFrame:
        return read_parquet(spark, config.catalog_dir / name, catalog.TABLES[name])

    return build_discover_pool(
        retrieval.listeners,
        retrieval.sources,
        read_week(spark, config, "interactions", interactions_schema.SCHEMA, week),
        catalog_table("tracks"),
        catalog_table("albums"),
        catalog_table("artists"),
        controls,
        week,
        PassSettings(config.playlists, config.ranking),
        track_clusters,
        _listener_policy(spark, config, week) if config.bandit.enabled else None,
        (
            read_week(spark, config, "likeability", rerank.LIKEABILITY, week)
            if config.reranker.enabled
            else None
        ),
        ranker_text,
    )


def _listener_policy(spark: SparkSession, config: PipelineConfig, week: date) -> DataFrame:
    """Each listener's factors and exploration share from the week's `policy` rows, by their
    segment (listeners without plays in the look-back are new)."""
    segments = listener_segments(
        read_table(spark, config, "events", events_schema.EVENTS), week, config.feedback
    )
    return listener_policy(read_week(spark, config, "policy", POLICY, week), segments)
