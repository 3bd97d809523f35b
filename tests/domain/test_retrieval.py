"""The retrieval pass, one source at a time and all together, on tiny frames whose right
answers are worked out by hand (or, for item-item, by the similarity's own product)."""

from datetime import date

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from jobs.core.config import PlaylistConfig
from jobs.domain.neighbours import item_similarity
from jobs.domain.retrieval import Sources, flat_candidates, listener_inputs, retrieve
from jobs.domain.scoring import masked_by_user
from jobs.domain.source_models import (
    factor_source,
    item_item_source,
    people_source,
    popularity_source,
    positive_user_items,
)
from schemas import candidates as candidates_schema
from schemas import interactions as interactions_schema
from schemas import model

WEEK = date(2026, 11, 23)


def _interactions(spark, rows):
    """(user_id, track_id, confidence, plays) -> the interactions table's schema."""
    return spark.createDataFrame(
        [(u, t, float(c), p, 0, None, WEEK) for u, t, c, p in rows],
        schema=interactions_schema.SCHEMA,
    )


def _played(spark, pairs):
    return masked_by_user(spark.createDataFrame(pairs, "user_id string, track_id string"))


def _retrieved(sources, user_factors=None, interactions=None, played=None, cold=None):
    """Flat candidate rows of the pass over the listeners of the given inputs."""
    listeners = listener_inputs(user_factors, interactions, played, cold, None)
    return flat_candidates(retrieve(listeners, sources)).collect()


def _user_factors(spark, rows):
    return spark.createDataFrame([(u, f, WEEK) for u, f in rows], schema=model.USER_FACTORS)


@pytest.mark.spark
def test_als_scores_by_dot_product_without_played_tracks(spark):
    users = _user_factors(spark, [("u1", [1.0, 0.0]), ("u2", [0.5, 1.0]), ("u3", [1.0, 1.0])])
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
    played = _played(spark, [("u1", "t1"), ("u3", "t1"), ("u3", "t2"), ("u3", "t4")])
    rows = _retrieved(Sources(k=2, als=factor_source(tracks)), users, played=played)
    got = {(r["user_id"], r["rank"]): (r["track_id"], r["score"]) for r in rows}
    assert got == {
        ("u1", 1): ("t2", 2.0),
        ("u1", 2): ("t3", 1.0),  # t1 would score 3 but was played
        ("u2", 1): ("t4", 5.0),
        ("u2", 2): ("t1", 1.5),  # 0.5 * 3: ahead of t2 (1.0) and t3 (0.5)
        ("u3", 1): ("t3", 1.0),  # only one unplayed track: a short list, not a played one
    }
    assert {r["source"] for r in rows} == {"als"}


@pytest.mark.spark
def test_listeners_like_you_take_the_nearest_by_cosine_not_dot_product(spark):
    users = _user_factors(
        spark,
        [
            ("u1", [1.0, 0.0]),
            ("u2", [1.0, 0.1]),
            ("u3", [10.0, 10.0]),  # the largest dot product with everyone, at 45 degrees
            ("u4", [0.0, 1.0]),
            ("u5", [-1.0, 0.0]),  # at best orthogonal (u4) to anyone: no neighbour
        ],
    )
    # Each user likes a track of their own: a candidate names the neighbour it came from.
    interactions = _interactions(spark, [(f"u{i}", f"t{i}", 1.0, 1) for i in range(1, 6)])
    sources = Sources(k=5, people=people_source(users, positive_user_items(interactions), 1))
    rows = _retrieved(sources, users, interactions, _played(spark, [("u0", "t0")]))
    got = {r["user_id"]: (r["track_id"], r["score"]) for r in rows}
    assert {user: track for user, (track, _) in got.items()} == {
        "u1": "t2",  # cos 0.995, although u1 . u3 = 10 > u1 . u2 = 1
        "u2": "t1",
        "u3": "t2",  # cos 11 / (|u3| |u2|) = 0.774 > 0.707 (u1, u4)
        "u4": "t3",  # cos 0.707 > 0.0995 (u2)
    }
    # One neighbour: its whole weight on its only (maximal) liking.
    assert [score for _, score in got.values()] == pytest.approx([1.0] * 4)


@pytest.mark.spark
def test_neighbour_tracks_are_voted_by_similarity_without_played_ones(spark):
    # u1's neighbours: v1 (cosine 0.75 / |v1|...) - set the factors so cos(u1, v1) = 0.75
    # and cos(u1, v2) = 0.25 exactly: u1 = (1, 0), v = (c, sqrt(1 - c^2)).
    users = _user_factors(
        spark,
        [
            ("u1", [1.0, 0.0]),
            ("v1", [0.75, float(np.sqrt(1 - 0.75**2))]),
            ("v2", [0.25, -float(np.sqrt(1 - 0.25**2))]),
        ],
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
    played = _played(spark, [("u1", "tA"), ("u1", "tE")])
    likes = positive_user_items(interactions)
    rows = [
        r
        for r in _retrieved(
            Sources(k=5, people=people_source(users, likes, 2)), users, None, played
        )
        if r["user_id"] == "u1"
    ]
    got = {r["track_id"]: (r["rank"], r["score"]) for r in rows}
    # Confidence relative to the neighbour's maximum: v1 tA 1, tB 0.5; v2 tB 1, tC 0.5.
    # tA would score 0.75 but u1 played it.
    assert got == {
        "tB": (1, pytest.approx(0.75 * 0.5 + 0.25 * 1.0, rel=1e-5)),
        "tC": (2, pytest.approx(0.25 * 0.5, rel=1e-5)),
    }
    assert {r["source"] for r in rows} == {"listeners_like_you"}


@pytest.mark.spark
def test_popularity_ranks_tracks_by_listeners_for_cold_listeners_only(spark):
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
    cold = spark.createDataFrame([("c1",), ("c2",)], "user_id string")
    played = _played(spark, [("c1", "tA")])
    sources = Sources(k=2, popularity=popularity_source(positive_user_items(interactions)))
    rows = _retrieved(sources, None, interactions, played, cold)
    got = {(r["user_id"], r["rank"]): (r["track_id"], r["score"]) for r in rows}
    assert got == {  # v1..v3 have plays but are not cold: popularity is not theirs
        ("c1", 1): ("tB", 2.0),  # tA (3 listeners) was played
        ("c1", 2): ("tC", 1.0),
        ("c2", 1): ("tA", 3.0),
        ("c2", 2): ("tB", 2.0),
    }
    assert {r["source"] for r in rows} == {"popularity"}


PLAYS = [  # (user, track, confidence): a dislike is no play
    ("u1", "tA", 3.0), ("u1", "tB", 1.0), ("u1", "tX", -1.0),
    ("u2", "tA", 2.0), ("u2", "tC", 1.0), ("u2", "tD", 1.0),
    ("u3", "tB", 1.0), ("u3", "tC", 4.0), ("u3", "tE", 1.0), ("u3", "tX", 2.0),
    ("u4", "tA", 1.0), ("u4", "tB", 1.0), ("u4", "tD", 2.0), ("u4", "tE", 1.0),
]  # fmt: skip


@pytest.mark.spark
@pytest.mark.parametrize("method", ["rp3beta", "ease"])
def test_item_item_scores_by_the_similarity_of_played_tracks_without_played_ones(spark, method):
    interactions = _interactions(spark, [(u, t, c, 1) for u, t, c in PLAYS])
    # tC: u1 played it long ago (not in the look-back window): never offered either.
    played = _played(spark, [(u, t) for u, t, c in PLAYS if c > 0] + [("u1", "tC")])
    settings = PlaylistConfig(item_item_method=method, item_item_neighbours=3)
    similarity = item_item_source(positive_user_items(interactions), settings)
    assert similarity.method == method
    rows = _retrieved(Sources(k=2, item_item=similarity), None, interactions, played)
    # The reference: score = X S on the driver, positive, unplayed, top 2 by score.
    tracks = np.array(sorted({t for _, t, c in PLAYS if c > 0}))
    users = np.array(sorted({u for u, _, _ in PLAYS}))
    x = np.zeros((users.size, tracks.size), np.float32)
    for u, t, c in PLAYS:
        if c > 0:
            x[np.searchsorted(users, u), np.searchsorted(tracks, t)] = 1
    reference = item_similarity(csr_matrix(x), tracks, method=method, k=3, negative_weights=True)
    scores = x @ reference.matrix.toarray()
    expected = {}
    for u, user in enumerate(users):
        masked = {t for v, t, c in PLAYS if v == user and c > 0} | (
            {"tC"} if user == "u1" else set()
        )
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


@pytest.mark.spark
def test_one_row_per_listener_with_every_source_in_order_and_none_without_candidates(spark):
    interactions = _interactions(spark, [(u, t, c, 1) for u, t, c in PLAYS])
    users = _user_factors(spark, [("u1", [1.0, 0.0]), ("u2", [0.0, 1.0])])
    tracks = spark.createDataFrame(
        [(t, [1.0, 1.0], WEEK) for t in ("tA", "tB", "tC", "tD", "tE", "tF")],
        schema=model.TRACK_FACTORS,
    )
    likes = positive_user_items(interactions)
    sources = Sources(
        k=3,
        als=factor_source(tracks),
        popularity=popularity_source(likes),
        item_item=item_item_source(likes, PlaylistConfig(item_item_method="rp3beta")),
    )
    cold = spark.createDataFrame([("u2",), ("new",)], "user_id string")
    # u4 has played every track: no source has anything left for them.
    played = _played(
        spark,
        [(u, t) for u, t, c in PLAYS if c > 0]
        + [("u4", t) for t in ("tC", "tF", "tX")]
        + [("new", t) for t in ("tA", "tB", "tC", "tD", "tE", "tF", "tX")],
    )
    listeners = listener_inputs(users, interactions, played, cold, None)
    rows = {r["user_id"]: r["candidates"] for r in retrieve(listeners, sources).collect()}
    assert set(rows) == {"u1", "u2", "u3"}  # u4 and new: nothing left unplayed
    for user, candidates in rows.items():
        keys = [(candidates_schema.SOURCES.index(c["source"]), c["rank"]) for c in candidates]
        assert keys == sorted(keys), user
    assert {c["source"] for c in rows["u2"]} == {"als", "popularity", "item_item"}
    assert {c["source"] for c in rows["u3"]} <= {"item_item"}  # no factors, not cold


def test_a_large_batch_gathers_into_one_row_per_listener():
    # 1.2M candidates in one batch: large enough that pyarrow splits a numpy string array
    # of the source names into chunks, which a list column cannot take.
    import pyarrow as pa

    from jobs.domain.retrieval import _gathered
    from jobs.domain.scoring import SCORED

    listeners, k = 4_000, 300
    user_ids = np.array([f"u{i:05d}" for i in range(listeners)], dtype=object)
    rank = np.tile(np.arange(k, 0, -1, dtype=np.int32), listeners)  # worst first: sorted after
    scored = pa.RecordBatch.from_arrays(
        [
            pa.array(np.repeat(user_ids, k), pa.string()),
            pa.array(np.char.add("t", rank.astype(str)).astype(object), pa.string()),
            pa.array(1.0 / rank, pa.float32()),
            pa.array(rank),
        ],
        schema=SCORED,
    )
    batch = pa.RecordBatch.from_arrays([pa.array(user_ids, pa.string())], names=["user_id"])
    lly = candidates_schema.SOURCES.index(candidates_schema.LISTENERS_LIKE_YOU)
    gathered = _gathered(batch, [(lly, scored)])
    assert gathered.num_rows == listeners
    first = gathered.column("candidates")[0].as_py()
    assert [c["rank"] for c in first] == list(range(1, k + 1))
    assert {c["source"] for c in first} == {candidates_schema.LISTENERS_LIKE_YOU}
    assert gathered.column("user_id").to_pylist() == list(user_ids)
