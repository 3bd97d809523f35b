"""Scoring primitives every candidate source is built from: top-K by dot product or cosine
against a broadcast item matrix (implicit's fused top-K, masks and per-listener cluster
gates inside the product), top-K of sparse vote products, and the masks they take.

Each `*_scorer` returns a `mapInArrow` function over listener batches; `retrieve`
(jobs/domain/retrieval.py) calls them on one batch at a time.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.sparse import csr_matrix

from jobs.core.arrays import unit_rows

SCORED = pa.schema(
    [
        pa.field("user_id", pa.string()),
        pa.field("item_id", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("rank", pa.int32()),
    ]
)


# sparse_top_k's coarse buckets: a positive float32's bits >> 20 (its exponent and top
# three mantissa bits), 2,041 buckets, each spanning values within a factor of 1.125.
_BUCKET_SHIFT = 20
_BUCKETS = (0x7F800000 >> _BUCKET_SHIFT) + 1


# Rows per pass of the bucket counts, so that their arrays stay small: 4.5M entries per
# 256 rows of 17,700 scored tracks (one pass over 4,096 such rows was 3.5x slower).
_CHUNK_ROWS = 256


def _within_top_buckets(values: np.ndarray, indptr: np.ndarray, k: int) -> np.ndarray:
    """Indices into `values` (the entries of consecutive rows, `indptr` their offsets
    starting at any base) of the positive entries in each row's best buckets that together
    hold at least k entries: every entry that can be among the row's k best."""
    n_rows = indptr.size - 1
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
    # Non-positive values share the lowest bucket with the tiniest positive ones: a row
    # whose k best reach down to it keeps all, and only positives are kept (a track no
    # neighbour likes, net, is no candidate).
    bucket = np.maximum(values.view(np.int32) >> _BUCKET_SHIFT, 0)
    counts = np.bincount(rows * _BUCKETS + bucket, minlength=n_rows * _BUCKETS)
    # Entries at or above each bucket, best bucket first; the row's cut is the first bucket
    # (from the top) where they reach k, or the lowest when the row has fewer.
    reached = np.cumsum(counts.reshape(n_rows, _BUCKETS)[:, ::-1], axis=1) >= k
    cut = np.where(reached.any(axis=1), _BUCKETS - 1 - reached.argmax(axis=1), 0)
    return np.flatnonzero((bucket >= cut[rows]) & (values > 0))


def sparse_top_k(
    batch: pa.RecordBatch, scores: csr_matrix, item_ids: np.ndarray, k: int
) -> pa.RecordBatch:
    """SCORED rows: the k best positive entries of each row of the sparse `scores`, best
    first, ties by the lower item index. Only the non-zeros are read, never a dense users x
    tracks matrix, and only the few that can be among a row's k best are sorted.

    A row's entries are counted per coarse value bucket (the float's top bits, which order
    like the values); the buckets from the best down until they hold k entries are kept,
    the rest cannot be in the top k. The kept entries (about k to a few k per row, against
    thousands scored) are then sorted exactly. A batch shaped like the 10M bench's
    item-item one (4,096 listeners x 17,700 scored tracks, top 100): 1.6 s, against 7.4 s
    for the sort of every entry this replaces. `scores` holds no duplicate entries (as
    scipy's products and sums); its indices need not be sorted."""
    indptr, n_rows = scores.indptr, scores.shape[0]
    values = scores.data.astype(np.float32, copy=False)
    kept = [np.zeros(0, np.int64)]
    for first in range(0, n_rows, _CHUNK_ROWS):
        last = min(first + _CHUNK_ROWS, n_rows)
        span = values[indptr[first] : indptr[last]]
        kept.append(indptr[first] + _within_top_buckets(span, indptr[first : last + 1], k))
    kept = np.concatenate(kept)
    rows = np.searchsorted(indptr, kept, side="right") - 1
    cols, values = scores.indices[kept], values[kept]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows) + 1
    keep = rank <= k
    return pa.RecordBatch.from_arrays(
        [
            batch.column("user_id").take(pa.array(rows[keep])),
            pa.array(item_ids[cols[keep]], pa.string()),
            pa.array(values[keep], pa.float32()),
            pa.array(rank[keep], pa.int32()),
        ],
        schema=SCORED,
    )


def _scored_rows(
    batch: pa.RecordBatch,
    item_ids: np.ndarray,
    best: np.ndarray,
    best_scores: np.ndarray,
    keep: np.ndarray,
) -> pa.RecordBatch:
    """SCORED rows from per-row best item indices and scores (best first); `keep` marks the
    real entries, and ranks count only those."""
    row_of = np.broadcast_to(np.arange(batch.num_rows)[:, None], best.shape)[keep]
    return pa.RecordBatch.from_arrays(
        [
            batch.column("user_id").take(pa.array(row_of)),
            pa.array(item_ids[best[keep]], pa.string()),
            pa.array(best_scores[keep], pa.float32()),
            pa.array(np.cumsum(keep, axis=1)[keep], pa.int32()),
        ],
        schema=SCORED,
    )


def masked_csr(masked: pa.ListArray, item_ids: pa.Array) -> csr_matrix:
    """The batch's masked item id lists as a (rows x items) CSR of ones, column i for
    `item_ids[i]`; ids not among the items mask nothing. Each scorer maps the ids to its
    own item order here (one hash lookup in Arrow), so the masks are grouped once, as ids,
    for every source instead of joined with each source's item index in Spark."""
    positions = pc.index_in(masked.flatten(), value_set=item_ids)
    known = positions.is_valid()
    rows = pc.filter(masked.value_parent_indices(), known).to_numpy()
    return csr_matrix(
        (np.ones(rows.size, np.float32), (rows, pc.filter(positions, known).to_numpy())),
        shape=(len(masked), len(item_ids)),
    )


def _group_mask(groups: pa.ListArray, n_groups: int) -> np.ndarray:
    """The batch's group lists as a (rows x groups) boolean matrix. A group at or past
    `n_groups` has no items: it offers nothing, allowed or not."""
    rows = groups.value_parent_indices().to_numpy()
    values = groups.flatten().to_numpy()
    inside = values < n_groups
    mask = np.zeros((len(groups), n_groups), dtype=bool)
    mask[rows[inside], values[inside]] = True
    return mask


def batch_scorer(
    item_ids: np.ndarray,
    item_factors: np.ndarray,
    k: int,
    cosine: bool = False,
    item_groups: np.ndarray | None = None,
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The `mapInArrow` function: (user_id, factors, masked item ids) -> top-k rows by
    u . v, or with `cosine` by u . v / |u| (`item_factors` rows are then unit length).

    Each batch is one call of implicit's fused top-k (blocked BLAS product, a heap per row,
    masked items skipped): unlike a dense `argpartition`, it never materialises the
    batch x items score and index matrices.

    With `item_groups` (each item's group, 0, 1, ...), batches also carry `groups`: the
    groups each user may be offered; other groups' items are left out. The gate rides in
    the same product, so the per-user groups x items mask is never materialised either:
    items get their group's one-hot as extra factors and users -gate on the groups they
    may not use. As |u . v| <= bound = max |u| max |v| (Cauchy-Schwarz), gate = 2 bound + 1
    puts every gated item at least 1 below every allowed one, and it is cut after the
    top-k; an allowed item's score is unchanged (its extra terms are exact zeros)."""
    from implicit.cpu.topk import topk

    rank_ = item_factors.shape[1]
    k = min(k, item_factors.shape[0])
    masked_ids = pa.array(item_ids, pa.string())
    # implicit marks masked items and padding with the lowest float32.
    lowest = np.finfo(np.float32).min
    if item_groups is None:
        items = item_factors
    else:
        n_groups = int(item_groups.max()) + 1
        max_item_norm = float(np.linalg.norm(item_factors, axis=1).max())
        one_hot = np.eye(n_groups, dtype=np.float32)[item_groups]
        items = np.ascontiguousarray(np.hstack([item_factors, one_hot]), dtype=np.float32)

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            users = batch.column("factors").flatten().to_numpy().reshape(-1, rank_)
            users = np.ascontiguousarray(users, dtype=np.float32)
            if cosine:
                users = unit_rows(users)
            floor = lowest
            if item_groups is not None:
                bound = float(np.linalg.norm(users, axis=1).max()) * max_item_norm
                allowed = _group_mask(batch.column("groups"), n_groups)
                gates = np.where(allowed, np.float32(0), np.float32(-(2 * bound + 1)))
                users = np.ascontiguousarray(np.hstack([users, gates]), dtype=np.float32)
                floor = -bound - 0.5  # allowed >= -bound > floor > -bound - 1 >= gated
            best, best_scores = topk(
                items,
                users,
                k,
                filter_query_items=masked_csr(batch.column("masked"), masked_ids),
                num_threads=1,  # one Spark task per core already
            )
            keep = (best >= 0) & (best_scores > floor)
            yield _scored_rows(batch, item_ids, best, best_scores, keep)

    return score


def masked_by_user(pairs: DataFrame, id_column: str = "track_id") -> DataFrame:
    """(user_id, masked): each user's distinct `id_column` values, one row per user - the
    form every scorer takes its masks in. Repeated pairs are fine: one shuffle either way."""
    return pairs.groupBy("user_id").agg(F.collect_set(id_column).alias("masked"))


def played_masks(played_lists: DataFrame) -> DataFrame:
    """(user_id, masked): the tracks each user played before the week, never to be offered,
    from the week's `played` lists (jobs/domain/history.py): one row per listener, no
    history scan."""
    return played_lists.select("user_id", F.col("track_ids").alias("masked"))


def vote_scorer(
    track_ids: np.ndarray, liking: csr_matrix, k: int
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The `mapInArrow` function: (user_id, votes [(neighbour_index, weight)], masked track
    ids) -> top-k rows of W . L, W the batch's neighbour weights (users x neighbours)
    and L the `liking` matrix (neighbours x tracks)."""
    masked_ids = pa.array(track_ids, pa.string())

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            votes = batch.column("votes")
            entries = votes.flatten()  # struct_field, unlike .field(), honours slicing
            weights = csr_matrix(
                (
                    pc.struct_field(entries, "weight").to_numpy().astype(np.float32),
                    (
                        votes.value_parent_indices().to_numpy(),
                        pc.struct_field(entries, "neighbour_index").to_numpy(),
                    ),
                ),
                shape=(batch.num_rows, liking.shape[0]),
            )
            scores = weights @ liking
            played = masked_csr(batch.column("masked"), masked_ids)
            yield sparse_top_k(batch, scores - scores.multiply(played), track_ids, k)

    return score
