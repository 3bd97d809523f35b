from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa
import pytest
from scipy.sparse import csr_matrix

from jobs.candidates import (
    batch_scorer,
    cold_start_users,
    item_item_candidates,
    masked_by_user,
    nearest_neighbours,
    neighbour_candidates,
    popularity_candidates,
    score_candidates,
    sparse_top_k,
)
from jobs.config import PlaylistConfig
from jobs.neighbours import item_similarity
from schemas import candidates as candidates_schema
from schemas import events, model
from schemas import interactions as interactions_schema
from schemas import playlists as playlists_schema

WEEK = date(2026, 11, 23)


def _user_batch(n):
    return pa.RecordBatch.from_arrays([pa.array([f"u{i}" for i in range(n)])], ["user_id"])


def test_sparse_top_k_orders_best_first_drops_non_positive_and_breaks_ties_by_index():
    scores = csr_matrix(np.array([[0.0, 5.0, 1.0, 5.0, -2.0], [0.0, 0.0, 0.0, 0.0, 0.0]]))
    rows = sparse_top_k(_user_batch(2), scores, np.array(list("abcde")), 3).to_pylist()
    assert [(r["user_id"], r["item_id"], r["score"], r["rank"]) for r in rows] == [
        ("u0", "b", 5.0, 1),
        ("u0", "d", 5.0, 2),
        ("u0", "c", 1.0, 3),  # e is negative, a is zero: no candidates; u1 gets none
    ]


def test_sparse_top_k_matches_a_full_sort():
    rng = np.random.default_rng(3)
    dense = rng.random((50, 400)).astype(np.float32)
    dense[dense < 0.7] = 0.0
    rows = sparse_top_k(_user_batch(50), csr_matrix(dense), np.arange(400).astype(str), 30)
    got = {}
    for row in rows.to_pylist():
        got.setdefault(row["user_id"], []).append(int(row["item_id"]))
    for user in range(50):
        positive = np.flatnonzero(dense[user] > 0)
        expected = positive[np.argsort(-dense[user, positive], kind="stable")][:30]
        assert got[f"u{user}"] == expected.tolist()


def test_group_gate_matches_a_masked_full_sort():
    # Dot products of either sign (the gate must clear any score), random allowed groups
    # (some users none) and masked items, against a brute-force sort.
    rng = np.random.default_rng(7)
    n_users, n_items, n_groups, k = 40, 300, 5, 25
    items = rng.normal(size=(n_items, 4)).astype(np.float32)
    users = (3 * rng.normal(size=(n_users, 4))).astype(np.float32)
    item_groups = rng.integers(0, n_groups, n_items)
    allowed = rng.random((n_users, n_groups)) < 0.4
    masked = rng.random((n_users, n_items)) < 0.2
    batch = pa.RecordBatch.from_pydict(
        {
            "user_id": [f"u{u}" for u in range(n_users)],
            "factors": users.tolist(),
            "masked": [np.flatnonzero(row).astype(str).tolist() for row in masked],
            "groups": [np.flatnonzero(row).tolist() for row in allowed],
        }
    )
    scorer = batch_scorer(np.arange(n_items).astype(str), items, k, item_groups=item_groups)
    got = {}
    for row in pa.Table.from_batches(scorer(iter([batch]))).to_pylist():
        got.setdefault(row["user_id"], []).append((int(row["item_id"]), row["rank"]))
    for user in range(n_users):
        scores = items @ users[user]
        open_ = np.flatnonzero(allowed[user, item_groups] & ~masked[user])
        best = open_[np.argsort(-scores[open_], kind="stable")][:k]
        assert got.get(f"u{user}", []) == [(int(i), r + 1) for r, i in enumerate(best)]


@pytest.mark.spark
def test_scores_by_dot_product_without_played_tracks(spark):
    users = spark.createDataFrame(
        [("u1", [1.0, 0.0], WEEK), ("u2", [0.5, 1.0], WEEK), ("u3", [1.0, 1.0], WEEK)],
        schema=model.USER_FACTORS,
    )
    tracks = spark.createDataFrame(
        [
            ("t1", [3.0, 0.0], WEEK),
            ("t2", [2.0, 0.0], WEEK),
            ("t3", [1.0, 0.0], WEEK),
            ("t4", [0.0, 5.0], WEEK),
        ],
        schema=model.TRACK_FACTORS,
    )
    # u1 played t1; u3 played everything but t3.
    played = spark.createDataFrame(
        [("u1", "t1"), ("u3", "t1"), ("u3", "t2"), ("u3", "t4")], "user_id string, track_id string"
    )
    rows = score_candidates(users, tracks, masked_by_user(played), WEEK, k=2).collect()
    got = {(r["user_id"], r["rank"]): (r["track_id"], r["score"]) for r in rows}
    assert got == {
        ("u1", 1): ("t2", 2.0),
        ("u1", 2): ("t3", 1.0),  # t1 would score 3 but was played
        ("u2", 1): ("t4", 5.0),
        ("u2", 2): ("t1", 1.5),  # 0.5 * 3: ahead of t2 (1.0) and t3 (0.5)
        ("u3", 1): ("t3", 1.0),  # only one unplayed track: a short list, not a played one
    }
    assert {r["source"] for r in rows} == {"als"} and {r["week"] for r in rows} == {WEEK}


def test_every_candidate_source_is_a_playlist_source():
    # The GX playlists suite only accepts schemas.playlists.SOURCES.
    assert set(candidates_schema.SOURCES) <= set(playlists_schema.SOURCES)


@pytest.mark.spark
def test_nearest_neighbours_by_cosine_not_dot_product(spark):
    users = spark.createDataFrame(
        [
            ("u1", [1.0, 0.0], WEEK),
            ("u2", [1.0, 0.1], WEEK),
            ("u3", [10.0, 10.0], WEEK),  # the largest dot product with everyone, at 45 degrees
            ("u4", [0.0, 1.0], WEEK),
            ("u5", [-1.0, 0.0], WEEK),  # at best orthogonal (u4) to anyone: no neighbour
        ],
        schema=model.USER_FACTORS,
    )
    rows = nearest_neighbours(users, n=1).collect()
    got = {r["user_id"]: (r["neighbour_id"], r["similarity"]) for r in rows}
    assert {user: neighbour for user, (neighbour, _) in got.items()} == {
        "u1": "u2",  # cos 0.995, although u1 . u3 = 10 > u1 . u2 = 1
        "u2": "u1",
        "u3": "u2",  # cos 11 / (|u3| |u2|) = 0.774 > 0.707 (u1, u4)
        "u4": "u3",  # cos 0.707 > 0.0995 (u2)
    }
    assert got["u1"][1] == pytest.approx(1 / np.hypot(1.0, 0.1), rel=1e-5)
    assert got["u3"][1] == pytest.approx(11 / (np.hypot(10, 10) * np.hypot(1, 0.1)), rel=1e-5)


def _interactions(spark, rows):
    """(user_id, track_id, confidence, plays) -> the interactions table's schema."""
    return spark.createDataFrame(
        [(u, t, float(c), p, 0, None, WEEK) for u, t, c, p in rows],
        schema=interactions_schema.SCHEMA,
    )


@pytest.mark.spark
def test_neighbour_tracks_are_voted_by_similarity_without_played_ones(spark):
    neighbours = spark.createDataFrame(
        [("u1", "v1", 0.75), ("u1", "v2", 0.25)],
        "user_id string, neighbour_id string, similarity float",
    )
    interactions = _interactions(
        spark,
        [
            ("v1", "tA", 2.0, 3),
            ("v1", "tB", 1.0, 1),
            ("v2", "tB", 4.0, 5),
            ("v2", "tC", 2.0, 2),
            ("v2", "tD", -1.0, 1),  # a dislike is no vote
            ("u1", "tE", 3.0, 3),  # u1's own taste is not its neighbours'
        ],
    )
    played = masked_by_user(
        spark.createDataFrame([("u1", "tA")], "user_id string, track_id string")
    )
    rows = neighbour_candidates(neighbours, interactions, played, WEEK, k=5).collect()
    got = {r["track_id"]: (r["rank"], r["score"]) for r in rows}
    # Confidence relative to the neighbour's maximum: v1 tA 1, tB 0.5; v2 tB 1, tC 0.5.
    # tA would score 0.75 but u1 played it.
    assert got == {
        "tB": (1, pytest.approx(0.75 * 0.5 + 0.25 * 1.0)),
        "tC": (2, pytest.approx(0.25 * 0.5)),
    }
    assert {(r["user_id"], r["source"]) for r in rows} == {("u1", "listeners_like_you")}
    top_1 = neighbour_candidates(neighbours, interactions, played, WEEK, k=1).collect()
    assert [r["track_id"] for r in top_1] == ["tB"]


@pytest.mark.spark
@pytest.mark.parametrize("method", ["rp3beta", "ease"])
def test_item_item_scores_by_the_similarity_of_played_tracks_without_played_ones(spark, method):
    plays = [  # (user, track, confidence): a dislike is no play
        ("u1", "tA", 3.0), ("u1", "tB", 1.0), ("u1", "tX", -1.0),
        ("u2", "tA", 2.0), ("u2", "tC", 1.0), ("u2", "tD", 1.0),
        ("u3", "tB", 1.0), ("u3", "tC", 4.0), ("u3", "tE", 1.0), ("u3", "tX", 2.0),
        ("u4", "tA", 1.0), ("u4", "tB", 1.0), ("u4", "tD", 2.0), ("u4", "tE", 1.0),
    ]  # fmt: skip
    interactions = _interactions(spark, [(u, t, c, 1) for u, t, c in plays])
    played = masked_by_user(
        spark.createDataFrame(
            [(u, t) for u, t, c in plays if c > 0] + [("u1", "tC")],  # tC: played long ago
            "user_id string, track_id string",
        )
    )
    settings = PlaylistConfig(item_item_method=method, item_item_neighbours=3)
    rows = item_item_candidates(interactions, played, WEEK, 2, settings).collect()
    # The reference: score = X S on the driver, positive, unplayed, top 2 by score.
    tracks = np.array(sorted({t for _, t, c in plays if c > 0}))
    users = np.array(sorted({u for u, _, _ in plays}))
    x = np.zeros((users.size, tracks.size), np.float32)
    for u, t, c in plays:
        if c > 0:
            x[np.searchsorted(users, u), np.searchsorted(tracks, t)] = 1
    similarity = item_similarity(
        csr_matrix(x), tracks, method=method, k=3, negative_weights=True
    )
    scores = x @ similarity.matrix.toarray()
    expected = {}
    for u, user in enumerate(users):
        masked = {t for v, t, c in plays if v == user and c > 0} | ({"tC"} if user == "u1" else set())
        ranked = sorted(
            (t for t in range(tracks.size) if scores[u, t] > 0 and tracks[t] not in masked),
            key=lambda t: (-scores[u, t], t),
        )[:2]
        expected.update({(user, tracks[t]): (r + 1, scores[u, t]) for r, t in enumerate(ranked)})
    got = {(r["user_id"], r["track_id"]): (r["rank"], r["score"]) for r in rows}
    assert got.keys() == expected.keys() and expected
    for key, (rank, score) in expected.items():
        assert got[key] == (rank, pytest.approx(score, rel=1e-5))
    assert {r["source"] for r in rows} == {"item_item"}


def _events(spark, rows):
    """(user_id, track_id, date) plays -> the events table's schema."""
    return spark.createDataFrame(
        [
            (
                f"e{i}",
                datetime(d.year, d.month, d.day, tzinfo=timezone.utc),
                u,
                t,
                200_000,
                None,
                None,
                False,
                None,
                None,
                None,
                "play",
                None,
                d,
            )
            for i, (u, t, d) in enumerate(rows)
        ],
        schema=events.EVENTS,
    )


@pytest.mark.spark
def test_cold_start_users_are_light_listeners_and_the_unmodelled(spark):
    interactions = _interactions(
        spark, [("u1", "t1", 1.0, 3), ("u1", "t2", 1.0, 1), ("u2", "t1", 2.0, 5)]
    )
    factors = spark.createDataFrame(
        [("u1", [1.0], WEEK), ("u2", [1.0], WEEK)], schema=model.USER_FACTORS
    )
    history = _events(
        spark,
        [
            ("u2", "t1", date(2026, 11, 20)),
            ("u3", "t1", date(2026, 11, 22)),  # new this week, no factors yet
            ("u4", "t1", date(2026, 11, 10)),  # not active in the week before WEEK
        ],
    )
    cold = cold_start_users(interactions, factors, history, WEEK, min_plays=5)
    # u1: 3 + 1 = 4 plays < 5; u2's 5 are not fewer than 5.
    assert sorted(r["user_id"] for r in cold.collect()) == ["u1", "u3"]


@pytest.mark.spark
def test_popularity_ranks_tracks_by_listeners_without_played_ones(spark):
    interactions = _interactions(
        spark,
        [
            ("v1", "tA", 1.0, 1),
            ("v2", "tA", 1.0, 1),
            ("v3", "tA", 1.0, 1),
            ("v1", "tB", 1.0, 1),
            ("v2", "tB", 1.0, 1),
            ("v1", "tC", 1.0, 1),
            ("v2", "tC", -1.0, 1),  # a skip is no listener
            ("v3", "tD", -1.0, 1),
        ],
    )
    users = spark.createDataFrame([("c1",), ("c2",)], "user_id string")
    played = spark.createDataFrame([("c1", "tA")], "user_id string, track_id string")
    rows = popularity_candidates(users, interactions, masked_by_user(played), WEEK, k=2).collect()
    got = {(r["user_id"], r["rank"]): (r["track_id"], r["score"]) for r in rows}
    assert got == {
        ("c1", 1): ("tB", 2.0),  # tA (3 listeners) was played
        ("c1", 2): ("tC", 1.0),
        ("c2", 1): ("tA", 3.0),
        ("c2", 2): ("tB", 2.0),
    }
    assert {r["source"] for r in rows} == {"popularity"}


def test_sparse_top_k_breaks_many_ties_by_index_and_leaves_the_input_alone():
    rng = np.random.default_rng(1)
    dense = np.round(rng.random((40, 300)) * 20) / 20  # many equal scores
    dense[rng.random(dense.shape) < 0.7] = 0
    scores = csr_matrix(dense)
    before = scores.copy()
    rows = sparse_top_k(_user_batch(40), scores, np.arange(300).astype(str), 25).to_pylist()
    for u in range(40):
        positive = np.flatnonzero(dense[u] > 0)
        expected = positive[np.lexsort((positive, -dense[u][positive]))][:25]
        got = [int(r["item_id"]) for r in rows if r["user_id"] == f"u{u}"]
        assert got == expected.tolist()
    assert (scores != before).nnz == 0 and np.array_equal(scores.indices, before.indices)
