"""Deterministic synthetic sample data: a music catalog, listener controls and raw events.

`generate` writes, as Parquet files made with pyarrow, everything the pipeline reads from its
sources: the catalog (artists, albums, tracks, audio features), the controls (follows, user
settings, user hides - some "don't suggest" later withdrawn -, taste-profile exclusions, platform
rules and Discovery Mode campaigns) and one folder of raw listening events per day for the
`weeks` whole weeks before the publish `week`. The same seed gives the same rows.

The listens follow a small generative model, so that collaborative filtering has real structure
to find and can beat a popularity baseline on next week's never-played-before tracks:

* Every listener has a genre taste (a Dirichlet mixture concentrated on 1-3 favourite genres)
  and a personal latent vector; every track has a latent vector close to its artist's. Picking
  a new track means picking a genre from the taste, then a track of that genre with probability
  proportional to popularity ** POPULARITY_EXPONENT * exp(LATENT_BETA * <user, track>) (in the
  other genres, by popularity alone: the hits one hears anyway).
* Most plays are replays from a personal library ("heavy rotation"), seeded before the window
  and grown every week with the discoveries the listener liked; the rest are discoveries from
  the taste or deep cuts from artists already in the library.
* Fans of an artist play its new albums in the days after release (what Release Radar needs).
* Plays come in sessions at realistic times of day; low affinity means more skips, and saves,
  playlist adds, hides and follows follow affinity too.

The platform's own rules are judged at the publish moment (00:00 UTC of `week`), and the sample
has every case on either side of it: rights, legal and policy blocks of a few popular tracks and
artists (most in force, some lifted already, some still to come) and a handful of Discovery Mode
campaigns of mid-popularity artists (most running, one over, one not started).

Everything is vectorised with numpy over blocks of listeners; events are appended, block by
block, to one Parquet file per day, so memory stays bounded whatever the size.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema, arrow_table, write_table
from schemas import catalog as catalog_schema
from schemas import controls as controls_schema
from schemas import raw_events

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
_GENRE_SHARES = np.array([p.share for p in GENRE_PROFILES]) / sum(p.share for p in GENRE_PROFILES)

COUNTRIES = ("US", "GB", "DE", "SE", "BR", "MX", "FR", "ES", "CA", "AU", "JP", "IN")
_COUNTRY_SHARES = np.array([0.30, 0.10, 0.09, 0.05, 0.10, 0.07, 0.06, 0.05, 0.05, 0.04, 0.05, 0.04])
_PLATFORM_SHARES = np.array([0.36, 0.30, 0.12, 0.08, 0.09, 0.05])  # raw_events.PLATFORMS order
# Share of sessions starting in each UTC hour: quiet nights, a commute bump, an evening peak.
_HOUR_WEIGHTS = np.array(
    [3, 2, 1, 1, 1, 1, 2, 4, 6, 6, 5, 5, 6, 6, 5, 5, 6, 7, 8, 9, 10, 9, 7, 5], dtype=float
)

LATENT_DIM = 16
LATENT_BETA = 1.2  # how much the personal latent taste sharpens picks within a genre
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

WITHDRAWN_DONT_SUGGEST_SHARE = 0.10  # of "don't suggest" rows, taken back later in the window
BLOCKED_TRACK_SHARE = 0.002  # rights and legal blocks, of the catalog's tracks
MIN_BLOCKED_TRACKS = 4  # so that every rule state appears whatever the size
ARTISTS_PER_POLICY_BLOCK = 12  # one artist policy block per this many artists ...
MAX_POLICY_BLOCKS = 5  # ... up to this many
TRACKS_PER_CAMPAIGN = 1000  # one Discovery Mode campaign per this many catalog tracks ...
MIN_CAMPAIGNS = 5  # ... at least this many (most running, one over, one to come)
MAX_CAMPAIGN_TRACKS = 5

MEAN_WEEKLY_PLAYS = 60
NEW_USER_SHARE = 0.05
NEW_USER_ACTIVITY = 0.3
DEEP_CUT_SHARE = 0.3  # of non-rotation plays: another track of an artist in the library
LIBRARY_DECAY = 0.92  # weekly, so that recent discoveries take over the rotation
NEW_FAVOURITE_WEIGHT = 0.3
RELEASE_FANDOM_RATE = 1.0  # P(play a new album) per share of the artist in the rotation
MEAN_SESSION_PLAYS = 8
SKIP_MS = 30_000

ROTATION, DEEP_CUT, DISCOVERY, RELEASE = range(4)
_SOURCE_SKIP_OFFSET = np.array([-1.3, 0.0, 0.3, -0.4])  # rotation plays are rarely skipped
HIGH_AFFINITY = 1.0
LOW_AFFINITY = -0.5

DAY_US = 86_400_000_000
_WEEK_US = 7 * DAY_US
_EPOCH = dt.date(1970, 1, 1)
_BLOCK_EVENTS = 1_500_000  # events simulated at once (bounds memory)
_SAMPLING_CELLS = 2_000_000  # users x tracks of one softmax matrix

_EVENT_TYPES = raw_events.EVENT_TYPES
_PLAY, _SAVE, _PLAYLIST_ADD, _HIDE, _DONT_SUGGEST, _FOLLOW = (
    _EVENT_TYPES.index(name)
    for name in (
        raw_events.PLAY,
        raw_events.SAVE,
        raw_events.PLAYLIST_ADD,
        raw_events.HIDE,
        raw_events.DONT_SUGGEST,
        raw_events.FOLLOW_ARTIST,
    )
)
_END_TRACKDONE, _END_FWDBTN, _END_BACKBTN, _END_ENDPLAY, _END_LOGOUT, _END_REMOTE = (
    raw_events.REASONS_END.index(name)
    for name in ("trackdone", "fwdbtn", "backbtn", "endplay", "logout", "remote")
)
# How a play starts when the previous one ended with REASONS_END[i] in the same session.
_START_AFTER_END = np.array(
    [raw_events.REASONS_START.index(name) for name in ("trackdone", "fwdbtn", "backbtn")]
    + [raw_events.REASONS_START.index("playbtn")] * 3,
    dtype=np.int8,
)
_SESSION_STARTS = np.array(
    [raw_events.REASONS_START.index(name) for name in ("clickrow", "playbtn", "appload", "remote")]
)
_SESSION_START_SHARES = np.array([0.45, 0.30, 0.20, 0.05])

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_HEX_PAIRS = np.frombuffer(
    "".join(f"{byte:02x}" for byte in range(256)).encode(), dtype=np.uint8
).reshape(256, 2)
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


def generate(
    config: PipelineConfig,
    week: dt.date,
    users: int,
    tracks: int,
    weeks: int,
    seed: int = 42,
) -> dict[str, int]:
    """Writes the sample dataset; returns row counts per table name."""
    world, catalog_tables = build_world(week, users, tracks, weeks, seed)
    catalog, listeners, window = world.catalog, world.listeners, world.window
    counts = {}
    for table_name, table in catalog_tables.items():
        counts[table_name] = write_table(config.catalog_dir / table_name, table)

    follows, hides, counts["events"] = _write_events(
        config.raw_events_dir, world.events_seed, world.id_salt, catalog, listeners, window
    )
    platform_rules, ruled_artists = _platform_rules_table(
        np.random.default_rng(world.seeds["platform_rules"]), catalog, window
    )
    control_tables = {
        "follows": _follows_table(follows, listeners, catalog),
        "user_settings": _settings_table(listeners),
        "user_hides": _hides_table(
            np.random.default_rng(world.seeds["withdrawals"]), hides, listeners, catalog, window
        ),
        "taste_profile_exclusions": _exclusions_table(
            np.random.default_rng(world.seeds["exclusions"]), listeners, window
        ),
        "platform_rules": platform_rules,
        "discovery_mode": _discovery_mode_table(
            np.random.default_rng(world.seeds["discovery"]), catalog, window, ruled_artists
        ),
    }
    for table_name, table in control_tables.items():
        counts[table_name] = write_table(config.controls_dir / table_name, table)
    counts["users"] = users
    logger.info("sample data for week %s: %s", week, counts)
    return counts


@dataclass(frozen=True)
class World:
    """The generated catalog and listeners (true tastes and track features included) that
    `generate` draws the events from; the same arguments give the same world."""

    catalog: _Catalog
    listeners: _Listeners
    window: TimeWindow
    seeds: dict[str, np.random.SeedSequence]
    id_salt: np.uint64  # event ids: a bijection of event numbers, see _event_ids

    @property
    def events_seed(self) -> np.random.SeedSequence:
        return self.seeds["events"]


# Children are stable by index: new uses take new children, the older ones keep theirs.
_SEED_NAMES = (
    "catalog",
    "listeners",
    "events",
    "exclusions",
    "withdrawals",
    "platform_rules",
    "discovery",
    "playlist_listens",
)


def build_world(
    week: dt.date, users: int, tracks: int, weeks: int, seed: int = 42
) -> tuple[World, dict[str, pa.Table]]:
    """The world of `generate`, and its catalog tables."""
    week = dt.date(week.year, week.month, week.day)
    if week.weekday() != 0:
        raise ValueError(f"week must be a Monday, got {week} (a {week:%A})")
    for name, value in (("users", users), ("tracks", tracks), ("weeks", weeks)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    window = TimeWindow.before(week, weeks)
    seeds = dict(zip(_SEED_NAMES, np.random.SeedSequence(seed).spawn(len(_SEED_NAMES))))
    catalog, catalog_tables = _make_catalog(np.random.default_rng(seeds["catalog"]), tracks, window)
    listeners = _make_listeners(np.random.default_rng(seeds["listeners"]), users, catalog, window)
    id_salt = np.random.default_rng(seeds["events"].spawn(1)[0]).integers(0, 2**63, dtype=np.uint64)
    return World(catalog, listeners, window, seeds, id_salt), catalog_tables


@dataclass(frozen=True)
class TimeWindow:
    """The data window: `weeks` whole weeks before the publish week, in UTC microseconds."""

    week: dt.date
    weeks: int
    start_us: int
    end_us: int

    @classmethod
    def before(cls, week: dt.date, weeks: int) -> "TimeWindow":
        end_us = (week - _EPOCH).days * DAY_US
        return cls(week, weeks, end_us - weeks * _WEEK_US, end_us)

    @property
    def days(self) -> list[dt.date]:
        return [self.week - dt.timedelta(days=n) for n in range(7 * self.weeks, 0, -1)]


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Catalog:
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


def _make_catalog(rng, n_tracks: int, window: TimeWindow) -> tuple[_Catalog, dict[str, pa.Table]]:
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
            rng.choice(n_genres, size=n_artists - guaranteed, p=_GENRE_SHARES),
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

    ids = _spotify_ids(rng, n_artists + n_albums + n_tracks)
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

    catalog = _Catalog(
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


def _audio_features(rng, catalog: _Catalog, track_ids: pa.Array) -> pa.Table:
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


def _spotify_ids(rng, n: int) -> pa.Array:
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


# --------------------------------------------------------------------------------------------
# Listeners
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Listeners:
    user_ids: pa.Array
    taste: np.ndarray  # (users, genres), rows sum to 1
    favourite_genres: np.ndarray  # (users, genres): where the personal latent taste applies
    latent: np.ndarray  # (users, LATENT_DIM)
    activity: np.ndarray  # mean plays per week
    rotation_share: np.ndarray
    start_us: np.ndarray  # first moment they can listen (new users join in the last week)
    is_new: np.ndarray
    skip_bias: np.ndarray
    shuffle_rate: np.ndarray
    home_country: np.ndarray
    platforms: np.ndarray  # (users, 2): main and other platform
    explicit_filter: np.ndarray
    preferred_genres: pa.Array  # list<string>, null for most
    contexts: pa.Array  # playlist, album and radio context strings, see _context_offsets

    @property
    def size(self) -> int:
        return len(self.user_ids)


def _make_listeners(rng, n_users: int, catalog: _Catalog, window: TimeWindow) -> _Listeners:
    n_genres = len(GENRES)
    # Taste: 1-3 favourite genres (drawn by genre share), a little of everything else;
    # genres without any playable track get nothing.
    favourites = rng.choice([1, 2, 3], size=n_users, p=[0.35, 0.40, 0.25])
    keys = np.log(_GENRE_SHARES) + rng.gumbel(size=(n_users, n_genres))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    alpha = np.where(rank < favourites[:, None], 2.5, 0.04)
    playable = np.array([pool.size > 0 for pool in catalog.genre_pools])
    taste = rng.gamma(alpha) * playable + 1e-12 * playable
    taste /= taste.sum(axis=1, keepdims=True)

    is_new = rng.random(n_users) < NEW_USER_SHARE
    join_day = rng.integers(0, 7, n_users)
    start_us = np.where(is_new, window.end_us - _WEEK_US + join_day * DAY_US, window.start_us)
    # Heavy-tailed activity with a mean of about MEAN_WEEKLY_PLAYS.
    activity = np.clip(rng.lognormal(math.log(MEAN_WEEKLY_PLAYS) - 0.5, 1.0, n_users), 2, 1500)

    platforms = np.stack(
        [
            rng.choice(len(_PLATFORM_SHARES), size=n_users, p=_PLATFORM_SHARES),
            rng.integers(0, len(_PLATFORM_SHARES), n_users),
        ],
        axis=1,
    )
    explicit_filter = rng.random(n_users) < 0.10
    # Preferred genres for ~20%: the top genre, sometimes the second too.
    has_preference = rng.random(n_users) < 0.20
    top_two = np.argsort(-taste, axis=1, kind="stable")[:, :2]
    n_preferred = np.where(has_preference, 1 + (rng.random(n_users) < 0.4) * (favourites > 1), 0)
    preferred = top_two[np.arange(2)[None, :] < n_preferred[:, None]]
    preferred_genres = pa.ListArray.from_arrays(
        np.concatenate([[0], np.cumsum(n_preferred)]).astype(np.int32),
        pa.array(GENRES).take(preferred),
        mask=pa.array(~has_preference),
    )

    numbers = pc.cast(pa.array(np.arange(1, n_users + 1)), pa.string())
    user_ids = pc.binary_join_element_wise("u", pc.utf8_lpad(numbers, 6, "0"), "")
    contexts = pa.concat_arrays(
        [
            pc.binary_join_element_wise("playlist", _spotify_ids(rng, n_users), ":"),
            pc.binary_join_element_wise("album", catalog.album_ids, ":"),
            pc.binary_join_element_wise("radio", catalog.artist_ids, ":"),
        ]
    )
    return _Listeners(
        user_ids=user_ids,
        taste=taste,
        favourite_genres=rank < favourites[:, None],
        latent=(rng.standard_normal((n_users, LATENT_DIM)) / math.sqrt(LATENT_DIM)).astype(
            np.float32
        ),
        activity=activity,
        rotation_share=rng.beta(6, 3, n_users),
        start_us=start_us,
        is_new=is_new,
        skip_bias=rng.normal(0.2, 0.5, n_users),
        shuffle_rate=rng.beta(2, 3, n_users),
        home_country=rng.choice(len(COUNTRIES), size=n_users, p=_COUNTRY_SHARES),
        platforms=platforms,
        explicit_filter=explicit_filter,
        preferred_genres=preferred_genres,
        contexts=contexts,
    )


def _context_offsets(listeners: _Listeners, catalog: _Catalog) -> tuple[int, int, int]:
    """Where the playlist (per user), album and radio (per artist) contexts start."""
    return 0, listeners.size, listeners.size + len(catalog.album_ids)


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


@dataclass
class _Events:
    """Event columns as numbers; strings are looked up only when a table is written."""

    ts: np.ndarray  # int64 microseconds
    user: np.ndarray  # global user index
    track: np.ndarray
    ms_played: np.ndarray
    reason_start: np.ndarray  # index into REASONS_START, -1 for null
    reason_end: np.ndarray
    skipped: np.ndarray
    shuffle: np.ndarray
    platform: np.ndarray
    country: np.ndarray
    event_type: np.ndarray
    context: np.ndarray  # index into _Listeners.contexts, -1 for null

    def take(self, index: np.ndarray) -> "_Events":
        return _Events(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(parts: list["_Events"]) -> "_Events":
        return _Events(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Events))
        )

    def __len__(self) -> int:
        return self.ts.size


@dataclass
class _Library:
    """Each listener's heavy rotation: (user, track, weight) rows sorted by user."""

    user: np.ndarray  # local (block) index
    track: np.ndarray
    weight: np.ndarray
    offsets: np.ndarray  # rows of user u: offsets[u]:offsets[u + 1]

    @classmethod
    def build(cls, user, track, weight, n_users: int, n_tracks: int) -> "_Library":
        keys, inverse = np.unique(user.astype(np.int64) * n_tracks + track, return_inverse=True)
        user = (keys // n_tracks).astype(np.int64)
        offsets = np.searchsorted(user, np.arange(n_users + 1))
        return cls(user, keys % n_tracks, np.bincount(inverse, weights=weight), offsets)

    def draw(self, rng, counts: np.ndarray) -> np.ndarray:
        """Rows drawn by weight: counts[u] of them for user u (who must have some rows)."""
        users = np.repeat(np.arange(counts.size), counts)
        if users.size == 0:
            return users
        cumulative = np.concatenate([[0.0], np.cumsum(self.weight)])
        low, high = cumulative[self.offsets[users]], cumulative[self.offsets[users + 1]]
        rows = np.searchsorted(cumulative, low + rng.random(users.size) * (high - low), "right")
        return np.clip(rows - 1, self.offsets[users], self.offsets[users + 1] - 1)


@dataclass
class _BlockResult:
    events: _Events
    follows: tuple[np.ndarray, np.ndarray, np.ndarray]  # user, artist, ts
    hides: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # user, kind, item, ts


def _write_events(
    folder: Path,
    seed: np.random.SeedSequence,
    id_salt: np.uint64,
    catalog: _Catalog,
    listeners: _Listeners,
    window: TimeWindow,
):
    """Simulates listeners block by block, appending each block's events to the day files."""
    block_size = max(64, _BLOCK_EVENTS // (MEAN_WEEKLY_PLAYS * window.weeks))
    starts = list(range(0, listeners.size, block_size))
    schema = arrow_schema(raw_events.SCHEMA)
    block_seeds = seed.spawn(len(starts))
    follows, hides, written = [], [], 0
    with ExitStack() as stack:
        writers = []
        for day in window.days:
            day_folder = folder / f"{raw_events.PARTITION_COLUMN}={day.isoformat()}"
            shutil.rmtree(day_folder, ignore_errors=True)
            day_folder.mkdir(parents=True)
            writer = pq.ParquetWriter(day_folder / "part-00000.parquet", schema)
            writers.append(stack.enter_context(writer))
        for first, block_seed in zip(starts, block_seeds):
            users = np.arange(first, min(first + block_size, listeners.size))
            block = _simulate_block(
                np.random.default_rng(block_seed), catalog, listeners, users, window
            )
            events = block.events
            day_index = (events.ts - window.start_us) // DAY_US
            bounds = np.searchsorted(day_index, np.arange(len(writers) + 1))
            for day, writer in enumerate(writers):
                rows = np.arange(bounds[day], bounds[day + 1])
                if rows.size:
                    writer.write_table(
                        _events_table(
                            events.take(rows), written + rows, id_salt, listeners, catalog, schema
                        )
                    )
            written += len(events)
            follows.append(block.follows)
            hides.append(block.hides)
    logger.info("wrote %d events in %d days under %s", written, len(window.days), folder)
    return _stack(follows), _stack(hides), written


def _stack(parts: list[tuple]) -> tuple:
    return tuple(np.concatenate(column) for column in zip(*parts))


def _simulate_block(
    rng, catalog: _Catalog, listeners: _Listeners, users: np.ndarray, window: TimeWindow
) -> _BlockResult:
    """All weeks of events for one block of listeners (independent of the other blocks)."""
    n_users, n_weeks = users.size, window.weeks
    activity = listeners.activity[users]
    is_new = listeners.is_new[users]

    # How many plays each listener makes each week, and where they come from.
    plays = rng.poisson(activity[:, None] * rng.lognormal(-0.03, 0.25, (n_users, n_weeks)))
    remaining = (window.end_us - listeners.start_us[users[is_new]]) / _WEEK_US
    plays[is_new, :-1] = 0
    plays[is_new, -1] = np.maximum(1, rng.poisson(activity[is_new] * NEW_USER_ACTIVITY * remaining))
    library_size = np.where(is_new, 0, np.minimum(400, 10 + rng.poisson(activity * 0.5)))
    has_library = (library_size > 0)[:, None]
    rotation = rng.binomial(plays, listeners.rotation_share[users][:, None]) * has_library
    deep_cuts = rng.binomial(plays - rotation, DEEP_CUT_SHARE) * has_library
    discoveries = plays - rotation - deep_cuts

    # Taste draws for the initial libraries and for every week's discoveries, in one go.
    draw_counts = np.column_stack([library_size, discoveries])
    slot = np.repeat(np.arange(draw_counts.size), draw_counts.ravel())
    draw_user, draw_week = slot // (n_weeks + 1), slot % (n_weeks + 1) - 1
    draw_track = _taste_draws(rng, catalog, listeners, users, draw_user)

    seeded = draw_week < 0
    slot_start = np.concatenate([[0], np.cumsum(draw_counts.ravel())[:-1]])
    rank = np.arange(slot.size) - slot_start[slot]
    library = _Library.build(
        draw_user[seeded],
        draw_track[seeded],
        (rank[seeded] + 1.0) ** -0.8 * rng.lognormal(0, 0.3, int(seeded.sum())),
        n_users,
        len(catalog.track_ids),
    )
    follow_user, follow_artist, follow_ts = _prior_follows(rng, catalog, library, users, window)
    followed = np.unique(users[follow_user] * catalog.n_artists + follow_artist)

    by_week = np.argsort(draw_week, kind="stable")
    week_bounds = np.searchsorted(draw_week[by_week], np.arange(-1, n_weeks + 1))
    weekly_events, weekly_affinity, weekly_source = [], [], []
    for week in range(n_weeks):
        week_start = window.start_us + week * _WEEK_US
        rotation_rows = library.draw(rng, rotation[:, week])
        deep_rows = library.draw(rng, deep_cuts[:, week])
        discovered = by_week[week_bounds[week + 1] : week_bounds[week + 2]]
        release_user, release_track, release_group, release_day_us = _release_listens(
            rng, catalog, library, week_start, min(week_start + _WEEK_US, window.end_us)
        )
        local_user = np.concatenate(
            [
                library.user[rotation_rows],
                library.user[deep_rows],
                draw_user[discovered],
                release_user,
            ]
        )
        track = np.concatenate(
            [
                library.track[rotation_rows],
                _deep_cut_tracks(rng, catalog, catalog.track_artist[library.track[deep_rows]]),
                draw_track[discovered],
                release_track,
            ]
        )
        source = np.repeat(
            [ROTATION, DEEP_CUT, DISCOVERY, RELEASE],
            [rotation_rows.size, deep_rows.size, discovered.size, release_user.size],
        )
        is_release = source == RELEASE
        # Regular plays share random sessions; each new album listen is a session of its own.
        group = np.concatenate(
            [np.zeros(local_user.size - release_user.size, np.int64), 1 + release_group]
        )
        earliest = np.maximum(listeners.start_us[users][local_user], week_start)
        earliest[is_release] = release_day_us
        latest = np.full(local_user.size, min(week_start + _WEEK_US, window.end_us))
        latest[is_release] = np.minimum(release_day_us + _WEEK_US, window.end_us)

        # Listeners with the explicit filter on never get explicit tracks played.
        allowed = ~(listeners.explicit_filter[users][local_user] & catalog.track_explicit[track])
        events, affinity, played_source = _plays(
            rng,
            catalog,
            listeners,
            users,
            local_user[allowed],
            track[allowed],
            source[allowed],
            group[allowed],
            earliest[allowed],
            latest[allowed],
        )
        weekly_events.append(events)
        weekly_affinity.append(affinity)
        weekly_source.append(played_source)
        library = _grow_library(rng, library, events, affinity, played_source, users, catalog)

    plays_all = _Events.concat(weekly_events)
    affinity = np.concatenate(weekly_affinity)
    source = np.concatenate(weekly_source)
    reactions, hides, new_follows = _reactions(
        rng, catalog, plays_all, affinity, source, followed, window.end_us
    )
    events = _Events.concat([plays_all, reactions])
    inside = (events.ts >= window.start_us) & (events.ts < window.end_us)
    events = events.take(np.flatnonzero(inside)[np.argsort(events.ts[inside], kind="stable")])
    follows = tuple(
        np.concatenate([prior, new])
        for prior, new in zip((users[follow_user], follow_artist, follow_ts), new_follows)
    )
    return _BlockResult(events, follows, hides)


def _taste_draws(
    rng, catalog: _Catalog, listeners: _Listeners, users: np.ndarray, draw_user: np.ndarray
) -> np.ndarray:
    """A track per draw: a genre from the listener's taste, then a track of that genre by
    popularity ** POPULARITY_EXPONENT * exp(LATENT_BETA * <user, track>) in their favourite
    genres, by popularity alone in the others (inverse CDF)."""
    taste = np.cumsum(listeners.taste[users], axis=1)
    draw_genre = _inverse_cdf(rng, taste / taste[:, -1:], draw_user)
    draw_track = np.empty(draw_user.size, dtype=np.int64)
    latent = listeners.latent[users]
    favourite = listeners.favourite_genres[users]
    genres = zip(catalog.genre_pools, catalog.genre_pool_logits, catalog.genre_pool_cumulative)
    for genre, (pool, base, popular) in enumerate(genres):
        picked = np.flatnonzero(draw_genre == genre)
        casual = picked[~favourite[draw_user[picked], genre]]
        columns = np.searchsorted(popular, rng.random(casual.size), side="right")
        draw_track[casual] = pool[np.minimum(columns, pool.size - 1)]

        # Personal picks need a softmax row per listener: a few hundred rows at a time.
        picked = picked[favourite[draw_user[picked], genre]]
        genre_users, rows = np.unique(draw_user[picked], return_inverse=True)
        order = np.argsort(rows, kind="stable")
        picked, rows = picked[order], rows[order]
        pool_latent = catalog.track_latent[pool].T
        chunk = max(1, _SAMPLING_CELLS // max(1, pool.size))
        for first in range(0, genre_users.size, chunk):
            low, high = np.searchsorted(rows, [first, first + chunk])
            logits = base + LATENT_BETA * (latent[genre_users[first : first + chunk]] @ pool_latent)
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
            cumulative = np.cumsum(weights, axis=1, dtype=np.float64)
            cumulative /= cumulative[:, -1:]
            columns = _inverse_cdf(rng, cumulative, rows[low:high] - first)
            draw_track[picked[low:high]] = pool[columns]
    return draw_track


def _inverse_cdf(rng, cumulative: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One column per entry of `rows`, drawn from that row's normalised cumulative weights
    (last column exactly 1): a single searchsorted over the rows laid end to end."""
    n_rows, n_columns = cumulative.shape
    flat = (cumulative + np.arange(n_rows)[:, None]).ravel()
    positions = np.searchsorted(flat, rows + rng.random(rows.size), side="right")
    return np.clip(positions - rows * n_columns, 0, n_columns - 1)


def _deep_cut_tracks(rng, catalog: _Catalog, artists: np.ndarray) -> np.ndarray:
    """A released track of each artist, by popularity."""
    start, end = catalog.artist_track_start[artists], catalog.artist_track_end[artists]
    cumulative = catalog.deep_cut_cumulative
    low, high = cumulative[start], cumulative[end]
    rows = np.searchsorted(cumulative, low + rng.random(artists.size) * (high - low), "right")
    return np.clip(rows - 1, start, end - 1)


def _prior_follows(
    rng, catalog: _Catalog, library: _Library, users: np.ndarray, window: TimeWindow
):
    """Before the window each listener followed a few of the artists they play most."""
    n_artists = catalog.n_artists
    keys, inverse = np.unique(
        library.user * n_artists + catalog.track_artist[library.track], return_inverse=True
    )
    weight = np.bincount(inverse, weights=library.weight)
    user, artist = keys // n_artists, keys % n_artists
    order = np.lexsort((-weight, user))
    user, artist = user[order], artist[order]
    rank = np.arange(user.size) - np.searchsorted(user, user)
    wanted = rng.binomial(5, 0.4, users.size)
    keep = rank < wanted[user]
    days_before = rng.integers(1, 3 * 365, int(keep.sum()))
    ts = window.start_us - days_before * DAY_US + rng.integers(0, DAY_US, days_before.size)
    return user[keep], artist[keep], ts


def _release_listens(rng, catalog: _Catalog, library: _Library, week_start: int, week_end: int):
    """Fans playing albums released this week, in order; the bigger the artist's share of
    their rotation, the likelier they listen."""
    albums = np.flatnonzero(
        (catalog.album_release_us >= week_start) & (catalog.album_release_us < week_end)
    )
    n_artists = catalog.n_artists
    fan_keys, inverse = np.unique(
        library.user * n_artists + catalog.track_artist[library.track], return_inverse=True
    )
    fan_user, fan_artist = fan_keys // n_artists, fan_keys % n_artists
    user_total = np.bincount(library.user, weights=library.weight, minlength=library.offsets.size)
    fandom = np.bincount(inverse, weights=library.weight) / user_total[fan_user]
    # Albums are sorted by artist, so an artist's releases this week are contiguous.
    per_artist = np.bincount(catalog.album_artist[albums], minlength=n_artists)
    first_release = np.cumsum(per_artist) - per_artist
    copies = per_artist[fan_artist]
    pair = np.repeat(np.arange(fan_user.size), copies)
    nth = np.arange(pair.size) - np.repeat(np.cumsum(copies) - copies, copies)
    album = albums[first_release[fan_artist[pair]] + nth]
    listens = rng.random(pair.size) < np.minimum(0.5, RELEASE_FANDOM_RATE * fandom[pair])
    user, album = fan_user[pair[listens]], album[listens]
    size = catalog.album_size[album]
    listen = np.repeat(np.arange(album.size), size)
    position = np.arange(listen.size) - np.repeat(np.cumsum(size) - size, size)
    # The opening track always, the others as the listener goes through the album.
    kept = (position == 0) | (rng.random(listen.size) < 0.5)
    listen, position = listen[kept], position[kept]
    track = catalog.album_first_track[album][listen] + position
    return user[listen], track, listen, catalog.album_release_us[album][listen]


def _affinity(catalog, listeners, users, local_user, track) -> np.ndarray:
    """How much a listener likes a track: genre taste (log, relative to uniform) plus the
    latent match, on a scale where 0 is indifferent."""
    global_user = users[local_user]
    genre_taste = listeners.taste[global_user, catalog.track_genre[track]] * len(GENRES)
    latent = np.einsum("ij,ij->i", listeners.latent[global_user], catalog.track_latent[track])
    return 0.4 * np.clip(np.log(genre_taste + 1e-9), -3, 3) + latent


def _plays(rng, catalog, listeners, users, local_user, track, source, group, earliest, latest):
    """Outcomes, sessions and timestamps for one week's plays."""
    order = np.lexsort((rng.random(local_user.size), group, local_user))
    local_user, track, source = local_user[order], track[order], source[order]
    group, earliest, latest = group[order], earliest[order], latest[order]
    n = local_user.size
    global_user = users[local_user]
    affinity = _affinity(catalog, listeners, users, local_user, track)

    # Skips: likelier for tracks the listener cares less about; mostly within 30 s.
    skip_logit = listeners.skip_bias[global_user] + _SOURCE_SKIP_OFFSET[source] - 0.9 * affinity
    skipped = rng.random(n) < 1 / (1 + np.exp(-skip_logit))
    duration = catalog.track_duration_ms[track]
    quick_skip = np.minimum(500 + rng.exponential(8_000, n), SKIP_MS - 1)
    late_skip = SKIP_MS + rng.random(n) * np.maximum(0.9 * duration - SKIP_MS, 0)
    skip_ms = np.where(rng.random(n) < 0.88, quick_skip, late_skip)
    ms_played = np.where(skipped, skip_ms, duration - rng.integers(0, 1500, n)).astype(np.int64)
    reason_end = np.where(
        skipped, np.where(rng.random(n) < 0.9, _END_FWDBTN, _END_BACKBTN), _END_TRACKDONE
    ).astype(np.int8)

    # Sessions: a user's regular plays split at random (mean MEAN_SESSION_PLAYS), one per album
    # listen; the last play of a session is sometimes cut short by the listener.
    new_session = np.ones(n, dtype=bool)
    new_session[1:] = (
        (local_user[1:] != local_user[:-1])
        | (group[1:] != group[:-1])
        | ((group[1:] == 0) & (rng.random(n)[1:] < 1 / MEAN_SESSION_PLAYS))
    )
    session = np.cumsum(new_session) - 1
    first = np.flatnonzero(new_session)
    last = np.roll(new_session, -1)
    cut_short = last & ~skipped & (rng.random(n) < 0.25)
    ms_played[cut_short] = duration[cut_short] * rng.uniform(0.2, 0.95, int(cut_short.sum()))
    reason_end[cut_short] = rng.choice(
        [_END_ENDPLAY, _END_LOGOUT, _END_REMOTE], size=int(cut_short.sum()), p=[0.6, 0.25, 0.15]
    )
    reason_start = np.empty(n, dtype=np.int8)
    reason_start[1:] = _START_AFTER_END[reason_end[:-1]]
    reason_start[first] = rng.choice(_SESSION_STARTS, size=first.size, p=_SESSION_START_SHARES)

    # Times: a day in the allowed span, an hour from the daily curve, plays back to back.
    step = (ms_played + rng.integers(0, 3000, n)) * 1000
    elapsed = np.cumsum(step)
    offset = elapsed - step - (elapsed - step)[first][session]
    length = np.add.reduceat(step, first)
    low, high = earliest[first], latest[first]
    first_day = low // DAY_US
    n_days = (high - 1) // DAY_US - first_day + 1
    day = first_day + (rng.random(first.size) * n_days).astype(np.int64)
    hour = rng.choice(24, size=first.size, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    start = day * DAY_US + ((hour + rng.random(first.size)) * 3_600_000_000).astype(np.int64)
    start = np.maximum(np.minimum(np.maximum(start, low), high - length - 1), low)
    ts = start[session] + offset

    session_user = global_user[first]
    platform = listeners.platforms[session_user, (rng.random(first.size) > 0.8).astype(int)]
    country = np.where(
        rng.random(first.size) < 0.95,
        listeners.home_country[session_user],
        rng.integers(0, len(COUNTRIES), first.size),
    )
    shuffle = rng.random(first.size) < listeners.shuffle_rate[session_user]
    events = _Events(
        ts=ts,
        user=global_user,
        track=track,
        ms_played=ms_played,
        reason_start=reason_start,
        reason_end=reason_end,
        skipped=skipped,
        shuffle=shuffle[session],
        platform=platform[session].astype(np.int8),
        country=country[session].astype(np.int8),
        event_type=np.full(n, _PLAY, dtype=np.int8),
        context=_contexts(rng, catalog, listeners, global_user, track, source),
    )
    return events, affinity, source


def _contexts(rng, catalog, listeners, global_user, track, source) -> np.ndarray:
    """The user's own playlist for rotation plays, the album for deep cuts and new releases,
    an artist radio or nothing (search, library) for discoveries."""
    playlists, albums, radios = _context_offsets(listeners, catalog)
    draw = rng.random(track.size)
    album = albums + catalog.track_album[track]
    context = np.select(
        [source == ROTATION, source == DEEP_CUT, source == RELEASE],
        [
            np.where(draw < 0.75, playlists + global_user, np.where(draw < 0.85, album, -1)),
            np.where(draw < 0.7, album, -1),
            album,
        ],
        np.where(draw < 0.45, radios + catalog.track_artist[track], -1),
    )
    return context.astype(np.int64)


def _grow_library(rng, library: _Library, events: _Events, affinity, source, users, catalog):
    """Fresh plays the listener liked join the rotation; everything fades a little."""
    liked = (
        (source != ROTATION)
        & ~events.skipped
        & (rng.random(affinity.size) < 0.6 / (1 + np.exp(-affinity)))
    )
    local_user = np.searchsorted(users, events.user[liked])
    return _Library.build(
        np.concatenate([library.user, local_user]),
        np.concatenate([library.track, events.track[liked]]),
        np.concatenate(
            [
                library.weight * LIBRARY_DECAY,
                NEW_FAVOURITE_WEIGHT * rng.lognormal(0, 0.5, int(liked.sum())),
            ]
        ),
        users.size,
        len(catalog.track_ids),
    )


def _reactions(rng, catalog: _Catalog, plays: _Events, affinity, source, followed, end_us):
    """Saves, playlist adds, hides and follows triggered by plays (each at most once per
    listener and item), and the user_hides and follows rows they imply."""
    n = len(plays)
    listened = ~plays.skipped
    draw = rng.random(n)
    kinds = [
        (_SAVE, listened & (affinity > HIGH_AFFINITY) & (draw < 0.03)),
        (_PLAYLIST_ADD, listened & (affinity > HIGH_AFFINITY) & (rng.random(n) < 0.02)),
        (_HIDE, plays.skipped & (affinity < LOW_AFFINITY) & (draw < 0.02)),
        (_DONT_SUGGEST, plays.skipped & (affinity < LOW_AFFINITY) & (draw > 0.995)),
        (
            _FOLLOW,
            listened & (source == ROTATION) & (affinity > HIGH_AFFINITY) & (rng.random(n) < 0.002),
        ),
    ]
    n_artists, n_tracks = catalog.n_artists, len(catalog.track_ids)
    parts = []
    for event_type, chosen in kinds:
        rows = np.flatnonzero(chosen)
        by_artist = event_type in (_DONT_SUGGEST, _FOLLOW)
        item = catalog.track_artist[plays.track[rows]] if by_artist else plays.track[rows]
        key = plays.user[rows].astype(np.int64) * (n_artists if by_artist else n_tracks) + item
        # Earliest per listener and item; a follow only for artists not followed already.
        order = np.argsort(plays.ts[rows], kind="stable")
        _, first = np.unique(key[order], return_index=True)
        rows = rows[order[first]]
        if event_type == _FOLLOW:
            rows = rows[~np.isin(key[order[first]], followed)]
        parts.append((event_type, rows))

    reactions = _Events.concat([plays.take(rows) for _, rows in parts])
    reactions.event_type = np.repeat([t for t, _ in parts], [r.size for _, r in parts]).astype(
        np.int8
    )
    reactions.ts = (
        reactions.ts
        + reactions.ms_played * 1000
        + rng.integers(1_000_000, 20_000_000, len(reactions))
    )
    reactions = reactions.take(np.flatnonzero(reactions.ts < end_us))
    reactions.ms_played = np.zeros(len(reactions), dtype=np.int64)
    reactions.reason_start = np.full(len(reactions), -1, dtype=np.int8)
    reactions.reason_end = np.full(len(reactions), -1, dtype=np.int8)
    reactions.skipped = np.zeros(len(reactions), dtype=bool)

    def of_type(event_type):
        return reactions.event_type == event_type

    hidden = of_type(_HIDE) | of_type(_DONT_SUGGEST)
    hides = (
        reactions.user[hidden],
        reactions.event_type[hidden],
        np.where(
            of_type(_HIDE)[hidden],
            reactions.track[hidden],
            catalog.track_artist[reactions.track[hidden]],
        ),
        reactions.ts[hidden],
    )
    follow = of_type(_FOLLOW)
    follows = (
        reactions.user[follow],
        catalog.track_artist[reactions.track[follow]],
        reactions.ts[follow],
    )
    return reactions, hides, follows


# --------------------------------------------------------------------------------------------
# Listening to the published playlists (`weekly-playlists simulate`)
# --------------------------------------------------------------------------------------------

# A listener opens each of their playlists in a week with chance 1 - exp(-plays / this),
# plays being their mean weekly plays: 63% at 40 plays a week, 14% at 6.
PLAYLIST_OPEN_PLAYS = 40.0
SLOT_REACH = 0.95  # once a playlist is open, the chance to go on from one slot to the next
_NUMBERS_PER_ROUND = 2**40  # event numbers of simulated week r start at r * this
_ONE_WEEK = dt.timedelta(weeks=1)


@dataclass(frozen=True)
class PlaylistListens:
    events: pa.Table  # raw events (schemas/raw_events.py), in time order
    user_hides: pa.Table  # the hides and "don't suggest"s among them, as controls rows


def playlist_listens(world: World, served: pa.Table, week: dt.date, round_: int) -> PlaylistListens:
    """What the listeners do with the playlists published for `week` over its seven days.

    Each listener opens each playlist with a chance that grows with how much they listen
    (PLAYLIST_OPEN_PLAYS) and goes down it slot by slot (SLOT_REACH); every track reached
    is played as any discovery is (`_plays`): skipped the likelier the less their true taste
    (genre taste and latent vector) matches the track's true genre and latent features, and
    saved, added or hidden as `_reactions` says. `served` has user_id, track_id,
    playlist_type and position; `round_` (1, 2, ...) numbers the simulated week, for a
    seed and event ids of its own. Deterministic in the world's seed and `round_`."""
    from schemas.playlists import PLAYLIST_TYPES

    listeners, catalog = world.listeners, world.catalog
    parent = world.seeds["playlist_listens"]
    rng = np.random.default_rng(
        np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, round_))
    )
    user = _indices(served["user_id"], listeners.user_ids, "user_id")
    track = _indices(served["track_id"], catalog.track_ids, "track_id")
    kind = _indices(served["playlist_type"], pa.array(PLAYLIST_TYPES), "playlist_type")
    position = served["position"].to_numpy()
    playlists, playlist = np.unique(user * len(PLAYLIST_TYPES) + kind, return_inverse=True)
    opened = rng.random(playlists.size) < -np.expm1(
        -listeners.activity[playlists // len(PLAYLIST_TYPES)] / PLAYLIST_OPEN_PLAYS
    )
    depth = rng.geometric(1 - SLOT_REACH, playlists.size)
    rows = np.flatnonzero(opened[playlist] & (position <= depth[playlist]))
    week_start = (week - _EPOCH).days * DAY_US
    week_end = week_start + _WEEK_US
    schema = arrow_schema(raw_events.SCHEMA)
    if rows.size == 0:
        return PlaylistListens(
            schema.empty_table(), arrow_schema(controls_schema.USER_HIDES).empty_table()
        )
    plays, affinity, source = _plays(
        rng,
        catalog,
        listeners,
        np.arange(listeners.size),
        user[rows],
        track[rows],
        np.full(rows.size, DISCOVERY),
        1 + playlist[rows],  # one session per playlist
        np.maximum(listeners.start_us[user[rows]], week_start),
        np.full(rows.size, week_end),
    )
    reactions, hides, _ = _reactions(
        rng, catalog, plays, affinity, source, np.empty(0, np.int64), week_end
    )
    events = _Events.concat([plays, reactions])
    events = events.take(np.argsort(events.ts, kind="stable"))
    numbers = round_ * _NUMBERS_PER_ROUND + np.arange(len(events))
    return PlaylistListens(
        _events_table(events, numbers, world.id_salt, listeners, catalog, schema),
        _hides_table(rng, hides, listeners, catalog, TimeWindow.before(week + _ONE_WEEK, 1)),
    )


def _indices(values: pa.ChunkedArray | pa.Array, value_set: pa.Array, name: str) -> np.ndarray:
    """Where each value sits in `value_set`; every value must be there."""
    found = pc.index_in(values, value_set=value_set)
    if found.null_count:
        unknown = pc.filter(values, pc.is_null(found))[0]
        raise ValueError(f"{name} {unknown} is not in the generated world")
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def _events_table(
    events: _Events,
    numbers: np.ndarray,
    id_salt: np.uint64,
    listeners: _Listeners,
    catalog: _Catalog,
    schema: pa.Schema,
) -> pa.Table:
    return pa.Table.from_arrays(
        [
            _event_ids(numbers, id_salt),
            pa.array(events.ts, type=pa.timestamp("us", tz="UTC")),
            listeners.user_ids.take(events.user),
            catalog.track_ids.take(events.track),
            pa.array(events.ms_played),
            _lookup(raw_events.REASONS_START, events.reason_start),
            _lookup(raw_events.REASONS_END, events.reason_end),
            pa.array(events.skipped),
            pa.array(events.shuffle),
            _lookup(raw_events.PLATFORMS, events.platform),
            _lookup(COUNTRIES, events.country),
            _lookup(_EVENT_TYPES, events.event_type),
            listeners.contexts.take(pa.array(events.context, mask=events.context < 0)),
        ],
        schema=schema,
    )


def _lookup(values: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    return pa.array(values).take(pa.array(codes.astype(np.int32), mask=codes < 0))


def _event_ids(numbers: np.ndarray, salt: np.uint64) -> pa.Array:
    """16 hex digits: the event's number through a bijection of 64-bit integers (an odd
    multiplier, then a xor), so ids are unique and look random."""
    mixed = (numbers.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ salt
    digits = _HEX_PAIRS[mixed.astype(">u8").view(np.uint8).reshape(-1, 8)].reshape(-1, 16)
    return pa.array(np.ascontiguousarray(digits).view("S16").ravel()).cast(pa.string())


# --------------------------------------------------------------------------------------------
# Controls and writing
# --------------------------------------------------------------------------------------------


def timestamps_us(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """UTC microsecond timestamps; null where `mask` is true."""
    return pa.array(us, type=pa.timestamp("us", tz="UTC"), mask=mask)


def _follows_table(follows, listeners: _Listeners, catalog: _Catalog) -> pa.Table:
    user, artist, ts = follows
    order = np.lexsort((ts, artist, user))
    user, artist, ts = user[order], artist[order], ts[order]
    return arrow_table(
        controls_schema.FOLLOWS,
        [
            listeners.user_ids.take(user),
            catalog.artist_ids.take(artist),
            timestamps_us(ts),
        ],
    )


def _settings_table(listeners: _Listeners) -> pa.Table:
    return arrow_table(
        controls_schema.USER_SETTINGS,
        [
            listeners.user_ids,
            pa.array(listeners.explicit_filter),
            listeners.preferred_genres,
        ],
    )


def _exclusions_table(rng, listeners: _Listeners, window: TimeWindow) -> pa.Table:
    """About 3% of listeners keep their own playlist out of their taste profile."""
    users = np.flatnonzero(rng.random(listeners.size) < 0.03)
    # Each listener's own playlist is context number `user` (see _context_offsets).
    return arrow_table(
        controls_schema.TASTE_PROFILE_EXCLUSIONS,
        [
            listeners.user_ids.take(pa.array(users)),
            listeners.contexts.take(pa.array(users)),
            timestamps_us(np.full(users.size, window.start_us, dtype=np.int64)),
        ],
    )


def _hides_table(
    rng, hides, listeners: _Listeners, catalog: _Catalog, window: TimeWindow
) -> pa.Table:
    """A hide is of a track, a "don't suggest" of the track's artist. A hide lapses by itself,
    so only a "don't suggest" is ever withdrawn: some of them, before the window ends."""
    user, event_type, item, ts = hides
    order = np.lexsort((ts, user))
    user, event_type, item, ts = user[order], event_type[order], item[order], ts[order]
    is_track = event_type == _HIDE
    item_ids = pc.if_else(
        pa.array(is_track),
        catalog.track_ids.take(np.where(is_track, item, 0)),
        catalog.artist_ids.take(np.where(is_track, 0, item)),
    )
    # Strictly after created_at and before the window end (room for that needs 2 us).
    withdrawn = (
        ~is_track & (rng.random(ts.size) < WITHDRAWN_DONT_SUGGEST_SHARE) & (ts < window.end_us - 1)
    )
    withdrawn_at = rng.integers(ts + 1, np.maximum(window.end_us, ts + 2))
    return arrow_table(
        controls_schema.USER_HIDES,
        [
            listeners.user_ids.take(user),
            pa.array(np.where(is_track, controls_schema.TRACK, controls_schema.ARTIST)),
            item_ids,
            pa.array(np.where(is_track, controls_schema.HIDE, controls_schema.DONT_SUGGEST)),
            timestamps_us(ts),
            timestamps_us(withdrawn_at, mask=~withdrawn),
        ],
    )


# A rule's state at the publish moment.
_OPEN, _ENDING, _LIFTED, _UPCOMING = range(4)
_RULE_STATE_SHARES = np.array([0.6, 0.2, 0.12, 0.08])
_TRACK_BLOCK_REASONS = ("rights_expired", "legal_takedown")
_TRACK_BLOCK_REASON_SHARES = np.array([0.7, 0.3])
POLICY_REASON = "policy"


def _platform_rules_table(
    rng, catalog: _Catalog, window: TimeWindow
) -> tuple[pa.Table, np.ndarray]:
    """Rights and legal blocks of popular tracks (so that they bite: picks follow popularity),
    policy blocks of a few artists; returns the table and the artists any rule touches."""
    # Gumbel top-k: tracks out before the window, drawn by popularity without replacement.
    released = np.flatnonzero(catalog.album_release_us[catalog.track_album] < window.start_us)
    n_tracks = len(catalog.track_ids)
    n_blocked = min(released.size, max(MIN_BLOCKED_TRACKS, round(BLOCKED_TRACK_SHARE * n_tracks)))
    keys = np.log(catalog.track_weight[released]) + rng.gumbel(size=released.size)
    tracks = released[np.argsort(-keys, kind="stable")[:n_blocked]]
    # One block already lifted and one still to come, whatever the size.
    track_states = rng.permutation(
        np.concatenate(
            [
                [_LIFTED, _UPCOMING],
                rng.choice(4, size=max(0, n_blocked - 2), p=_RULE_STATE_SHARES),
            ]
        )[:n_blocked]
    )
    track_reasons = rng.choice(
        len(_TRACK_BLOCK_REASONS), size=n_blocked, p=_TRACK_BLOCK_REASON_SHARES
    )

    # Policy blocks hit artists of any size, the bigger ones a little more often (they get
    # reported); small catalogs get few or none, so that most of the music stays playable.
    n_artists = catalog.n_artists
    n_policy = min(MAX_POLICY_BLOCKS, n_artists // ARTISTS_PER_POLICY_BLOCK)
    artist_weight = np.bincount(
        catalog.track_artist, weights=catalog.track_weight, minlength=n_artists
    )
    keys = 0.3 * np.log(artist_weight) + rng.gumbel(size=n_artists)
    artists = np.argsort(-keys, kind="stable")[:n_policy]
    artist_states = rng.choice(4, size=n_policy, p=_RULE_STATE_SHARES)

    states = np.concatenate([track_states, artist_states])
    valid_from, valid_until = _rule_periods(rng, states, window.end_us)
    is_track = np.arange(states.size) < n_blocked
    item_ids = pa.concat_arrays([catalog.track_ids.take(tracks), catalog.artist_ids.take(artists)])
    reasons = pa.concat_arrays(
        [
            pa.array(_TRACK_BLOCK_REASONS).take(track_reasons),
            pa.array([POLICY_REASON] * n_policy, type=pa.string()),
        ]
    )
    order = np.lexsort((np.arange(states.size), valid_from))
    table = arrow_table(
        controls_schema.PLATFORM_RULES,
        [
            pa.array(np.where(is_track, controls_schema.TRACK, controls_schema.ARTIST)),
            item_ids,
            reasons,
            timestamps_us(valid_from),
            timestamps_us(valid_until, mask=valid_until < 0),
        ],
    ).take(order)
    return table, np.union1d(catalog.track_artist[tracks], artists)


def _rule_periods(rng, states: np.ndarray, publish_us: int) -> tuple[np.ndarray, np.ndarray]:
    """valid_from and valid_until (-1: open-ended) that put each rule in its state at
    `publish_us`, at any time of day (a takedown lands when the notice does)."""
    n = states.size
    since = publish_us - rng.integers(DAY_US, 365 * DAY_US, n)
    coming = publish_us + rng.integers(DAY_US, 90 * DAY_US, n)
    lifted_at = publish_us - rng.integers(DAY_US, 30 * DAY_US, n)
    lifted_since = lifted_at - rng.integers(7 * DAY_US, 365 * DAY_US, n)
    valid_from = np.select([states == _LIFTED, states == _UPCOMING], [lifted_since, coming], since)
    valid_until = np.select([states == _ENDING, states == _LIFTED], [coming, lifted_at], -1)
    return valid_from, valid_until


def _discovery_mode_table(
    rng, catalog: _Catalog, window: TimeWindow, excluded_artists: np.ndarray
) -> pa.Table:
    """A handful of Discovery Mode campaigns, each for 1-5 tracks of one artist: mid-popularity
    artists buy them (hits need no push, the long tail cannot pay), never one under a platform
    rule, and only for tracks out 30 days before the start, as Spotify requires. Campaigns last
    whole weeks from midnight; most run across the publish moment, one is over, one to come."""
    n_artists = catalog.n_artists
    n_campaigns = min(n_artists, max(MIN_CAMPAIGNS, len(catalog.track_ids) // TRACKS_PER_CAMPAIGN))
    artist_weight = np.bincount(
        catalog.track_artist, weights=catalog.track_weight, minlength=n_artists
    )
    popularity_rank = np.argsort(np.argsort(-artist_weight, kind="stable")) / n_artists
    middle = (popularity_rank >= 0.2) & (popularity_rank < 0.7)
    # Mid-popularity artists without rules first, in random order; others only if need be.
    preference = (
        2 * np.isin(np.arange(n_artists), excluded_artists) + ~middle + rng.random(n_artists)
    )
    artists = np.argsort(preference, kind="stable")[:n_campaigns]

    running, over, to_come = range(3)
    # The second campaign is over, the third still to come, all others run.
    states = np.full(n_campaigns, running)
    states[1:3] = [over, to_come][: max(0, n_campaigns - 1)]
    length_days = 7 * rng.integers(2, 9, n_campaigns)
    start_day = np.select(
        [states == over, states == to_come],
        [-length_days - rng.integers(1, 15, n_campaigns), rng.integers(1, 15, n_campaigns)],
        -rng.integers(1, length_days),
    )
    publish_day = window.end_us // DAY_US
    starts_at = (publish_day + start_day) * DAY_US
    ends_at = starts_at + length_days * DAY_US
    boost = np.round(rng.uniform(0.1, 0.5, n_campaigns), 2)

    campaign_tracks = []
    track_release_us = catalog.album_release_us[catalog.track_album]
    for artist, start_us in zip(artists, starts_at):
        # An artist's tracks come in release order: old enough ones are a prefix (at least
        # the oldest track, for the rare artist with nothing old enough).
        own = np.arange(catalog.artist_track_start[artist], catalog.artist_track_end[artist])
        old_enough = np.count_nonzero(track_release_us[own] <= start_us - 30 * DAY_US)
        own = own[: max(1, old_enough)]
        size = min(own.size, rng.integers(1, MAX_CAMPAIGN_TRACKS + 1))
        campaign_tracks.append(np.sort(rng.choice(own, size=size, replace=False)))
    sizes = np.array([tracks.size for tracks in campaign_tracks], dtype=np.int64)
    # Campaign numbers follow their start.
    number = np.empty(n_campaigns, dtype=np.int64)
    number[np.lexsort((np.arange(n_campaigns), starts_at))] = np.arange(1, n_campaigns + 1)
    campaign = np.repeat(np.arange(n_campaigns), sizes)
    track = np.concatenate(campaign_tracks)
    order = np.lexsort((track, number[campaign]))
    campaign, track = campaign[order], track[order]
    campaign_ids = pc.binary_join_element_wise(
        "dm", pc.utf8_lpad(pc.cast(pa.array(number[campaign]), pa.string()), 4, "0"), "-"
    )
    return arrow_table(
        controls_schema.DISCOVERY_MODE,
        [
            campaign_ids,
            catalog.track_ids.take(track),
            pa.array(boost[campaign]),
            timestamps_us(starts_at[campaign]),
            timestamps_us(ends_at[campaign]),
        ],
    )
