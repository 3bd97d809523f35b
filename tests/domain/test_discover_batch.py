"""jobs/domain/discover_batch.py's ranking of one batch on hand-built Arrow batches (no Spark):
the rules, the blend or the ranker, Discovery Mode, the caps and exploration's slots, and the
pool kept."""

from dataclasses import replace
from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from jobs.core.config import PlaylistConfig, RankingConfig
from jobs.domain.discover_batch import (
    ARTIST_LIST,
    PassSettings,
    catalog_arrays,
    rank_batch,
    with_listener_artists,
)
from jobs.domain.ranking import Ranker
from schemas.pool import BLEND, FEATURES, RANKER

WEEK = date(2026, 11, 23)
# Eight tracks: a1 has t1-t4 (album x), a2 t5-t6, a3 t7 (explicit), a4 t8 (blocked artist).
TRACKS = pa.table(
    {
        "track_id": [f"t{i}" for i in range(1, 9)],
        "artist_id": ["a1", "a1", "a1", "a1", "a2", "a2", "a3", "a4"],
        "album_id": ["x", "x", "x", "x", "y", "y", "z", "z"],
        "explicit": [False] * 6 + [True, False],
    }
)
ALBUMS = pa.table(
    {"album_id": ["x", "y", "z"], "release_date": [date(2026, 1, 1), date(2026, 11, 20), None]}
)
ARTISTS = pa.table({"artist_id": ["a1", "a2", "a3", "a4"], "genres": [["rock"], ["jazz"], [], []]})
LISTENERS = pa.table({"track_id": ["t1", "t5"], "listeners": [9, 3]})
BLOCKS = pa.table({"item_type": ["artist"], "item_id": ["a4"]})
CAMPAIGNS = pa.table({"track_id": ["t6"], "campaign_id": ["c1"], "boost": [0.5]})
PLAYLISTS = PlaylistConfig(
    length=4,
    candidates_per_user=10,
    max_tracks_per_artist=2,
    max_tracks_per_album=2,
    exploration_share=0.25,
    source_weights={"als": 1.0},
    new_listener_weights={"als": 1.0},
)
SETTINGS = PassSettings(PLAYLISTS, RankingConfig(pool_per_user=6))

CANDIDATE = pa.struct(
    [
        ("track_id", pa.string()),
        ("source", pa.string()),
        ("score", pa.float32()),
        ("rank", pa.int32()),
    ]
)


def _catalog(campaigns=CAMPAIGNS):
    return catalog_arrays(TRACKS, ALBUMS, ARTISTS, LISTENERS, None, BLOCKS, campaigns, WEEK)


def _batch(candidates, **listener):
    """One listener row per list of (track, source, rank) candidates."""
    n = len(candidates)
    columns = {
        "user_id": pa.array([f"u{i}" for i in range(n)]),
        "candidates": pa.array(
            [
                [{"track_id": t, "source": s, "score": 1.0 / r, "rank": r} for t, s, r in rows]
                for rows in candidates
            ],
            pa.list_(CANDIDATE),
        ),
        "play_count": pa.array([100] * n, pa.int64()),
        "artists": pa.array(
            [[{"artist_id": "a2", "affinity": 2.0}, {"artist_id": "a1", "affinity": 4.0}]] * n,
            pa.list_(pa.struct([("artist_id", pa.string()), ("affinity", pa.float32())])),
        ),
        "hidden_tracks": pa.array([[]] * n, pa.list_(pa.string())),
        "hidden_artists": pa.array([[]] * n, pa.list_(pa.string())),
        "skipped": pa.array([[]] * n, pa.list_(pa.string())),
        "explicit_filter": pa.array([False] * n),
        "preferred_genres": pa.array([[]] * n, pa.list_(pa.string())),
        "profile": pa.array([None] * n, pa.list_(pa.float64())),
        "moods": pa.array(
            [[]] * n, pa.list_(pa.struct([("cluster", pa.int32()), ("share", pa.float64())]))
        ),
        "policy_factors": pa.array([None] * n, pa.map_(pa.string(), pa.float64())),
        "exploration_share": pa.array([None] * n, pa.float64()),
    }
    for name, values in listener.items():
        columns[name] = pa.array(values, columns[name].type)
    return pa.RecordBatch.from_pydict(columns)


ALS_ALL = [(f"t{i}", "als", i) for i in range(1, 9)]


def _playlist(pool: pa.RecordBatch, user: str = "u0") -> list[str]:
    rows = [r for r in pool.to_pylist() if r["user_id"] == user and r["position"] is not None]
    return [r["track_id"] for r in sorted(rows, key=lambda r: r["position"])]


def test_the_rules_and_the_artist_cap_shape_the_playlist():
    pool = rank_batch(_batch([ALS_ALL]), _catalog(), None, SETTINGS)
    # t8: blocked artist; t3, t4: a1 already has two; t6's campaign (x 1.5) lifts its 0.5
    # past t5's 0.6.
    assert _playlist(pool) == ["t1", "t2", "t6", "t5"]
    rows = {r["track_id"]: r for r in pool.to_pylist()}
    assert "t8" not in rows
    assert rows["t6"]["boosted"] and rows["t6"]["campaign_id"] == "c1"
    assert not rows["t1"]["boosted"] and rows["t1"]["campaign_id"] is None
    assert {r["ranked_by"] for r in rows.values()} == {BLEND}
    assert rows["t1"]["source"] == "als"
    # Features the ranker will see: the artist's affinity relative to the top artist, the
    # track's popularity and age, the rank of every source (null where it had none).
    assert rows["t5"]["artist_affinity"] == pytest.approx(0.5)
    # ... the artist's share of the listener's confidence (2 of 6), the track's share of its
    # artist's listeners (t5 has all 3 of a2's; t2 none of a1's 9), and their product.
    assert rows["t5"]["artist_share"] == pytest.approx(1 / 3)
    assert rows["t5"]["track_share_of_artist"] == pytest.approx(1.0)
    assert rows["t5"]["artist_pick_share"] == pytest.approx(1 / 3)
    assert rows["t1"]["artist_pick_share"] == pytest.approx(2 / 3)
    assert rows["t2"]["track_share_of_artist"] == 0 and rows["t2"]["artist_pick_share"] == 0
    assert rows["t1"]["track_popularity"] == pytest.approx(np.log1p(9))
    assert rows["t5"]["track_age_days"] == 3
    assert rows["t1"]["als_rank"] == 1 and rows["t1"]["popularity_rank"] is None
    assert set(FEATURES) <= set(rows["t1"])


def test_listener_controls_remove_tracks():
    batch = _batch(
        [ALS_ALL, ALS_ALL],
        hidden_tracks=[["t1"], []],
        hidden_artists=[[], ["a2"]],
        explicit_filter=[False, True],
        skipped=[["t6"], []],
    )
    pool = rank_batch(batch, _catalog(), None, SETTINGS)
    rows = pool.to_pylist()
    first = {r["track_id"]: r for r in rows if r["user_id"] == "u0"}
    second = {r["track_id"]: r for r in rows if r["user_id"] == "u1"}
    assert "t1" not in first and "t7" in first
    assert not first["t6"]["boosted"]  # skipped before: never boosted
    assert not {"t5", "t6", "t7"} & set(second)  # hidden artist, explicit filtered
    assert _playlist(pool, "u1") == ["t1", "t2"]  # a1's cap leaves nothing else


def test_exploration_keeps_its_slots():
    # t7 is exploration's, though tags (unweighted in the blend) proposed it too.
    candidates = [("t1", "als", 1), ("t2", "als", 2), ("t5", "als", 3), ("t7", "exploration", 1)]
    candidates.append(("t7", "tags", 2))
    pool = rank_batch(
        _batch([candidates + [("t6", "als", 4)]]),
        _catalog(
            pa.table(
                {
                    "track_id": pa.array([], pa.string()),
                    "campaign_id": pa.array([], pa.string()),
                    "boost": pa.array([], pa.float64()),
                }
            )
        ),
        None,
        SETTINGS,
    )
    rows = {r["track_id"]: r for r in pool.to_pylist()}
    # 4 slots, 25% exploration: t7 gets one though the blend ranks it last.
    assert rows["t7"]["explore"] and rows["t7"]["source"] == "exploration"
    assert rows["t7"]["position"] is not None
    assert _playlist(pool) == ["t1", "t2", "t7", "t5"]


def test_the_shortlist_bounds_the_pick_and_the_pool():
    many = [(f"t{i}", "als", i) for i in range(1, 8)]
    settings = replace(SETTINGS, ranking=RankingConfig(pool_per_user=3))
    pool = rank_batch(_batch([many]), _catalog(), None, settings)
    # The blend's best three: t1, t2, t3; a1's cap leaves t3 out of the playlist.
    assert {r["track_id"] for r in pool.to_pylist()} == {"t1", "t2", "t3"}
    assert _playlist(pool) == ["t1", "t2"]


def test_the_shortlist_takes_a_few_tracks_per_artist():
    settings = replace(SETTINGS, ranking=RankingConfig(pool_per_user=4, shortlist_per_artist=1))
    pool = rank_batch(_batch([ALS_ALL]), _catalog(), None, settings)
    # One per artist: t1 (a1), t5 (a2), t7 (a3); t8's artist is blocked.
    assert {r["track_id"] for r in pool.to_pylist()} == {"t1", "t5", "t7"}


def test_the_ranker_orders_the_pool_when_there_is_one():
    import lightgbm as lgb

    # A model that likes popular tracks (log1p(listeners) > 0.9): t1 (9 listeners) and t5 (3)
    # lead, though ALS ranks them last.
    rng = np.random.default_rng(0)
    features = rng.random((400, len(FEATURES)))
    popularity = FEATURES.index("track_popularity")
    labels = (features[:, popularity] > 0.3).astype(int)
    features[:, popularity] *= 3
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "min_data_in_leaf": 5},
        lgb.Dataset(features, label=labels, feature_name=list(FEATURES)),
        num_boost_round=20,
    )
    reversed_als = [(f"t{i}", "als", 9 - i) for i in range(1, 7)]
    # Every a1 track in the shortlist: the blend ranks t1 last of a1's four.
    settings = replace(SETTINGS, ranking=RankingConfig(pool_per_user=6, shortlist_per_artist=4))
    pool = rank_batch(
        _batch([reversed_als]), _catalog(), Ranker(booster.model_to_string(), "t"), settings
    )
    rows = {r["track_id"]: r for r in pool.to_pylist()}
    assert {r["ranked_by"] for r in rows.values()} == {RANKER}
    assert all(r["ranker_score"] is not None for r in rows.values())
    assert set(_playlist(pool)[:2]) == {"t1", "t5"}


def test_preferred_genres_raise_matching_artists():
    # u0 prefers jazz (a2): x 1.5 for t5 (0.6) and t6, whose boost then lifts it to the top.
    batch = _batch([ALS_ALL, ALS_ALL], preferred_genres=[["jazz"], []])
    pool = rank_batch(batch, _catalog(), None, SETTINGS)
    scores = {(r["user_id"], r["track_id"]): r["score"] for r in pool.to_pylist()}
    assert scores[("u0", "t5")] == pytest.approx(0.6 * 1.5)
    assert scores[("u1", "t5")] == pytest.approx(0.6)
    assert scores[("u0", "t1")] == pytest.approx(1.0)
    assert _playlist(pool, "u0")[0] == "t6" and _playlist(pool, "u1")[0] == "t1"


def test_each_listener_gets_their_own_artists_and_one_without_any_ranks_all_the_same():
    batch = _batch([ALS_ALL, ALS_ALL, ALS_ALL]).drop_columns(["artists"])
    fans = pa.table(
        {
            "user_id": ["u0", "u2"],
            "artists": pa.array(
                [[{"artist_id": "a1", "affinity": 4.0}], [{"artist_id": "a2", "affinity": 1.0}]],
                ARTIST_LIST,
            ),
        }
    )
    joined = with_listener_artists(batch, fans)
    assert joined.column("artists").to_pylist() == [
        [{"artist_id": "a1", "affinity": 4.0}],
        None,  # u1 played no artist with a positive confidence
        [{"artist_id": "a2", "affinity": 1.0}],
    ]
    pool = rank_batch(joined, _catalog(), None, SETTINGS)
    assert all(_playlist(pool, user) for user in ("u0", "u1", "u2"))
    affinity = {(r["user_id"], r["track_id"]): r["artist_affinity"] for r in pool.to_pylist()}
    assert affinity[("u0", "t1")] == 1.0 and affinity[("u1", "t1")] == 0.0
    nobody = with_listener_artists(batch, fans.slice(0, 0))
    assert nobody.column("artists").to_pylist() == [[], [], []]
