"""Assemble the week's Discover Weekly and Release Radar into the playlists staging area
(`_staging/playlists/week=.../playlist_type=...`); `publish` swaps them in after validation.

Discover Weekly is one pass per listener batch (jobs/domain/discover.py): every candidate
source's top K retrieved in memory from the week's source models
(jobs/domain/source_models.py), then ranked, ruled and picked; what it writes is the
week's `candidate_pool` (the shortlist the ranker ordered, with features and positions)
and the week's listener `taste_profiles`, which the audio sources read.

    spark-submit jobs/stages/playlists.py --week 2026-11-23
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from typing import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig
from jobs.core.entry import run_job
from jobs.core.quality import check_output
from jobs.core.tables import (
    MissingTable,
    read_control,
    read_week,
    staged_week,
    table_path,
    with_schema,
    write_week,
)
from jobs.domain import discover as ranking_pass
from jobs.domain.matrix import UserItems
from jobs.domain.policy import write_policy
from jobs.domain.release_radar import (
    build_release_radar,
    new_releases,
    similar_artists,
)
from jobs.domain.rules import Controls, read_controls
from jobs.domain.source_models import (
    positive_user_items,
    profiles_frame,
    week_retrieval,
    week_taste_profiles,
)
from schemas import candidates as candidates_schema
from schemas import catalog, model, taste
from schemas import clusters as clusters_schema
from schemas import interactions as interactions_schema
from schemas import played as played_schema
from schemas import playlists as schema
from schemas import pool as pool_schema

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
    """The published Discover Weekly rows from a week's `candidate_pool` (jobs/domain/discover.py):
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
    """The week's Release Radar rows from its tables and `new_releases` (not written): one
    numpy pass per listener batch (jobs/domain/release_radar.py)."""
    tracks, artists = (_catalog_table(spark, config, n) for n in ("tracks", "artists"))
    track_factors = read_week(spark, config, "track_factors", model.TRACK_FACTORS, week)
    similar = similar_artists(
        track_factors.select("track_id", "factors").toArrow(),
        tracks.select("track_id", "artist_id").toArrow(),
        releases.select("artist_id").toArrow().column("artist_id"),
        config.playlists.similar_artists,
    )
    radar = build_release_radar(
        read_week(spark, config, "interactions", interactions_schema.SCHEMA, week),
        read_control(spark, config, "follows"),
        tracks,
        artists,
        releases,
        similar,
        controls,
        week,
        config.playlists,
    )
    return _finish(radar, model_version, week)


def _model_version(spark: SparkSession, config: PipelineConfig, week: date) -> str:
    return read_week(spark, config, "models", model.MODELS, week).first()["model_version"]


def write_taste_profiles(
    spark: SparkSession, config: PipelineConfig, week: date, likes: UserItems, rows: dict
) -> DataFrame | None:
    """Write and check the week's `taste_profiles` (jobs/domain/taste.py) from its positive
    confidences `likes` and return them as written. A week without audio clusters (a
    catalog without features) has none: its partition is written empty (a re-run replaces
    last run's), `rows["audio_sources_skipped"]` is 1 and None is returned, so the pass has
    no content or exploration source."""
    profiles = week_taste_profiles(spark, config, week, likes)
    rows["audio_sources_skipped"] = int(profiles is None)
    write_week(
        with_schema(
            profiles_frame(spark, profiles).withColumn("week", F.lit(week)),
            taste.TASTE_PROFILES,
        ),
        table_path(config, "taste_profiles"),
        week,
    )
    if profiles is None:
        rows["taste_profiles"] = 0
        return None
    written = read_week(spark, config, "taste_profiles", taste.TASTE_PROFILES, week)
    rows["taste_profiles"] = written.count()
    check_output(config, week, written, taste.suite())
    return written


def record_pool(pool: DataFrame, interactions: DataFrame, rows: dict) -> None:
    """The pool's figures in the stage record: its rows, its listeners, the rows each source
    proposed (a row two sources proposed counts for both), and of the content and tags
    rows, the tracks nobody interacted with in the look-back window (only they reach
    those)."""
    proposed = [
        F.count(F.col(f"{source}_score")).alias(source) for source in candidates_schema.SOURCES
    ]
    totals = pool.agg(
        F.count("*").alias("rows"), F.countDistinct("user_id").alias("listeners"), *proposed
    ).first()
    rows["candidate_pool"] = totals["rows"]
    rows["candidate_pool_listeners"] = totals["listeners"]
    rows.update(
        {f"candidate_pool_{source}": totals[source] for source in candidates_schema.SOURCES}
    )
    known = interactions.select("track_id").distinct()
    for source in (candidates_schema.CONTENT, candidates_schema.TAGS):
        rows[f"{source}_cold_tracks"] = (
            pool.where(F.col(f"{source}_score").isNotNull())
            .select("track_id")
            .distinct()
            .join(F.broadcast(known), "track_id", "left_anti")
            .count()
        )


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
    controls = read_controls(spark, config, week)
    # Both passes read only the skips of boosted tracks (a boost never follows a skip): one
    # scan of the whole history for the two, kept.
    boosted_skips = controls.skipped.join(
        F.broadcast(controls.campaigns.select("track_id")), "track_id", "left_semi"
    )
    controls = replace(controls, played=played_pairs.cache(), skipped=boosted_skips.cache())
    interactions = read_week(spark, config, "interactions", interactions_schema.SCHEMA, week)
    if config.bandit.enabled:
        rows["policy_rows"] = write_policy(spark, config, week).count()
    likes = positive_user_items(interactions)
    profiles = write_taste_profiles(spark, config, week, likes, rows)
    retrieval = week_retrieval(spark, config, week, profiles, likes)
    write_week(
        ranking_pass.discover_pool(spark, config, week, controls, rows, retrieval),
        table_path(config, "candidate_pool"),
        week,
    )
    pool = read_week(spark, config, "candidate_pool", pool_schema.CANDIDATE_POOL, week)
    record_pool(pool, interactions, rows)
    # Scanned per expectation, not cached: 10M bench, 10.4 s against 25.3 s.
    check_output(
        config,
        week,
        pool,
        pool_schema.suite(),
        {"max_position": settings.length},
        persist=False,
    )
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
    controls.skipped.unpersist()


def main(argv: Sequence[str] | None = None) -> None:
    run_job("playlists", argv, run, "Assemble Discover Weekly and Release Radar.")


if __name__ == "__main__":
    main()
