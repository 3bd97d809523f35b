from datetime import date, datetime, timezone

import pytest

from jobs.config import PlaylistConfig
from jobs.playlists import (
    DISCOVER_REASONS,
    blend_candidates,
    build_discover_weekly,
    build_release_radar,
)
from schemas import candidates as candidates_schema
from schemas import catalog, controls
from schemas import interactions as interactions_schema

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)
CONFIG = PlaylistConfig(
    length=3,
    candidates_per_user=10,
    max_tracks_per_artist=2,
    release_radar_days=7,
    source_weights={"als": 1.0, "listeners_like_you": 0.5, "popularity": 0.2},
)


@pytest.fixture
def catalog_frames(spark):
    artists = spark.createDataFrame(
        [("a1", "Ada", [], 50, 10), ("a2", "Bo", [], 50, 10), ("a3", "Cy", [], 50, 10)],
        schema=catalog.ARTISTS,
    )
    albums = spark.createDataFrame(
        [
            ("old", "a1", "Old", "album", date(2020, 1, 1), 3),
            ("new1", "a1", "New", "single", date(2026, 11, 20), 2),  # inside the 7 days
            ("new2", "a2", "New", "album", date(2026, 11, 16), 2),  # first day of the window
            ("new3", "a3", "New", "album", date(2026, 11, 23), 1),  # publish day: next week
        ],
        schema=catalog.ALBUMS,
    )
    tracks = spark.createDataFrame(
        [
            ("t1", "One", "old", "a1", 200_000, False, 90),
            ("t2", "Two", "old", "a1", 200_000, False, 80),
            ("t3", "Three", "old", "a1", 200_000, False, 70),
            ("n1", "N1", "new1", "a1", 200_000, False, 10),
            ("n2", "N2", "new1", "a1", 200_000, False, 90),
            ("m1", "M1", "new2", "a2", 200_000, False, 50),
            ("m2", "M2", "new2", "a2", 200_000, False, 40),
            ("x1", "X1", "new3", "a3", 200_000, False, 99),
        ],
        schema=catalog.TRACKS,
    )
    return tracks, albums, artists


def test_discover_weekly_caps_artists_and_length(spark, catalog_frames):
    tracks, _, artists = catalog_frames
    candidates = spark.createDataFrame(
        [
            ("u1", t, s, i + 1, "als", WEEK)
            for i, (t, s) in enumerate(
                [("t1", 0.9), ("t2", 0.8), ("t3", 0.7), ("m1", 0.6), ("m2", 0.5)]
            )
        ],
        schema=candidates_schema.SCHEMA,
    )
    rows = build_discover_weekly(candidates, tracks, artists, "v1", WEEK, CONFIG).collect()
    # t3 is a third a1 track (cap 2); m2 is past the length of 3.
    assert [(r["position"], r["track_id"]) for r in sorted(rows, key=lambda r: r["position"])] == [
        (1, "t1"),
        (2, "t2"),
        (3, "m1"),
    ]
    assert {r["playlist_type"] for r in rows} == {"discover_weekly"}
    assert rows[0]["reason"].endswith("Ada") or "Ada" in rows[0]["reason"]


def test_release_radar_takes_new_releases_of_followed_and_played_artists(spark, catalog_frames):
    tracks, albums, artists = catalog_frames
    interactions = spark.createDataFrame(
        [("u1", "t1", 2.0, 4, 0, None, WEEK), ("u2", "m1", 1.0, 1, 0, None, WEEK)],
        schema=interactions_schema.SCHEMA,
    )
    follows = spark.createDataFrame(
        [
            ("u2", "a1", datetime(2026, 1, 1, tzinfo=timezone.utc)),
            ("u2", "a3", datetime(2026, 1, 1, tzinfo=timezone.utc)),
        ],
        schema=controls.FOLLOWS,
    )
    played = spark.createDataFrame([("u2", "m1")], "user_id string, track_id string")
    rows = build_release_radar(
        interactions, follows, played, tracks, albums, artists, "v1", WEEK, CONFIG
    ).collect()
    got = {(r["user_id"], r["track_id"]): (r["position"], r["source"]) for r in rows}
    assert got == {
        # u1 played a1: both new a1 tracks, the more popular first.
        ("u1", "n2"): (1, "played_artist"),
        ("u1", "n1"): (2, "played_artist"),
        # u2 follows a1 (+5) and played a2 (1.0): a1's tracks first; m1 already played;
        # a3's album is released on the publish day, outside the window.
        ("u2", "n2"): (1, "followed_artist"),
        ("u2", "n1"): (2, "followed_artist"),
        ("u2", "m2"): (3, "played_artist"),
    }


def _candidates(spark, rows):
    """(user_id, source, [track_id, ...] best first) -> candidates rows ranked 1, 2, ..."""
    return spark.createDataFrame(
        [
            (user, track, 1.0 / rank, rank, source, WEEK)
            for user, source, tracks in rows
            for rank, track in enumerate(tracks, start=1)
            if track is not None
        ],
        schema=candidates_schema.SCHEMA,
    )


def test_blend_sums_weighted_rank_scores_and_credits_the_main_contributor(spark):
    candidates = _candidates(
        spark,
        [
            ("u1", "als", ["t1", "t2", "t3", None, None, None, None, None, "m1"]),
            ("u1", "listeners_like_you", ["t3", "m1"]),
            ("u1", "popularity", ["m2"]),
        ],
    )
    rows = blend_candidates(candidates, CONFIG.source_weights, depth=10).collect()
    got = {r["track_id"]: (r["score"], r["source"]) for r in rows}
    # r = 1 - (rank - 1) / 10: als t1 1.0, t2 0.9, t3 0.8, m1 0.2; listeners t3 1.0, m1 0.9.
    assert got == {
        "t1": (pytest.approx(1.0), "als"),
        "t2": (pytest.approx(0.9), "als"),
        "t3": (pytest.approx(0.8 + 0.5 * 1.0), "als"),  # once, als gave more (0.8 > 0.5)
        "m1": (pytest.approx(0.2 + 0.5 * 0.9), "listeners_like_you"),  # 0.45 > 0.2
        "m2": (pytest.approx(0.2 * 1.0), "popularity"),
    }


def test_blend_rejects_an_unknown_source_weight(spark):
    candidates = _candidates(spark, [("u1", "als", ["t1"])])
    with pytest.raises(ValueError, match="alss"):
        blend_candidates(candidates, {"alss": 1.0}, depth=10)


def test_discover_weekly_blends_sources_and_serves_cold_start_users(spark, catalog_frames):
    tracks, _, artists = catalog_frames
    candidates = _candidates(
        spark,
        [
            ("u1", "als", ["t1", "t2", "t3", None, None, None, None, None, "m1"]),
            ("u1", "listeners_like_you", ["t3", "m1"]),
            ("u1", "popularity", ["m2"]),
            # u2 has no ALS factors: popularity only, still a full playlist.
            ("u2", "popularity", ["m2", "m1", "t1", "t2"]),
        ],
    )
    rows = build_discover_weekly(candidates, tracks, artists, "v1", WEEK, CONFIG).collect()
    got = {(r["user_id"], r["position"]): (r["track_id"], r["source"], r["reason"]) for r in rows}
    assert got == {
        # Blended t3 1.3, t1 1.0, t2 0.9 (a third a1 track: capped), m1 0.65.
        ("u1", 1): ("t3", "als", "Picked for your taste: Ada sounds like what you play"),
        ("u1", 2): ("t1", "als", "Picked for your taste: Ada sounds like what you play"),
        ("u1", 3): ("m1", "listeners_like_you", "Listeners with taste like yours play Bo"),
        ("u2", 1): ("m2", "popularity", "Popular with listeners right now: Bo"),
        ("u2", 2): ("m1", "popularity", "Popular with listeners right now: Bo"),
        ("u2", 3): ("t1", "popularity", "Popular with listeners right now: Ada"),
    }


def test_every_candidate_source_has_a_reason():
    assert set(DISCOVER_REASONS) == set(candidates_schema.SOURCES)
