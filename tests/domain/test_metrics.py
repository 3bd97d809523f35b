"""jobs.domain.metrics: hand-computed fixtures, a published example, and an independent reference.

The reference (`reference_metrics`) is a plain per-user loop over Python sets, written from
the definitions in the task rather than from jobs/domain/metrics.py; the vectorised functions must
agree with it on a seeded random fixture. NDCG is also checked against sklearn.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import percentileofscore
from sklearn.metrics import ndcg_score

from jobs.domain.metrics import (
    artist_diversity,
    catalog_coverage,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    popularity_bias,
    precision_at_k,
    ranking_report,
    recall_at_k,
)

ACCURACY = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "map": map_at_k,
    "hit_rate": hit_rate_at_k,
}


def make_recs(lists: dict[str, list[str]]) -> pd.DataFrame:
    """One row per recommended track, ranked 1, 2, ... in list order."""
    rows = [
        (user, track, rank)
        for user, tracks in lists.items()
        for rank, track in enumerate(tracks, start=1)
    ]
    return pd.DataFrame(rows, columns=["user_id", "track_id", "rank"])


def make_truth(sets: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(user, track) for user, tracks in sets.items() for track in tracks]
    return pd.DataFrame(rows, columns=["user_id", "track_id"])


def all_metrics(truth: pd.DataFrame, recs: pd.DataFrame, k: int) -> dict[str, float]:
    return {name: metric(truth, recs, k) for name, metric in ACCURACY.items()}


def reference_metrics(truth: pd.DataFrame, recs: pd.DataFrame, k: int) -> dict[str, float]:
    """The five accuracy metrics by a straightforward loop over users (the test oracle)."""
    relevant: dict[str, set[str]] = {}
    for user, track in zip(truth["user_id"], truth["track_id"]):
        relevant.setdefault(user, set()).add(track)
    ranked: dict[str, list[tuple[int, str]]] = {}
    for user, track, rank in zip(recs["user_id"], recs["track_id"], recs["rank"]):
        if rank <= k:
            ranked.setdefault(user, []).append((int(rank), track))

    totals = dict.fromkeys(ACCURACY, 0.0)
    for user, rel in relevant.items():
        seen: set[str] = set()
        hits, dcg, precision_sum = 0, 0.0, 0.0
        for rank, track in sorted(ranked.get(user, [])):
            if track in seen:
                continue
            seen.add(track)
            if track in rel:
                hits += 1
                dcg += 1.0 / math.log2(rank + 1)
                precision_sum += hits / rank
        idcg = sum(1.0 / math.log2(r + 1) for r in range(1, min(k, len(rel)) + 1))
        totals["precision"] += hits / k
        totals["recall"] += hits / len(rel)
        totals["ndcg"] += dcg / idcg
        totals["map"] += precision_sum / min(k, len(rel))
        totals["hit_rate"] += 1.0 if hits else 0.0
    return {name: total / len(relevant) for name, total in totals.items()}


@pytest.fixture(scope="module")
def random_fixture() -> tuple[pd.DataFrame, pd.DataFrame]:
    """300 users, 500 tracks: 40 ranked recs each (10 have none), truth sets of 0-40.

    Truth is drawn half from the user's own 40 recs, so there are hits at every rank,
    beyond k too; it repeats some rows; 20 rec-only users have no truth. Rows are shuffled.
    """
    rng = np.random.default_rng(20240607)
    tracks = np.array([f"t{i:03d}" for i in range(500)])
    lists, sets = {}, {}
    for i in range(300):
        user = f"u{i:03d}"
        own = rng.choice(tracks, size=40, replace=False)
        if i % 30 != 7:
            lists[user] = list(own)
        pool = np.concatenate([own, rng.choice(tracks, size=40, replace=False)])
        chosen = list(rng.choice(pool, size=int(rng.integers(0, 41)), replace=False))
        sets[user] = chosen + chosen[: len(chosen) // 4]  # some duplicate truth rows
    for i in range(20):
        lists[f"x{i:02d}"] = list(rng.choice(tracks, size=40, replace=False))
    recs = make_recs(lists).sample(frac=1.0, random_state=1)
    truth = make_truth(sets).sample(frac=1.0, random_state=2)
    return truth, recs


# Hand-computed fixture, k = 3 (d(r) = 1/log2(r+1): d(1) = 1, d(2) = 0.6309298, d(3) = 0.5):
#   a: recs t1 t2 t3 t4, truth {t1, t3, t4}: hits t1@1, t3@3 (t4@4 is beyond k)
#      precision 2/3, recall 2/3, DCG = d(1)+d(3) = 1.5, IDCG = d(1)+d(2)+d(3) = 2.1309298,
#      ndcg = 0.7039181, AP = (1/1 + 2/3) / min(3, 3) = 5/9, hit 1
#   b: recs t5 t6 t7, truth {t6}: hit t6@2
#      precision 1/3, recall 1, ndcg = d(2)/d(1) = 0.6309298, AP = (1/2) / 1 = 1/2, hit 1
#   c: truth {t8, t9}, no recs: all 0
#   d: recs t1 t2, no truth: ignored
# Means over a, b, c:
#   precision (2/3 + 1/3 + 0)/3 = 1/3          recall (2/3 + 1 + 0)/3 = 5/9
#   ndcg (0.7039181 + 0.6309298 + 0)/3 = 0.4449493
#   map (5/9 + 1/2 + 0)/3 = 19/54              hit_rate 2/3
HAND_RECS = make_recs({"a": ["t1", "t2", "t3", "t4"], "b": ["t5", "t6", "t7"], "d": ["t1", "t2"]})
HAND_TRUTH = make_truth({"a": ["t1", "t3", "t4"], "b": ["t6"], "c": ["t8", "t9"]})
HAND_EXPECTED = {
    "precision": 1 / 3,
    "recall": 5 / 9,
    "ndcg": (1.5 / (1.5 + 1 / math.log2(3)) + 1 / math.log2(3)) / 3,
    "map": 19 / 54,
    "hit_rate": 2 / 3,
}


def test_hand_computed_fixture():
    assert HAND_EXPECTED["ndcg"] == pytest.approx(0.4449493, abs=1e-7)  # the comment's value
    assert all_metrics(HAND_TRUTH, HAND_RECS, 3) == pytest.approx(HAND_EXPECTED, abs=1e-9)


def test_hand_fixture_matches_reference():
    assert reference_metrics(HAND_TRUTH, HAND_RECS, 3) == pytest.approx(HAND_EXPECTED, abs=1e-9)


def test_recommenders_published_example():
    """microsoft/recommenders tests/unit/recommenders/evaluation/test_python_evaluation.py.

    Their `rating_true` / `rating_pred` fixtures (conftest.py) with relevancy_method="top_k",
    k=10; the ranks below order each user's predictions by score. Their expected values are
    printed to 5 decimals, hence abs=1e-5. All three users have both truth and recs, so their
    averaging (users in both frames) and ours (users in truth) agree here.
    """
    truth = make_truth(
        {
            "1": ["3", "1", "2"],
            "2": ["1", "4", "5", "6", "7"],
            "3": ["2", "5", "6", "8", "9", "10", "11", "12", "13", "14"],
        }
    )
    recs = make_recs(
        {
            "1": ["3", "10", "12"],
            "2": ["10", "3", "5", "11", "13"],
            "3": ["4", "10", "7", "13", "1", "3", "5", "2", "11", "14"],
        }
    )
    assert precision_at_k(truth, recs, 10) == pytest.approx(0.26666, abs=1e-5)
    assert recall_at_k(truth, recs, 10) == pytest.approx(0.37777, abs=1e-5)
    assert ndcg_at_k(truth, recs, 10) == pytest.approx(0.38172, abs=1e-5)
    assert map_at_k(truth, recs, 10) == pytest.approx(0.23613, abs=1e-5)


def test_perfect_recs_score_one():
    # Every user's relevant set is exactly its k recs.
    relevant = {"a": ["t1", "t2", "t3"], "b": ["t4", "t5", "t6"]}
    metrics = all_metrics(make_truth(relevant), make_recs(relevant), 3)
    assert metrics == pytest.approx(dict.fromkeys(ACCURACY, 1.0), abs=1e-12)


def test_perfect_recs_with_more_relevant_than_k():
    # Precision, NDCG and MAP normalise by min(k, |rel|) or k, so they reach 1; recall is k/|rel|.
    truth = make_truth({"a": ["t1", "t2", "t3", "t4", "t5", "t6"]})
    recs = make_recs({"a": ["t1", "t2", "t3"]})
    expected = {"precision": 1.0, "recall": 0.5, "ndcg": 1.0, "map": 1.0, "hit_rate": 1.0}
    assert all_metrics(truth, recs, 3) == pytest.approx(expected, abs=1e-12)


def test_perfect_recs_with_fewer_relevant_than_k():
    # Precision divides by k (recommenders), not by min(k, |rel|) (implicit): 2/4, not 1.
    truth = make_truth({"a": ["t1", "t2"]})
    recs = make_recs({"a": ["t1", "t2", "t3", "t4"]})
    expected = {"precision": 0.5, "recall": 1.0, "ndcg": 1.0, "map": 1.0, "hit_rate": 1.0}
    assert all_metrics(truth, recs, 4) == pytest.approx(expected, abs=1e-12)


def test_no_hits_score_zero():
    truth = make_truth({"a": ["t1", "t2"], "b": ["t3"]})
    recs = make_recs({"a": ["t4", "t5"], "b": ["t6", "t7"]})
    assert all_metrics(truth, recs, 2) == dict.fromkeys(ACCURACY, 0.0)


@pytest.mark.parametrize("k", [1, 5, 30, 45])
def test_matches_independent_reference(random_fixture, k):
    truth, recs = random_fixture
    expected = reference_metrics(truth, recs, k)
    assert 0 < expected["precision"] < 1 and 0 < expected["map"] < 1  # a non-trivial fixture
    assert all_metrics(truth, recs, k) == pytest.approx(expected, abs=1e-9)


def test_ndcg_matches_sklearn(random_fixture):
    """Per user, against sklearn.metrics.ndcg_score with binary relevance.

    Documents are the user's top-k recs plus the relevant tracks not among them (so sklearn's
    ideal DCG sees every relevant track). Recs score k + 1 - rank, the others 0: the only tie
    is among the zeros, which sit at positions k + 1 and later (users with a full top k), so
    sklearn's tie averaging never reaches the cutoff. Its discount is 1/log2(position + 1).
    """
    truth, recs = random_fixture
    k = 10
    top = recs[recs["rank"] <= k]
    full = top.groupby("user_id").size().loc[lambda sizes: sizes == k].index
    users = sorted(set(full) & set(truth["user_id"]))[:25]
    assert len(users) == 25
    for user in users:
        user_truth = truth[truth["user_id"] == user]
        user_recs = recs[recs["user_id"] == user]
        ranked = user_recs[user_recs["rank"] <= k].sort_values("rank")["track_id"].tolist()
        relevant = set(user_truth["track_id"])
        documents = ranked + sorted(relevant - set(ranked))
        y_true = [[1.0 if track in relevant else 0.0 for track in documents]]
        y_score = [[float(k - i) for i in range(len(ranked))] + [0.0] * (len(documents) - k)]
        expected = ndcg_score(y_true, y_score, k=k)
        assert ndcg_at_k(user_truth, user_recs, k) == pytest.approx(expected, abs=1e-9), user


def test_ranks_beyond_k_are_ignored():
    truth = make_truth({"a": ["t9"]})
    recs = make_recs({"a": ["t1", "t2", "t3", "t9"]})  # the only hit is at rank 4
    assert all_metrics(truth, recs, 3) == dict.fromkeys(ACCURACY, 0.0)
    assert all_metrics(truth, recs, 4)["hit_rate"] == 1.0


def test_duplicate_truth_rows_are_ignored():
    doubled = pd.concat([HAND_TRUTH, HAND_TRUTH, HAND_TRUTH.iloc[:2]])
    assert all_metrics(doubled, HAND_RECS, 3) == pytest.approx(HAND_EXPECTED, abs=1e-9)


def test_track_recommended_twice_counts_once_at_its_better_rank():
    truth = make_truth({"a": ["t2"]})
    recs = make_recs({"a": ["t1", "t2", "t2"]})
    assert all_metrics(truth, recs, 3) == all_metrics(truth, make_recs({"a": ["t1", "t2"]}), 3)


def test_users_in_truth_without_recs_count_as_zero():
    truth = make_truth({"a": ["t1"], "b": ["t2"]})
    recs = make_recs({"a": ["t1"]})
    assert all_metrics(truth, recs, 1) == dict.fromkeys(ACCURACY, 0.5)


def test_recs_for_users_without_truth_are_ignored():
    extra = make_recs({"zz": ["t1", "t3", "t6"]})
    with_extra = pd.concat([HAND_RECS, extra])
    assert all_metrics(HAND_TRUTH, with_extra, 3) == pytest.approx(HAND_EXPECTED, abs=1e-9)


def test_no_truth_gives_nan():
    empty = pd.DataFrame({"user_id": pd.Series(dtype=object), "track_id": pd.Series(dtype=object)})
    assert all(math.isnan(value) for value in all_metrics(empty, HAND_RECS, 3).values())


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k(HAND_TRUTH, HAND_RECS, k)


def test_id_types_must_agree():
    numeric = pd.DataFrame({"user_id": [1], "track_id": ["t1"]})
    with pytest.raises(ValueError, match="user_id"):
        recall_at_k(numeric, HAND_RECS, 3)


def test_null_ids_are_rejected():
    truth = pd.DataFrame({"user_id": ["a"], "track_id": [None]})
    with pytest.raises(ValueError, match="null"):
        recall_at_k(truth, HAND_RECS, 3)


# List-level fixtures, k = 2: the rank-3 rows must not count.
LIST_RECS = make_recs({"a": ["t1", "t2", "t7"], "b": ["t1", "t9", "t8"], "c": ["t3"]})
TRACK_ARTISTS = pd.DataFrame(
    {
        "track_id": ["t1", "t2", "t3", "t7", "t8", "t9"],
        "artist_id": ["A", "A", "B", "C", "C", "D"],
    }
)
TRACK_POPULARITY = pd.DataFrame({"track_id": ["t1", "t2", "t3", "t4"], "plays": [100, 10, 10, 0]})


def test_catalog_coverage():
    # Top 2: {t1, t2, t9, t3} of a 10-track catalog; t7 and t8 are at rank 3.
    assert catalog_coverage(LIST_RECS, 2, catalog_size=10) == pytest.approx(0.4, abs=1e-12)
    assert catalog_coverage(LIST_RECS, 3, catalog_size=10) == pytest.approx(0.6, abs=1e-12)


def test_artist_diversity():
    # a: t1 t2 both by A -> 1/2; b: t1 (A), t9 (D) -> 2/2; c: t3 (B) -> 1/1. Mean 5/6.
    assert artist_diversity(LIST_RECS, 2, TRACK_ARTISTS) == pytest.approx(5 / 6, abs=1e-12)
    # k = 3: a: A A C -> 2/3; b: A D C -> 3/3; c: 1/1. Mean 8/9.
    assert artist_diversity(LIST_RECS, 3, TRACK_ARTISTS) == pytest.approx(8 / 9, abs=1e-12)


def test_artist_diversity_needs_every_artist():
    with pytest.raises(ValueError, match="1 recommended tracks have no artist"):
        artist_diversity(LIST_RECS, 2, TRACK_ARTISTS[TRACK_ARTISTS["track_id"] != "t9"])


def test_popularity_bias():
    # Catalog plays sorted: 0, 10, 10, 100 (N = 4); pct = 100 * (#below + #equal / 2) / N.
    #   t1 (100): 100 * (3 + 0.5) / 4 = 87.5      t2 (10): 100 * (1 + 1) / 4 = 50
    #   t9 (absent, 0 plays): 100 * (0 + 0.5) / 4 = 12.5    t3 (10): 50
    # Top 2 rows: a t1 t2, b t1 t9, c t3 -> (87.5 + 50 + 87.5 + 12.5 + 50) / 5 = 57.5
    assert popularity_bias(LIST_RECS, 2, TRACK_POPULARITY) == pytest.approx(57.5, abs=1e-12)
    plays = TRACK_POPULARITY["plays"].tolist()
    by_scipy = [percentileofscore(plays, p, kind="mean") for p in (100, 10, 100, 0, 10)]
    assert popularity_bias(LIST_RECS, 2, TRACK_POPULARITY) == pytest.approx(np.mean(by_scipy))


def test_popularity_of_the_whole_catalog_is_fifty():
    recs = make_recs({"a": ["t1", "t2"], "b": ["t3", "t4"]})
    assert popularity_bias(recs, 2, TRACK_POPULARITY) == pytest.approx(50.0, abs=1e-12)


def test_ranking_report_matches_the_single_metrics(random_fixture):
    truth, recs = random_fixture
    tracks = sorted(set(recs["track_id"]) | set(truth["track_id"]))
    track_artists = pd.DataFrame({"track_id": tracks, "artist_id": [t[:3] for t in tracks]})
    track_popularity = pd.DataFrame({"track_id": tracks[:400], "plays": range(400)})
    report = ranking_report(truth, recs, 30, 600, track_artists, track_popularity)
    expected = {f"{name}@30": metric(truth, recs, 30) for name, metric in ACCURACY.items()}
    expected |= {
        "coverage": catalog_coverage(recs, 30, 600),
        "artist_diversity": artist_diversity(recs, 30, track_artists),
        "popularity_percentile": popularity_bias(recs, 30, track_popularity),
        "users_evaluated": float(truth["user_id"].nunique()),
    }
    assert report == pytest.approx(expected, abs=1e-12)
    assert list(report) == list(expected)
