"""The control tables the generator writes next to the events: follows (before the window and
from the simulated plays), user settings, user hides (some "don't suggest"s withdrawn later),
taste-profile exclusions, and the platform's own rules judged at the publish moment - rights,
legal and policy blocks and Discovery Mode campaigns - with every state on either side of it
(most in force or running, some over already, some still to come), so the pipeline meets them
all whatever the size."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.core.parquet import arrow_table
from jobs.sources.sample.catalog import Catalog
from jobs.sources.sample.events import HIDE
from jobs.sources.sample.listeners import Listeners
from jobs.sources.sample.window import DAY_US, TimeWindow
from schemas import controls as controls_schema

WITHDRAWN_DONT_SUGGEST_SHARE = 0.10  # of "don't suggest" rows, taken back later in the window
BLOCKED_TRACK_SHARE = 0.002  # rights and legal blocks, of the catalog's tracks
MIN_BLOCKED_TRACKS = 4  # so that every rule state appears whatever the size
ARTISTS_PER_POLICY_BLOCK = 12  # one artist policy block per this many artists ...
MAX_POLICY_BLOCKS = 5  # ... up to this many
TRACKS_PER_CAMPAIGN = 1000  # one Discovery Mode campaign per this many catalog tracks ...
MIN_CAMPAIGNS = 5  # ... at least this many (most running, one over, one to come)
MAX_CAMPAIGN_TRACKS = 5


def timestamps_us(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """UTC microsecond timestamps; null where `mask` is true."""
    return pa.array(us, type=pa.timestamp("us", tz="UTC"), mask=mask)


def follows_table(follows, listeners: Listeners, catalog: Catalog) -> pa.Table:
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


def settings_table(listeners: Listeners) -> pa.Table:
    return arrow_table(
        controls_schema.USER_SETTINGS,
        [
            listeners.user_ids,
            pa.array(listeners.explicit_filter),
            listeners.preferred_genres,
        ],
    )


def exclusions_table(rng, listeners: Listeners, window: TimeWindow) -> pa.Table:
    """About 3% of listeners keep their own playlist out of their taste profile."""
    users = np.flatnonzero(rng.random(listeners.size) < 0.03)
    # Each listener's own playlist is context number `user` (see listeners.context_offsets).
    return arrow_table(
        controls_schema.TASTE_PROFILE_EXCLUSIONS,
        [
            listeners.user_ids.take(pa.array(users)),
            listeners.contexts.take(pa.array(users)),
            timestamps_us(np.full(users.size, window.start_us, dtype=np.int64)),
        ],
    )


def hides_table(rng, hides, listeners: Listeners, catalog: Catalog, window: TimeWindow) -> pa.Table:
    """A hide is of a track, a "don't suggest" of the track's artist. A hide lapses by itself,
    so only a "don't suggest" is ever withdrawn: some of them, before the window ends."""
    user, event_type, item, ts = hides
    order = np.lexsort((ts, user))
    user, event_type, item, ts = user[order], event_type[order], item[order], ts[order]
    is_track = event_type == HIDE
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


def platform_rules_table(rng, catalog: Catalog, window: TimeWindow) -> tuple[pa.Table, np.ndarray]:
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


def discovery_mode_table(
    rng, catalog: Catalog, window: TimeWindow, excluded_artists: np.ndarray
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
