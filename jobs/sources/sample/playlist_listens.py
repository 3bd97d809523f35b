"""Listening to the published playlists, for `weekly-playlists simulate`: the listeners of a
generated world open the playlists served to them and react to every track as to any
discovery, by their true taste, so that the pipeline's next week learns from feedback that
means something. The events and hides come back as tables, for the simulation to write."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.core.parquet import arrow_schema
from jobs.core.weeks import WEEK
from jobs.sources.sample.controls import hides_table
from jobs.sources.sample.events import (
    DISCOVERY,
    Events,
    events_table,
    simulate_plays,
    simulate_reactions,
)
from jobs.sources.sample.window import DAY_US, EPOCH, WEEK_US, TimeWindow
from jobs.sources.sample.world import World
from schemas import controls as controls_schema
from schemas import raw_events
from schemas.playlists import PLAYLIST_TYPES

# A listener opens each of their playlists in a week with chance 1 - exp(-plays / this),
# plays being their mean weekly plays: 63% at 40 plays a week, 14% at 6.
PLAYLIST_OPEN_PLAYS = 40.0
SLOT_REACH = 0.95  # once a playlist is open, the chance to go on from one slot to the next
_NUMBERS_PER_ROUND = 2**40  # event numbers of simulated week r start at r * this


@dataclass(frozen=True)
class PlaylistListens:
    events: pa.Table  # raw events (schemas/raw_events.py), in time order
    user_hides: pa.Table  # the hides and "don't suggest"s among them, as controls rows


def playlist_listens(world: World, served: pa.Table, week: dt.date, round_: int) -> PlaylistListens:
    """What the listeners do with the playlists published for `week` over its seven days.

    Each listener opens each playlist with a chance that grows with how much they listen
    (PLAYLIST_OPEN_PLAYS) and goes down it slot by slot (SLOT_REACH); every track reached
    is played as any discovery is (`simulate_plays`): skipped the likelier the less their true taste
    (genre taste and latent vector) matches the track's true genre and latent features, and
    saved, added or hidden as `simulate_reactions` says. `served` has user_id, track_id,
    playlist_type and position; `round_` (1, 2, ...) numbers the simulated week, for a
    seed and event ids of its own. Deterministic in the world's seed and `round_`."""
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
    week_start = (week - EPOCH).days * DAY_US
    week_end = week_start + WEEK_US
    schema = arrow_schema(raw_events.SCHEMA)
    if rows.size == 0:
        return PlaylistListens(
            schema.empty_table(), arrow_schema(controls_schema.USER_HIDES).empty_table()
        )
    plays, affinity, source = simulate_plays(
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
    reactions, hides, _ = simulate_reactions(
        rng, catalog, plays, affinity, source, np.empty(0, np.int64), week_end
    )
    events = Events.concat([plays, reactions])
    events = events.take(np.argsort(events.ts, kind="stable"))
    numbers = round_ * _NUMBERS_PER_ROUND + np.arange(len(events))
    return PlaylistListens(
        events_table(events, numbers, world.id_salt, listeners, catalog, schema),
        hides_table(rng, hides, listeners, catalog, TimeWindow.before(week + WEEK, 1)),
    )


def _indices(values: pa.ChunkedArray | pa.Array, value_set: pa.Array, name: str) -> np.ndarray:
    """Where each value sits in `value_set`; every value must be there."""
    found = pc.index_in(values, value_set=value_set)
    if found.null_count:
        unknown = pc.filter(values, pc.is_null(found))[0]
        raise ValueError(f"{name} {unknown} is not in the generated world")
    return found.to_numpy(zero_copy_only=False).astype(np.int64)
