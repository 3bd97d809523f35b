"""The listening history the generator writes as raw events: for each block of listeners, week
by week, plays from their heavy rotation, deep cuts of artists they know, discoveries drawn from
their taste and new albums of artists they are fans of, in sessions at realistic times of day;
skips follow how much the listener likes the track, and saves, playlist adds, hides and follows
follow from the plays. Blocks are independent, so memory stays bounded whatever the size.
`simulate_plays`, `simulate_reactions` and `events_table` also serve the listens to the
published playlists (playlist_listens.py)."""

from __future__ import annotations

import logging
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobs.core.parquet import arrow_schema
from jobs.sources.sample.catalog import GENRES, Catalog
from jobs.sources.sample.listeners import COUNTRIES, MEAN_WEEKLY_PLAYS, Listeners, context_offsets
from jobs.sources.sample.window import DAY_US, WEEK_US, TimeWindow
from schemas import raw_events

logger = logging.getLogger(__name__)

# Share of sessions starting in each UTC hour: quiet nights, a commute bump, an evening peak.
_HOUR_WEIGHTS = np.array(
    [3, 2, 1, 1, 1, 1, 2, 4, 6, 6, 5, 5, 6, 6, 5, 5, 6, 7, 8, 9, 10, 9, 7, 5], dtype=float
)

LATENT_BETA = 1.2  # how much the personal latent taste sharpens picks within a genre
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

_BLOCK_EVENTS = 1_500_000  # events simulated at once (bounds memory)
_SAMPLING_CELLS = 2_000_000  # users x tracks of one softmax matrix

_EVENT_TYPES = raw_events.EVENT_TYPES
_PLAY, _SAVE, _PLAYLIST_ADD, HIDE, _DONT_SUGGEST, _FOLLOW = (
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

_HEX_PAIRS = np.frombuffer(
    "".join(f"{byte:02x}" for byte in range(256)).encode(), dtype=np.uint8
).reshape(256, 2)


@dataclass
class Events:
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
    context: np.ndarray  # index into Listeners.contexts, -1 for null

    def take(self, index: np.ndarray) -> "Events":
        return Events(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(parts: list["Events"]) -> "Events":
        return Events(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Events))
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
    events: Events
    follows: tuple[np.ndarray, np.ndarray, np.ndarray]  # user, artist, ts
    hides: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # user, kind, item, ts


def write_events(
    folder: Path,
    seed: np.random.SeedSequence,
    id_salt: np.uint64,
    catalog: Catalog,
    listeners: Listeners,
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
                        events_table(
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
    rng, catalog: Catalog, listeners: Listeners, users: np.ndarray, window: TimeWindow
) -> _BlockResult:
    """All weeks of events for one block of listeners (independent of the other blocks)."""
    n_users, n_weeks = users.size, window.weeks
    activity = listeners.activity[users]
    is_new = listeners.is_new[users]

    # How many plays each listener makes each week, and where they come from.
    plays = rng.poisson(activity[:, None] * rng.lognormal(-0.03, 0.25, (n_users, n_weeks)))
    remaining = (window.end_us - listeners.start_us[users[is_new]]) / WEEK_US
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
        week_start = window.start_us + week * WEEK_US
        rotation_rows = library.draw(rng, rotation[:, week])
        deep_rows = library.draw(rng, deep_cuts[:, week])
        discovered = by_week[week_bounds[week + 1] : week_bounds[week + 2]]
        release_user, release_track, release_group, release_day_us = _release_listens(
            rng, catalog, library, week_start, min(week_start + WEEK_US, window.end_us)
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
        latest = np.full(local_user.size, min(week_start + WEEK_US, window.end_us))
        latest[is_release] = np.minimum(release_day_us + WEEK_US, window.end_us)

        # Listeners with the explicit filter on never get explicit tracks played.
        allowed = ~(listeners.explicit_filter[users][local_user] & catalog.track_explicit[track])
        events, affinity, played_source = simulate_plays(
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

    plays_all = Events.concat(weekly_events)
    affinity = np.concatenate(weekly_affinity)
    source = np.concatenate(weekly_source)
    reactions, hides, new_follows = simulate_reactions(
        rng, catalog, plays_all, affinity, source, followed, window.end_us
    )
    events = Events.concat([plays_all, reactions])
    inside = (events.ts >= window.start_us) & (events.ts < window.end_us)
    events = events.take(np.flatnonzero(inside)[np.argsort(events.ts[inside], kind="stable")])
    follows = tuple(
        np.concatenate([prior, new])
        for prior, new in zip((users[follow_user], follow_artist, follow_ts), new_follows)
    )
    return _BlockResult(events, follows, hides)


def _taste_draws(
    rng, catalog: Catalog, listeners: Listeners, users: np.ndarray, draw_user: np.ndarray
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


def _deep_cut_tracks(rng, catalog: Catalog, artists: np.ndarray) -> np.ndarray:
    """A released track of each artist, by popularity."""
    start, end = catalog.artist_track_start[artists], catalog.artist_track_end[artists]
    cumulative = catalog.deep_cut_cumulative
    low, high = cumulative[start], cumulative[end]
    rows = np.searchsorted(cumulative, low + rng.random(artists.size) * (high - low), "right")
    return np.clip(rows - 1, start, end - 1)


def _prior_follows(rng, catalog: Catalog, library: _Library, users: np.ndarray, window: TimeWindow):
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


def _release_listens(rng, catalog: Catalog, library: _Library, week_start: int, week_end: int):
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


def simulate_plays(
    rng, catalog, listeners, users, local_user, track, source, group, earliest, latest
):
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
    events = Events(
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
    playlists, albums, radios = context_offsets(listeners, catalog)
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


def _grow_library(rng, library: _Library, events: Events, affinity, source, users, catalog):
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


def simulate_reactions(rng, catalog: Catalog, plays: Events, affinity, source, followed, end_us):
    """Saves, playlist adds, hides and follows triggered by plays (each at most once per
    listener and item), and the user_hides and follows rows they imply."""
    n = len(plays)
    listened = ~plays.skipped
    draw = rng.random(n)
    kinds = [
        (_SAVE, listened & (affinity > HIGH_AFFINITY) & (draw < 0.03)),
        (_PLAYLIST_ADD, listened & (affinity > HIGH_AFFINITY) & (rng.random(n) < 0.02)),
        (HIDE, plays.skipped & (affinity < LOW_AFFINITY) & (draw < 0.02)),
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

    reactions = Events.concat([plays.take(rows) for _, rows in parts])
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

    hidden = of_type(HIDE) | of_type(_DONT_SUGGEST)
    hides = (
        reactions.user[hidden],
        reactions.event_type[hidden],
        np.where(
            of_type(HIDE)[hidden],
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


def events_table(
    events: Events,
    numbers: np.ndarray,
    id_salt: np.uint64,
    listeners: Listeners,
    catalog: Catalog,
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
