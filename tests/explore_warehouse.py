"""A tiny warehouse for the explorer's tests, written with pyarrow in the layouts the Spark
jobs write (folders, partitions, column names and types from `schemas/`): no Spark.

Eight tracks by four artists in two audio clusters; listener u1 has both playlists and
controls (explicit filter on, one track hidden, one artist blocked by the platform), u2 has
Discover Weekly only. Week 2026-11-23 is published; 2026-11-30 ran its ingest only.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from jobs.core.config import PipelineConfig
from jobs.core.runlog import run_dir
from jobs.core.tables import table_path
from schemas import catalog, clusters, controls, interactions, metrics, model, playlists, taste
from schemas.catalog import AUDIO_FEATURE_COLUMNS

WEEK = date(2026, 11, 23)
UNPUBLISHED = date(2026, 11, 30)  # a run folder, no playlists
DW, RR = playlists.DISCOVER_WEEKLY, playlists.RELEASE_RADAR

ARTISTS = {"a1": "The Nightjars", "a2": "Velvet Echo", "a3": "Quiet Fields", "a4": "Banned Band"}
# track id: (name, artist, album, explicit)
TRACKS = {
    "t1": ("Midnight Engine", "a1", "al1", False),
    "t2": ("Static Hearts", "a1", "al1", True),
    "t3": ("Neon Rain", "a2", "al2", False),
    "t4": ("Glass City", "a2", "al2", False),
    "t5": ("Slow River", "a3", "al3", False),
    "t6": ("Morning Dew", "a3", "al3", False),
    "t7": ("Forbidden Song", "a4", "al4", False),
    "t8": ("Hidden Gem", "a2", "al2", False),
}
ALBUMS = {
    "al1": ("a1", "Night Drive", date(2026, 11, 20)),
    "al2": ("a2", "Neon", date(2025, 1, 1)),
    "al3": ("a3", "Meadow", date(2024, 5, 5)),
    "al4": ("a4", "Contraband", date(2023, 3, 3)),
}
# Scaled audio features (AUDIO_FEATURE_COLUMNS order) and each track's cluster.
FEATURES = {
    "t1": [0.80, 0.90, 0.80, 0.10, 0.10, 0.00, 0.20, 0.70, 0.80],
    "t2": [0.75, 0.85, 0.80, 0.20, 0.10, 0.00, 0.20, 0.60, 0.75],
    "t3": [0.70, 0.70, 0.70, 0.10, 0.20, 0.10, 0.10, 0.90, 0.60],
    "t4": [0.60, 0.60, 0.60, 0.10, 0.30, 0.10, 0.10, 0.80, 0.50],
    "t5": [0.20, 0.10, 0.20, 0.00, 0.90, 0.80, 0.10, 0.20, 0.20],
    "t6": [0.30, 0.20, 0.30, 0.00, 0.80, 0.70, 0.10, 0.30, 0.30],
    "t7": [0.80, 0.95, 0.90, 0.10, 0.05, 0.00, 0.30, 0.70, 0.85],
    "t8": [0.25, 0.15, 0.25, 0.00, 0.85, 0.75, 0.10, 0.25, 0.25],
}
CLUSTER_OF = {"t1": 0, "t2": 0, "t3": 0, "t4": 0, "t5": 1, "t6": 1, "t7": 0, "t8": 1}
LABELS = {0: "high energy / low acousticness", 1: "high acousticness / low energy"}
# Raw units of the scaled 0..1 (cluster_models.feature_min / feature_max): tempo in BPM.
FEATURE_MIN = [0.0, 0.0, -30.0, 0.0, 0.0, 0.0, 0.0, 0.0, 60.0]
FEATURE_MAX = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 200.0]
# ALS track factors: t1 and t2 share listeners, t5 and t6 too; t4, t7 and t8 were not played.
FACTORS = {
    "t1": [1.0, 0.0, 0.0, 0.0],
    "t2": [0.9, 0.1, 0.0, 0.0],
    "t3": [0.0, 1.0, 0.0, 0.0],
    "t5": [0.0, 0.0, 1.0, 0.0],
    "t6": [0.0, 0.0, 0.9, 0.1],
}
# (user, playlist type, position, track, source, reason, campaign of a boost)
PLAYLISTS = [
    ("u1", DW, 1, "t3", "als", "Picked for your taste: Velvet Echo sounds like you", None),
    ("u1", DW, 2, "t5", "content", "Sounds like your calm moods", "dm-1"),
    ("u1", DW, 3, "t6", "exploration", "Something new: a mood you rarely play", None),
    ("u1", RR, 1, "t1", "followed_artist", "New from The Nightjars: you follow them", None),
    ("u2", DW, 1, "t5", "content", "Sounds like your calm moods", "dm-1"),
    ("u2", DW, 2, "t1", "popularity", "Popular this week", None),
]
# The first Discover Weekly track of the listener the listener page starts with (u1).
FIRST_DW_TRACK = "Neon Rain"
PLAYED = {"u1": ["t1", "t2"], "u2": ["t5"]}
MOODS = {"u1": [(0, 0.75), (1, 0.25)], "u2": [(1, 1.0)]}


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def _write(folder: Path, schema: StructType, rows: list[dict], partition=("week",)) -> None:
    """`rows` as one Parquet file in `folder`, typed by the Spark schema less its partition
    columns (they live in folder names), the way the jobs write them."""
    arrow = to_arrow_schema(schema, timezone="UTC")
    arrow = pa.schema([field for field in arrow if field.name not in partition])
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow), folder / "part-00000.parquet")
    (folder / "_SUCCESS").touch()


def _week(config: PipelineConfig, table: str) -> Path:
    return table_path(config, table) / f"week={WEEK.isoformat()}"


def _catalog(config: PipelineConfig) -> None:
    folder = config.catalog_dir
    _write(
        folder / "artists",
        catalog.ARTISTS,
        [
            {"artist_id": artist, "name": name, "genres": ["rock"], "popularity": 50}
            for artist, name in ARTISTS.items()
        ],
    )
    _write(
        folder / "albums",
        catalog.ALBUMS,
        [
            {"album_id": album, "artist_id": artist, "name": name, "release_date": released}
            for album, (artist, name, released) in ALBUMS.items()
        ],
    )
    _write(
        folder / "tracks",
        catalog.TRACKS,
        [
            {
                "track_id": track,
                "name": name,
                "album_id": album,
                "artist_id": artist,
                "duration_ms": 200_000,
                "explicit": explicit,
                "popularity": 40 + int(track[1:]),
            }
            for track, (name, artist, album, explicit) in TRACKS.items()
        ],
    )


def _controls(config: PipelineConfig) -> None:
    folder = config.controls_dir
    _write(
        folder / "user_settings",
        controls.USER_SETTINGS,
        [
            {"user_id": "u1", "explicit_filter": True, "preferred_genres": ["rock"]},
            {"user_id": "u2", "explicit_filter": False, "preferred_genres": None},
        ],
    )
    hide = {"user_id": "u1", "withdrawn_at": None}
    _write(
        folder / "user_hides",
        controls.USER_HIDES,
        [
            # In force: don't-suggest lasts until withdrawn.
            {**hide, "item_type": "track", "item_id": "t8", "kind": "dont_suggest",
             "created_at": _utc(2026, 9, 1)},
            # Over: a hide postpones for 30 days; withdrawn; made after the week.
            {**hide, "item_type": "artist", "item_id": "a3", "kind": "hide",
             "created_at": _utc(2026, 9, 1)},
            {**hide, "item_type": "track", "item_id": "t4", "kind": "hide",
             "created_at": _utc(2026, 11, 20), "withdrawn_at": _utc(2026, 11, 21)},
            {**hide, "item_type": "track", "item_id": "t6", "kind": "hide",
             "created_at": _utc(2026, 11, 25)},
        ],
    )  # fmt: skip
    _write(
        folder / "platform_rules",
        controls.PLATFORM_RULES,
        [
            {"item_type": "artist", "item_id": "a4", "reason": "policy",
             "valid_from": _utc(2026, 1, 1), "valid_until": None},
            {"item_type": "track", "item_id": "t3", "reason": "rights_expired",
             "valid_from": _utc(2025, 1, 1), "valid_until": _utc(2026, 11, 1)},
        ],
    )  # fmt: skip
    _write(
        folder / "discovery_mode",
        controls.DISCOVERY_MODE,
        [
            {"campaign_id": "dm-1", "track_id": "t5", "boost": 0.3,
             "starts_at": _utc(2026, 11, 9), "ends_at": _utc(2026, 12, 7)},
        ],
    )  # fmt: skip


def _playlists(config: PipelineConfig) -> None:
    for kind in (DW, RR):
        rows = [
            {
                "user_id": user,
                "position": position,
                "track_id": track,
                "artist_id": TRACKS[track][1],
                "score": 1.0 / position,
                "source": source,
                "reason": reason,
                "boosted": campaign is not None,
                "campaign_id": campaign,
                "model_version": "als-implicit-test",
            }
            for user, playlist_type, position, track, source, reason, campaign in PLAYLISTS
            if playlist_type == kind
        ]
        folder = _week(config, "playlists") / f"playlist_type={kind}"
        _write(folder, playlists.SCHEMA, rows, playlists.PARTITION_COLUMNS)


def _clusters(config: PipelineConfig) -> None:
    _write(
        _week(config, "track_clusters"),
        clusters.TRACK_CLUSTERS,
        [
            {"track_id": track, "cluster": CLUSTER_OF[track], "distance": 0.1, "features": vector}
            for track, vector in FEATURES.items()
        ],
    )
    members = {cluster: [t for t, c in CLUSTER_OF.items() if c == cluster] for cluster in LABELS}
    _write(
        _week(config, "clusters"),
        clusters.CLUSTERS,
        [
            {
                "cluster": cluster,
                "label": label,
                "size": len(members[cluster]),
                "centroid": [
                    sum(FEATURES[track][i] for track in members[cluster]) / len(members[cluster])
                    for i in range(len(AUDIO_FEATURE_COLUMNS))
                ],
                "top_genres": ["rock"],
                "top_artists": [ARTISTS["a1"]],
            }
            for cluster, label in LABELS.items()
        ],
    )
    _write(
        _week(config, "cluster_models"),
        clusters.CLUSTER_MODELS,
        [
            {
                "features": list(AUDIO_FEATURE_COLUMNS),
                "feature_min": FEATURE_MIN,
                "feature_max": FEATURE_MAX,
                "k": 2,
                "scores": [{"k": 2, "silhouette": 0.7, "cost": 1.0}],
                "seed": 42,
                "tracks": len(FEATURES),
                "skipped_tracks": 0,
            }
        ],
    )


def _model_and_listening(config: PipelineConfig) -> None:
    _write(
        _week(config, "track_factors"),
        model.TRACK_FACTORS,
        [{"track_id": track, "factors": factors} for track, factors in FACTORS.items()],
    )
    _write(
        _week(config, "models"),
        model.MODELS,
        [
            {
                "model_version": "als-implicit-test",
                "backend": "implicit",
                "factors": 4,
                "regularization": 0.05,
                "alpha": 2.0,
                "iterations": 3,
                "seed": 42,
                "users": 2,
                "tracks": len(FACTORS),
                "nonzeros": 3,
                "training_loss": None,
                "train_seconds": 0.1,
                "trained_at": _utc(2026, 11, 23, 7, 55),
            }
        ],
    )
    _write(
        _week(config, "interactions"),
        interactions.SCHEMA,
        [
            {"user_id": user, "track_id": track, "confidence": 1.0, "plays": 2, "skips": 0,
             "last_played": _utc(2026, 11, 20)}
            for user, tracks in PLAYED.items()
            for track in tracks
        ]
        # A save without a play: not "played" on the map.
        + [{"user_id": "u1", "track_id": "t4", "confidence": 3.0, "plays": 0, "skips": 0,
            "last_played": None}],
    )  # fmt: skip
    _write(
        _week(config, "taste_profiles"),
        taste.TASTE_PROFILES,
        [
            {
                "user_id": user,
                "profile": FEATURES[PLAYED[user][0]],
                "moods": [{"cluster": cluster, "share": share} for cluster, share in moods],
            }
            for user, moods in MOODS.items()
        ],
    )
    _write(
        table_path(config, "run_metrics") / "dataset=generated" / f"week={WEEK.isoformat()}",
        metrics.SCHEMA,
        [
            {"dataset": "generated", "method": method, "metric": "ndcg@30", "value": value}
            for method, value in (("weekly_playlists", 0.1234), ("popularity", 0.0567))
        ],
    )


def _stage(config: PipelineConfig, week: date, stage: str, rows: dict, seconds: float) -> None:
    folder = run_dir(config, week) / "stages"
    folder.mkdir(parents=True, exist_ok=True)
    started = _utc(week.year, week.month, week.day, 7).timestamp() + len(list(folder.iterdir()))
    record = {"stage": stage, "week": week.isoformat(), "rows": rows, "seconds": seconds}
    (folder / f"{stage}.json").write_text(json.dumps({**record, "started": started}))


def _validation(config: PipelineConfig, suite: str, failures: list[dict]) -> None:
    """A stored GX result (quality.validate's to_json_dict()) of one passed expectation and
    the `failures` given."""
    passed = {
        "success": True,
        "expectation_config": {"type": "expect_column_to_exist", "kwargs": {"column": "user_id"}},
        "result": {},
    }
    results = [passed, *failures]
    stored = {
        "success": not failures,
        "results": results,
        "suite_name": suite,
        "statistics": {
            "evaluated_expectations": len(results),
            "successful_expectations": 1,
            "unsuccessful_expectations": len(failures),
        },
        "meta": {"validation_time": "2026-11-23T07:59:09+00:00"},
    }
    folder = run_dir(config, WEEK) / "validation"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{suite}.json").write_text(json.dumps(stored))


def _run_folders(config: PipelineConfig) -> None:
    _stage(config, WEEK, "ingest", {"events": 1234, "events_quarantine": 5}, 4.25)
    _stage(config, WEEK, "train_als", {"user_factors": 2, "track_factors": 5}, 2.5)
    _stage(config, WEEK, "publish", {"published_discover_weekly": 5}, 1.5)
    _validation(config, "playlists", [])
    _validation(
        config,
        "events",
        [
            {
                "success": False,
                "expectation_config": {
                    "type": "expect_column_values_to_be_between",
                    "kwargs": {"column": "ms_played", "min_value": 0, "batch_id": "x"},
                },
                "result": {"element_count": 10, "unexpected_count": 2, "unexpected_percent": 20.0},
            }
        ],
    )
    _stage(config, UNPUBLISHED, "ingest", {"events": 99}, 3.0)


def build_warehouse(home: Path) -> PipelineConfig:
    """Write the tiny warehouse under `home` (as WP_HOME); its config."""
    config = PipelineConfig.load(env={"WP_HOME": str(home)})
    _catalog(config)
    _controls(config)
    _playlists(config)
    _clusters(config)
    _model_and_listening(config)
    _run_folders(config)
    return config
