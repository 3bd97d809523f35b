from datetime import date, datetime, timezone

import pytest

from jobs.config import PlaylistConfig
from jobs.playlists import build_discover_weekly, build_release_radar
from schemas import candidates as candidates_schema
from schemas import catalog, controls
from schemas import interactions as interactions_schema

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)
CONFIG = PlaylistConfig(
    length=3, candidates_per_user=10, max_tracks_per_artist=2, release_radar_days=7
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
