"""Assemble the week's Discover Weekly and Release Radar into the playlists staging area
(`_staging/playlists/week=.../playlist_type=...`); `publish` swaps them in after validation.

    spark-submit jobs/playlists.py --week 2026-11-23
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from functools import reduce
from typing import Sequence

from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.stat import Summarizer
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.candidates import nearest_by_cosine
from jobs.config import PipelineConfig, PlaylistConfig
from jobs.entry import run_job
from jobs.feedback import listener_segments
from jobs.policy import listener_policy, write_policy
from jobs.rules import (
    Controls,
    apply_discovery_mode,
    prefer_genres,
    read_controls,
    remove_disallowed,
)
from jobs.tables import read_control, read_table, read_week, staged_week, with_schema
from jobs.weeks import release_window, week_start
from schemas import candidates as candidates_schema
from schemas import catalog, model, rerank
from schemas import clusters as clusters_schema
from schemas import events as events_schema
from schemas import interactions as interactions_schema
from schemas import played as played_schema
from schemas import playlists as schema
from schemas.policy import POLICY


def _number_within(df: DataFrame, by: list[str], order: list) -> DataFrame:
    return df.withColumn("_n", F.row_number().over(Window.partitionBy(*by).orderBy(*order)))


def _best_first() -> list[Column]:
    return [F.desc("score"), F.asc("track_id")]


def _cap(df: DataFrame, by: list[str], limit: int, order: list | None = None) -> DataFrame:
    """At most `limit` rows per `by` group (rows with a null key are not capped), the first
    by `order` (best score first by default) kept."""
    numbered = _number_within(df, by, order or _best_first())
    keys = reduce(lambda both, key: both & F.col(key).isNotNull(), by[1:], F.lit(True))
    return numbered.where((F.col("_n") <= limit) | ~keys).drop("_n")


# Why a Discover Weekly track was chosen, by the source that contributed most to it; the
# blank is the artist's name, or for the audio sources the label of the track's cluster.
DISCOVER_REASONS = {
    schema.SOURCE_ALS: "Picked for your taste: %s sounds like what you play",
    schema.SOURCE_LISTENERS_LIKE_YOU: "Listeners with taste like yours play %s",
    schema.SOURCE_POPULARITY: "Popular with listeners right now: %s",
    schema.SOURCE_CONTENT: "New in your %s mix",
    schema.SOURCE_EXPLORATION: "Beyond your usual, close to what you play: %s",
    schema.SOURCE_TAGS: "Tagged like the artists you play: %s",
}
AUDIO_SOURCES = (schema.SOURCE_CONTENT, schema.SOURCE_EXPLORATION)


def _literal_map(mapping: dict) -> Column:
    return F.create_map(*[F.lit(part) for pair in mapping.items() for part in pair])


def listener_maturity(interactions: DataFrame, mature_plays: int) -> DataFrame:
    """(user_id, maturity): plays in the look-back window / `mature_plays`, at most 1."""
    return interactions.groupBy("user_id").agg(
        F.least(F.lit(1.0), F.sum("plays") / F.lit(float(mature_plays))).alias("maturity")
    )


def source_weight(config: PlaylistConfig) -> Column:
    """Each candidate row's weight: `source_weights` for a mature listener,
    `new_listener_weights` for one with no plays, in proportion to `maturity` between."""
    for name, weights in (
        ("source_weights", config.source_weights),
        ("new_listener_weights", config.new_listener_weights),
    ):
        unknown = set(weights) - set(candidates_schema.SOURCES)
        if unknown:
            raise ValueError(
                f"{name} names unknown source(s) {sorted(unknown)}; "
                f"known: {', '.join(candidates_schema.SOURCES)}"
            )

    def weight(weights: dict[str, float]) -> Column:
        return F.coalesce(_literal_map(weights)[F.col("source")], F.lit(0.0))

    maturity = F.col("maturity")
    return weight(config.source_weights) * maturity + weight(config.new_listener_weights) * (
        1.0 - maturity
    )


def blend_candidates(candidates: DataFrame, weight: Column, depth: int) -> DataFrame:
    """One ranking per user from every candidate source, by rank (not raw score):

        r_s(u, t)   = max(0, 1 - (rank_s(u, t) - 1) / depth)     1 for a source's first pick
        score(u, t) = sum_s w_s(u) * r_s(u, t)
        source(u, t) = argmax_s w_s(u) * r_s(u, t)               the largest contribution

    Ranks because the sources' scales (dot products, neighbour votes, listener counts,
    cosines) do not compare and their orders do; `depth` is the candidate list length, so
    the k-th pick of any source is worth the same before weighting. A track several sources
    propose appears once, with the summed score. Rows whose weight is not positive are left
    out. Returns (user_id, track_id, score, source)."""
    rank_score = F.greatest(F.lit(0.0), 1.0 - (F.col("rank") - 1) / F.lit(float(depth)))
    contributions = (
        candidates.withColumn("weight", weight)
        .where(F.col("weight") > 0)
        .withColumn("contribution", F.col("weight") * rank_score)
    )
    # The largest contribution and its source packed in one long: Spark hash-aggregates
    # longs, while max(struct(contribution, source)) sorts the whole pool. Ties (equal
    # contributions, to 2^-40) go to the source name that sorts last: deterministic.
    names = F.array(*[F.lit(name) for name in sorted(candidates_schema.SOURCES)])
    packed = F.floor(F.col("contribution") * F.lit(2.0**40)) * 8 + F.array_position(
        names, F.col("source")
    )
    return contributions.groupBy("user_id", "track_id").agg(
        F.sum("contribution").alias("score"),
        F.element_at(names, (F.max(packed) % 8).cast("int")).alias("source"),
    )


def _apply_likeability(blended: DataFrame, likeability: DataFrame) -> DataFrame:
    """score x likeability / the listener's mean likeability: a candidate the re-ranker
    could not score (no audio features) keeps its score, and so does an average one."""
    mean = F.avg("likeability").over(Window.partitionBy("user_id"))
    factor = F.coalesce(F.col("likeability") / mean, F.lit(1.0))
    return (
        blended.join(
            likeability.select("user_id", "track_id", "likeability"),
            ["user_id", "track_id"],
            "left",
        )
        .withColumn("score", F.col("score") * factor)
        .drop("likeability")
    )


def _exploration_picks(candidates: DataFrame, depth: int) -> DataFrame:
    """(user_id, track_id, score, source) of the exploration source, scored like a blend
    with weight 1: they fill their own quota of slots, not the blended ranking."""
    return blend_candidates(
        candidates.where(F.col("source") == schema.SOURCE_EXPLORATION), F.lit(1.0), depth
    )


def _exploration_quota(config: PlaylistConfig) -> Column:
    """Each row's listener's exploration slots: `exploration_share` (a column: the fixed
    share, or the adaptive policy's for the listener's segment) of `length`."""
    return F.round(F.lit(config.length) * F.col("exploration_share")).cast("int")


def _select_with_exploration(df: DataFrame, config: PlaylistConfig) -> DataFrame:
    """`length` tracks per user: the best `exploration_share` of the slots from the
    exploration rows (`explore`), the rest from the blended ranking, either side filling
    in when the other runs short; positions interleave the two evenly."""
    per_user = Window.partitionBy("user_id")
    counted = _number_within(df, ["user_id", "explore"], _best_first()).withColumns(
        {
            "_explore_rows": F.sum(F.col("explore").cast("int")).over(per_user),
            "_main_rows": F.sum((~F.col("explore")).cast("int")).over(per_user),
        }
    )
    explore_taken = F.least(
        F.col("_explore_rows"),
        F.greatest(_exploration_quota(config), F.lit(config.length) - F.col("_main_rows")),
    )
    taken = F.when(F.col("explore"), explore_taken).otherwise(
        F.least(F.col("_main_rows"), F.lit(config.length) - explore_taken)
    )
    chosen = counted.withColumn("_taken", taken).where(F.col("_n") <= F.col("_taken"))
    # The k-th of n picks of either kind sits at (k - 0.5) / n of the playlist.
    spread = (F.col("_n") - 0.5) / F.col("_taken")
    return (
        _number_within(
            chosen.withColumn("_at", spread), ["user_id"], ["_at", "explore", "track_id"]
        )
        .withColumn("position", F.col("_n"))
        .drop("_n", "_taken", "_at", "_explore_rows", "_main_rows")
    )


def build_discover_weekly(
    candidates: DataFrame,
    tracks: DataFrame,
    artists: DataFrame,
    controls: Controls,
    model_version: str,
    week: date,
    config: PlaylistConfig,
    maturity: DataFrame | None = None,
    track_moods: DataFrame | None = None,
    likeability: DataFrame | None = None,
    listener_policy: DataFrame | None = None,
) -> DataFrame:
    """`length` never-played tracks per listener.

    * Every source but exploration is blended (`blend_candidates`) with weights that move
      from `new_listener_weights` to `source_weights` with the listener's `maturity`
      (user_id, maturity in [0, 1]; without it everyone counts as mature).
    * `likeability` (user_id, track_id, likeability in [0, 1]; jobs/rerank.py), when
      given, scales the blended score by likeability over the listener's mean.
    * `exploration_share` of the slots go to the exploration source (nearby audio clusters
      the listener does not play yet), interleaved with the rest.
    * `listener_policy` (user_id, factors: source -> factor, exploration_share; the
      adaptive policy, jobs/policy.py), when given, multiplies each source's weight by the
      listener's factor and sets their exploration share; listeners it lacks keep the
      fixed ones.
    * Within the listener's controls and the platform rules (`jobs.rules`), preferred genres
      favoured, Discovery Mode boosts applied; at most `max_tracks_per_artist` per artist,
      `max_tracks_per_album` per album and `max_cluster_share` of the playlist per audio
      cluster (`track_moods`: track_id, cluster, label).

    `score` is the final score; `source` and `reason` name the main contributor.
    Never-played means never, excluded contexts included (see `Controls.played`)."""
    depth = config.candidates_per_user
    # The pool is shuffled by listener here only (once per branch: main, exploration and
    # main's keys). Every aggregate, join and window below is keyed (user_id, ...), which
    # rows partitioned by user_id satisfy (with `spark.sql.requireAllClusterKeysForCoPartition`
    # off: jobs/spark.py); the small sides (played, skipped, maturity) are shuffled to match.
    # Before, the 10M week's plan shuffled the pool 12 times; at 50M that filled the disk.
    candidates = candidates.repartition("user_id")
    users = candidates.select("user_id").distinct()
    with_maturity = candidates.join(
        maturity if maturity is not None else users.withColumn("maturity", F.lit(1.0)),
        "user_id",
        "left",
    ).fillna({"maturity": 0.0})
    factor = F.lit(1.0)
    if listener_policy is not None:
        with_maturity = with_maturity.join(
            listener_policy.select("user_id", "factors"), "user_id", "left"
        )
        factor = F.coalesce(F.col("factors")[F.col("source")], factor)
    main = blend_candidates(
        with_maturity.where(F.col("source") != schema.SOURCE_EXPLORATION),
        source_weight(config) * factor,
        depth,
    )
    if likeability is not None:
        main = _apply_likeability(main, likeability)
    explore = _exploration_picks(candidates, depth).join(
        main.select("user_id", "track_id"), ["user_id", "track_id"], "left_anti"
    )
    pooled = main.withColumn("explore", F.lit(False)).unionByName(
        explore.withColumn("explore", F.lit(True))
    )
    if listener_policy is None:
        pooled = pooled.withColumn("exploration_share", F.lit(config.exploration_share))
    else:
        pooled = pooled.join(
            listener_policy.select("user_id", "exploration_share"), "user_id", "left"
        ).fillna({"exploration_share": config.exploration_share})
    unplayed = pooled.join(controls.played, ["user_id", "track_id"], "left_anti")
    allowed = prefer_genres(
        remove_disallowed(unplayed, tracks, controls),
        artists,
        controls,
        config.preferred_genre_boost,
    )
    moods = (
        track_moods
        if track_moods is not None
        else tracks.select(
            "track_id",
            F.lit(None).cast("int").alias("cluster"),
            F.lit(None).cast("string").alias("label"),
        )
    )
    # Broadcast: a shuffle by track would undo the partitioning by listener.
    scored = apply_discovery_mode(allowed, controls, config.max_boosted_per_playlist).join(
        F.broadcast(moods.select("track_id", "cluster")), "track_id", "left"
    )
    # Exploration and blended scores are on different scales: the caps compare rows by
    # where they would sit in the interleaved playlist, so that an exploration pick is not
    # dropped for sharing an artist with a blended pick far down the list.
    quota = _exploration_quota(config)
    slots = F.when(F.col("explore"), F.greatest(quota, F.lit(1))).otherwise(
        F.greatest(F.lit(config.length) - quota, F.lit(1))
    )
    placed = _number_within(scored, ["user_id", "explore"], _best_first()).withColumn(
        "_at", (F.col("_n") - 0.5) / slots
    )
    by_place = [F.asc("_at"), F.asc("track_id")]
    varied = _cap(
        _cap(
            _cap(placed, ["user_id", "artist_id"], config.max_tracks_per_artist, by_place),
            ["user_id", "album_id"],
            config.max_tracks_per_album,
            by_place,
        ),
        ["user_id", "cluster"],
        max(1, int(config.length * config.max_cluster_share)),
        by_place,
    ).drop("_n", "_at")
    named_by = F.when(
        F.col("source").isin(*AUDIO_SOURCES), F.coalesce("label", F.lit("new sounds"))
    ).otherwise(F.coalesce("artist_name", F.lit("this artist")))
    reason = F.printf(_literal_map(DISCOVER_REASONS)[F.col("source")], named_by)
    # Names only for the chosen rows: the pool's rows travel through the caps without them.
    playlist = (
        _select_with_exploration(varied, config)
        .join(artists.select("artist_id", F.col("name").alias("artist_name")), "artist_id", "left")
        .join(F.broadcast(moods.select("track_id", "label")), "track_id", "left")
        .withColumns({"reason": reason, "playlist_type": F.lit(schema.DISCOVER_WEEKLY)})
    )
    return _finish(playlist, model_version, week)


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


def discover_weekly(
    spark: SparkSession, config: PipelineConfig, week: date, controls: Controls
) -> DataFrame:
    """The week's Discover Weekly from its tables, as `config` says to build it (the
    playlist stage's, and evaluation's for its variants: without exploration, with the
    re-ranker)."""
    interactions = read_week(spark, config, "interactions", interactions_schema.SCHEMA, week)
    track_moods = read_week(
        spark, config, "track_clusters", clusters_schema.TRACK_CLUSTERS, week
    ).join(
        read_week(spark, config, "clusters", clusters_schema.CLUSTERS, week).select(
            "cluster", "label"
        ),
        "cluster",
    )
    return build_discover_weekly(
        read_week(spark, config, "candidates", candidates_schema.SCHEMA, week),
        _catalog_table(spark, config, "tracks"),
        _catalog_table(spark, config, "artists"),
        controls,
        read_week(spark, config, "models", model.MODELS, week).first()["model_version"],
        week,
        config.playlists,
        maturity=listener_maturity(interactions, config.playlists.mature_plays),
        track_moods=track_moods,
        likeability=(
            read_week(spark, config, "likeability", rerank.LIKEABILITY, week)
            if config.reranker.enabled
            else None
        ),
        listener_policy=_listener_policy(spark, config, week) if config.bandit.enabled else None,
    )


def _listener_policy(spark: SparkSession, config: PipelineConfig, week: date) -> DataFrame:
    """Each listener's factors and exploration share from the week's `policy` rows, by their
    segment (listeners without plays in the look-back are new)."""
    segments = listener_segments(
        read_table(spark, config, "events", events_schema.EVENTS), week, config.feedback
    )
    return listener_policy(read_week(spark, config, "policy", POLICY, week), segments)


def run(spark: SparkSession, config: PipelineConfig, week: date, rows: dict) -> None:
    settings = config.playlists
    tracks, albums, artists = (
        _catalog_table(spark, config, n) for n in ("tracks", "albums", "artists")
    )
    model_version = read_week(spark, config, "models", model.MODELS, week).first()["model_version"]
    # Played pairs from the week's `played` lists, not a distinct over the whole history:
    # validation still checks every published row against the history itself.
    played_pairs = read_week(spark, config, "played", played_schema.PLAYED, week).select(
        "user_id", F.explode("track_ids").alias("track_id")
    )
    controls = replace(read_controls(spark, config, week), played=played_pairs.cache())
    interactions = read_week(spark, config, "interactions", interactions_schema.SCHEMA, week)
    if config.bandit.enabled:
        rows["policy_rows"] = write_policy(spark, config, week).count()
    discover = discover_weekly(spark, config, week, controls).cache()
    releases = new_releases(tracks, albums, week, config.playlists).cache()
    similar = similar_artists(
        artist_vectors(
            read_week(spark, config, "track_factors", model.TRACK_FACTORS, week), tracks
        ),
        releases.select("artist_id"),
        settings.similar_artists,
    )
    radar = build_release_radar(
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
        settings,
    )
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
