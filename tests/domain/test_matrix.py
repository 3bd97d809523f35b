import numpy as np
import pyarrow as pa
from scipy.sparse import csr_matrix

from jobs.domain.matrix import to_user_items


def test_rows_are_users_with_sorted_ids_and_values_in_place():
    table = pa.table(
        {
            "user_id": ["u2", "u1", "u2", "u3"],
            "track_id": ["t1", "t2", "t3", "t1"],
            "confidence": [1.0, 2.0, 3.0, -1.0],
        }
    )
    user_items = to_user_items(table)
    assert list(user_items.user_ids) == ["u1", "u2", "u3"]
    assert list(user_items.track_ids) == ["t1", "t2", "t3"]
    assert type(user_items.matrix) is csr_matrix and user_items.matrix.has_sorted_indices
    np.testing.assert_array_equal(user_items.matrix.toarray(), [[0, 2, 0], [1, 0, 3], [-1, 0, 0]])


def test_given_track_order_is_kept_and_unknown_tracks_dropped():
    table = pa.table(
        {"user_id": ["a", "a", "b"], "track_id": ["x", "z", "y"], "confidence": [1.0, 5.0, 2.0]}
    )
    user_items = to_user_items(table, track_ids=np.array(["y", "x"]))
    assert user_items.shape == (2, 2)
    np.testing.assert_array_equal(user_items.matrix.toarray(), [[0, 1], [2, 0]])
