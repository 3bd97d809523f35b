"""jobs.domain.neighbours against dense reference implementations written here from the papers'
formulas (tiny random matrices, no Spark), plus hand-checked cases."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from jobs.domain import neighbours
from jobs.domain.neighbours import (
    ItemSimilarity,
    ease_similarity,
    item_item_scores,
    item_similarity,
    rp3beta_similarity,
)

N_USERS, N_TRACKS = 30, 12


def random_confidences(seed: int, density: float = 0.3) -> np.ndarray:
    """Users x tracks confidences in (0, 5] where played, 0 elsewhere; track 0 is played by
    everyone so some rows have more positive entries than k."""
    rng = np.random.default_rng(seed)
    played = rng.random((N_USERS, N_TRACKS)) < density
    played[:, 0] = True
    return np.where(played, rng.uniform(0.1, 5.0, played.shape), 0.0).astype(np.float32)


def reference_rp3beta(confidences: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Dense RP3beta: the three transition matrices spelt out, diagonal zeroed, no pruning."""
    plays = (confidences > 0).astype(np.float64)
    degree, popularity = plays.sum(axis=1), plays.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        user_to_track = np.nan_to_num(plays / degree[:, None])
        track_to_user = np.nan_to_num(plays.T / popularity[:, None])
        target_weight = np.where(popularity > 0, popularity**-beta, 0.0)
    walk = (track_to_user**alpha) @ (user_to_track**alpha)
    similarity = walk * target_weight[None, :]
    np.fill_diagonal(similarity, 0.0)
    return similarity


def reference_ease(confidences: np.ndarray, l2: float) -> np.ndarray:
    """Dense EASE^R in float64, straight from Steck (2019), no pruning."""
    plays = (confidences > 0).astype(np.float64)
    precision = np.linalg.inv(plays.T @ plays + l2 * np.eye(plays.shape[1]))
    weights = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def assert_top_k_of(
    similarity: csr_matrix,
    reference: np.ndarray,
    k: int,
    rtol: float,
    by_magnitude: bool = False,
) -> None:
    """`similarity` holds, per row, the k largest positive entries of `reference` (with
    `by_magnitude`, the k largest |entries|, signs kept; values within rtol), nothing else,
    the diagonal zero; robust to float ties at the cut."""
    assert type(similarity) is csr_matrix and similarity.has_sorted_indices
    assert similarity.dtype == np.float32
    assert similarity.shape == reference.shape
    assert not similarity.diagonal().any()
    dense = similarity.toarray()
    kept = dense != 0
    keys = np.abs(reference) if by_magnitude else reference
    eligible = keys > 0
    np.testing.assert_array_equal(kept.sum(axis=1), np.minimum(eligible.sum(axis=1), k))
    assert not (kept & ~eligible).any()  # never a zero (or, by value, negative) entry
    np.testing.assert_allclose(dense[kept], reference[kept], rtol=rtol)
    # Every eligible entry left out is no larger than the smallest one kept in its row.
    smallest_kept = np.where(kept, keys, np.inf).min(axis=1)
    left_out = np.where(eligible & ~kept, keys, -np.inf).max(axis=1)
    assert (left_out <= smallest_kept * (1 + rtol)).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "alpha, beta, k",
    [
        (1.0, 0.3, N_TRACKS),  # no pruning: every positive entry, exactly the reference
        (1.0, 0.3, 3),  # pruned to 3 per row
        (0.6, 0.7, 4),  # alpha != 1 raises each transition, not the product
        (1.0, 0.0, 5),  # plain P3: popular targets not taken down
    ],
)
def test_rp3beta_matches_the_dense_reference(seed, alpha, beta, k):
    confidences = random_confidences(seed)
    similarity = rp3beta_similarity(csr_matrix(confidences), alpha=alpha, beta=beta, k=k)
    assert_top_k_of(similarity, reference_rp3beta(confidences, alpha, beta), k, rtol=1e-5)


def test_rp3beta_in_threads_gives_the_one_thread_matrix():
    # Blocks of 3 tracks on 3 threads: finished out of order, assembled in order.
    user_items = csr_matrix(random_confidences(4))
    alone = rp3beta_similarity(user_items, k=4, block_rows=3)
    threaded = rp3beta_similarity(user_items, k=4, block_rows=3, threads=3)
    assert (alone != threaded).nnz == 0 and np.array_equal(alone.indices, threaded.indices)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("l2, k", [(10.0, N_TRACKS), (10.0, 3), (1.0, 5), (100.0, 4)])
def test_ease_matches_the_dense_reference(seed, l2, k):
    confidences = random_confidences(seed)
    similarity = ease_similarity(csr_matrix(confidences), l2=l2, k=k)
    reference = reference_ease(confidences, l2)
    assert (reference < 0).any()  # EASE has negative weights: they must not be kept
    assert_top_k_of(similarity, reference, k, rtol=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [3, N_TRACKS])
def test_ease_with_negative_weights_keeps_the_largest_in_magnitude(seed, k):
    confidences = random_confidences(seed)
    similarity = ease_similarity(csr_matrix(confidences), l2=10.0, k=k, negative_weights=True)
    reference = reference_ease(confidences, 10.0)
    assert_top_k_of(similarity, reference, k, rtol=1e-4, by_magnitude=True)
    assert (similarity.data < 0).any()


def test_ease_in_blocks_of_rows_matches_the_dense_reference(monkeypatch):
    # Five rows per block: the inverse's mirrored triangle and the top-k cut both cross
    # block boundaries (at the default, this catalog is one block).
    monkeypatch.setattr(neighbours, "DENSE_BLOCK_CELLS", 5 * N_TRACKS)
    confidences = random_confidences(10)
    similarity = ease_similarity(csr_matrix(confidences), l2=5.0, k=4)
    assert_top_k_of(similarity, reference_ease(confidences, 5.0), 4, rtol=1e-4)


def test_ties_at_the_cut_go_to_the_lower_track_index():
    # 300 tracks in three groups, track t in group t % 3; the tracks of a group are played
    # by the same users, so within a group every RP3beta entry is the same product of the
    # same numbers: exact ties, interleaved with the other groups' values (which an
    # unstable sort would scramble). Each row keeps the 3 lowest other tracks of its best
    # group.
    n_tracks = 300
    group = np.arange(n_tracks) % 3
    groups_played = np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1], [1, 0, 0]], dtype=np.float32)
    confidences = groups_played[:, group]
    similarity = rp3beta_similarity(csr_matrix(confidences), k=3)
    reference = reference_rp3beta(confidences, alpha=1.0, beta=0.3)
    for row in range(n_tracks):
        best = np.lexsort((np.arange(n_tracks), -reference[row]))[:3]
        assert list(similarity[row].indices) == sorted(best), row
    # The tie-break decides: every row's best group has more than 3 other tracks.
    assert len({tuple(similarity[row].indices) for row in range(n_tracks)}) > 1


def test_the_dense_cut_breaks_ties_by_the_lower_column_and_keeps_signs_by_magnitude():
    # EASE's cut, on a hand-made block (EASE itself never ties exactly in float32).
    scores = np.array([[0.5, 0.2, -0.7, 0.5, 0.5], [0.1, 9.0, 0.1, 0.1, -0.1]], np.float32)
    # Row 0 loses its diagonal 0.5, keeps the two 0.5s; row 1 loses its diagonal 9.0 and
    # keeps the two lowest of the three 0.1s.
    rows, columns, values = neighbours._top_k_of_block(scores.copy(), 0, 2)
    assert list(zip(rows, columns, values)) == [(0, 3, 0.5), (0, 4, 0.5), (1, 0, 0.1), (1, 2, 0.1)]
    # By magnitude -0.7 comes first and keeps its sign; -0.1 ties with the 0.1s and loses
    # on its column.
    rows, columns, values = neighbours._top_k_of_block(scores.copy(), 0, 2, by_magnitude=True)
    np.testing.assert_allclose(values, [-0.7, 0.5, 0.1, 0.1])
    assert list(zip(rows, columns)) == [(0, 2), (0, 3), (1, 0), (1, 2)]


@pytest.mark.parametrize("block_rows", [1, 5, 11])
def test_blocks_smaller_than_the_catalog_give_the_one_block_result(block_rows):
    user_items = csr_matrix(random_confidences(3, density=0.4))
    one_block = rp3beta_similarity(user_items, k=4, block_rows=4096)
    blocked = rp3beta_similarity(user_items, k=4, block_rows=block_rows)
    assert one_block.nnz > 0
    np.testing.assert_array_equal(blocked.indptr, one_block.indptr)
    np.testing.assert_array_equal(blocked.indices, one_block.indices)
    np.testing.assert_array_equal(blocked.data, one_block.data)


@pytest.mark.parametrize(
    "build",
    [
        lambda user_items: rp3beta_similarity(user_items, k=5),
        lambda user_items: ease_similarity(user_items, l2=10.0, k=5),
    ],
    ids=["rp3beta", "ease"],
)
def test_a_track_nobody_played_has_an_all_zero_row_and_column(build):
    confidences = random_confidences(4)
    confidences[:, 7] = 0.0
    confidences[:3, 7] = -2.0  # only dislikes: still nobody played it
    dense = build(csr_matrix(confidences)).toarray()
    assert not dense[7].any() and not dense[:, 7].any()
    assert dense[np.arange(N_TRACKS) != 7].any(axis=1).all()  # every other track has some


@pytest.mark.parametrize(
    "build",
    [
        lambda user_items: rp3beta_similarity(user_items, k=6),
        lambda user_items: ease_similarity(user_items, l2=10.0, k=6),
        lambda user_items: item_item_scores(user_items, rp3beta_similarity(user_items, k=6)),
    ],
    ids=["rp3beta", "ease", "scores"],
)
def test_dislikes_are_not_plays(build):
    confidences = random_confidences(5)
    rng = np.random.default_rng(50)  # not 5: the same draws would mark no unplayed cell
    dislikes = (confidences == 0) & (rng.random(confidences.shape) < 0.3)
    assert dislikes.sum() > 10
    with_dislikes = np.where(dislikes, -3.0, confidences).astype(np.float32)

    result = build(csr_matrix(with_dislikes)).toarray()

    np.testing.assert_array_equal(result, build(csr_matrix(confidences)).toarray())
    # Had the dislikes counted as plays, the result would differ: the test can fail.
    assert not np.array_equal(result, build(csr_matrix(np.abs(with_dislikes))).toarray())


def test_stored_zeros_are_not_plays():
    confidences = random_confidences(6)
    explicit_zero = csr_matrix(confidences)
    explicit_zero.data[::5] = 0.0  # stored, but zero
    dense = explicit_zero.toarray()
    np.testing.assert_array_equal(
        rp3beta_similarity(explicit_zero, k=5).toarray(),
        rp3beta_similarity(csr_matrix(dense), k=5).toarray(),
    )


def test_auto_takes_ease_up_to_the_limit_and_rp3beta_past_it(caplog):
    user_items = csr_matrix(random_confidences(7))
    track_ids = np.array([f"t{i:02d}" for i in range(N_TRACKS)])

    with caplog.at_level(logging.INFO, logger="jobs.domain.neighbours"):
        small = item_similarity(user_items, track_ids, ease_max_tracks=N_TRACKS, k=4, l2=10.0)
        large = item_similarity(user_items, track_ids, ease_max_tracks=N_TRACKS - 1, k=4)

    assert isinstance(small, ItemSimilarity) and small.method == "ease"
    np.testing.assert_array_equal(
        small.matrix.toarray(), ease_similarity(user_items, l2=10.0, k=4).toarray()
    )
    assert large.method == "rp3beta"
    np.testing.assert_array_equal(
        large.matrix.toarray(), rp3beta_similarity(user_items, k=4).toarray()
    )
    np.testing.assert_array_equal(large.track_ids, track_ids)
    assert "EASE skipped: 12 tracks > 11" in caplog.text
    negative = item_similarity(
        user_items, track_ids, method="ease", k=4, l2=10.0, negative_weights=True
    )
    assert (negative.matrix.data < 0).any()


@pytest.mark.parametrize("method", ["ease", "rp3beta"])
def test_an_explicit_method_is_taken_whatever_the_size(method):
    user_items = csr_matrix(random_confidences(8))
    track_ids = np.arange(N_TRACKS).astype(str)
    chosen = item_similarity(user_items, track_ids, method=method, ease_max_tracks=1)
    assert chosen.method == method


def test_an_unknown_method_or_mismatched_track_ids_is_an_error():
    user_items = csr_matrix(random_confidences(9))
    track_ids = np.arange(N_TRACKS).astype(str)
    with pytest.raises(ValueError, match="'cosine'"):
        item_similarity(user_items, track_ids, method="cosine")
    with pytest.raises(ValueError, match="11 track ids"):
        item_similarity(user_items, track_ids[:11])
    with pytest.raises(ValueError, match="k must be at least 1"):
        rp3beta_similarity(user_items, k=0)


def test_item_item_scores_sum_the_rows_of_the_tracks_played():
    similarity = csr_matrix(
        np.array(
            [
                [0.0, 0.5, 0.2, 0.0],
                [0.1, 0.0, 0.0, 0.4],
                [0.3, 0.6, 0.0, 0.0],
                [0.0, 0.0, 0.7, 0.0],
            ],
            dtype=np.float32,
        )
    )
    user_rows = csr_matrix(
        np.array(
            [
                [4.0, 0.0, 2.5, -1.0],  # plays 0 and 2 (confidence ignored), dislikes 3
                [0.0, 0.0, 0.0, 0.0],  # plays nothing: scores nothing
                [0.0, 1.0, 0.0, 9.0],  # plays 1 and 3
            ],
            dtype=np.float32,
        )
    )

    scores = item_item_scores(user_rows, similarity)

    assert scores.shape == (3, 4) and scores.dtype == np.float32
    np.testing.assert_allclose(
        scores.toarray(),
        [
            [0.3, 1.1, 0.2, 0.0],  # row 0 + row 2; its own tracks 0 and 2 still scored
            [0.0, 0.0, 0.0, 0.0],
            [0.1, 0.0, 0.7, 0.4],  # row 1 + row 3
        ],
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="similarity 4"):
        item_item_scores(user_rows[:, :3], similarity)
