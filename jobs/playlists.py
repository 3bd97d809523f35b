"""Assemble the week's Discover Weekly and Release Radar into the playlists staging area
(`_staging/playlists/week=.../playlist_type=...`); `publish` swaps them in after validation.

    spark-submit jobs/playlists.py --week 2026-11-23
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from typing import Sequence

from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.stat import Summarizer
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs import discover as ranking_pass
from jobs.config import PipelineConfig, PlaylistConfig
from jobs.entry import run_job
from jobs.policy import write_policy
from jobs.quality import check_output
from jobs.rules import (
    Controls,
    apply_discovery_mode,
    read_controls,
    remove_disallowed,
)
from jobs.scoring import nearest_by_cosine
from jobs.tables import (
    MissingTable,
    read_control,
    read_week,
    staged_week,
    table_path,
    with_schema,
    write_week,
)
from jobs.weeks import release_window, week_start
from schemas import catalog, model
from schemas import clusters as clusters_schema
from schemas import interactions as interactions_schema
from schemas import played as played_schema
from schemas import playlists as schema
from schemas import pool as pool_schema


def _number_within(df: DataFrame, by: list[str], order: list) -> DataFrame:
    return df.withColumn("_n", F.row_number().over(Window.partitionBy(*by).orderBy(*order)))


def _best_first() -> list[Column]:
    return [F.desc("score"), F.asc("track_id")]


# Why a Discover Weekly track was chosen, by the source that contributed most to it; the
# blank is the artist's name, or for the audio sources the label of the track's cluster.
DISCOVER_REASONS = {
    schema.SOURCE_ALS: "Picked for your taste: %s sounds like what you play",
    schema.SOURCE_LISTENERS_LIKE_YOU: "Listeners with taste like yours play %s",
    schema.SOURCE_POPULARITY: "Popular with listeners right now: %s",
    schema.SOURCE_CONTENT: "New in your %s mix",
    schema.SOURCE_EXPLORATION: "Beyond your usual, close to what you play: %s",
    schema.SOURCE_TAGS: "Tagged like the artists you play: %s",
    schema.SOURCE_ITEM_ITEM: "Often played with what you play: %s",
}
AUDIO_SOURCES = (schema.SOURCE_CONTENT, schema.SOURCE_EXPLORATION)


def _literal_map(mapping: dict) -> Column:
    return F.create_map(*[F.lit(part) for pair in mapping.items() for part in pair])


def discover_weekly_rows(
    pool: DataFrame,
    artists: DataFrame,
    track_moods: DataFrame | None,
    model_version: str,
    week: date,
) -> DataFrame:
    """The published Discover Weekly rows from a week's `candidate_pool` (jobs/discover.py):
    the picked tracks, each with why - its main source, named by its artist or, for the
    audio sources, by its cluster's label (`track_moods`: track_id, label)."""
    picked = pool.where(F.col("position").isNotNull())
    if track_moods is not None:
        picked = picked.join(
            F.broadcast(track_moods.select("track_id", "label")), "track_id", "left"
        )
    else:
        picked = picked.withColumn("label", F.lit(None).cast("string"))
    named_by = F.when(
        F.col("source").isin(*AUDIO_SOURCES), F.coalesce("label", F.lit("new sounds"))
    ).otherwise(F.coalesce("artist_name", F.lit("this artist")))
    playlist = picked.join(
        artists.select("artist_id", F.col("name").alias("artist_name")), "artist_id", "left"
    ).withColumns(
        {
            "reason": F.printf(_literal_map(DISCOVER_REASONS)[F.col("source")], named_by),
            "playlist_type": F.lit(schema.DISCOVER_WEEKLY),
        }
    )
    return _finish(playlist.drop("week"), model_version, week)


def artist_vectors(track_factors: DataFrame, tracks: DataFrame) -> DataFrame:
    """(artist_id, factors): the mean of the artist's unit-length ALS track vectors, so an
    artist sits where their tracks do whatever their play counts."""
    norm = F.sqrt(F.aggregate("factors", F.lit(0.0), lambda acc, x: acc + x * x))
    unit = track_factors.select(
        "track_id", F.transform("factors", lambda x: x / F.greatest(norm, F.lit(1e-12)))
    ).toDF("track_id", "unit")
    return (
        unit.join(tracks.select("track_id", "artist_id"), "track_id")
        .groupBy("artist_id")
        .agg(Summarizer.mean(array_to_vector("unit")).alias("mean"))
        .select("artist_id", vector_to_array("mean", "float32").alias("factors"))
    )


def similar_artists(vectors: DataFrame, artist_ids: DataFrame, n: int) -> DataFrame:
    """(artist_id, similar_id, similarity): for each of `artist_ids`, the `n` other artists
    closest by cosine over `artist_vectors`, similarity > 0."""
    wanted = vectors.join(artist_ids.distinct(), "artist_id").withColumnRenamed(
        "artist_id", "user_id"
    )
    scored = nearest_by_cosine(wanted, vectors.withColumnRenamed("artist_id", "item_id"), n)
    return scored.select(
        F.col("user_id").alias("artist_id"),
        F.col("item_id").alias("similar_id"),
        F.col("score").alias("similarity"),
    )


# Release Radar's tiers, listed in this order.
FOLLOWED, PLAYED, SIMILAR = 1, 2, 3


def cared_artists(interactions: DataFrame, follows: DataFrame, tracks: DataFrame, week: date):
    """(user_id, artist_id, affinity, artist_plays, follows): artists the listener played
    (affinity: their summed confidence) or followed before the week."""
    played_artists = (
        interactions.where(F.col("confidence") > 0)
        .join(tracks.select("track_id", "artist_id"), "track_id")
        .groupBy("user_id", "artist_id")
        .agg(F.sum("confidence").alias("affinity"), F.sum("plays").alias("artist_plays"))
    )
    followed = (
        follows.where(F.col("followed_at") < F.lit(week_start(week)))
        .select("user_id", "artist_id")
        .distinct()
        .withColumn("follows", F.lit(True))
    )
    return played_artists.join(followed, ["user_id", "artist_id"], "full").fillna(
        {"affinity": 0.0, "artist_plays": 0, "follows": False}
    )


def release_radar_artists(cared: DataFrame, similar: DataFrame) -> DataFrame:
    """(user_id, artist_id, tier, affinity, artist_plays, related_id): whose new releases a
    listener hears about - artists they follow (tier 1), artists they play (tier 2), and
    artists similar to those (tier 3; `related_id` is the artist they resemble).

    A tier-3 artist's affinity is max over the listener's artists a of
    similarity(artist, a) x weight(a), weight = affinity / the listener's top affinity
    (1 for a followed artist), so it ranks below no tier-1 or tier-2 artist by design and
    among its own tier by how close and how loved its nearest cared-for artist is."""
    top = Window.partitionBy("user_id")
    weighted = cared.withColumn(
        "weight",
        F.greatest(
            F.col("affinity") / F.greatest(F.max("affinity").over(top), F.lit(1e-12)),
            F.when(F.col("follows"), 1.0).otherwise(0.0),
        ),
    )
    related = (
        weighted.select("user_id", F.col("artist_id").alias("similar_id"), "weight")
        .join(similar, "similar_id")
        .join(cared.select("user_id", "artist_id"), ["user_id", "artist_id"], "left_anti")
        .groupBy("user_id", "artist_id")
        # The closest cared-for artist (ties: the id that sorts last, deterministic).
        .agg(
            F.max(
                F.struct((F.col("similarity") * F.col("weight")).alias("affinity"), "similar_id")
            ).alias("best")
        )
        .select(
            "user_id",
            "artist_id",
            F.lit(SIMILAR).alias("tier"),
            F.col("best.affinity").alias("affinity"),
            F.lit(None).cast("long").alias("artist_plays"),
            F.col("best.similar_id").alias("related_id"),
        )
    )
    direct = cared.select(
        "user_id",
        "artist_id",
        F.when(F.col("follows"), FOLLOWED).otherwise(PLAYED).alias("tier"),
        "affinity",
        "artist_plays",
        F.lit(None).cast("string").alias("related_id"),
    )
    return direct.unionByName(related)


def new_releases(tracks: DataFrame, albums: DataFrame, week: date, config: PlaylistConfig):
    """(track_id, album_id, artist_id, popularity, release_date) of albums released in the
    Release Radar window (`jobs.weeks.release_window`)."""
    first, last = release_window(week, config.release_radar_days, config.release_radar_weekday)
    return (
        albums.where(F.col("release_date").between(F.lit(first), F.lit(last)))
        .select("album_id", "release_date")
        .join(tracks.select("track_id", "album_id", "artist_id", "popularity"), "album_id")
    )


def build_release_radar(
    listeners: DataFrame,
    releases: DataFrame,
    tracks: DataFrame,
    artists: DataFrame,
    controls: Controls,
    model_version: str,
    week: date,
    config: PlaylistConfig,
) -> DataFrame:
    """New releases (`new_releases`) from each listener's `release_radar_artists`: followed
    artists first, then artists played most, then similar artists; one track per release
    (its most popular unplayed one, Discovery Mode boosts applied), ordered by tier and
    then affinity, up to `length`. A listener with nothing new gets no Release Radar."""
    candidates = (
        listeners.join(releases.drop("album_id", "popularity"), "artist_id")
        .drop("artist_id")
        .join(controls.played, ["user_id", "track_id"], "left_anti")
    )
    allowed = remove_disallowed(candidates, tracks, controls).join(
        tracks.select("track_id", "popularity"), "track_id"
    )
    scored = apply_discovery_mode(
        # Affinity orders artists within a tier; popularity an artist's tracks.
        allowed.withColumn(
            "score",
            (1.0 + F.col("affinity")) * (1.0 + F.coalesce("popularity", F.lit(0)) / 100.0),
        ),
        controls,
        config.max_boosted_per_playlist,
    )
    one_per_release = _number_within(scored, ["user_id", "album_id"], _best_first()).where(
        F.col("_n") == 1
    )
    named = (
        one_per_release.drop("_n")
        .join(artists.select("artist_id", F.col("name").alias("artist_name")), "artist_id", "left")
        .join(
            artists.select(
                F.col("artist_id").alias("related_id"), F.col("name").alias("related_name")
            ),
            "related_id",
            "left",
        )
    )
    ordered = _number_within(
        named, ["user_id"], [F.asc("tier"), F.desc("score"), F.asc("track_id")]
    ).where(F.col("_n") <= config.length)
    new_from = F.format_string(
        "New from %s, released %s: ", "artist_name", F.col("release_date").cast("string")
    )
    because = (
        F.when(F.col("tier") == FOLLOWED, F.lit("you follow them"))
        .when(
            F.col("tier") == PLAYED,
            F.format_string("you played their tracks %d time(s)", "artist_plays"),
        )
        .otherwise(F.format_string("they sound like %s, whom you play", "related_name"))
    )
    playlist = ordered.withColumns(
        {
            "position": F.col("_n"),
            "source": F.element_at(
                F.array(
                    F.lit(schema.SOURCE_FOLLOWED_ARTIST),
                    F.lit(schema.SOURCE_PLAYED_ARTIST),
                    F.lit(schema.SOURCE_SIMILAR_ARTIST),
                ),
                F.col("tier"),
            ),
            "reason": F.concat(new_from, because),
            "playlist_type": F.lit(schema.RELEASE_RADAR),
        }
    )
    return _finish(playlist, model_version, week)


def _finish(playlist: DataFrame, model_version: str, week: date) -> DataFrame:
    return with_schema(
        playlist.withColumns(
            {
                "model_version": F.lit(model_version),
                "week": F.lit(week),
            }
        ),
        schema.SCHEMA,
    )


def _catalog_table(spark: SparkSession, config: PipelineConfig, name: str) -> DataFrame:
    return spark.read.schema(catalog.TABLES[name]).parquet(str(config.catalog_dir / name))


def _track_moods(spark: SparkSession, config: PipelineConfig, week: date) -> DataFrame | None:
    """(track_id, cluster, label) of the week's clustered tracks; None without clusters."""
    try:
        track_clusters = read_week(
            spark, config, "track_clusters", clusters_schema.TRACK_CLUSTERS, week
        )
        labels = read_week(spark, config, "clusters", clusters_schema.CLUSTERS, week)
    except MissingTable:
        return None
    return track_clusters.select("track_id", "cluster").join(
        labels.select("cluster", "label"), "cluster"
    )


def discover_weekly(
    spark: SparkSession, config: PipelineConfig, week: date, controls: Controls
) -> DataFrame:
    """The week's Discover Weekly rows, ranked afresh from its tables (not written)."""
    return discover_weekly_rows(
        ranking_pass.discover_pool(spark, config, week, controls),
        _catalog_table(spark, config, "artists"),
        _track_moods(spark, config, week),
        _model_version(spark, config, week),
        week,
    )


def release_radar(
    spark: SparkSession,
    config: PipelineConfig,
    week: date,
    controls: Controls,
    releases: DataFrame,
    model_version: str,
) -> DataFrame:
    """The week's Release Radar rows from its tables and `new_releases` (not written)."""
    tracks, artists = (_catalog_table(spark, config, n) for n in ("tracks", "artists"))
    similar = similar_artists(
        artist_vectors(
            read_week(spark, config, "track_factors", model.TRACK_FACTORS, week), tracks
        ),
        releases.select("artist_id"),
        config.playlists.similar_artists,
    )
    interactions = read_week(spark, config, "interactions", interactions_schema.SCHEMA, week)
    return build_release_radar(
        release_radar_artists(
            cared_artists(interactions, read_control(spark, config, "follows"), tracks, week),
            similar,
        ),
        releases,
        tracks,
        artists,
        controls,
        model_version,
        week,
        config.playlists,
    )


def _model_version(spark: SparkSession, config: PipelineConfig, week: date) -> str:
    return read_week(spark, config, "models", model.MODELS, week).first()["model_version"]


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    settings = config.playlists
    tracks, albums, artists = (
        _catalog_table(spark, config, n) for n in ("tracks", "albums", "artists")
    )
    model_version = _model_version(spark, config, week)
    # Played pairs from the week's `played` lists, not a distinct over the whole history:
    # validation still checks every published row against the history itself.
    played_pairs = read_week(spark, config, "played", played_schema.PLAYED, week).select(
        "user_id", F.explode("track_ids").alias("track_id")
    )
    controls = replace(read_controls(spark, config, week), played=played_pairs.cache())
    interactions = read_week(spark, config, "interactions", interactions_schema.SCHEMA, week)
    if config.bandit.enabled:
        rows["policy_rows"] = write_policy(spark, config, week).count()
    write_week(
        ranking_pass.discover_pool(spark, config, week, controls, rows),
        table_path(config, "candidate_pool"),
        week,
    )
    pool = read_week(spark, config, "candidate_pool", pool_schema.CANDIDATE_POOL, week)
    rows["candidate_pool"] = pool.count()
    check_output(config, week, pool, pool_schema.suite(), {"max_position": settings.length})
    discover = discover_weekly_rows(
        pool, artists, _track_moods(spark, config, week), model_version, week
    ).cache()
    releases = new_releases(tracks, albums, week, config.playlists).cache()
    radar = release_radar(spark, config, week, controls, releases, model_version)
    staged = staged_week(config, "playlists", week)
    shutil.rmtree(staged, ignore_errors=True)
    discover.unionByName(radar).drop("week").write.partitionBy("playlist_type").parquet(str(staged))
    written = spark.read.parquet(str(staged))
    counts = written.groupBy("playlist_type").agg(
        F.count("*").alias("tracks"), F.countDistinct("user_id").alias("listeners")
    )
    for row in counts.collect():
        rows[f"playlists_{row['playlist_type']}"] = row["tracks"]
        rows[f"listeners_{row['playlist_type']}"] = row["listeners"]
    listeners = interactions.select("user_id").distinct().count()
    # Listeners with nothing new get no Release Radar rather than filler: say how many.
    rows["listeners_without_release_radar"] = listeners - rows.get(
        f"listeners_{schema.RELEASE_RADAR}", 0
    )
    # Boosted impressions per Discovery Mode campaign: what the lower royalty rate bought.
    boosted = written.where(F.col("boosted")).groupBy("campaign_id").count().collect()
    rows.update({f"boosted_{row['campaign_id']}": row["count"] for row in boosted})
    # What exploration bought: slots per source, and tracks nobody played in the look-back
    # window (reachable only through the audio sources).
    by_source = discover.groupBy("source").count().collect()
    rows.update({f"discover_weekly_{row['source']}": row["count"] for row in by_source})
    rows["discover_weekly_unplayed_tracks"] = (
        discover.join(interactions.select("track_id").distinct(), "track_id", "left_anti")
        .select("track_id")
        .distinct()
        .count()
    )
    discover.unpersist()
    releases.unpersist()
    controls.played.unpersist()


def main(argv: Sequence[str] | None = None) -> None:
    run_job("playlists", argv, run, "Assemble Discover Weekly and Release Radar.")


if __name__ == "__main__":
    main()
