from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
from candidate_lists import given_lists, listeners_of
from pyspark.sql import functions as F

from jobs.core.config import PlaylistConfig, RankingConfig
from jobs.domain.discover import build_discover_pool
from jobs.domain.discover_batch import PassSettings
from jobs.domain.release_radar import (
    build_release_radar,
    new_releases,
    similar_artists,
)
from jobs.domain.retrieval import Sources, listener_inputs
from jobs.stages.playlists import DISCOVER_REASONS, discover_weekly_rows
from schemas import candidates as candidates_schema
from schemas import catalog, model
from schemas import controls as controls_schema
from schemas import interactions as interactions_schema

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)
WEEK_START = datetime(2026, 11, 23, tzinfo=timezone.utc)
CONFIG = PlaylistConfig(
    length=3,
    candidates_per_user=10,
    max_tracks_per_artist=2,
    release_radar_days=7,
    source_weights={"als": 1.0, "listeners_like_you": 0.5, "popularity": 0.2},
    max_tracks_per_album=3,  # the tests below that are about albums lower it
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


def build_discover_weekly(
    catalog_frames,
    controls,
    candidates,
    config,
    interactions=None,
    track_moods=None,
    likeability=None,
    listener_policy=None,
):
    """Discover Weekly through the ranking pass (blend: no ranker), then named. Without
    `interactions`, every listener counts as mature (100 plays of a track not in the
    catalog)."""
    tracks, albums, artists = catalog_frames
    if interactions is None:
        interactions = (
            candidates.select("user_id")
            .distinct()
            .select(
                "user_id",
                F.lit("off-catalog").alias("track_id"),
                F.lit(1.0).alias("confidence"),
                F.lit(100).alias("plays"),
            )
        )
    pool = build_discover_pool(
        listeners_of(candidates),
        given_lists(candidates),
        interactions,
        tracks,
        albums,
        artists,
        controls,
        WEEK,
        PassSettings(config, RankingConfig()),
        track_clusters=None if track_moods is None else track_moods.select("track_id", "cluster"),
        listener_policy=listener_policy,
        likeability=likeability,
    )
    return discover_weekly_rows(pool, artists, track_moods, "v1", WEEK)


def test_discover_weekly_caps_artists_and_length(spark, catalog_frames, controls_at):
    candidates = spark.createDataFrame(
        [
            ("u1", t, s, i + 1, "als", WEEK)
            for i, (t, s) in enumerate(
                [("t1", 0.9), ("t2", 0.8), ("t3", 0.7), ("m1", 0.6), ("m2", 0.5)]
            )
        ],
        schema=candidates_schema.FLAT,
    )
    rows = build_discover_weekly(catalog_frames, controls_at(WEEK), candidates, CONFIG).collect()
    # t3 is a third a1 track (cap 2); m2 is past the length of 3.
    assert [(r["position"], r["track_id"]) for r in sorted(rows, key=lambda r: r["position"])] == [
        (1, "t1"),
        (2, "t2"),
        (3, "m1"),
    ]
    assert {r["playlist_type"] for r in rows} == {"discover_weekly"}
    assert rows[0]["reason"].endswith("Ada") or "Ada" in rows[0]["reason"]


def _release_radar(
    spark,
    catalog_frames,
    controls,
    interactions,
    follows,
    similar=(),
    fields=("track_id", "source"),
):
    tracks, albums, artists = catalog_frames
    rows = build_release_radar(
        spark.createDataFrame(interactions, schema=interactions_schema.SCHEMA),
        spark.createDataFrame(
            [(u, a, datetime(2026, 1, 1, tzinfo=timezone.utc)) for u, a in follows],
            schema=controls_schema.FOLLOWS,
        ),
        tracks,
        artists,
        new_releases(tracks, albums, WEEK, CONFIG),
        pa.table(
            {
                "artist_id": pa.array([a for a, _, _ in similar], pa.string()),
                "similar_id": pa.array([s for _, s, _ in similar], pa.string()),
                "similarity": pa.array([v for _, _, v in similar], pa.float32()),
            }
        ),
        controls,
        WEEK,
        CONFIG,
    ).collect()
    return {(r["user_id"], r["position"]): tuple(r[f] for f in fields) for r in rows}


def test_release_radar_lists_followed_then_played_artists_one_track_per_release(
    spark, catalog_frames, controls_at, clean_event
):
    got = _release_radar(
        spark,
        catalog_frames,
        # u2 already played m1.
        controls_at(WEEK, events_=[clean_event(1, "u2", "m1", 3)]),
        interactions=[("u1", "t1", 2.0, 4, 0, None, WEEK), ("u2", "m1", 9.0, 9, 0, None, WEEK)],
        follows=[("u2", "a1"), ("u2", "a3")],
    )
    assert got == {
        # u1 played a1: one track of a1's new release, its most popular (n2).
        ("u1", 1): ("n2", "played_artist"),
        # u2 follows a1 - first, though they play a2 far more; a2's release without the
        # played m1; a3's album comes out on the publish day, outside the window.
        ("u2", 1): ("n2", "followed_artist"),
        ("u2", 2): ("m2", "played_artist"),
    }


def test_release_radar_reaches_artists_similar_to_those_played(spark, catalog_frames, controls_at):
    got = _release_radar(
        spark,
        catalog_frames,
        controls_at(WEEK),
        interactions=[("u1", "t1", 2.0, 4, 0, None, WEEK), ("u2", "x", 1.0, 1, 0, None, WEEK)],
        follows=[],
        # a2 (new release) resembles a1, whom u1 plays; u2 plays nobody similar.
        similar=[("a2", "a1", 0.8), ("a2", "a3", 0.9)],
    )
    assert got == {
        ("u1", 1): ("n2", "played_artist"),
        ("u1", 2): ("m1", "similar_artist"),
    }


def test_release_radar_leaves_out_listeners_with_nothing_new_and_obeys_controls(
    spark, catalog_frames, controls_at
):
    got = _release_radar(
        spark,
        catalog_frames,
        controls_at(
            WEEK,
            hides=[("u1", "artist", "a1", "dont_suggest", WEEK_START - timedelta(days=1), None)],
        ),
        interactions=[("u1", "t1", 2.0, 4, 0, None, WEEK)],
        follows=[],
    )
    assert got == {}  # no filler


def test_release_radar_obeys_every_rule_and_boosts_in_its_pass(spark, catalog_frames, controls_at):
    tracks, albums, artists = catalog_frames
    running = (WEEK_START - timedelta(days=1), WEEK_START + timedelta(days=6))
    got = _release_radar(
        spark,
        (tracks.withColumn("explicit", F.col("track_id") == "n1"), albums, artists),
        controls_at(
            WEEK,
            settings=[("u2", True, None)],
            hides=[
                ("u3", "track", "m1", "hide", WEEK_START - timedelta(days=1), None),
                ("u4", "artist", "a1", "dont_suggest", WEEK_START - timedelta(days=9), None),
            ],
            rules=[("track", "m2", "legal_takedown", *running)],
            campaigns=[("dm-1", "n1", 1.0, *running)],
        ),
        # Everyone plays a1 (t1, 4 plays) and follows a2.
        interactions=[(u, "t1", 2.0, 4, 0, None, WEEK) for u in ("u1", "u2", "u3", "u4")],
        follows=[(u, "a2") for u in ("u1", "u2", "u3", "u4")],
        fields=("track_id", "boosted", "campaign_id", "reason"),
    )
    followed = ("m1", False, None, "New from Bo, released 2026-11-16: you follow them")
    boosted = (
        "n1",
        True,
        "dm-1",
        "New from Ada, released 2026-11-20: you played their tracks 4 time(s)",
    )
    assert got == {
        # Boosted, n1 (3.3 x 2) passes a1's most popular n2 (5.7).
        ("u1", 1): followed,
        ("u1", 2): boosted,
        # u2 filters explicit n1: n2, unboosted.
        ("u2", 1): followed,
        ("u2", 2): ("n2", False, None, boosted[3]),
        # u3 hid m1, and m2 is taken down: nothing of a2's.
        ("u3", 1): boosted,
        # u4 asked for no more a1.
        ("u4", 1): followed,
    }


def test_release_window_follows_the_configured_weekday(spark, catalog_frames):
    tracks, albums, _ = catalog_frames
    fridays = replace(CONFIG, release_radar_weekday="friday")
    got = {r["track_id"] for r in new_releases(tracks, albums, WEEK, fridays).collect()}
    # Friday cut: 2026-11-14..2026-11-20 - new1 (11-20) and new2 (11-16).
    assert got == {"n1", "n2", "m1", "m2"}
    mondays = replace(CONFIG, release_radar_weekday="monday")  # 2026-11-10..2026-11-16
    assert {r["track_id"] for r in new_releases(tracks, albums, WEEK, mondays).collect()} == {
        "m1",
        "m2",
    }


def test_similar_artists_pool_track_factors_per_artist(spark):
    tracks = spark.createDataFrame(
        [
            (t, t, "al", a, 1, False, 1)
            for t, a in [("t1", "a1"), ("t2", "a1"), ("t3", "a2"), ("t4", "a3"), ("t5", "a4")]
        ],
        schema=catalog.TRACKS,
    )
    factors = spark.createDataFrame(
        [
            ("t1", [1.0, 0.0], WEEK),
            ("t2", [10.0, 1.0], WEEK),  # loud: unit length before pooling
            ("t3", [1.0, 0.1], WEEK),
            ("t4", [0.0, 1.0], WEEK),
            ("t5", [-1.0, 0.0], WEEK),  # opposite taste: not similar
        ],
        schema=model.TRACK_FACTORS,
    )
    similar = similar_artists(
        factors.select("track_id", "factors").toArrow(),
        tracks.select("track_id", "artist_id").toArrow(),
        pa.array(["a1"]),
        5,
    )
    got = [
        (row["similar_id"], round(row["similarity"], 3))
        for row in similar.sort_by([("similarity", "descending")]).to_pylist()
    ]
    assert [a for a, _ in got] == ["a2", "a3"]
    assert got[0][1] > 0.99 and 0 < got[1][1] < 0.2


def test_discover_weekly_applies_controls_to_every_source_and_marks_boosts(
    spark, catalog_frames, controls_at
):
    candidates = _candidates(
        spark,
        [
            ("u1", "als", ["t1", "t2"]),
            ("u1", "popularity", ["t3", "m1", "m2"]),
            ("u1", "listeners_like_you", ["m2"]),
        ],
    )
    running = (WEEK_START - timedelta(days=1), WEEK_START + timedelta(days=6))
    week_controls = controls_at(
        WEEK,
        hides=[("u1", "track", "t3", "hide", WEEK_START - timedelta(days=2), None)],
        rules=[("track", "t1", "legal_takedown", WEEK_START - timedelta(days=9), None)],
        campaigns=[("dm-7", "m1", 1.0, *running)],
    )
    rows = build_discover_weekly(catalog_frames, week_controls, candidates, CONFIG).collect()
    got = {r["position"]: (r["track_id"], r["boosted"], r["campaign_id"]) for r in rows}
    # Blended: t2 0.9, m2 0.5 + 0.18; m1 0.18 x 2 (boost) = 0.36; t1 blocked, t3 hidden.
    assert got == {1: ("t2", False, None), 2: ("m2", False, None), 3: ("m1", True, "dm-7")}


def _candidates(spark, rows):
    """(user_id, source, [track_id, ...] best first) -> candidates rows ranked 1, 2, ..."""
    return spark.createDataFrame(
        [
            (user, track, 1.0 / rank, rank, source, WEEK)
            for user, source, tracks in rows
            for rank, track in enumerate(tracks, start=1)
            if track is not None
        ],
        schema=candidates_schema.FLAT,
    )


def test_discover_weekly_blends_sources_and_serves_cold_start_users(
    spark, catalog_frames, controls_at
):
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
    rows = build_discover_weekly(catalog_frames, controls_at(WEEK), candidates, CONFIG).collect()
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


def _discover(catalog_frames, controls, candidates, config, **inputs) -> list:
    """Discover Weekly rows, by listener and position."""
    rows = build_discover_weekly(catalog_frames, controls, candidates, config, **inputs).collect()
    return sorted(rows, key=lambda r: (r["user_id"], r["position"]))


def _moods(spark, clusters: dict[str, int]):
    """track_moods rows: each track's cluster, labelled "mood <n>"."""
    return spark.createDataFrame(
        [(track, cluster, f"mood {cluster}") for track, cluster in clusters.items()],
        "track_id string, cluster int, label string",
    )


def test_new_listeners_lean_on_popularity_and_content_mature_ones_on_als(
    spark, catalog_frames, controls_at
):
    rows = [("u", "als", ["t1"]), ("u", "popularity", ["m1"]), ("u", "content", ["x1"])]
    candidates = _candidates(spark, rows)
    config = replace(
        CONFIG,
        length=1,
        source_weights={"als": 1.0, "popularity": 0.1, "content": 0.2},
        new_listener_weights={"als": 0.1, "popularity": 0.5, "content": 1.0},
    )

    def first_pick(plays: int) -> str:
        interactions = spark.createDataFrame(
            [("u", "t2", 1.0, plays)],
            "user_id string, track_id string, confidence double, plays int",
        )
        (row,) = build_discover_weekly(
            catalog_frames, controls_at(WEEK), candidates, config, interactions=interactions
        ).collect()
        return row["source"]

    assert first_pick(plays=1) == "content"  # 0.98 x 1.0 + 0.02 x 0.2 beats ALS's ~0.12
    assert first_pick(plays=500) == "als"


def test_exploration_gets_its_share_of_slots_interleaved(spark, catalog_frames, controls_at):
    candidates = _candidates(
        spark,
        [("u", "als", ["t1", "n1", "m1", "m2"]), ("u", "exploration", ["x1", "t2", "n2"])],
    )
    config = replace(CONFIG, length=5, exploration_share=0.4, max_tracks_per_artist=5)
    rows = _discover(
        catalog_frames,
        controls_at(WEEK),
        candidates,
        config,
        track_moods=_moods(spark, {"x1": 2, "t2": 1}),
    )
    # Two exploration slots (the best two), three from the blend, interleaved; t2 is on
    # t1's album "old" but the test config allows three per album.
    assert [(r["track_id"], r["source"]) for r in rows] == [
        ("t1", "als"),
        ("x1", "exploration"),
        ("n1", "als"),
        ("t2", "exploration"),
        ("m1", "als"),
    ]
    reasons = {r["track_id"]: r["reason"] for r in rows}
    assert reasons["x1"] == "Beyond your usual, close to what you play: mood 2"


def test_a_listeners_policy_sets_their_exploration_share_and_source_factors(
    spark, catalog_frames, controls_at
):
    # u and v have the same candidates; only u has an adaptive policy: one exploration
    # slot of five instead of two, and popularity's weight x2 (above ALS's: first pick).
    candidates = _candidates(
        spark,
        [
            (user, source, tracks)
            for user in ("u", "v")
            for source, tracks in (
                ("als", ["t1", "n1", "m1"]),
                ("popularity", ["m2", "t3"]),
                ("exploration", ["x1", "t2", "n2"]),
            )
        ],
    )
    config = replace(
        CONFIG,
        length=5,
        exploration_share=0.4,
        max_tracks_per_artist=5,
        source_weights={"als": 1.0, "popularity": 0.6},
    )
    policy = spark.createDataFrame(
        [("u", {"popularity": 2.0}, 0.2)],
        "user_id string, factors map<string,double>, exploration_share double",
    )
    rows = _discover(catalog_frames, controls_at(WEEK), candidates, config, listener_policy=policy)

    sources = {user: [r["source"] for r in rows if r["user_id"] == user] for user in "uv"}
    assert sources["u"].count("exploration") == 1 and sources["v"].count("exploration") == 2
    assert [r["track_id"] for r in rows if r["user_id"] == "u"][0] == "m2"
    assert [r["track_id"] for r in rows if r["user_id"] == "v"][0] == "t1"


def test_exploration_fills_in_when_the_blend_runs_short_and_vice_versa(
    spark, catalog_frames, controls_at
):
    config = replace(CONFIG, length=3, exploration_share=0.4, max_tracks_per_artist=5)

    def sources(rows):
        found = build_discover_weekly(
            catalog_frames, controls_at(WEEK), _candidates(spark, rows), config
        ).collect()
        return sorted(r["source"] for r in found)

    assert sources([("u", "als", ["t1"]), ("u", "exploration", ["x1", "m1", "m2"])]) == [
        "als",
        "exploration",
        "exploration",
    ]
    assert sources([("u", "als", ["t1", "m1", "m2"]), ("u", "exploration", [])]) == ["als"] * 3


def test_an_exploration_pick_keeps_its_artist_against_a_blended_pick_further_down(
    spark, catalog_frames, controls_at
):
    candidates = _candidates(
        spark, [("u", "als", ["m1", "x1", "t1"]), ("u", "exploration", ["n1"])]
    )
    # Blended scores (x3) dwarf exploration's, but the caps compare places in the
    # playlist: n1 would sit at the middle (slot 1 of 1), t1 past the end (3rd of 3).
    config = replace(
        CONFIG,
        length=4,
        exploration_share=0.25,
        max_tracks_per_artist=1,
        source_weights={"als": 3.0},
    )
    rows = _discover(catalog_frames, controls_at(WEEK), candidates, config)
    assert [(r["track_id"], r["source"]) for r in rows] == [
        ("m1", "als"),
        ("n1", "exploration"),
        ("x1", "als"),
    ]


def test_one_track_per_album_and_at_most_half_the_playlist_per_cluster(
    spark, catalog_frames, controls_at
):
    candidates = _candidates(spark, [("u", "als", ["t1", "t2", "n1", "n2", "m1", "m2", "x1"])])
    config = replace(
        CONFIG, length=4, max_tracks_per_artist=5, max_tracks_per_album=1, max_cluster_share=0.5
    )
    rows = _discover(
        catalog_frames,
        controls_at(WEEK),
        candidates,
        config,
        track_moods=_moods(spark, {"t1": 0, "n1": 0, "m1": 0, "x1": 1}),
    )
    # Greedily, best first: t1; t2 shares t1's album; n1; n2 shares n1's; m1 would be the
    # third of cluster 0 (half of four slots: two); m2 (no cluster) takes the album m1
    # never got; x1.
    assert sorted(r["track_id"] for r in rows) == ["m2", "n1", "t1", "x1"]


def test_likeability_reorders_the_blend(spark, catalog_frames, controls_at):
    candidates = _candidates(spark, [("u", "als", ["t1", "m1"])])
    likeability = spark.createDataFrame(
        [("u", "t1", 0.1), ("u", "m1", 0.9)], "user_id string, track_id string, likeability float"
    )
    config = replace(CONFIG, length=2)
    rows = build_discover_weekly(
        catalog_frames, controls_at(WEEK), candidates, config, likeability=likeability
    ).collect()
    assert [r["track_id"] for r in sorted(rows, key=lambda r: r["position"])] == ["m1", "t1"]


def test_the_pass_retrieves_from_the_weeks_models_and_never_offers_a_played_track(
    spark, catalog_frames, controls_at
):
    """The real retrieval inside the pass: ALS over the week's factors, played tracks
    masked; each pool row carries the source's score u . v."""
    tracks, albums, artists = catalog_frames
    track_factors = {
        "t1": [1.0, 0.0], "t2": [0.9, 0.1], "t3": [0.8, 0.2], "n1": [0.7, 0.3],
        "n2": [0.6, 0.4], "x1": [0.5, 0.5], "m1": [0.1, 0.9], "m2": [0.0, 1.0],
    }  # fmt: skip
    user_factors = {"u1": [1.0, 0.0], "u2": [0.0, 1.0]}
    played = {"u1": ["t1"], "u2": ["m2"]}
    listeners = listener_inputs(
        spark.createDataFrame(
            [(u, f, WEEK) for u, f in user_factors.items()], schema=model.USER_FACTORS
        ),
        None,
        spark.createDataFrame(
            [(u, t) for u, t in played.items()], "user_id string, masked array<string>"
        ),
        None,
        None,
    )
    ids = sorted(track_factors)
    offered = Sources(
        k=10,
        als=(np.array(ids, object), np.array([track_factors[t] for t in ids], np.float32)),
    )
    interactions = spark.createDataFrame(
        [(u, t[0], 1.0, 100, 0, None, WEEK) for u, t in played.items()],
        schema=interactions_schema.SCHEMA,
    )
    pool = build_discover_pool(
        listeners,
        offered,
        interactions,
        tracks,
        albums,
        artists,
        controls_at(WEEK),
        WEEK,
        PassSettings(CONFIG, RankingConfig()),
    ).collect()

    for user, factors in user_factors.items():
        rows = [r for r in pool if r["user_id"] == user]
        assert rows and not {r["track_id"] for r in rows} & set(played[user])
        for r in rows:
            expected = float(np.dot(factors, track_factors[r["track_id"]]))
            assert r["als_score"] == pytest.approx(expected, abs=1e-6)
        first = min((r for r in rows if r["position"]), key=lambda r: r["position"])
        assert first["track_id"] == {"u1": "t2", "u2": "m1"}[user]
