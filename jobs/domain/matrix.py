"""The sparse user x track matrix, always together with the ids of its rows and columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import csr_matrix


@dataclass(frozen=True)
class UserItems:
    """`matrix[u, t]` is the confidence of `user_ids[u]` for `track_ids[t]`.

    Rows are users (implicit's `fit` takes user_items since 0.5.0). The matrix is a real
    `scipy.sparse.csr_matrix` with sorted indices: implicit's already-played filter is only
    correct on one."""

    matrix: csr_matrix
    user_ids: np.ndarray
    track_ids: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape


def _dense_index(ids: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids and each row's position among them (deterministic across runs)."""
    distinct = pc.unique(ids)
    distinct = distinct.take(pc.sort_indices(distinct))
    positions = pc.index_in(ids, value_set=distinct)
    return distinct.to_numpy(zero_copy_only=False), positions.to_numpy(zero_copy_only=False)


def to_user_items(
    interactions: pa.Table,
    value_column: str = "confidence",
    track_ids: np.ndarray | None = None,
) -> UserItems:
    """CSR from an Arrow table of (user_id, track_id, value) via Arrow compute, no row loops.

    `track_ids` fixes the column order (e.g. a model's tracks); pairs with tracks outside it
    are dropped."""
    if track_ids is not None:
        known = pc.is_in(interactions.column("track_id"), value_set=pa.array(track_ids))
        interactions = interactions.filter(known)
    user_ids, rows = _dense_index(interactions.column("user_id"))
    if track_ids is None:
        track_ids, cols = _dense_index(interactions.column("track_id"))
    else:
        cols = pc.index_in(interactions.column("track_id"), value_set=pa.array(track_ids))
        cols = cols.to_numpy(zero_copy_only=False)
    values = interactions.column(value_column).to_numpy().astype(np.float32)
    matrix = csr_matrix(
        (values, (rows.astype(np.int64), cols.astype(np.int64))),
        shape=(len(user_ids), len(track_ids)),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    return UserItems(matrix=matrix, user_ids=user_ids, track_ids=np.asarray(track_ids))
