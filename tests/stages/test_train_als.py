"""ALS on a fixture whose right answer is known: implicit's checkerboard idea, made
non-square so that a transposed matrix would fail."""

import numpy as np
import pyarrow as pa
import pytest
from scipy.sparse import csr_matrix

from jobs.core.config import AlsConfig
from jobs.domain.matrix import UserItems, to_user_items
from jobs.stages.train_als import (
    ModelFitError,
    factors_table,
    implicit_als,
    model_version,
    train_als,
)

CONFIG = AlsConfig(factors=4, regularization=1.0, alpha=10.0, iterations=15, seed=7, num_threads=1)


def two_taste_groups(users=40, tracks=24):
    """Users 0..19 play tracks 0..11, users 20..39 tracks 12..23; each withholds one."""
    rows, cols, withheld = [], [], {}
    for user in range(users):
        group = range(0, tracks // 2) if user < users // 2 else range(tracks // 2, tracks)
        held = list(group)[user % (tracks // 2)]
        withheld[user] = held
        for track in group:
            if track != held:
                rows.append(user)
                cols.append(track)
    matrix = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(users, tracks))
    ids = (
        np.array([f"u{i:02d}" for i in range(users)]),
        np.array([f"t{i:02d}" for i in range(tracks)]),
    )
    return UserItems(matrix, *ids), withheld


def test_factors_have_the_orientation_of_the_matrix():
    user_items, _ = two_taste_groups()
    model = train_als(user_items, CONFIG)
    assert model.user_factors.shape == (40, 4) and model.track_factors.shape == (24, 4)
    assert model.training_loss > 0 and model.backend == "implicit"


def test_top_unplayed_track_is_the_withheld_one():
    user_items, withheld = two_taste_groups()
    model = train_als(user_items, CONFIG)
    scores = model.user_factors @ model.track_factors.T
    scores[user_items.matrix.toarray() > 0] = -np.inf
    assert all(scores[user].argmax() == track for user, track in withheld.items())


def test_same_seed_same_factors():
    user_items, _ = two_taste_groups()
    first, second = train_als(user_items, CONFIG), train_als(user_items, CONFIG)
    np.testing.assert_array_equal(first.user_factors, second.user_factors)


def test_the_raw_library_fit_is_the_pipelines_model():
    """The bench's raw-`implicit` baseline fits `implicit_als`: the same factors as ours."""
    user_items, _ = two_taste_groups()
    raw = implicit_als(CONFIG)
    raw.fit(user_items.matrix, show_progress=False)
    ours = train_als(user_items, CONFIG)
    assert raw.num_threads == CONFIG.num_threads
    np.testing.assert_allclose(raw.item_factors, ours.track_factors, rtol=1e-5, atol=1e-6)


def test_nan_factors_fail_the_fit():
    table = pa.table(
        {"user_id": ["a", "b"], "track_id": ["x", "y"], "confidence": [float("nan"), 1.0]}
    )
    with pytest.raises(ModelFitError, match="NaN"):
        train_als(to_user_items(table), CONFIG)


def test_factors_table_keeps_rows_aligned():
    factors = np.arange(6, dtype=np.float32).reshape(3, 2)
    table = factors_table("user_id", np.array(["a", "b", "c"]), factors)
    assert table.column("factors").to_pylist() == [[0, 1], [2, 3], [4, 5]]


def test_model_version_is_stable_and_changes_with_hyper_parameters():
    from datetime import date

    week = date(2026, 11, 23)
    assert model_version(week, "implicit", CONFIG) == model_version(week, "implicit", CONFIG)
    other = AlsConfig(factors=16)
    assert model_version(week, "implicit", CONFIG) != model_version(week, "implicit", other)


@pytest.mark.spark
def test_spark_backend_finds_the_withheld_tracks_on_the_same_index(spark, tmp_path):
    from dataclasses import replace

    from jobs.stages.train_als import train

    user_items, withheld = two_taste_groups()
    model = train(user_items, replace(CONFIG, backend="spark"), spark, tmp_path / "checkpoints")
    assert model.backend == "spark" and model.training_loss is None
    assert model.user_factors.shape == (40, 4) and model.track_factors.shape == (24, 4)
    scores = model.user_factors @ model.track_factors.T
    scores[user_items.matrix.toarray() > 0] = -np.inf
    assert all(scores[user].argmax() == track for user, track in withheld.items())


def test_unknown_backend_is_named():
    from dataclasses import replace

    from jobs.stages.train_als import train

    user_items, _ = two_taste_groups()
    with pytest.raises(ValueError, match="'gpu'"):
        train(user_items, replace(CONFIG, backend="gpu"), None, None)
