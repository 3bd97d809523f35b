"""Assemble the week's Discover Weekly and Release Radar into the playlists staging area
(`_staging/playlists/week=.../playlist_type=...`); `publish` swaps them in after validation.

    spark-submit jobs/playlists.py --week 2026-11-23
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from typing import Sequence

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.config import PipelineConfig, PlaylistConfig
from jobs.entry import run_job
from jobs.history import played_tracks
from jobs.tables import read_table, read_week, staging_path, with_schema
from schemas import candidates as candidates_schema
from schemas import catalog, controls, events, model
from schemas import interactions as interactions_schema
from schemas import playlists as schema


def _number_within(df: DataFrame, by: list[str], order: list) -> DataFrame:
    return df.withColumn("_n", F.row_number().over(Window.partitionBy(*by).orderBy(*order)))


def _cap_and_number(df: DataFrame, config: PlaylistConfig) -> DataFrame:
    """At most `max_tracks_per_artist` per artist, then the best `length` tracks, numbered."""
    best_first = [F.desc("score"), F.asc("track_id")]
    varied = _number_within(df, ["user_id", "artist_id"], best_first).where(
        F.col("_n") <= config.max_tracks_per_artist
    )
    return (
        _number_within(varied.drop("_n"), ["user_id"], best_first)
        .where(F.col("_n") <= config.length)
        .withColumn("position", F.col("_n"))
        .drop("_n")
    )


# Why a Discover Weekly track was chosen, by the source that contributed most to it.
DISCOVER_REASONS = {
    schema.SOURCE_ALS: "Picked for your taste: %s sounds like what you play",
    schema.SOURCE_LISTENERS_LIKE_YOU: "Listeners with taste like yours play %s",
    schema.SOURCE_POPULARITY: "Popular with listeners right now: %s",
}


def _literal_map(mapping: dict) -> Column:
    return F.create_map(*[F.lit(part) for pair in mapping.items() for part in pair])


def blend_candidates(candidates: DataFrame, weights: dict[str, float], depth: int) -> DataFrame:
    """One ranking per user from every candidate source, by rank (not raw score):

        r_s(u, t)   = max(0, 1 - (rank_s(u, t) - 1) / depth)     1 for a source's first pick
        score(u, t) = sum_s w_s * r_s(u, t)
        source(u, t) = argmax_s w_s * r_s(u, t)                  the largest contribution

    Ranks because the sources' scales (dot products, neighbour votes, listener counts) do
    not compare and their orders do; `depth` is the candidate list length, so the k-th
    pick of any source is worth the same before weighting. A track several sources propose
    appears once, with the summed score. Sources with no positive weight are left out.
    Returns (user_id, track_id, score, source)."""
    unknown = set(weights) - set(candidates_schema.SOURCES)
    if unknown:
        raise ValueError(
            f"source_weights names unknown source(s) {sorted(unknown)}; "
            f"known: {', '.join(candidates_schema.SOURCES)}"
        )
    weight = _literal_map({source: float(w) for source, w in weights.items()})[F.col("source")]
    rank_score = F.greatest(F.lit(0.0), 1.0 - (F.col("rank") - 1) / F.lit(float(depth)))
    contributions = (
        candidates.withColumn("weight", weight)
        .where(F.col("weight") > 0)
        .withColumn("contribution", F.col("weight") * rank_score)
    )
    return contributions.groupBy("user_id", "track_id").agg(
        F.sum("contribution").alias("score"),
        # Ties (equal contributions) go to the source name that sorts last: deterministic.
        F.max(F.struct("contribution", "source"))["source"].alias("source"),
    )


def build_discover_weekly(
    candidates: DataFrame,
    tracks: DataFrame,
    artists: DataFrame,
    model_version: str,
    week: date,
    config: PlaylistConfig,
) -> DataFrame:
    """`length` never-played tracks per listener from every candidate source, blended by
    `source_weights` (see `blend_candidates`), at most `max_tracks_per_artist` per artist.
    `score` is the blended score; `source` and `reason` name the main contributor."""
    blended = blend_candidates(candidates, config.source_weights, config.candidates_per_user)
    scored = blended.join(tracks.select("track_id", "artist_id"), "track_id").join(
        artists.select("artist_id", F.col("name").alias("artist_name")), "artist_id", "left"
    )
    reason = F.printf(
        _literal_map(DISCOVER_REASONS)[F.col("source")],
        F.coalesce("artist_name", F.lit("this artist")),
    )
    playlist = _cap_and_number(scored, config).withColumns(
        {"reason": reason, "playlist_type": F.lit(schema.DISCOVER_WEEKLY)}
    )
    return _finish(playlist, model_version, week)


def build_release_radar(
    interactions: DataFrame,
    follows: DataFrame,
    played: DataFrame,
    tracks: DataFrame,
    albums: DataFrame,
    artists: DataFrame,
    model_version: str,
    week: date,
    config: PlaylistConfig,
) -> DataFrame:
    """New releases (album released in the `release_radar_days` before the week) from
    artists the listener follows or plays, unplayed, ranked by how much they care."""
    window_start = week - timedelta(days=config.release_radar_days)
    new_tracks = (
        albums.where(
            (F.col("release_date") >= F.lit(window_start)) & (F.col("release_date") < F.lit(week))
        )
        .select("album_id", "release_date")
        .join(tracks.select("track_id", "album_id", "artist_id", "popularity"), "album_id")
    )
    played_artists = (
        interactions.where(F.col("confidence") > 0)
        .join(tracks.select("track_id", "artist_id"), "track_id")
        .groupBy("user_id", "artist_id")
        .agg(F.sum("confidence").alias("affinity"), F.sum("plays").alias("artist_plays"))
    )
    followed = (
        follows.where(
            F.col("followed_at") < F.lit(datetime.combine(week, datetime.min.time(), timezone.utc))
        )
        .select("user_id", "artist_id")
        .distinct()
        .withColumn("follows", F.lit(True))
    )
    cared = played_artists.join(followed, ["user_id", "artist_id"], "full").fillna(
        {"affinity": 0.0, "artist_plays": 0, "follows": False}
    )
    scored = (
        cared.join(new_tracks, "artist_id")
        .join(played, ["user_id", "track_id"], "left_anti")
        .withColumn(
            "score",
            # Following counts like a strong listening habit; popularity orders an artist's tracks.
            (F.col("affinity") + F.when(F.col("follows"), 5.0).otherwise(0.0))
            * (1.0 + F.coalesce("popularity", F.lit(0)) / 100.0),
        )
        .join(artists.select("artist_id", F.col("name").alias("artist_name")), "artist_id", "left")
    )
    playlist = _cap_and_number(scored, config).withColumns(
        {
            "source": F.when(F.col("follows"), schema.SOURCE_FOLLOWED_ARTIST).otherwise(
                schema.SOURCE_PLAYED_ARTIST
            ),
            "reason": F.when(
                F.col("follows"),
                F.format_string(
                    "New from %s, released %s: you follow them",
                    "artist_name",
                    F.col("release_date").cast("string"),
                ),
            ).otherwise(
                F.format_string(
                    "New from %s, released %s: you played their tracks %d time(s)",
                    "artist_name",
                    F.col("release_date").cast("string"),
                    "artist_plays",
                )
            ),
            "playlist_type": F.lit(schema.RELEASE_RADAR),
        }
    )
    return _finish(playlist, model_version, week)


def _finish(playlist: DataFrame, model_version: str, week: date) -> DataFrame:
    return with_schema(
        playlist.withColumns(
            {
                "model_version": F.lit(model_version),
                "generated_at": F.current_timestamp(),
                "week": F.lit(week),
            }
        ),
        schema.SCHEMA,
    )


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    def catalog_table(name: str) -> DataFrame:
        return spark.read.schema(catalog.TABLES[name]).parquet(str(config.catalog_dir / name))

    tracks, albums, artists = (catalog_table(n) for n in ("tracks", "albums", "artists"))
    follows = spark.read.schema(controls.FOLLOWS).parquet(str(config.controls_dir / "follows"))
    model_version = read_week(spark, config, "models", model.MODELS, week).first()["model_version"]
    played = played_tracks(read_table(spark, config, "events", events.EVENTS), week).cache()
    discover = build_discover_weekly(
        read_week(spark, config, "candidates", candidates_schema.SCHEMA, week),
        tracks,
        artists,
        model_version,
        week,
        config.playlists,
    )
    radar = build_release_radar(
        read_week(spark, config, "interactions", interactions_schema.SCHEMA, week),
        follows,
        played,
        tracks,
        albums,
        artists,
        model_version,
        week,
        config.playlists,
    )
    staged = staging_path(config, "playlists") / f"week={week.isoformat()}"
    shutil.rmtree(staged, ignore_errors=True)
    discover.unionByName(radar).drop("week").write.partitionBy("playlist_type").parquet(str(staged))
    counts = spark.read.parquet(str(staged)).groupBy("playlist_type").count().collect()
    rows.update({f"playlists_{row['playlist_type']}": row["count"] for row in counts})


def main(argv: Sequence[str] | None = None) -> None:
    run_job("playlists", argv, run, "Assemble Discover Weekly and Release Radar.")


if __name__ == "__main__":
    main()
