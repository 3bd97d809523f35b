"""Discover Weekly's work on one batch of listener rows, in numpy (the pass around it:
jobs/domain/discover.py). Per batch:

0. `with_candidates`: the listeners' candidates, every source's top K from retrieval
   (`Retriever`, jobs/domain/retrieval.py), kept in memory, never as Spark rows or a table;
1. `rank_batch` builds one feature row per distinct (listener, track) candidate;
2. drops what the rules forbid (explicit for a filtered listener, hidden tracks and
   artists, platform blocks; played tracks never reach the candidates);
3. scores with the week's LightGBM ranker (jobs/domain/ranking.py), or with the blend of
   source weights when there is none, then applies preferred genres, the likeability
   re-ranker when on, and Discovery Mode;
4. picks `length` tracks greedily under the variety penalties and the hard caps, with
   exploration's share of the slots.

It returns the listeners' pool rows (`candidate_pool`): the shortlist the ranker ordered,
with features, scores and the picks' positions. The catalog travels as `CatalogArrays`,
built once on the driver from small tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import csr_matrix

from jobs.core.arrays import (
    Campaigns,
    blocked_tracks,
    codes,
    in_pairs,
    list_codes,
    place_within,
    track_campaigns,
)
from jobs.core.config import PlaylistConfig, RankingConfig
from jobs.domain.ranking import (
    COLUMN,
    Ranker,
    Variety,
    blend_contributions,
    boost_discovery_mode,
    main_source,
    pick_playlists,
    positive_scores,
    rank_scores,
)
from schemas import candidates as sources
from schemas import pool as schema
from schemas.pool import FEATURES, RANK_FEATURES, SCORE_FEATURES

EXPLORATION = sources.SOURCES.index(sources.EXPLORATION)
ARTIST_LIST = pa.list_(pa.struct([("artist_id", pa.string()), ("affinity", pa.float32())]))


@dataclass(frozen=True)
class CatalogArrays:
    """The catalog as arrays, row i track `track_ids[i]` (sorted); codes are -1 for none."""

    track_ids: np.ndarray
    artist_ids: np.ndarray  # artist code -> id
    artist: np.ndarray
    album: np.ndarray
    explicit: np.ndarray
    blocked: np.ndarray  # the track or its artist is blocked by a platform rule in force
    campaigns: Campaigns  # Discovery Mode boosts in force
    cluster: np.ndarray
    popularity: np.ndarray  # log1p(listeners in the look-back window)
    share_of_artist: np.ndarray  # listeners / those of all its artist's tracks (NaN: no artist)
    age_days: np.ndarray  # days from the release to the week (NaN: unknown)
    audio: np.ndarray | None  # tracks x features, centred on the mean, unit length (0: none)
    audio_mean: np.ndarray | None
    genres: csr_matrix  # artists x genre codes, 1 where the artist has the genre
    genre_ids: np.ndarray  # genre code -> name


def catalog_arrays(
    tracks: pa.Table,
    albums: pa.Table,
    artists: pa.Table,
    listeners: pa.Table,
    clusters: pa.Table | None,
    blocks: pa.Table,
    campaigns: pa.Table,
    week: date,
) -> CatalogArrays:
    """Build the broadcast arrays from small driver-side tables: tracks (track_id,
    artist_id, album_id, explicit), albums (album_id, release_date), artists (artist_id,
    genres), listeners (track_id, listeners), clusters (track_id, cluster, features) or
    None (without `features`: no audio similarity), blocks in force (item_type, item_id),
    campaigns in force (track_id, campaign_id, boost)."""
    tracks = tracks.sort_by("track_id")
    track_ids = tracks.column("track_id").combine_chunks()
    artist_ids = pc.unique(artists.column("artist_id").combine_chunks())
    artist = codes(tracks.column("artist_id"), artist_ids)
    album_ids = albums.column("album_id").combine_chunks()
    album = codes(tracks.column("album_id"), album_ids)
    released = albums.column("release_date").to_numpy(zero_copy_only=False)
    age = np.full(len(track_ids), np.nan, np.float32)
    known_album = album >= 0
    release = released[album[known_album]].astype("datetime64[D]")
    age[known_album] = (np.datetime64(week) - release).astype(np.float32)

    blocked = blocked_tracks(blocks, track_ids, artist, artist_ids)

    track_listeners = np.zeros(len(track_ids), np.float32)
    listened = codes(listeners.column("track_id"), track_ids)
    track_listeners[listened[listened >= 0]] = listeners.column("listeners").to_numpy()[
        listened >= 0
    ]
    popularity = np.log1p(track_listeners)
    # An artist's tracks split its listeners: how likely a fan's next new track is this one.
    credited = artist >= 0
    artist_listeners = np.bincount(
        artist[credited], weights=track_listeners[credited], minlength=len(artist_ids)
    )
    share_of_artist = np.full(len(track_ids), np.nan, np.float32)
    share_of_artist[credited] = track_listeners[credited] / np.maximum(
        artist_listeners[artist[credited]], 1.0
    )

    cluster = np.full(len(track_ids), -1, np.int64)
    audio = audio_mean = None
    if clusters is not None and clusters.num_rows:
        rows = codes(clusters.column("track_id"), track_ids)
        inside = rows >= 0
        cluster[rows[inside]] = clusters.column("cluster").to_numpy()[inside]
    if clusters is not None and clusters.num_rows and "features" in clusters.column_names:
        vectors = clusters.column("features").combine_chunks().flatten().to_numpy()
        vectors = vectors.reshape(clusters.num_rows, -1)[inside]
        audio_mean = vectors.mean(axis=0)
        centred = vectors - audio_mean
        norms = np.linalg.norm(centred, axis=1, keepdims=True)
        audio = np.zeros((len(track_ids), vectors.shape[1]), np.float32)
        audio[rows[inside]] = centred / np.where(norms > 0, norms, 1.0)

    genre_lists = artists.column("genres").combine_chunks()
    genre_ids = pc.unique(genre_lists.flatten())
    genre_rows = codes(artists.column("artist_id"), artist_ids)[
        genre_lists.value_parent_indices().to_numpy()
    ]
    genre_cols = codes(genre_lists.flatten(), genre_ids)
    genres = csr_matrix(
        (np.ones(genre_cols.size, np.float32), (genre_rows, genre_cols)),
        shape=(len(artist_ids), max(1, len(genre_ids))),
    )
    return CatalogArrays(
        track_ids=track_ids.to_numpy(zero_copy_only=False),
        artist_ids=artist_ids.to_numpy(zero_copy_only=False),
        artist=artist,
        album=album,
        explicit=tracks.column("explicit").to_numpy(zero_copy_only=False).astype(bool),
        blocked=blocked,
        campaigns=track_campaigns(campaigns, track_ids),
        cluster=cluster,
        popularity=popularity,
        share_of_artist=share_of_artist,
        age_days=age,
        audio=audio,
        audio_mean=audio_mean,
        genres=genres,
        genre_ids=genre_ids.to_numpy(zero_copy_only=False),
    )


@dataclass(frozen=True)
class PassSettings:
    playlists: PlaylistConfig
    ranking: RankingConfig


POOL_DDL = ", ".join(
    f"{field.name} {field.dataType.simpleString()}"
    for field in schema.CANDIDATE_POOL.fields
    if field.name != "week"
)


def rank_batch(
    batch: pa.RecordBatch, catalog: CatalogArrays, ranker: Ranker | None, settings: PassSettings
) -> pa.RecordBatch:
    """One batch of listener rows (see `listener_rows`) -> their pool rows (POOL_DDL)."""
    playlists, ranking = settings.playlists, settings.ranking
    n_rows, n_tracks = batch.num_rows, len(catalog.track_ids)
    candidates = batch.column("candidates")
    entries = candidates.flatten()
    track = codes(pc.struct_field(entries, "track_id"), pa.array(catalog.track_ids))
    source = codes(pc.struct_field(entries, "source"), pa.array(sources.SOURCES))
    parent = candidates.value_parent_indices().to_numpy()
    known = (track >= 0) & (source >= 0)
    key = parent[known] * n_tracks + track[known]
    unique, inverse = np.unique(key, return_inverse=True)
    rows, tracks = unique // n_tracks, unique % n_tracks

    features = np.full((unique.size, len(FEATURES)), np.nan, np.float32)
    score_columns = np.array([COLUMN[name] for name in SCORE_FEATURES])
    rank_columns = np.array([COLUMN[name] for name in RANK_FEATURES])
    source = source[known]
    features[inverse, score_columns[source]] = pc.struct_field(entries, "score").to_numpy()[known]
    features[inverse, rank_columns[source]] = pc.struct_field(entries, "rank").to_numpy()[known]

    plays = pc.fill_null(batch.column("play_count"), 0).to_numpy().astype(np.float32)
    features[:, COLUMN["maturity"]] = np.minimum(1.0, plays / playlists.mature_plays)[rows]
    artists, clusters = catalog.artist[tracks], catalog.cluster[tracks]
    # The rules: nothing explicit for a filtered listener, nothing hidden or blocked.
    filtered = batch.column("explicit_filter").to_numpy(zero_copy_only=False).astype(bool)
    hidden_rows, hidden_tracks = list_codes(batch.column("hidden_tracks"), catalog.track_ids)
    hidden_artist_rows, hidden_artists = list_codes(
        batch.column("hidden_artists"), catalog.artist_ids
    )
    allowed = ~(filtered[rows] & catalog.explicit[tracks]) & ~catalog.blocked[tracks]
    allowed &= ~in_pairs(rows, tracks, hidden_rows, hidden_tracks, n_tracks)
    allowed &= ~in_pairs(rows, artists, hidden_artist_rows, hidden_artists, len(catalog.artist_ids))
    rows, tracks, artists, clusters = (
        rows[allowed],
        tracks[allowed],
        artists[allowed],
        clusters[allowed],
    )
    features = features[allowed]

    ranks = features[:, rank_columns]
    depth = playlists.candidates_per_user
    contributions = blend_contributions(
        features, playlists.source_weights, playlists.new_listener_weights, depth
    )
    factors = _policy_factors(batch.column("policy_factors"), n_rows)
    blend = (contributions * factors[rows]).sum(axis=1)
    # Exploration's own rows: proposed by it and by no source the blend weighs.
    explore = ~np.isnan(ranks[:, EXPLORATION]) & (blend <= 0)
    # Exploration rows fill their own slots: worth their exploration rank score.
    blend = np.where(explore, rank_scores(ranks[:, EXPLORATION], depth), blend)
    liked = None
    if "likeability" in entries.type.names:
        liked = np.full(unique.size, np.nan)
        values = pc.struct_field(entries, "likeability").to_numpy(zero_copy_only=False)
        np.fmax.at(liked, inverse, values[known].astype(float))
        liked = liked[allowed]
    # The shortlist: the blend's best `pool_per_user` main and `explore_window` exploration
    # candidates. The ranker re-orders it and is trained on it (next week, from the pool),
    # so it never scores a kind of row it has not learnt from.
    # At most `shortlist_per_artist` per artist in it: the caps would leave the rest out
    # anyway, and a shortlist of a listener's three favourite artists runs dry.
    listed = np.flatnonzero(blend > 0)
    per_artist = place_within(
        (rows[listed] * 2 + explore[listed]) * len(catalog.artist_ids) + artists[listed],
        -blend[listed],
        tracks[listed],
    )
    listed = listed[per_artist < ranking.shortlist_per_artist]
    place = place_within(rows[listed] * 2 + explore[listed], -blend[listed], tracks[listed])
    shortlist = listed[
        place < np.where(explore[listed], ranking.explore_window, ranking.pool_per_user)
    ]
    rows, tracks, artists, clusters = (
        rows[shortlist],
        tracks[shortlist],
        artists[shortlist],
        clusters[shortlist],
    )
    features, explore, blend = features[shortlist], explore[shortlist], blend[shortlist]

    # What the ranker reads of each shortlisted candidate. The shortlist itself needs only
    # the sources' ranks and the maturity: describing every candidate first cost 4x the rows.
    features[:, COLUMN["activity"]] = np.log1p(plays)[rows]
    features[:, COLUMN["track_popularity"]] = catalog.popularity[tracks]
    features[:, COLUMN["track_age_days"]] = catalog.age_days[tracks]

    affinity_lists = batch.column("artists")
    affinity_entries = affinity_lists.flatten()
    affinity_rows = affinity_lists.value_parent_indices().to_numpy()
    affinity_codes = codes(
        pc.struct_field(affinity_entries, "artist_id"), pa.array(catalog.artist_ids)
    )
    affinity = csr_matrix(
        (
            pc.struct_field(affinity_entries, "affinity").to_numpy()[affinity_codes >= 0],
            (affinity_rows[affinity_codes >= 0], affinity_codes[affinity_codes >= 0]),
        ),
        shape=(n_rows, len(catalog.artist_ids)),
    )
    top = affinity.max(axis=1).toarray().ravel()
    total = np.asarray(affinity.sum(axis=1)).ravel()
    on_artist = np.where(
        artists >= 0, np.asarray(affinity[rows, np.maximum(artists, 0)]).ravel(), 0
    )
    features[:, COLUMN["artist_affinity"]] = on_artist / np.where(top > 0, top, 1.0)[rows]
    features[:, COLUMN["artist_share"]] = on_artist / np.where(total > 0, total, 1.0)[rows]
    features[:, COLUMN["track_share_of_artist"]] = catalog.share_of_artist[tracks]
    features[:, COLUMN["artist_pick_share"]] = (
        features[:, COLUMN["artist_share"]] * features[:, COLUMN["track_share_of_artist"]]
    )

    moods = batch.column("moods")
    if catalog.audio is not None:
        n_clusters = int(catalog.cluster.max()) + 1
        mood_entries = moods.flatten()
        shares = np.zeros((n_rows, max(1, n_clusters)), np.float32)
        mood_cluster = pc.struct_field(mood_entries, "cluster").to_numpy()
        inside = mood_cluster < n_clusters
        shares[moods.value_parent_indices().to_numpy()[inside], mood_cluster[inside]] = (
            pc.struct_field(mood_entries, "share").to_numpy()[inside]
        )
        features[:, COLUMN["cluster_affinity"]] = np.where(
            clusters >= 0, shares[rows, np.maximum(clusters, 0)], np.nan
        )
        profile = batch.column("profile")
        has_profile = profile.is_valid().to_numpy(zero_copy_only=False)
        profiles = np.zeros((n_rows, catalog.audio.shape[1]), np.float32)
        given = profile.flatten().to_numpy().reshape(-1, catalog.audio.shape[1])
        profiles[has_profile] = given - catalog.audio_mean
        norms = np.linalg.norm(profiles, axis=1, keepdims=True)
        profiles /= np.where(norms > 0, norms, 1.0)
        similarity = np.einsum("ij,ij->i", profiles[rows], catalog.audio[tracks])
        features[:, COLUMN["content_similarity"]] = np.where(
            has_profile[rows] & (clusters >= 0), similarity, np.nan
        )

    skipped_rows, skipped_tracks = list_codes(batch.column("skipped"), catalog.track_ids)
    eligible = (catalog.campaigns.boost[tracks] > 0) & ~in_pairs(
        rows, tracks, skipped_rows, skipped_tracks, n_tracks
    )
    features[:, COLUMN["boost_eligible"]] = eligible

    if ranker is None:
        ranker_score = np.full(rows.size, np.nan)
        score = blend
    else:
        ranker_score = ranker.scores(features)
        score = positive_scores(ranker_score, rows, n_rows)
    if liked is not None:
        # The re-ranker, when on: x likeability over the listener's mean; a candidate it
        # could not score (no audio features) keeps its score.
        liked = liked[shortlist]
        total = np.bincount(rows, np.nan_to_num(liked), minlength=n_rows)
        counted = np.bincount(rows, ~np.isnan(liked), minlength=n_rows)
        mean = total / np.maximum(counted, 1)
        score = score * np.nan_to_num(liked / np.where(mean > 0, mean, 1.0)[rows], nan=1.0)
    preferred_rows, preferred_genres = list_codes(
        batch.column("preferred_genres"), catalog.genre_ids
    )
    if preferred_rows.size:
        wanted = csr_matrix(
            (np.ones(preferred_rows.size, np.float32), (preferred_rows, preferred_genres)),
            shape=(n_rows, catalog.genres.shape[1]),
        )
        overlap = (
            np.asarray(
                wanted[rows].multiply(catalog.genres[np.maximum(artists, 0)]).sum(axis=1)
            ).ravel()
            > 0
        )
        score = np.where(overlap, score * (1.0 + playlists.preferred_genre_boost), score)
    score, boosted = boost_discovery_mode(
        rows, score, catalog.campaigns.boost[tracks], eligible, playlists.max_boosted_per_playlist
    )

    # Best first per listener.
    order = np.lexsort((tracks, -score, rows))
    rows, tracks, artists, clusters = rows[order], tracks[order], artists[order], clusters[order]
    features, score, blend, boosted, explore, ranker_score = (
        features[order],
        score[order],
        blend[order],
        boosted[order],
        explore[order],
        ranker_score[order],
    )
    # Relevance in [0, 1] per listener and kind: the penalties' unit.
    kind = rows * 2 + explore
    best = np.full(2 * n_rows, -np.inf)
    np.maximum.at(best, kind, score)
    worst = np.full(2 * n_rows, np.inf)
    np.minimum.at(worst, kind, score)
    spread = np.where(best[kind] > worst[kind], best[kind] - worst[kind], 1.0)
    relevance = (score - worst[kind]) / spread
    shares = pc.fill_null(batch.column("exploration_share"), playlists.exploration_share)
    slots = np.round(playlists.length * shares.to_numpy()).astype(np.int64)
    picked, position = pick_playlists(
        rows,
        relevance,
        artists,
        catalog.album[tracks],
        clusters,
        explore,
        slots,
        n_rows,
        Variety(
            length=playlists.length,
            max_per_artist=playlists.max_tracks_per_artist,
            max_per_album=playlists.max_tracks_per_album,
            max_per_cluster=max(1, int(playlists.length * playlists.max_cluster_share)),
            artist_penalty=ranking.artist_penalty,
            cluster_penalty=ranking.cluster_penalty,
        ),
    )
    positions = np.full(rows.size, -1, np.int64)
    positions[picked] = position
    named = np.where(
        explore,
        EXPLORATION,
        main_source(features, playlists.source_weights, playlists.new_listener_weights, depth),
    )
    columns = {
        "user_id": batch.column("user_id").take(pa.array(rows)),
        "track_id": pa.array(catalog.track_ids[tracks], pa.string()),
        "artist_id": pa.array(catalog.artist_ids[artists], pa.string()),
        **{
            name: pa.array(features[:, COLUMN[name]], pa.float32(), from_pandas=True)
            for name in FEATURES
        },
        "explore": pa.array(explore),
        "blend_score": pa.array(blend, pa.float32()),
        "ranker_score": pa.array(ranker_score, pa.float32(), from_pandas=True),
        "score": pa.array(score, pa.float32()),
        "source": pa.array(sources.SOURCES, pa.string()).take(pa.array(named)),
        "boosted": pa.array(boosted),
        "campaign_id": catalog.campaigns.ids(tracks, boosted),
        "position": pa.array(np.where(positions > 0, positions, None), pa.int32()),
        "ranked_by": pa.array(
            [schema.BLEND if ranker is None else schema.RANKER] * rows.size, pa.string()
        ),
    }
    return pa.RecordBatch.from_pydict(columns)


def _policy_factors(factors: pa.MapArray, n_rows: int) -> np.ndarray:
    """rows x sources: the adaptive policy's factor per source (1 where it sets none)."""
    matrix = np.ones((n_rows, len(sources.SOURCES)), np.float32)
    if len(factors.keys) == 0:
        return matrix
    # MapArray has no value_parent_indices (Arrow aborts): rows from the offsets.
    offsets = factors.offsets.to_numpy()
    rows = np.repeat(np.arange(n_rows), np.diff(offsets))
    keys, items = factors.keys, factors.items
    if len(keys) != rows.size:  # a sliced batch: its own entries only
        keys, items = keys[offsets[0] : offsets[-1]], items[offsets[0] : offsets[-1]]
    source = codes(keys, pa.array(sources.SOURCES))
    values = items.to_numpy(zero_copy_only=False)
    matrix[rows[source >= 0], source[source >= 0]] = values[source >= 0]
    return matrix


def with_listener_artists(batch: pa.RecordBatch, artists: pa.Table) -> pa.RecordBatch:
    """`batch` plus its listeners' `artists` lists (`listener_artists`): null or empty for a
    listener with none, both read by `rank_batch` as no artist."""
    if not artists.num_rows:
        return batch.append_column("artists", pa.array([[]] * batch.num_rows, ARTIST_LIST))
    at = pc.index_in(batch.column("user_id"), value_set=artists.column("user_id").chunk(0))
    return batch.append_column("artists", artists.column("artists").chunk(0).take(at))


def with_candidates(batch: pa.RecordBatch, retrieved: pa.RecordBatch) -> pa.RecordBatch:
    """The listener rows of `batch` that have candidates (`retrieved`: `RETRIEVED` rows of
    some of its listeners), with their `candidates` list; with the re-ranker's `liked`
    lists in the batch, each candidate also carries the listener's `likeability` of the
    track (null: not scored)."""
    at = pc.index_in(retrieved.column("user_id"), value_set=batch.column("user_id"))
    listed = batch.take(at)
    candidates = retrieved.column("candidates")
    if "liked" in batch.schema.names:
        candidates = _with_likeability(candidates, listed.column("liked"))
    return listed.append_column("candidates", candidates)


def _with_likeability(candidates: pa.ListArray, liked: pa.ListArray) -> pa.ListArray:
    """`candidates` (a list per listener) with each entry's `likeability` from the same
    listener's `liked` list [(track_id, likeability)]."""
    entries, scored = candidates.flatten(), liked.flatten()
    parent = candidates.value_parent_indices().to_numpy().astype(np.int64)
    scored_parent = liked.value_parent_indices().to_numpy().astype(np.int64)
    tracks = pc.unique(pc.struct_field(scored, "track_id"))
    width = len(tracks) + 1
    key = parent * width + codes(pc.struct_field(entries, "track_id"), tracks)
    scored_key = scored_parent * width + codes(pc.struct_field(scored, "track_id"), tracks)
    # An absent track's code is -1: its key lands on a slot no scored track has.
    order = np.argsort(scored_key)
    value = np.full(key.size, np.nan, np.float32)
    if order.size:
        where = order[np.minimum(np.searchsorted(scored_key[order], key), order.size - 1)]
        hit = scored_key[where] == key
        values = pc.struct_field(scored, "likeability").to_numpy(zero_copy_only=False)
        value[hit] = values[where][hit]
    fields = {entries.type.field(i).name: entries.field(i) for i in range(entries.type.num_fields)}
    fields["likeability"] = pa.array(value, pa.float32(), from_pandas=True)
    offsets = np.zeros(len(candidates) + 1, np.int32)
    np.cumsum(pc.list_value_length(candidates).to_numpy(zero_copy_only=False), out=offsets[1:])
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.StructArray.from_arrays(list(fields.values()), list(fields))
    )
