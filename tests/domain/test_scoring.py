import numpy as np
import pyarrow as pa
from scipy.sparse import csr_matrix

from jobs.domain.scoring import batch_scorer, sparse_top_k


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


def _assert_full_sort(dense: np.ndarray, k: int) -> None:
    """sparse_top_k of `dense` is, per row, its positive entries sorted by (-value, index),
    the first k."""
    n_rows, n_items = dense.shape
    rows = sparse_top_k(_user_batch(n_rows), csr_matrix(dense), np.arange(n_items).astype(str), k)
    got = {}
    for row in rows.to_pylist():
        got.setdefault(row["user_id"], []).append(int(row["item_id"]))
    for user in range(n_rows):
        positive = np.flatnonzero(dense[user] > 0)
        expected = positive[np.lexsort((positive, -dense[user][positive]))][:k]
        assert got.get(f"u{user}", []) == expected.tolist()


def test_sparse_top_k_matches_a_full_sort():
    rng = np.random.default_rng(3)
    dense = rng.random((50, 400)).astype(np.float32)
    dense[dense < 0.7] = 0.0
    _assert_full_sort(dense, 30)


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


def test_sparse_top_k_matches_a_full_sort_across_magnitudes_and_crowded_buckets():
    # The coarse buckets must never cut a top-k entry: values from 1e-30 to 1e30, rows
    # whose k best share one bucket (0.50 to 0.51), rows with fewer than k entries.
    rng = np.random.default_rng(11)
    dense = (rng.random((60, 500)) * 10.0 ** rng.integers(-30, 30, (60, 500))).astype(np.float32)
    dense[:20] = (0.5 + rng.random((20, 500)) / 100).astype(np.float32)
    dense[rng.random(dense.shape) < 0.5] = 0
    dense[40:, 20:] = 0
    _assert_full_sort(dense, 40)
