"""The generated catalog: artists with a main genre and up to two neighbouring ones, their
albums (a few released inside the data window, mostly by popular artists, so that fans have
new albums to play), and tracks with a power-law popularity, a latent taste vector close to
their artist's and audio features around their genre's profile. `make_catalog` returns both
what the simulation needs (`Catalog`) and the catalog tables the pipeline reads."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.core.parquet import arrow_table
from jobs.sources.sample.window import DAY_US, TimeWindow
from schemas import catalog as catalog_schema

logger = logging.getLogger(__name__)


class GenreProfile(NamedTuple):
    name: str
    share: float  # of artists in the catalog
    explicit_rate: float
    duration_s: float  # median track length
    # Mean audio features, in AUDIO_FEATURE_COLUMNS order.
    features: tuple[float, float, float, float, float, float, float, float, float]
    neighbours: tuple[str, ...]  # where an artist's secondary genres come from


# features: danceability, energy, loudness, speechiness, acousticness, instrumentalness,
# liveness, valence, tempo.
GENRE_PROFILES = (
    GenreProfile(
        "pop",
        0.16,
        0.15,
        205,
        (0.68, 0.66, -6.0, 0.07, 0.20, 0.02, 0.16, 0.55, 118),
        ("r&b", "electronic", "indie", "latin"),
    ),
    GenreProfile(
        "rock",
        0.12,
        0.10,
        235,
        (0.50, 0.76, -6.0, 0.05, 0.12, 0.08, 0.20, 0.50, 126),
        ("indie", "metal", "folk"),
    ),
    GenreProfile(
        "hip-hop",
        0.13,
        0.60,
        195,
        (0.75, 0.64, -6.5, 0.26, 0.15, 0.02, 0.18, 0.48, 98),
        ("r&b", "pop", "electronic"),
    ),
    GenreProfile(
        "electronic",
        0.10,
        0.08,
        260,
        (0.72, 0.80, -5.5, 0.07, 0.05, 0.55, 0.18, 0.40, 125),
        ("pop", "hip-hop", "indie"),
    ),
    GenreProfile(
        "jazz",
        0.05,
        0.01,
        330,
        (0.55, 0.38, -12.0, 0.06, 0.70, 0.45, 0.15, 0.50, 112),
        ("classical", "r&b", "folk"),
    ),
    GenreProfile(
        "classical",
        0.05,
        0.00,
        390,
        (0.28, 0.15, -21.0, 0.045, 0.92, 0.85, 0.12, 0.22, 100),
        ("jazz", "folk"),
    ),
    GenreProfile(
        "indie",
        0.09,
        0.08,
        225,
        (0.55, 0.58, -8.0, 0.05, 0.35, 0.15, 0.14, 0.45, 120),
        ("rock", "folk", "pop", "electronic"),
    ),
    GenreProfile(
        "metal", 0.06, 0.35, 290, (0.40, 0.93, -4.5, 0.08, 0.02, 0.12, 0.22, 0.30, 135), ("rock",)
    ),
    GenreProfile(
        "r&b",
        0.07,
        0.35,
        215,
        (0.68, 0.55, -7.0, 0.12, 0.25, 0.02, 0.14, 0.52, 100),
        ("hip-hop", "pop", "jazz"),
    ),
    GenreProfile(
        "country",
        0.06,
        0.05,
        200,
        (0.60, 0.65, -6.0, 0.04, 0.25, 0.01, 0.18, 0.60, 120),
        ("folk", "rock", "pop"),
    ),
    GenreProfile(
        "latin",
        0.07,
        0.25,
        200,
        (0.75, 0.72, -5.0, 0.09, 0.18, 0.02, 0.16, 0.68, 110),
        ("pop", "hip-hop"),
    ),
    GenreProfile(
        "folk",
        0.04,
        0.02,
        225,
        (0.50, 0.35, -11.0, 0.045, 0.75, 0.10, 0.13, 0.42, 112),
        ("indie", "country", "rock"),
    ),
)
GENRES = tuple(profile.name for profile in GENRE_PROFILES)
GENRE_SHARES = np.array([p.share for p in GENRE_PROFILES]) / sum(p.share for p in GENRE_PROFILES)

LATENT_DIM = 16
POPULARITY_EXPONENT = 0.8
SECONDARY_GENRE_WEIGHT = 0.35  # a secondary genre's tracks count this much in that genre
MIN_ARTISTS_PER_GENRE = 3
TRACKS_PER_ARTIST = 12
TRACKS_PER_ALBUM = 8
CATALOG_YEARS = 10
LAST_WEEK_RELEASE_SHARE = 0.03  # of albums released in the last data week
WINDOW_RELEASE_SHARE_PER_WEEK = 0.015  # of albums released in each earlier data week
MAX_WINDOW_RELEASE_SHARE = 0.15  # however many weeks the window has
MISSING_FEATURES_SHARE = 0.02

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_ONSETS = (
    "b",
    "br",
    "c",
    "cl",
    "d",
    "dr",
    "f",
    "fl",
    "g",
    "gr",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "r",
    "s",
    "sh",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y")
_CODAS = pa.array(["", "", "", "n", "r", "l", "s", "th", "x", "rd", "nt", "ve", "ck", "m"])
_SYLLABLES = pa.array([onset + vowel for onset in _ONSETS for vowel in _VOWELS])


@dataclass(frozen=True)
class Catalog:
    artist_ids: pa.Array
    artist_track_start: np.ndarray
    artist_track_end: np.ndarray
    album_ids: pa.Array
    album_artist: np.ndarray
    album_release_us: np.ndarray
    album_first_track: np.ndarray
    album_size: np.ndarray
    track_ids: pa.Array
    track_album: np.ndarray
    track_artist: np.ndarray
    track_genre: np.ndarray  # the artist's main genre
    track_duration_ms: np.ndarray
    track_explicit: np.ndarray
    track_latent: np.ndarray
    track_weight: np.ndarray  # power-law popularity (what picks and the popularity score use)
    genre_pools: list[np.ndarray]  # tracks out before the window, per genre
    genre_pool_logits: list[np.ndarray]
    genre_pool_cumulative: list[np.ndarray]  # normalised, by popularity alone
    deep_cut_cumulative: np.ndarray  # cumulative pick weight, tracks in artist order, 0 first

    @property
    def n_artists(self) -> int:
        return len(self.artist_ids)


def make_catalog(rng, n_tracks: int, window: TimeWindow) -> tuple[Catalog, dict[str, pa.Table]]:
    n_genres = len(GENRES)
    n_artists = min(
        n_tracks, max(round(n_tracks / TRACKS_PER_ARTIST), MIN_ARTISTS_PER_GENRE * n_genres)
    )
    n_albums = min(n_tracks, max(round(n_tracks / TRACKS_PER_ALBUM), n_artists + 1))

    # Artists: the first ones cover every genre, the rest follow the genre shares.
    guaranteed = min(n_artists, MIN_ARTISTS_PER_GENRE * n_genres)
    main_genre = np.concatenate(
        [
            np.arange(guaranteed) % n_genres,
            rng.choice(n_genres, size=n_artists - guaranteed, p=GENRE_SHARES),
        ]
    )
    genre_matrix, membership = _secondary_genres(rng, main_genre)
    artist_weight = rng.pareto(1.1, n_artists) + 1.0  # power-law popularity
    artist_latent = rng.standard_normal((n_artists, LATENT_DIM))

    # Albums: one old album per artist (so new releases come from artists with listeners),
    # the others to artists by popularity; a few released inside the window.
    extra_artist = rng.choice(
        n_artists, size=n_albums - n_artists, p=artist_weight**0.6 / (artist_weight**0.6).sum()
    )
    album_artist = np.concatenate([np.arange(n_artists), extra_artist])
    window_start_day = window.start_us // DAY_US
    last_week_day = window.end_us // DAY_US - 7
    first_age = 60 + (rng.random(n_artists) ** 1.3 * CATALOG_YEARS * 365).astype(np.int64)
    extra_age = 1 + (rng.random(n_albums - n_artists) ** 2 * CATALOG_YEARS * 365).astype(np.int64)
    release_day = window_start_day - np.concatenate([first_age, extra_age])
    n_extra = n_albums - n_artists
    n_last_week = min(n_extra, max(1, math.ceil(LAST_WEEK_RELEASE_SHARE * n_albums)))
    n_earlier = min(
        n_extra - n_last_week,
        round(WINDOW_RELEASE_SHARE_PER_WEEK * n_albums * (window.weeks - 1)),
        round(MAX_WINDOW_RELEASE_SHARE * n_albums),
    )
    # Gumbel top-k: new releases mostly from popular artists, who have fans to play them.
    keys = 0.4 * np.log(artist_weight[extra_artist]) + rng.gumbel(size=n_extra)
    fresh = n_artists + np.argsort(-keys, kind="stable")[: n_last_week + n_earlier]
    release_day[fresh[:n_last_week]] = last_week_day + rng.integers(0, 7, n_last_week)
    release_day[fresh[n_last_week:]] = window_start_day + rng.integers(
        0, max(1, last_week_day - window_start_day), n_earlier
    )
    if n_last_week == 0:
        logger.warning("catalog too small for new releases (%d tracks)", n_tracks)
    album_order = np.lexsort((release_day, album_artist))
    album_artist, release_day = album_artist[album_order], release_day[album_order]

    # Tracks: at least one per album, the rest spread by a single/EP/album propensity.
    kind = rng.choice(3, size=n_albums, p=[0.45, 0.20, 0.35])
    propensity = np.array([0.5, 4.0, 10.5])[kind] * rng.lognormal(0, 0.3, n_albums)
    album_size = 1 + rng.multinomial(n_tracks - n_albums, propensity / propensity.sum())
    album_first_track = np.concatenate([[0], np.cumsum(album_size)[:-1]])
    track_album = np.repeat(np.arange(n_albums), album_size)
    position = np.arange(n_tracks) - album_first_track[track_album]
    track_artist = album_artist[track_album]
    track_genre = main_genre[track_artist]
    track_weight = (
        artist_weight[track_artist]
        * rng.lognormal(0, 0.8, n_tracks)
        * np.where(position == 0, 2.0, 1.0)
    )  # the lead single
    track_latent = 0.8 * artist_latent[track_artist] + 0.6 * rng.standard_normal(
        (n_tracks, LATENT_DIM)
    )
    median_s = np.array([p.duration_s for p in GENRE_PROFILES])[track_genre]
    duration_ms = np.clip(median_s * 1000 * rng.lognormal(0, 0.25, n_tracks), 30_000, 900_000)
    explicit_album = (
        rng.random(n_albums)
        < np.array([p.explicit_rate for p in GENRE_PROFILES])[main_genre[album_artist]]
    )
    explicit = (explicit_album[track_album] & (rng.random(n_tracks) < 0.85)) | (
        rng.random(n_tracks) < 0.01
    )

    ids = spotify_ids(rng, n_artists + n_albums + n_tracks)
    artist_ids = ids[:n_artists]
    album_ids = ids[n_artists : n_artists + n_albums]
    track_ids = ids[n_artists + n_albums :]
    album_release_us = release_day * DAY_US

    # Where a new pick can land: tracks out before the window, in each genre of their artist.
    released = album_release_us[track_album] < window.start_us
    pick_logit = POPULARITY_EXPONENT * np.log(track_weight)
    genre_pools, genre_pool_logits, genre_pool_cumulative = [], [], []
    for genre in range(n_genres):
        weight = membership[track_artist, genre]
        pool = np.flatnonzero((weight > 0) & released)
        logits = pick_logit[pool] + np.log(weight[pool])
        popular = np.cumsum(np.exp(logits - logits.max(initial=0.0)))
        genre_pools.append(pool)
        genre_pool_logits.append(logits.astype(np.float32))
        genre_pool_cumulative.append(popular / popular[-1] if pool.size else popular)
    deep_cut_weight = np.where(released, track_weight**POPULARITY_EXPONENT, 0.0)
    artist_track_start = np.searchsorted(track_artist, np.arange(n_artists))
    artist_track_end = np.searchsorted(track_artist, np.arange(n_artists), side="right")

    catalog = Catalog(
        artist_ids=artist_ids,
        artist_track_start=artist_track_start,
        artist_track_end=artist_track_end,
        album_ids=album_ids,
        album_artist=album_artist,
        album_release_us=album_release_us,
        album_first_track=album_first_track,
        album_size=album_size,
        track_ids=track_ids,
        track_album=track_album,
        track_artist=track_artist,
        track_genre=track_genre,
        track_duration_ms=duration_ms.astype(np.int64),
        track_explicit=explicit,
        track_latent=track_latent.astype(np.float32),
        track_weight=track_weight,
        genre_pools=genre_pools,
        genre_pool_logits=genre_pool_logits,
        genre_pool_cumulative=genre_pool_cumulative,
        deep_cut_cumulative=np.concatenate([[0.0], np.cumsum(deep_cut_weight)]),
    )

    genre_names = pa.array(GENRES)
    listed = genre_matrix >= 0
    genre_lists = pa.ListArray.from_arrays(
        np.concatenate([[0], np.cumsum(listed.sum(axis=1))]).astype(np.int32),
        genre_names.take(genre_matrix[listed]),
    )
    followers = np.round(300 * artist_weight**1.5 * rng.lognormal(0, 0.6, n_artists))
    album_type = pa.array(["single", "ep", "album"]).take(
        np.digitize(album_size, [4, 7]).astype(np.int32)
    )
    tables = {
        "artists": arrow_table(
            catalog_schema.ARTISTS,
            [
                artist_ids,
                _names(rng, n_artists, max_words=2),
                genre_lists,
                popularity_scores(artist_weight),
                pa.array(followers.astype(np.int64)),
            ],
        ),
        "albums": arrow_table(
            catalog_schema.ALBUMS,
            [
                album_ids,
                artist_ids.take(album_artist),
                _names(rng, n_albums, max_words=3),
                album_type,
                pa.array(release_day.astype(np.int32), type=pa.date32()),
                pa.array(album_size.astype(np.int32)),
            ],
        ),
        "tracks": arrow_table(
            catalog_schema.TRACKS,
            [
                track_ids,
                _names(rng, n_tracks, max_words=3),
                album_ids.take(track_album),
                artist_ids.take(track_artist),
                pa.array(duration_ms.astype(np.int32)),
                pa.array(explicit),
                popularity_scores(track_weight),
            ],
        ),
        "audio_features": _audio_features(rng, catalog, track_ids),
    }
    return catalog, tables


def _secondary_genres(rng, main_genre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each artist's genres, main first (-1 padded, (artists, 3)), and genre membership."""
    n_artists, n_genres = main_genre.size, len(GENRES)
    genre_matrix = np.full((n_artists, 3), -1, dtype=np.int64)
    genre_matrix[:, 0] = main_genre
    extra = rng.choice(3, size=n_artists, p=[0.45, 0.40, 0.15])
    for genre, profile in enumerate(GENRE_PROFILES):
        artists = np.flatnonzero(main_genre == genre)
        neighbours = np.array([GENRES.index(name) for name in profile.neighbours])
        # A random order of the neighbours per artist; keep the first `extra` of them.
        order = np.argsort(rng.random((artists.size, neighbours.size)), axis=1)
        for slot in range(min(2, neighbours.size)):
            chosen = extra[artists] > slot
            genre_matrix[artists[chosen], 1 + slot] = neighbours[order[chosen, slot]]
    membership = np.zeros((n_artists, n_genres))
    rows = np.repeat(np.arange(n_artists)[:, None], 3, axis=1)
    secondary = genre_matrix[:, 1:] >= 0
    membership[rows[:, 1:][secondary], genre_matrix[:, 1:][secondary]] = SECONDARY_GENRE_WEIGHT
    membership[np.arange(n_artists), main_genre] = 1.0
    return genre_matrix, membership


def _audio_features(rng, catalog: Catalog, track_ids: pa.Array) -> pa.Table:
    """Spotify-range audio features around each genre's profile, with artist and track noise
    and a little of the latent taste (so audio similarity says something about co-listening)."""
    n_tracks = len(track_ids)
    means = np.array([p.features for p in GENRE_PROFILES])[catalog.track_genre]
    unit = [0, 1, 3, 4, 5, 6, 7]  # features in [0, 1]
    n_artists = catalog.n_artists
    artist_offset = rng.normal(0, 0.35, (n_artists, len(unit)))[catalog.track_artist]
    projection = rng.standard_normal((LATENT_DIM, len(unit))) / math.sqrt(LATENT_DIM)
    logits = (
        np.log(means[:, unit] / (1 - means[:, unit]))
        + artist_offset
        + rng.normal(0, 0.5, (n_tracks, len(unit)))
        + 0.3 * (catalog.track_latent @ projection)
    )
    values = np.empty((n_tracks, 9))
    values[:, unit] = 1 / (1 + np.exp(-logits))
    # Louder when more energetic, as in Spotify's data.
    values[:, 2] = np.clip(
        means[:, 2] + 8 * (values[:, 1] - means[:, 1]) + rng.normal(0, 2.0, n_tracks), -60, 0
    )
    values[:, 8] = np.clip(means[:, 8] + rng.normal(0, 18, n_tracks), 50, 210)
    values = np.round(values, 3)
    triple_time = np.isin(
        catalog.track_genre, [GENRES.index(g) for g in ("jazz", "classical", "folk", "country")]
    )
    signature_draw = rng.random(n_tracks)
    time_signature = np.where(
        signature_draw < np.where(triple_time, 0.15, 0.05), 3, np.where(signature_draw > 0.97, 5, 4)
    )
    key = rng.integers(0, 12, n_tracks)
    mode = (rng.random(n_tracks) < 0.62).astype(np.int32)
    keep = np.flatnonzero(rng.random(n_tracks) >= MISSING_FEATURES_SHARE)
    columns = [track_ids.take(keep)]
    columns += [pa.array(values[keep, i]) for i in range(9)]
    columns += [pa.array(column[keep].astype(np.int32)) for column in (time_signature, key, mode)]
    return arrow_table(catalog_schema.AUDIO_FEATURES, columns)


def popularity_scores(weight: np.ndarray) -> pa.Array:
    """Spotify-style 0-100 popularity: linear in the log of the power-law weight."""
    log_weight = np.log(weight)
    span = max(float(np.ptp(log_weight)), 1e-9)
    return pa.array(np.round(100 * (log_weight - log_weight.min()) / span).astype(np.int32))


def spotify_ids(rng, n: int) -> pa.Array:
    """22-character base62 ids (a collision among 62**22 values is out of reach)."""
    chars = np.ascontiguousarray(_BASE62[rng.integers(0, 62, size=(n, 22))])
    return pa.array(chars.view("S22").ravel()).cast(pa.string())


def _names(rng, n: int, max_words: int) -> pa.Array:
    """Made-up names of 1..max_words capitalised words of 1-3 syllables and an ending."""
    n_words = rng.integers(1, max_words + 1, n)
    words = []
    for word in range(max_words):
        n_syllables = rng.choice([1, 2, 3], size=n, p=[0.25, 0.6, 0.15])
        parts = [
            _SYLLABLES.take(
                pa.array(rng.integers(0, len(_SYLLABLES), n), mask=n_syllables <= syllable)
            )
            for syllable in range(3)
        ]
        parts.append(_CODAS.take(rng.integers(0, len(_CODAS), n)))
        text = pc.utf8_capitalize(pc.binary_join_element_wise(*parts, "", null_handling="skip"))
        words.append(pc.if_else(pa.array(n_words > word), text, pa.scalar(None, pa.string())))
    return pc.binary_join_element_wise(*words, " ", null_handling="skip")
