"""Taste profiles, and the content and exploration candidates built on them, on tiny frames."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from jobs.core.config import PlaylistConfig
from jobs.core.tables import with_schema
from jobs.domain.matrix import UserItems, to_user_items
from jobs.domain.retrieval import Sources, flat_candidates, listener_inputs, retrieve
from jobs.domain.scoring import masked_by_user
from jobs.domain.source_models import profiles_frame
from jobs.domain.taste import TrackSpace, audio_space, taste_profiles
from schemas.taste import TASTE_PROFILES

WEEK = date(2026, 11, 23)


SPACE = TrackSpace(
    track_ids=np.array(["calm", "calm2", "loud"], object),
    clusters=np.array([0, 0, 1]),
    features=np.array([[0.0, 1.0], [0.2, 0.8], [1.0, 0.0]]),
)


def _likes(rows) -> UserItems:
    """Positive confidences as `positive_user_items` collects them."""
    user_ids, track_ids, confidence = zip(*rows)
    return to_user_items(
        pa.table(
            {"user_id": user_ids, "track_id": track_ids, "confidence": list(map(float, confidence))}
        )
    )


def test_profile_is_the_confidence_weighted_mean_and_moods_the_shares():
    likes = _likes(
        [
            ("u", "calm", 3.0),
            ("u", "loud", 1.0),
            ("u", "no-features", 5.0),  # no cluster: does not count
            ("v", "no-features", 1.0),  # nothing with features: no profile
        ]
    )

    rows = {r["user_id"]: r for r in taste_profiles(likes, SPACE).to_pylist()}

    assert set(rows) == {"u"}
    assert rows["u"]["profile"] == pytest.approx([0.25, 0.75])
    assert [(m["cluster"], m["share"]) for m in rows["u"]["moods"]] == [(0, 0.75), (1, 0.25)]


def test_equal_moods_are_ordered_by_cluster():
    (row,) = taste_profiles(_likes([("u", "loud", 1.0), ("u", "calm", 1.0)]), SPACE).to_pylist()
    assert [m["cluster"] for m in row["moods"]] == [0, 1]


def test_profiles_fit_the_table_schema(spark):
    profiles = taste_profiles(_likes([("u", "calm", 1.0), ("w", "calm2", 2.0)]), SPACE)
    frame = profiles_frame(spark, profiles).withColumn("week", F.lit(WEEK))
    rows = {r["user_id"]: r for r in with_schema(frame, TASTE_PROFILES).collect()}
    assert rows["u"]["moods"] == [(0, 1.0)] and rows["w"]["profile"] == pytest.approx([0.2, 0.8])
    assert profiles_frame(spark, None).count() == 0


# Two audio features, (energy, acousticness), already scaled. Cluster 0 is calm, 1 is in
# between, 2 is loud; c0new is a new release nobody has played.
TRACKS = {
    "c0a": (0, [0.1, 0.9]),
    "c0b": (0, [0.25, 0.7]),
    "c0new": (0, [0.1, 0.75]),
    "c1a": (1, [0.5, 0.6]),
    "c1b": (1, [0.55, 0.35]),
    "c1c": (1, [0.4, 0.45]),
    "c2a": (2, [0.9, 0.2]),
    "c2b": (2, [0.85, 0.05]),
}
CATALOG_MEAN = np.mean([features for _, features in TRACKS.values()], axis=0)
# Mostly calm, and explores one cluster; a mood needs 40% of a listener's plays.
SETTINGS = replace(PlaylistConfig(), content_moods=2, min_mood_share=0.4, exploration_clusters=1)


def _similarity(profile, track):
    """The centred cosine, written out independently of jobs/domain/taste.py."""
    p, t = np.subtract(profile, CATALOG_MEAN), np.subtract(TRACKS[track][1], CATALOG_MEAN)
    return float(p @ t / (np.linalg.norm(p) * np.linalg.norm(t)))


def _track_clusters_of(spark, tracks):
    return spark.createDataFrame(
        [(track, cluster, features) for track, (cluster, features) in tracks.items()],
        "track_id string, cluster int, features array<double>",
    )


def _clusters_of(spark, tracks):
    members = {}
    for cluster, features in tracks.values():
        members.setdefault(cluster, []).append(features)
    return spark.createDataFrame(
        [(c, np.mean(m, axis=0).tolist()) for c, m in sorted(members.items())],
        "cluster int, centroid array<double>",
    )


PROFILES = {
    # Plays only calm tracks (c0a twice as much as c0b).
    "one": ([0.45 / 3, 2.5 / 3], [(0, 1.0)]),
    # No mood reaches 40%: content from their largest two (a tie, by cluster number).
    "spread": ([0.3, 0.7], [(0, 0.35), (1, 0.35), (2, 0.3)]),
    # Loud; cluster 1 (25%) is below the 40% that makes a mood, so it can be explored.
    "loud": ([0.9, 0.15], [(2, 0.7), (1, 0.25), (0, 0.05)]),
}
PLAYED = [
    ("one", "c0a"),
    ("one", "c0b"),
    ("one", "c1b"),  # from older history: never offered again either
    ("spread", "c0a"),
    ("ghost", "c1a"),  # played, but no profile (no track with features in the window)
]


def _audio_candidates(spark, profiles, tracks, played, k, settings):
    """Flat content and exploration rows of the retrieval pass over `profiles`."""
    space = audio_space(_track_clusters_of(spark, tracks), _clusters_of(spark, tracks), settings)
    listeners = listener_inputs(None, None, played, None, profiles)
    return flat_candidates(retrieve(listeners, Sources(k=k, audio=space))).collect()


@pytest.fixture(scope="module")
def candidates(spark):
    """{(source, user): [(track, rank, score)]} of both sources on the fixture, k = 3."""
    profiles = spark.createDataFrame(
        [(user, profile, moods) for user, (profile, moods) in PROFILES.items()],
        "user_id string, profile array<double>, moods array<struct<cluster: int, share: double>>",
    )
    played = masked_by_user(spark.createDataFrame(PLAYED, "user_id string, track_id string"))
    rows = _audio_candidates(spark, profiles, TRACKS, played, 3, SETTINGS)
    got = {}
    for row in sorted(rows, key=lambda r: (r["source"], r["user_id"], r["rank"])):
        got.setdefault((row["source"], row["user_id"]), []).append(
            (row["track_id"], row["rank"], row["score"])
        )
    return got


def _tracks(candidates, source, user):
    return [track for track, _, _ in candidates.get((source, user), [])]


@pytest.mark.spark
def test_content_reaches_a_track_nobody_played_within_the_listeners_mood(candidates):
    # Cluster 0 is "one"'s only mood; c0a and c0b were played, c0new never was by anyone.
    assert _tracks(candidates, "content", "one") == ["c0new"]
    # "loud": cluster 2 only (cluster 1 is within content_moods but under min_mood_share).
    assert sorted(_tracks(candidates, "content", "loud")) == ["c2a", "c2b"]


@pytest.mark.spark
def test_a_one_cluster_listener_explores_the_nearest_other_cluster_not_a_far_one(candidates):
    # Centroids: cluster 1 (0.48, 0.47) is 0.50 from "one"'s profile (0.15, 0.83),
    # cluster 2 (0.88, 0.13) 1.01; exploration_clusters = 1, and c1b was played.
    assert sorted(_tracks(candidates, "exploration", "one")) == ["c1a", "c1c"]
    # "loud" listens to clusters 2 and 1, but only 2 is a mood: 1 is the nearest other
    # (0.52 against 0.98).
    assert sorted(_tracks(candidates, "exploration", "loud")) == ["c1a", "c1b", "c1c"]


@pytest.mark.spark
def test_played_tracks_and_listeners_without_a_profile_get_nothing(candidates):
    offered = {(user, track) for (_, user), rows in candidates.items() for track, _, _ in rows}
    assert not offered & set(PLAYED)
    assert {user for _, user in candidates} == set(PROFILES)  # no "ghost"


@pytest.mark.spark
def test_moods_all_under_min_share_fall_back_to_the_largest_and_explore_the_rest(candidates):
    # "spread" (35/35/30, no mood >= 40%): content from clusters 0 and 1, its largest two;
    # exploration from cluster 2, the one left.
    assert {TRACKS[t][0] for t in _tracks(candidates, "content", "spread")} == {0, 1}
    assert sorted(_tracks(candidates, "exploration", "spread")) == ["c2a", "c2b"]


@pytest.mark.spark
def test_ranks_are_1_to_k_by_descending_similarity(candidates):
    profile = PROFILES["spread"][0]
    unplayed = ["c0b", "c0new", "c1a", "c1b", "c1c"]  # clusters 0 and 1, c0a played
    expected = sorted(unplayed, key=lambda t: -_similarity(profile, t))[:3]
    assert expected == ["c0b", "c0new", "c1a"]  # 0.99, 0.96, 0.48; c1c -0.06, c1b -0.99
    rows = candidates[("content", "spread")]
    assert [(track, rank) for track, rank, _ in rows] == [
        (t, i + 1) for i, t in enumerate(expected)
    ]
    assert [score for _, _, score in rows] == pytest.approx(
        [_similarity(profile, t) for t in expected], abs=1e-6
    )
    for (source, user), listed in candidates.items():
        assert [rank for _, rank, _ in listed] == list(range(1, len(listed) + 1))
        assert all(a[2] >= b[2] for a, b in zip(listed, listed[1:])), (source, user)


@pytest.mark.spark
def test_the_nearest_track_is_the_closest_in_taste_not_the_raw_cosine(spark):
    tracks = {
        "played": (0, [0.8, 0.2]),  # energetic, not acoustic: the listener's whole taste
        "alike": (0, [0.9, 0.1]),  # a little more so: 0.14 from the profile
        "dull": (0, [0.4, 0.1]),  # quiet and not acoustic: 0.41 away, but on the same ray
        "calm1": (1, [0.1, 0.9]),
        "calm2": (1, [0.2, 1.0]),
        "calm3": (1, [0.3, 0.7]),
    }
    profile = np.array([0.8, 0.2])
    vectors = {t: np.array(f) for t, (_, f) in tracks.items()}
    raw = {
        t: profile @ v / (np.linalg.norm(profile) * np.linalg.norm(v)) for t, v in vectors.items()
    }
    # The fixture discriminates: the raw cosine prefers "dull" (1.0 against 0.99).
    assert raw["dull"] > raw["alike"]
    profiles = spark.createDataFrame(
        [("u", profile.tolist(), [(0, 1.0)])],
        "user_id string, profile array<double>, moods array<struct<cluster: int, share: double>>",
    )
    played = masked_by_user(
        spark.createDataFrame([("u", "played")], "user_id string, track_id string")
    )
    rows = [
        r
        for r in _audio_candidates(spark, profiles, tracks, played, 2, PlaylistConfig())
        if r["source"] == "content"
    ]
    # Centred on the catalog mean (0.45, 0.5): alike 1.0, dull 0.55.
    assert [(r["track_id"], r["rank"]) for r in sorted(rows, key=lambda r: r["rank"])] == [
        ("alike", 1),
        ("dull", 2),
    ]
