from datetime import date

import numpy as np
import pytest

from jobs.candidates import score_candidates, top_k
from schemas import model

WEEK = date(2026, 11, 23)


def test_top_k_orders_best_first_and_breaks_ties_by_index():
    scores = np.array([[0.0, 5.0, 1.0, 5.0, -np.inf]], dtype=np.float32)
    best, values = top_k(scores, 3)
    assert best.tolist() == [[1, 3, 2]] and values.tolist() == [[5.0, 5.0, 1.0]]


def test_top_k_matches_a_full_sort():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(50, 400)).astype(np.float32)
    best, _ = top_k(scores, 30)
    np.testing.assert_array_equal(best, np.argsort(-scores, axis=1, kind="stable")[:, :30])


@pytest.mark.spark
def test_scores_by_dot_product_without_played_tracks(spark):
    users = spark.createDataFrame(
        [("u1", [1.0, 0.0], WEEK), ("u2", [0.0, 1.0], WEEK), ("u3", [1.0, 1.0], WEEK)],
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
    rows = score_candidates(users, tracks, played, WEEK, k=2).collect()
    got = {(r["user_id"], r["rank"]): (r["track_id"], r["score"]) for r in rows}
    assert got == {
        ("u1", 1): ("t2", 2.0),
        ("u1", 2): ("t3", 1.0),  # t1 would score 3 but was played
        ("u2", 1): ("t4", 5.0),
        ("u2", 2): ("t1", 0.0),  # a tie at 0 with t2, t3: lowest track index wins
        ("u3", 1): ("t3", 1.0),  # only one unplayed track: a short list, not a played one
    }
    assert {r["source"] for r in rows} == {"als"} and {r["week"] for r in rows} == {WEEK}
