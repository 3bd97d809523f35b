"""The generated listeners: a genre taste concentrated on 1-3 favourite genres and a personal
latent vector (what their discoveries follow), a heavy-tailed activity, habits (skips, shuffle,
platforms, country) and settings (explicit filter, preferred genres); a few join in the last
week, so that the pipeline meets new listeners with little history."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.sources.sample.catalog import GENRE_SHARES, GENRES, LATENT_DIM, Catalog, spotify_ids
from jobs.sources.sample.window import DAY_US, WEEK_US, TimeWindow

COUNTRIES = ("US", "GB", "DE", "SE", "BR", "MX", "FR", "ES", "CA", "AU", "JP", "IN")
_COUNTRY_SHARES = np.array([0.30, 0.10, 0.09, 0.05, 0.10, 0.07, 0.06, 0.05, 0.05, 0.04, 0.05, 0.04])
_PLATFORM_SHARES = np.array([0.36, 0.30, 0.12, 0.08, 0.09, 0.05])  # raw_events.PLATFORMS order

MEAN_WEEKLY_PLAYS = 60
NEW_USER_SHARE = 0.05


@dataclass(frozen=True)
class Listeners:
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
    contexts: pa.Array  # playlist, album and radio context strings, see context_offsets

    @property
    def size(self) -> int:
        return len(self.user_ids)


def make_listeners(rng, n_users: int, catalog: Catalog, window: TimeWindow) -> Listeners:
    n_genres = len(GENRES)
    # Taste: 1-3 favourite genres (drawn by genre share), a little of everything else;
    # genres without any playable track get nothing.
    favourites = rng.choice([1, 2, 3], size=n_users, p=[0.35, 0.40, 0.25])
    keys = np.log(GENRE_SHARES) + rng.gumbel(size=(n_users, n_genres))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    alpha = np.where(rank < favourites[:, None], 2.5, 0.04)
    playable = np.array([pool.size > 0 for pool in catalog.genre_pools])
    taste = rng.gamma(alpha) * playable + 1e-12 * playable
    taste /= taste.sum(axis=1, keepdims=True)

    is_new = rng.random(n_users) < NEW_USER_SHARE
    join_day = rng.integers(0, 7, n_users)
    start_us = np.where(is_new, window.end_us - WEEK_US + join_day * DAY_US, window.start_us)
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
            pc.binary_join_element_wise("playlist", spotify_ids(rng, n_users), ":"),
            pc.binary_join_element_wise("album", catalog.album_ids, ":"),
            pc.binary_join_element_wise("radio", catalog.artist_ids, ":"),
        ]
    )
    return Listeners(
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


def context_offsets(listeners: Listeners, catalog: Catalog) -> tuple[int, int, int]:
    """Where the playlist (per user), album and radio (per artist) contexts start."""
    return 0, listeners.size, listeners.size + len(catalog.album_ids)
