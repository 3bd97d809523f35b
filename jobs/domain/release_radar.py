"""Release Radar in one numpy pass per listener batch.

The week's new releases (`new_releases`) are a small catalog: their tracks, albums and
artists, the artists like each releasing one (`similar_artists`, by pooled ALS factors),
platform blocks and Discovery Mode campaigns, all broadcast as arrays (`ReleaseArrays`).
Each listener's row (`radar_listener_rows`) holds the artists they played (summed
confidence and plays), those they follow, the new tracks they already played and their
controls. `radar_batch` then, per batch of listeners:

1. gives every releasing artist a tier: followed (1), played (2), or like an artist they
   follow or play (3; affinity = max over those artists a of similarity x weight(a),
   weight = a's affinity over the listener's top one, 1 when followed);
2. takes the artists' new tracks, without played ones and what the rules forbid (explicit
   for a filtered listener, hidden tracks and artists, platform blocks);
3. scores (1 + affinity) x (1 + popularity / 100), boosts Discovery Mode tracks the
   listener never skipped (at most `max_boosted_per_playlist`), keeps each release's best
   track, and lists them by tier, then score, up to `length`.

A listener with nothing new gets no Release Radar rather than filler. Measured against the
Spark joins and windows it replaces: docs/ranking.md ("Release Radar: in the pass or not").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.sparse import csr_matrix

from jobs.core.arrays import (
    Campaigns,
    blocked_tracks,
    codes,
    in_pairs,
    list_codes,
    track_campaigns,
    unit_rows,
)
from jobs.core.config import PlaylistConfig
from jobs.core.weeks import release_window, week_start
from jobs.domain.discover import empty_list, with_control_lists
from jobs.domain.ranking import boost_discovery_mode
from jobs.domain.rules import Controls
from schemas import playlists as schema

# Release Radar's tiers, listed in this order.
FOLLOWED, PLAYED, SIMILAR = 1, 2, 3
TIER_SOURCES = (
    schema.SOURCE_FOLLOWED_ARTIST,
    schema.SOURCE_PLAYED_ARTIST,
    schema.SOURCE_SIMILAR_ARTIST,
)

RADAR_DDL = ", ".join(
    f"{field.name} {field.dataType.simpleString()}"
    for field in schema.SCHEMA.fields
    if field.name not in ("model_version", "week")
)


def new_releases(tracks: DataFrame, albums: DataFrame, week: date, config: PlaylistConfig):
    """(track_id, album_id, artist_id, popularity, explicit, release_date) of albums released in the
    Release Radar window (`jobs.core.weeks.release_window`)."""
    first, last = release_window(week, config.release_radar_days, config.release_radar_weekday)
    return (
        albums.where(F.col("release_date").between(F.lit(first), F.lit(last)))
        .select("album_id", "release_date")
        .join(
            tracks.select("track_id", "album_id", "artist_id", "popularity", "explicit"),
            "album_id",
        )
    )


def similar_artists(
    track_factors: pa.Table, tracks: pa.Table, artist_ids: pa.Array, n: int
) -> pa.Table:
    """(artist_id, similar_id, similarity): for each of `artist_ids`, the `n` other artists
    closest by cosine, similarity > 0 (ties to the id that sorts first). An artist's vector
    is the mean of their unit-length ALS track vectors (track_factors: track_id, factors;
    tracks: track_id, artist_id), so an artist sits where their tracks do whatever their
    play counts."""
    width = len(track_factors.column("factors")[0]) if track_factors.num_rows else 0
    vectors = unit_rows(
        track_factors.column("factors")
        .combine_chunks()
        .flatten()
        .to_numpy()
        .reshape(track_factors.num_rows, width)
        .astype(np.float32)
    )
    listed = codes(track_factors.column("track_id"), tracks.column("track_id"))
    artist_of = tracks.column("artist_id").take(np.maximum(listed, 0))
    credited = (listed >= 0) & artist_of.is_valid().to_numpy(zero_copy_only=False)
    pooled_ids = pc.unique(artist_of.filter(pa.array(credited))).sort()
    pooled = codes(artist_of, pooled_ids)[credited]
    membership = csr_matrix(
        (np.ones(pooled.size, np.float32), (pooled, np.flatnonzero(credited))),
        shape=(len(pooled_ids), track_factors.num_rows),
    )
    artists = unit_rows(np.asarray(membership @ vectors))  # the mean's direction: cosine
    wanted = np.unique(codes(pc.unique(artist_ids), pooled_ids))
    wanted = wanted[wanted >= 0]
    parts = []
    for first in range(0, wanted.size, _SIMILAR_BLOCK):
        rows = wanted[first : first + _SIMILAR_BLOCK]
        scores = artists[rows] @ artists.T
        scores[np.arange(rows.size), rows] = 0  # never itself
        # Every entry at or above its row's n-th largest is a candidate; the cut below keeps
        # exactly n, ties to the lower column.
        cut = scores.shape[1] - n
        kth = np.partition(scores, cut, axis=1)[:, cut] if cut > 0 else np.zeros(rows.size)
        block, columns = np.nonzero((scores >= kth[:, None]) & (scores > 0))
        values = scores[block, columns]
        order = np.lexsort((columns, -values, block))
        block, columns, values = block[order], columns[order], values[order]
        kept = np.arange(block.size) - np.searchsorted(block, block) < n
        parts.append((rows[block[kept]], columns[kept], values[kept]))
    if not parts:
        parts.append((np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)))
    artist, similar, similarity = (np.concatenate(column) for column in zip(*parts))
    return pa.table(
        {
            "artist_id": pooled_ids.take(pa.array(artist, pa.int64())),
            "similar_id": pooled_ids.take(pa.array(similar, pa.int64())),
            "similarity": pa.array(similarity, pa.float32()),
        }
    )


# Releasing artists scored against every artist at a time (x 4 bytes x artists).
_SIMILAR_BLOCK = 1024


@dataclass(frozen=True)
class ReleaseArrays:
    """The week's new releases as arrays, row i track `track_ids[i]` (sorted). Artists are
    coded in `artist_ids` (sorted): the releasing ones and the artists like them."""

    track_ids: np.ndarray
    artist_ids: np.ndarray
    artist_names: np.ndarray  # artist code -> name (None: not in the catalog)
    artist: np.ndarray  # each track's artist code
    album: np.ndarray  # each track's release (album) code
    popularity: np.ndarray
    release_date: np.ndarray  # each track's release date as YYYY-MM-DD
    explicit: np.ndarray
    blocked: np.ndarray  # the track or its artist is blocked by a platform rule in force
    campaigns: Campaigns
    tracks_of: csr_matrix  # artists x tracks: 1 where the track is the artist's new one
    similar_to: csr_matrix  # artists x artists: [a, r] = similarity of releasing r to a


def release_arrays(
    releases: pa.Table,
    similar: pa.Table,
    artists: pa.Table,
    blocks: pa.Table,
    campaigns: pa.Table,
) -> ReleaseArrays:
    """Build the broadcast arrays from small driver-side tables: releases (track_id,
    album_id, artist_id, popularity, release_date, explicit), similar (artist_id,
    similar_id, similarity: `similar_artists` of the releasing artists), artists
    (artist_id, name), blocks in force (item_type, item_id), campaigns in force (track_id,
    campaign_id, boost)."""
    releases = releases.sort_by("track_id")
    track_ids = releases.column("track_id").combine_chunks()
    artist_ids = pc.unique(
        pa.chunked_array(
            [
                releases.column("artist_id").combine_chunks(),
                similar.column("artist_id").combine_chunks(),
                similar.column("similar_id").combine_chunks(),
            ],
            pa.string(),
        ).combine_chunks()
    ).sort()
    artist = codes(releases.column("artist_id"), artist_ids)
    album = codes(releases.column("album_id"), pc.unique(releases.column("album_id")))
    named = codes(artist_ids, artists.column("artist_id"))
    names = artists.column("name").take(np.maximum(named, 0)).to_numpy(zero_copy_only=False)
    n_artists, n_tracks = len(artist_ids), len(track_ids)
    credited = artist >= 0
    return ReleaseArrays(
        track_ids=track_ids.to_numpy(zero_copy_only=False),
        artist_ids=artist_ids.to_numpy(zero_copy_only=False),
        artist_names=np.where(named >= 0, names, None),
        artist=artist,
        album=album,
        popularity=pc.fill_null(releases.column("popularity"), 0).to_numpy().astype(np.float64),
        release_date=pc.strftime(releases.column("release_date"), "%Y-%m-%d")
        .to_numpy(zero_copy_only=False)
        .astype(object),
        explicit=pc.fill_null(releases.column("explicit"), False).to_numpy(zero_copy_only=False),
        blocked=blocked_tracks(blocks, track_ids, artist, artist_ids),
        campaigns=track_campaigns(campaigns, track_ids),
        tracks_of=csr_matrix(
            (np.ones(int(credited.sum())), (artist[credited], np.flatnonzero(credited))),
            shape=(n_artists, n_tracks),
        ),
        similar_to=csr_matrix(
            (
                similar.column("similarity").to_numpy().astype(np.float64),
                (
                    codes(similar.column("similar_id"), artist_ids),
                    codes(similar.column("artist_id"), artist_ids),
                ),
            ),
            shape=(n_artists, n_artists),
        ),
    )


def radar_listener_rows(
    interactions: DataFrame,
    follows: DataFrame,
    tracks: DataFrame,
    releases: DataFrame,
    artist_ids: list[str],
    controls: Controls,
    week: date,
) -> DataFrame:
    """One row per listener who plays or follows one of `artist_ids` (the `ReleaseArrays`
    vocabulary): everything `radar_batch` reads of them. `top_affinity` is over all the
    artists they play (a weight's unit); the lists hold `artist_ids` only."""
    vocabulary = F.broadcast(
        interactions.sparkSession.createDataFrame([(a,) for a in artist_ids], "artist_id string")
    )
    played_artists = (
        interactions.where(F.col("confidence") > 0)
        .join(tracks.select("track_id", "artist_id"), "track_id")
        .groupBy("user_id", "artist_id")
        .agg(F.sum("confidence").alias("affinity"), F.sum("plays").alias("plays"))
    )
    top = played_artists.groupBy("user_id").agg(F.max("affinity").alias("top_affinity"))
    played = (
        played_artists.join(vocabulary, "artist_id", "left_semi")
        .groupBy("user_id")
        .agg(F.collect_list(F.struct("artist_id", "affinity", "plays")).alias("artists"))
    )
    followed = (
        follows.where(F.col("followed_at") < F.lit(week_start(week)))
        .join(vocabulary, "artist_id", "left_semi")
        .groupBy("user_id")
        .agg(F.collect_set("artist_id").alias("followed"))
    )
    played_releases = (
        controls.played.join(F.broadcast(releases.select("track_id")), "track_id", "left_semi")
        .groupBy("user_id")
        .agg(F.collect_set("track_id").alias("played"))
    )
    rows = (
        played.join(followed, "user_id", "full")
        .join(top, "user_id", "left")
        .join(played_releases, "user_id", "left")
        .withColumns(
            {
                "artists": F.coalesce(
                    "artists", empty_list("struct<artist_id:string,affinity:double,plays:bigint>")
                ),
                "followed": F.coalesce("followed", empty_list("string")),
                "played": F.coalesce("played", empty_list("string")),
            }
        )
    )
    return with_control_lists(rows, controls)


def _entries_of(matrix: csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every stored entry of `matrix`'s rows `rows` (repeats allowed), in order: (the
    position in `rows` it belongs to, its index in `matrix.indices` and `.data`)."""
    counts = np.diff(matrix.indptr)[rows]
    source = np.repeat(np.arange(rows.size), counts)
    starts = np.repeat(matrix.indptr[rows] - np.cumsum(counts) + counts, counts)
    return source, starts + np.arange(source.size)


def _artist_tiers(batch: pa.RecordBatch, arrays: ReleaseArrays):
    """(row, artist, tier, affinity, plays, related) of every releasing artist with a tier
    for a listener of the batch; related is the tier-3 artist's closest cared-for one."""
    n_artists = len(arrays.artist_ids)
    lists = batch.column("artists")
    entries = lists.flatten()
    artist = codes(pc.struct_field(entries, "artist_id"), pa.array(arrays.artist_ids))
    known = artist >= 0
    played_key = lists.value_parent_indices().to_numpy()[known] * n_artists + artist[known]
    affinity = pc.struct_field(entries, "affinity").to_numpy()[known].astype(np.float64)
    plays = pc.struct_field(entries, "plays").to_numpy()[known]
    followed_rows, followed_artists = list_codes(batch.column("followed"), arrays.artist_ids)
    followed_key = followed_rows * n_artists + followed_artists

    # Every artist the listener cares for: played, followed or both.
    cared = np.union1d(played_key, followed_key)
    cared_affinity = np.zeros(cared.size)
    cared_plays = np.zeros(cared.size, np.int64)
    at = np.searchsorted(cared, played_key)
    cared_affinity[at], cared_plays[at] = affinity, plays
    follows = np.isin(cared, followed_key)
    rows, artists = cared // n_artists, cared % n_artists
    top = pc.fill_null(batch.column("top_affinity"), 0.0).to_numpy().astype(np.float64)
    weight = np.maximum(cared_affinity / np.maximum(top[rows], 1e-12), follows.astype(float))

    releasing = np.diff(arrays.tracks_of.indptr) > 0
    direct = releasing[artists]
    tiers = [
        (
            rows[direct],
            artists[direct],
            np.where(follows[direct], FOLLOWED, PLAYED),
            cared_affinity[direct],
            cared_plays[direct],
            np.full(int(direct.sum()), -1),
        )
    ]
    # Tier 3: each releasing artist like one the listener cares for (and not cared for).
    like = arrays.similar_to
    source, entry = _entries_of(like, artists)
    similar_rows, similar = rows[source], like.indices[entry]
    value = like.data[entry] * weight[source]
    key = similar_rows * n_artists + similar
    fresh = ~np.isin(key, cared)
    key, value, related = key[fresh], value[fresh], artists[source][fresh]
    # The closest cared-for artist; ties go to the id that sorts last (codes sort as ids).
    order = np.lexsort((related, value, key))
    last = np.ones(key.size, bool)
    last[:-1] = key[order][1:] != key[order][:-1]
    best = order[last]
    tiers.append(
        (
            key[best] // n_artists,
            key[best] % n_artists,
            np.full(best.size, SIMILAR),
            value[best],
            np.zeros(best.size, np.int64),
            related[best],
        )
    )
    return tuple(np.concatenate(parts) for parts in zip(*tiers))


def radar_batch(
    batch: pa.RecordBatch, arrays: ReleaseArrays, settings: PlaylistConfig
) -> pa.RecordBatch:
    """One batch of listener rows (see `radar_listener_rows`) -> their Release Radar rows
    (RADAR_DDL)."""
    rows, artists, tier, affinity, plays, related = _artist_tiers(batch, arrays)
    # Each artist's new tracks, one row per (listener, track).
    source, entry = _entries_of(arrays.tracks_of, artists)
    tracks, rows = arrays.tracks_of.indices[entry], rows[source]
    n_tracks = len(arrays.track_ids)

    played_rows, played_tracks = list_codes(batch.column("played"), arrays.track_ids)
    hidden_rows, hidden_tracks = list_codes(batch.column("hidden_tracks"), arrays.track_ids)
    hidden_artist_rows, hidden_artists = list_codes(
        batch.column("hidden_artists"), arrays.artist_ids
    )
    filtered = batch.column("explicit_filter").to_numpy(zero_copy_only=False).astype(bool)
    allowed = ~in_pairs(rows, tracks, played_rows, played_tracks, n_tracks)
    allowed &= ~(filtered[rows] & arrays.explicit[tracks]) & ~arrays.blocked[tracks]
    allowed &= ~in_pairs(rows, tracks, hidden_rows, hidden_tracks, n_tracks)
    allowed &= ~in_pairs(
        rows, arrays.artist[tracks], hidden_artist_rows, hidden_artists, len(arrays.artist_ids)
    )
    rows, tracks, source = rows[allowed], tracks[allowed], source[allowed]
    # Ties are broken by track id throughout: rows in (listener, track) order.
    order = np.lexsort((tracks, rows))
    rows, tracks, source = rows[order], tracks[order], source[order]

    # Affinity orders artists within a tier; popularity an artist's tracks.
    score = (1.0 + affinity[source]) * (1.0 + arrays.popularity[tracks] / 100.0)
    skipped_rows, skipped_tracks = list_codes(batch.column("skipped"), arrays.track_ids)
    boost = arrays.campaigns.boost[tracks]
    eligible = (boost > 0) & ~in_pairs(rows, tracks, skipped_rows, skipped_tracks, n_tracks)
    score, boosted = boost_discovery_mode(
        rows, score, boost, eligible, settings.max_boosted_per_playlist
    )
    # One track per release: its best.
    n_albums = int(arrays.album.max(initial=-1)) + 1
    best_of_release = np.lexsort((tracks, -score, rows * n_albums + arrays.album[tracks]))
    release_key = (rows * n_albums + arrays.album[tracks])[best_of_release]
    first = np.ones(release_key.size, bool)
    first[1:] = release_key[1:] != release_key[:-1]
    kept = best_of_release[first]
    rows, tracks, source, score, boosted = (
        rows[kept],
        tracks[kept],
        source[kept],
        score[kept],
        boosted[kept],
    )
    listed = np.lexsort((tracks, -score, tier[source], rows))
    starts = np.searchsorted(rows[listed], rows[listed], side="left")
    position = np.arange(listed.size) - starts + 1
    listed, position = listed[position <= settings.length], position[position <= settings.length]
    rows, tracks, source, score, boosted = (
        rows[listed],
        tracks[listed],
        source[listed],
        score[listed],
        boosted[listed],
    )
    return pa.RecordBatch.from_pydict(
        {
            "user_id": batch.column("user_id").take(pa.array(rows)),
            "position": pa.array(position, pa.int32()),
            "track_id": pa.array(arrays.track_ids[tracks], pa.string()),
            "artist_id": pa.array(arrays.artist_ids[arrays.artist[tracks]], pa.string()),
            "score": pa.array(score, pa.float32()),
            "source": pa.array(TIER_SOURCES, pa.string()).take(pa.array(tier[source] - 1)),
            "reason": _reasons(arrays, tracks, tier[source], plays[source], related[source]),
            "boosted": pa.array(boosted),
            "campaign_id": arrays.campaigns.ids(tracks, boosted),
            "playlist_type": pa.array([schema.RELEASE_RADAR] * rows.size, pa.string()),
        }
    )


def _reasons(
    arrays: ReleaseArrays,
    tracks: np.ndarray,
    tier: np.ndarray,
    plays: np.ndarray,
    related: np.ndarray,
) -> pa.Array:
    """'New from <artist>, released <date>: <why>' per row."""

    def names(artist_codes: np.ndarray) -> pa.Array:
        return pa.array(
            np.where(artist_codes >= 0, arrays.artist_names[np.maximum(artist_codes, 0)], None),
            pa.string(),
        )

    new_from = pc.binary_join_element_wise(
        "New from ",
        pc.fill_null(names(arrays.artist[tracks]), "null"),
        ", released ",
        pa.array(arrays.release_date[tracks], pa.string()),
        ": ",
        "",
    )
    played = pc.binary_join_element_wise(
        "you played their tracks ", pc.cast(pa.array(plays), pa.string()), " time(s)", ""
    )
    like = pc.binary_join_element_wise(
        "they sound like ", pc.fill_null(names(related), "null"), ", whom you play", ""
    )
    because = pc.if_else(
        pa.array(tier == FOLLOWED),
        "you follow them",
        pc.if_else(pa.array(tier == PLAYED), played, like),
    )
    return pc.binary_join_element_wise(new_from, because, "")


def release_radar_rows(listener_rows: DataFrame, arrays: ReleaseArrays, settings: PlaylistConfig):
    """Release Radar rows (RADAR_DDL) of every listener row, one `radar_batch` per Arrow
    batch; the release arrays are broadcast."""
    shipped = listener_rows.sparkSession.sparkContext.broadcast((arrays, settings))

    def radar(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        release, playlist_settings = shipped.value
        for batch in batches:
            if batch.num_rows:
                yield radar_batch(batch, release, playlist_settings)

    return listener_rows.mapInArrow(radar, RADAR_DDL)


def build_release_radar(
    interactions: DataFrame,
    follows: DataFrame,
    tracks: DataFrame,
    artists: DataFrame,
    releases: DataFrame,
    similar: pa.Table,
    controls: Controls,
    week: date,
    settings: PlaylistConfig,
) -> DataFrame:
    """The week's Release Radar rows (RADAR_DDL): the pure transform.

    interactions: (user_id, track_id, confidence, plays); follows: the `follows` control;
    releases: `new_releases`; similar: `similar_artists` of the releasing artists."""
    arrays = release_arrays(
        releases.toArrow(),
        similar,
        artists.select("artist_id", "name").toArrow(),
        controls.blocks.toArrow(),
        controls.campaigns.toArrow(),
    )
    listeners = radar_listener_rows(
        interactions, follows, tracks, releases, arrays.artist_ids.tolist(), controls, week
    )
    return release_radar_rows(listeners, arrays, settings)
