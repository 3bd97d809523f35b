"""The week's candidate source models, built once on the driver, and the listener rows the
retrieval pass reads (jobs/domain/retrieval.py). The playlists stage retrieves and ranks in
one pass over them (jobs/domain/discover.py); the re-ranker and `evaluate` build the same.

* `als` - the ALS score u . v against the track factors (implicit's fused top-K, played
  tracks masked inside it).
* `listeners_like_you` - user-user: each listener's `neighbours` nearest users by cosine
  over the ALS user factors, then what those neighbours like, voted by similarity:

      score(u, t) = sum_v sim(u, v) c(v, t) / max_t' c(v, t')  /  sum_v sim(u, v)

  over u's neighbours v (sim > 0) and positive confidences c only: a neighbour weighs in by
  similarity, a heavy listener no more than a light one, and the score lies in (0, 1].
* `popularity` - for cold-start listeners (few plays, or no ALS factors): the most-listened
  tracks of the look-back window, listeners(t) = #{v : c(v, t) > 0}.
* `content` and `exploration` - tracks nearest the listener's audio taste profile, within
  their own moods or in nearby clusters (jobs/domain/taste.py). A week without audio
  clusters (a catalog without features) has neither.
* `tags` - tracks whose artist's tags and genres are nearest (TF-IDF cosine) to those of
  the artists the listener plays (jobs/domain/tags.py): reaches artists nobody has played.
* `item_item` - tracks often played by the listeners of the listener's own tracks:
  sum_i X[u, i] S[i, j] over the tracks i they played, S the week's item-item similarity
  (EASE on a small catalog, RP3beta past `ease_max_tracks`; jobs/domain/neighbours.py).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from scipy.sparse import csr_matrix, diags

from jobs.core.arrays import unit_rows
from jobs.core.config import PipelineConfig, PlaylistConfig
from jobs.core.tables import MissingTable, read_parquet, read_table, read_week
from jobs.domain.matrix import UserItems, to_user_items
from jobs.domain.neighbours import ItemSimilarity, item_similarity
from jobs.domain.retrieval import People, Sources, listener_inputs
from jobs.domain.scoring import played_masks
from jobs.domain.tags import TagSpace, catalog_tag_space
from jobs.domain.taste import audio_space, taste_profiles, track_space
from schemas import catalog, clusters, events, interactions, model
from schemas import played as played_schema
from schemas.taste import TASTE_PROFILES

log = logging.getLogger(__name__)


def positive_user_items(interactions_df: DataFrame) -> UserItems:
    """The look-back window's positive confidences as a users x tracks matrix on the driver
    (users and tracks sorted by id)."""
    return to_user_items(
        interactions_df.where(F.col("confidence") > 0)
        .select("user_id", "track_id", "confidence")
        .toArrow()
    )


def factor_source(track_factors: DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """(track ids sorted, factors) of the week's ALS track factors; None without any."""
    table = track_factors.select("track_id", "factors").orderBy("track_id").toArrow()
    if table.num_rows == 0:
        return None
    vectors = table.column("factors").combine_chunks().flatten().to_numpy()
    return (
        table.column("track_id").to_numpy(zero_copy_only=False),
        vectors.reshape(table.num_rows, -1).astype(np.float32),
    )


def people_source(user_factors: DataFrame, likes: UserItems, neighbours: int) -> People | None:
    """Listeners like you: every modelled user's unit factors and the liking matrix
    L[v, t] = c(v, t) / max_t' c(v, t'); None without factors or likes."""
    table = user_factors.select("user_id", "factors").orderBy("user_id").toArrow()
    if table.num_rows == 0 or likes.shape[0] == 0:
        return None
    vectors = table.column("factors").combine_chunks().flatten().to_numpy()
    row_max = likes.matrix.max(axis=1).toarray().ravel()
    return People(
        user_ids=table.column("user_id").to_numpy(zero_copy_only=False),
        unit_factors=unit_rows(vectors.reshape(table.num_rows, -1).astype(np.float32)),
        neighbours=neighbours,
        liking_user_ids=likes.user_ids,
        liking_track_ids=likes.track_ids,
        liking=csr_matrix(diags(1.0 / row_max) @ likes.matrix, dtype=np.float32),
    )


def popularity_source(likes: UserItems) -> tuple[np.ndarray, np.ndarray] | None:
    """(track ids sorted, listeners(t) = #{v : c(v, t) > 0}) over the look-back window: a
    rank-1 'model' scored like ALS."""
    if likes.shape[0] == 0:
        return None
    return likes.track_ids, np.diff(likes.matrix.tocsc().indptr).astype(np.float32)


def item_item_source(likes: UserItems, settings: PlaylistConfig) -> ItemSimilarity | None:
    """The week's item-item similarity of who played what (jobs/domain/neighbours.py), top
    `item_item_neighbours` per track, RP3beta's blocks on every core the driver may use;
    EASE keeps its negative weights (Last.fm: NDCG@30 0.300 with them, 0.288 without)."""
    if likes.shape[0] == 0:
        return None
    return item_similarity(
        likes.matrix,
        likes.track_ids,
        method=settings.item_item_method,
        ease_max_tracks=settings.ease_max_tracks,
        k=settings.item_item_neighbours,
        negative_weights=True,
        threads=len(os.sched_getaffinity(0)),
    )


def cold_start_users(
    interactions_df: DataFrame,
    user_factors: DataFrame,
    events_df: DataFrame,
    week: date,
    min_plays: int,
) -> DataFrame:
    """(user_id) of the users popularity serves: fewer than `min_plays` plays in the
    look-back window (sum of `plays` over their interactions), or active in the week
    before `week` (clean events) without ALS factors."""
    light = (
        interactions_df.groupBy("user_id")
        .agg(F.sum("plays").alias("plays"))
        .where(F.col("plays") < min_plays)
        .select("user_id")
    )
    unmodelled = (
        events_df.where(
            (F.col("date") >= F.lit(week - timedelta(days=7))) & (F.col("date") < F.lit(week))
        )
        .select("user_id")
        .distinct()
        .join(user_factors.select("user_id"), "user_id", "left_anti")
    )
    return light.union(unmodelled).distinct()


@dataclass(frozen=True)
class AudioClusters:
    """The week's audio clusters: (track_id, cluster, features, ...) and (cluster,
    centroid, label, ...)."""

    track_clusters: DataFrame
    clusters: DataFrame


def audio_clusters(spark: SparkSession, config: PipelineConfig, week: date) -> AudioClusters | None:
    """The week's audio clusters; None, with the reason logged, when it has none: the
    clusters stage never ran for it, or it wrote empty partitions (a catalog without audio
    features)."""
    try:
        track_clusters = read_week(spark, config, "track_clusters", clusters.TRACK_CLUSTERS, week)
        centroids = read_week(spark, config, "clusters", clusters.CLUSTERS, week)
    except MissingTable as missing:
        why = str(missing)
    else:
        if not track_clusters.isEmpty():
            return AudioClusters(track_clusters, centroids)
        why = "no track has audio features (the clusters stage wrote empty partitions)"
    log.warning(
        "no taste profiles, content or exploration candidates: week %s has no audio clusters: %s",
        week,
        why,
    )
    return None


def week_taste_profiles(
    spark: SparkSession, config: PipelineConfig, week: date, likes: UserItems
) -> pa.Table | None:
    """The week's listener taste profiles (jobs/domain/taste.py) from its positive
    confidences (`positive_user_items`) and audio clusters, not written; None without audio
    clusters."""
    audio = audio_clusters(spark, config, week)
    space = None if audio is None else track_space(audio.track_clusters)
    return None if space is None else taste_profiles(likes, space)


def profiles_frame(spark: SparkSession, profiles: pa.Table | None) -> DataFrame:
    """`taste_profiles` rows (without `week`) as a Spark frame; empty for None (a week
    without audio clusters)."""
    columns = StructType([field for field in TASTE_PROFILES.fields if field.name != "week"])
    return spark.createDataFrame([] if profiles is None else profiles, columns)


def tag_source(spark: SparkSession, config: PipelineConfig) -> TagSpace | None:
    """The tag space of the catalog's genres and optional `artist_tags`; None when no two
    of its artists share a term."""

    def catalog_table(name: str, *columns: str) -> pa.Table:
        table = read_parquet(spark, config.catalog_dir / name, catalog.ALL_TABLES[name])
        return table.select(*columns).orderBy(columns[0]).toArrow()

    artist_tags = None
    if (config.catalog_dir / "artist_tags").exists():
        artist_tags = catalog_table("artist_tags", "artist_id", "tag")
    space = catalog_tag_space(
        catalog_table("artists", "artist_id", "genres"),
        catalog_table("tracks", "track_id", "artist_id"),
        artist_tags,
    )
    if space.terms.size == 0:
        log.warning("no tags candidates: no two artists of the catalog share a tag or a genre")
        return None
    return space


@dataclass(frozen=True)
class Retrieval:
    """What the retrieval pass needs for a week: the source models, broadcast, and one
    `listener_inputs` row per listener any source can serve."""

    sources: Sources
    listeners: DataFrame


def week_retrieval(
    spark: SparkSession,
    config: PipelineConfig,
    week: date,
    profiles: DataFrame | None,
    likes: UserItems | None = None,
) -> Retrieval:
    """The week's source models and listener rows from its tables; `profiles` are its
    taste profiles (None: no audio sources this week), `likes` its positive confidences
    when the caller has them (`positive_user_items`). Sets the session's Arrow batch to
    `scoring_batch_rows` listeners: a batch is scored against the whole catalog at once."""
    settings = config.playlists
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(settings.scoring_batch_rows))
    user_factors = read_week(spark, config, "user_factors", model.USER_FACTORS, week)
    interactions_df = read_week(spark, config, "interactions", interactions.SCHEMA, week)
    history = read_table(spark, config, "events", events.EVENTS)
    played = played_masks(read_week(spark, config, "played", played_schema.PLAYED, week))
    cold = cold_start_users(interactions_df, user_factors, history, week, settings.cold_start_plays)
    if likes is None:
        likes = positive_user_items(interactions_df)
    audio = None
    if profiles is not None:
        week_clusters = audio_clusters(spark, config, week)
        if week_clusters is not None:
            audio = audio_space(week_clusters.track_clusters, week_clusters.clusters, settings)
    # The item-item build is driver numpy that releases the GIL (10M: 45 s on one core):
    # it runs beside the Spark work of the other sources.
    with ThreadPoolExecutor(1) as background:
        item_item = background.submit(item_item_source, likes, settings)
        sources = Sources(
            k=settings.candidates_per_user,
            als=factor_source(read_week(spark, config, "track_factors", model.TRACK_FACTORS, week)),
            people=people_source(user_factors, likes, settings.neighbours),
            popularity=popularity_source(likes),
            audio=audio,
            tags=tag_source(spark, config),
            item_item=item_item.result(),
        )
    return Retrieval(
        sources, listener_inputs(user_factors, interactions_df, played, cold, profiles)
    )
