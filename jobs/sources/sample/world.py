"""The generated world and its entry points: `build_world` draws the catalog and the listeners
from one seed (what `weekly-playlists simulate` also needs, to let the listeners react to the
published playlists), `generate` writes the catalog, the raw events and the controls of that
world as the pipeline's sources."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from jobs.core.config import PipelineConfig
from jobs.core.parquet import write_table
from jobs.sources.sample.catalog import Catalog, make_catalog
from jobs.sources.sample.controls import (
    discovery_mode_table,
    exclusions_table,
    follows_table,
    hides_table,
    platform_rules_table,
    settings_table,
)
from jobs.sources.sample.events import write_events
from jobs.sources.sample.listeners import Listeners, make_listeners
from jobs.sources.sample.window import TimeWindow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """The generated catalog and listeners (true tastes and track features included) that
    `generate` draws the events from; the same arguments give the same world."""

    catalog: Catalog
    listeners: Listeners
    window: TimeWindow
    seeds: dict[str, np.random.SeedSequence]
    id_salt: np.uint64  # event ids: a bijection of event numbers, see _event_ids in events.py

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
    catalog, catalog_tables = make_catalog(np.random.default_rng(seeds["catalog"]), tracks, window)
    listeners = make_listeners(np.random.default_rng(seeds["listeners"]), users, catalog, window)
    id_salt = np.random.default_rng(seeds["events"].spawn(1)[0]).integers(0, 2**63, dtype=np.uint64)
    return World(catalog, listeners, window, seeds, id_salt), catalog_tables


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

    follows, hides, counts["events"] = write_events(
        config.raw_events_dir, world.events_seed, world.id_salt, catalog, listeners, window
    )
    platform_rules, ruled_artists = platform_rules_table(
        np.random.default_rng(world.seeds["platform_rules"]), catalog, window
    )
    control_tables = {
        "follows": follows_table(follows, listeners, catalog),
        "user_settings": settings_table(listeners),
        "user_hides": hides_table(
            np.random.default_rng(world.seeds["withdrawals"]), hides, listeners, catalog, window
        ),
        "taste_profile_exclusions": exclusions_table(
            np.random.default_rng(world.seeds["exclusions"]), listeners, window
        ),
        "platform_rules": platform_rules,
        "discovery_mode": discovery_mode_table(
            np.random.default_rng(world.seeds["discovery"]), catalog, window, ruled_artists
        ),
    }
    for table_name, table in control_tables.items():
        counts[table_name] = write_table(config.controls_dir / table_name, table)
    counts["users"] = users
    logger.info("sample data for week %s: %s", week, counts)
    return counts
