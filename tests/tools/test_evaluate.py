from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix

from jobs.domain.matrix import UserItems
from jobs.tools.evaluate import discovery_truth, html_report, implicit_default_recs, popularity_recs
from schemas import events
from schemas import interactions as interactions_schema

WEEK = date(2026, 11, 16)


@pytest.mark.spark
def test_truth_is_what_was_first_listened_to_in_the_week(spark, clean_event):
    def play(user, track, ms):  # on Tuesday 2026-11-17, inside week 2026-11-16
        return clean_event(0, user, track, 6, ms)

    week_events = spark.createDataFrame(
        [
            play("u1", "new", 200_000),
            play("u1", "old", 200_000),
            play("u1", "skipped", 5_000),
            play("u2", "new", 200_000),
            play("u2", "new", 100_000),
        ],
        schema=events.EVENTS,
    )
    played_before = spark.createDataFrame([("u1", "old")], "user_id string, track_id string")
    truth = discovery_truth(week_events, played_before, 30_000).collect()
    assert sorted((r["user_id"], r["track_id"]) for r in truth) == [("u1", "new"), ("u2", "new")]


@pytest.mark.spark
def test_popularity_recommends_the_most_listened_unplayed_tracks(spark):
    rows = [
        (u, t, 1.0, 1, 0, None, WEEK)
        for u, t in [("u1", "a"), ("u2", "a"), ("u3", "a"), ("u1", "b"), ("u2", "b"), ("u3", "c")]
    ]
    interactions = spark.createDataFrame(rows, schema=interactions_schema.SCHEMA)
    played = interactions.select("user_id", "track_id")
    recs = popularity_recs(interactions, played, WEEK, k=2).collect()
    got = {(r["user_id"], r["rank"]): r["track_id"] for r in recs}
    # a: 3 listeners, b: 2, c: 1 - each listener gets the best ones they have not played.
    assert got == {("u1", 1): "c", ("u2", 1): "c", ("u3", 1): "b"}


def test_implicit_defaults_return_ranked_unplayed_tracks():
    rng = np.random.default_rng(0)
    dense = (rng.random((60, 40)) < 0.2).astype(np.float32)
    plays = UserItems(
        csr_matrix(dense),
        np.array([f"u{i}" for i in range(60)]),
        np.array([f"t{i}" for i in range(40)]),
    )
    recs = implicit_default_recs(plays, k=5, seed=1)
    assert recs.groupby("user_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3, 4, 5]).all()
    played = {(f"u{u}", f"t{t}") for u, t in zip(*dense.nonzero())}
    assert not played & set(zip(recs["user_id"], recs["track_id"]))


def test_html_report_is_self_contained():
    results = pd.DataFrame(
        {"method": ["ours", "popularity"], "metric": ["ndcg@30", "ndcg@30"], "value": [0.1, 0.02]}
    )
    page = html_report(results, "generated", WEEK)
    assert "data:image/png;base64," in page and "ndcg@30" in page and "http" not in page
