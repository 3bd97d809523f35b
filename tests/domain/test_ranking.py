"""jobs/domain/ranking.py on hand-set pools: the learned ranker, the blend it replaces, Discovery
Mode boosts and the greedy pick with its penalties, caps and exploration share."""

import numpy as np
import pytest

from jobs.domain.ranking import (
    COLUMN,
    FEATURES,
    Ranker,
    RankerUnavailable,
    Variety,
    blend_scores,
    boost_discovery_mode,
    main_source,
    pick_playlists,
    pool_ndcg,
    positive_scores,
    train_ranker,
)
from schemas import candidates as sources

PARAMS = {"num_leaves": 7, "learning_rate": 0.2, "min_data_in_leaf": 5}


def _pool(listeners: int, per_listener: int, seed: int = 0):
    """A pool where `track_popularity` is the label (0/1) and every other feature noise,
    and the blend (ALS ranks) is noise too: only a model that learns the label wins."""
    rng = np.random.default_rng(seed)
    n = listeners * per_listener
    features = rng.random((n, len(FEATURES))).astype(np.float32)
    labels = (rng.random(n) < 0.1).astype(np.float32)
    features[:, COLUMN["track_popularity"]] = labels + rng.normal(0, 0.01, n)
    features[:, COLUMN["als_rank"]] = rng.integers(1, 301, n)
    features[:, COLUMN["maturity"]] = 1.0
    return features, labels, np.repeat(np.arange(listeners), per_listener)


def test_the_ranker_learns_the_feature_that_is_the_label():
    features, labels, listeners = _pool(200, 40)
    blend = blend_scores(features, {"als": 1.0}, {"als": 1.0}, 300)
    trained = train_ranker(
        features, labels, listeners, blend, PARAMS, 30, 0.25, 30, seed=1, min_listeners=100
    )
    assert trained.validation_ndcg > 0.95
    assert trained.validation_ndcg_blend < 0.6
    assert trained.beats_blend
    assert max(trained.importances, key=trained.importances.get) == "track_popularity"
    assert trained.validation_listeners == pytest.approx(
        0.25 * np.unique(listeners[labels > 0]).size, abs=1
    )
    # Held-out listeners are not trained on.
    assert trained.training_listeners + trained.validation_listeners <= 200
    # The stored text scores new rows the same way.
    fresh, fresh_labels, _ = _pool(5, 40, seed=7)
    scores = Ranker(trained.model_text, "test").scores(fresh)
    assert scores[fresh_labels > 0].min() > scores[fresh_labels == 0].max()


def test_training_is_reproducible():
    features, labels, listeners = _pool(60, 20)
    blend = np.zeros(len(labels))
    first, second = (
        train_ranker(features, labels, listeners, blend, PARAMS, 10, 0.2, 30, 3, min_listeners=4)
        for _ in range(2)
    )
    assert first.model_text == second.model_text


def test_a_pool_without_positives_gives_no_ranker():
    features, _, listeners = _pool(50, 10)
    with pytest.raises(RankerUnavailable, match="no positive"):
        train_ranker(
            features,
            np.zeros(len(listeners)),
            listeners,
            np.zeros(len(listeners)),
            PARAMS,
            5,
            0.2,
            30,
            seed=1,
            min_listeners=4,
        )
    labels = np.zeros(len(listeners))
    labels[:2] = 1  # one listener
    with pytest.raises(RankerUnavailable, match="too few"):
        train_ranker(features, labels, listeners, labels, PARAMS, 5, 0.2, 30, 1, min_listeners=4)


def test_a_pool_with_few_listeners_with_a_positive_gives_no_ranker():
    # 25 listeners with a positive would train a ranker that beats the blend; below the
    # minimum it must not be trusted at all.
    features, labels, listeners = _pool(30, 20)
    blend = np.zeros(len(labels))
    assert np.unique(listeners[labels > 0]).size == 25
    with pytest.raises(RankerUnavailable, match="only 25 listener.*at least 26"):
        train_ranker(features, labels, listeners, blend, PARAMS, 10, 0.2, 30, 1, min_listeners=26)
    trained = train_ranker(
        features, labels, listeners, blend, PARAMS, 10, 0.2, 30, 1, min_listeners=25
    )
    assert trained.training_listeners == 20 and trained.beats_blend


def test_a_missing_or_corrupt_ranker_file_says_so(tmp_path):
    with pytest.raises(RankerUnavailable, match="no ranker file"):
        Ranker.load(tmp_path / "missing.txt")
    corrupt = tmp_path / "model.txt"
    corrupt.write_text("tree\nthis is not a LightGBM model\n")
    with pytest.raises(RankerUnavailable, match="cannot be read"):
        Ranker.load(corrupt)


def test_a_ranker_of_other_features_is_refused(tmp_path):
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "min_data_in_leaf": 1},
        lgb.Dataset(rng.random((50, 3)), label=rng.integers(0, 2, 50)),
        num_boost_round=2,
    )
    with pytest.raises(RankerUnavailable, match="other features"):
        Ranker(booster.model_to_string(), "old.txt")


def test_the_blend_weighs_rank_scores_by_maturity():
    features = np.full((2, len(FEATURES)), np.nan, np.float32)
    features[:, COLUMN["als_rank"]] = [1, 151]
    features[:, COLUMN["popularity_rank"]] = [np.nan, 1]
    features[:, COLUMN["maturity"]] = [1.0, 0.0]
    mature, new = {"als": 1.0, "popularity": 0.2}, {"als": 0.2, "popularity": 1.0}
    # Mature: 1.0 x 1; new: 0.2 x 0.5 + 1.0 x 1.
    np.testing.assert_allclose(blend_scores(features, mature, new, 300), [1.0, 1.1])
    assert [sources.SOURCES[i] for i in main_source(features, mature, new, 300)] == [
        "als",
        "popularity",
    ]
    with pytest.raises(ValueError, match="unknown source"):
        blend_scores(features, {"nope": 1.0}, new, 300)


def test_pool_ndcg_counts_listeners_with_a_positive():
    listeners = np.array([0, 0, 1, 1, 2, 2])
    labels = np.array([0, 1, 1, 0, 0, 0])
    scores = np.array([2.0, 1.0, 2.0, 1.0, 5.0, 4.0])
    # Listener 0's positive at rank 2 (1 / log2 3), listener 1's at rank 1; 2 has none.
    assert pool_ndcg(listeners, labels, scores, 30) == pytest.approx((1 / np.log2(3) + 1) / 2)


def test_boosts_go_to_the_best_eligible_rows_up_to_the_cap():
    rows = np.array([0, 0, 0, 0, 1])
    scores = np.array([1.0, 0.9, 0.8, 0.7, 0.5])
    boosts = np.array([0.5, 0.5, 2.0, 0.5, 0.5])
    eligible = np.array([True, False, True, True, True])
    boosted_scores, boosted = boost_discovery_mode(rows, scores, boosts, eligible, 2)
    # Listener 0: eligible rows 0 (1.5), 2 (2.4), 3 (1.05): the best two are boosted.
    assert boosted.tolist() == [True, False, True, False, True]
    np.testing.assert_allclose(boosted_scores, [1.5, 0.9, 2.4, 0.7, 0.75])


def test_positive_scores_put_each_listeners_best_at_one():
    rows = np.array([0, 0, 1])
    np.testing.assert_allclose(
        positive_scores(np.array([-3.0, -1.0, 4.0]), rows, 2), [np.exp(-2), 1.0, 1.0]
    )


def _pick(relevance, artist, cluster=None, explore=None, slots=0, album=None, **variety):
    n = len(relevance)
    settings = dict(
        length=4,
        max_per_artist=2,
        max_per_album=4,
        max_per_cluster=4,
        artist_penalty=0.0,
        cluster_penalty=0.0,
    )
    settings.update(variety)
    return pick_playlists(
        np.zeros(n, np.int64),
        np.asarray(relevance, float),
        np.asarray(artist),
        np.asarray(album if album is not None else np.arange(n)),
        np.asarray(cluster if cluster is not None else -np.ones(n, int)),
        np.asarray(explore if explore is not None else np.zeros(n, bool)),
        np.array([slots]),
        1,
        Variety(**settings),
    )


def test_the_artist_cap_is_a_hard_bound():
    picked, position = _pick([1.0, 0.9, 0.8, 0.7, 0.6], [7, 7, 7, 8, 9])
    assert sorted(picked.tolist()) == [0, 1, 3, 4]
    assert position[np.argsort(picked)].tolist() == [1, 2, 3, 4]


def test_a_penalty_trades_relevance_for_a_new_artist():
    relevance, artists = [1.0, 0.95, 0.9, 0.5], [7, 7, 8, 9]
    # No penalty: the two of artist 7 first. A penalty of 0.1 puts artist 8 before
    # artist 7's second (0.95 - 0.1 < 0.9), and 0.6 puts even artist 9 before it.
    assert _pick(relevance, artists, length=3)[0].tolist() == [0, 1, 2]
    assert _pick(relevance, artists, length=3, artist_penalty=0.1)[0].tolist() == [0, 2, 1]
    assert _pick(relevance, artists, length=3, artist_penalty=0.6)[0].tolist() == [0, 2, 3]


def test_cluster_and_album_caps_and_penalty():
    relevance, artists = [1.0, 0.9, 0.8, 0.7], [1, 2, 3, 4]
    clusters = [0, 0, 0, 1]
    assert _pick(relevance, artists, clusters, length=3, max_per_cluster=2)[0].tolist() == [0, 1, 3]
    assert _pick(relevance, artists, clusters, length=2, cluster_penalty=0.25)[0].tolist() == [0, 3]
    albums = [5, 5, 6, 6]
    assert _pick(relevance, artists, album=albums, length=2, max_per_album=1)[0].tolist() == [0, 2]


def test_exploration_keeps_its_share_interleaved_and_either_side_fills_in():
    relevance = [1.0, 0.9, 0.8, 0.7, 0.2, 0.1]
    explore = [False, False, False, False, True, True]
    picked, position = _pick(relevance, [1, 2, 3, 4, 5, 6], explore=explore, slots=2)
    assert sorted(picked.tolist()) == [0, 1, 4, 5]
    # Main at (k - 0.5) / 2 = 0.25, 0.75; exploration the same: main first at each tie.
    assert dict(zip(picked.tolist(), position.tolist())) == {0: 1, 4: 2, 1: 3, 5: 4}
    # Only one exploration candidate: a main one fills the slot.
    picked, _ = _pick(relevance[:5], [1, 2, 3, 4, 5], explore=explore[:5], slots=2)
    assert sorted(picked.tolist()) == [0, 1, 2, 4]


def test_every_listener_of_a_batch_gets_their_own_playlist():
    rows = np.array([0, 0, 0, 2, 2])
    picked, position = pick_playlists(
        rows,
        np.array([0.5, 0.9, 0.1, 0.3, 0.4]),
        np.array([1, 2, 3, 1, 1]),
        np.arange(5),
        -np.ones(5, np.int64),
        np.zeros(5, bool),
        np.zeros(3, np.int64),
        3,
        Variety(2, 2, 2, 2, 0.0, 0.0),
    )
    assert dict(zip(picked.tolist(), position.tolist())) == {1: 1, 0: 2, 4: 1, 3: 2}
