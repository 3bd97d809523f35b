"""jobs.domain.tags and jobs.tools.evaluate_tags on hand-built data (no real data set), and
the `tags` candidate source in Spark."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse import random as sparse_random

from jobs.domain.retrieval import Sources, flat_candidates, listener_inputs, retrieve
from jobs.domain.scoring import masked_by_user
from jobs.domain.tags import (
    catalog_tag_space,
    for_tracks,
    genre_terms,
    identical_rows,
    listener_profiles,
    normalise_terms,
    tag_space,
    top_k_similar,
)
from jobs.tools.evaluate_tags import (
    audio_recs,
    hold_out_artists,
    leak_free_tags,
    ranked_recs,
)

# Four artists, two terms each on two artists (min_artists=2 keeps both), so every row is a
# one-hot unit vector: "shoe" for shoegaze artists, "metal" for metal ones.
ARTISTS = np.array(["a-shoe", "b-shoe", "c-metal", "d-metal"])
SPACE = tag_space(
    ARTISTS,
    np.array(["a-shoe", "b-shoe", "c-metal", "d-metal"]),
    np.array(["shoegaze", "Shoegaze ", "metal", "METAL"]),
)


def listens(*pairs: tuple[str, float], n_listeners: int = 1) -> csr_matrix:
    """Listener 0's confidences for the given artists, as a listeners x ARTISTS matrix."""
    matrix = np.zeros((n_listeners, ARTISTS.size), dtype=np.float32)
    for artist, confidence in pairs:
        matrix[0, list(ARTISTS).index(artist)] = confidence
    return csr_matrix(matrix)


def as_lists(top, n_rows: int) -> list[list[int]]:
    return [list(top.items[top.rows == row]) for row in range(n_rows)]


def test_the_tag_source_reaches_an_artist_nobody_played():
    # Nobody played b-shoe: no play-based source can offer it. The listener played
    # a-shoe, which shares its tag, so b-shoe comes first with cosine 1; the metal
    # artists share nothing (cosine 0) and are no candidates at all.
    played = listens(("a-shoe", 2.0))
    top = top_k_similar(listener_profiles(played, SPACE.matrix), SPACE.matrix, k=3, played=played)

    assert list(ARTISTS[top.items]) == ["b-shoe"]
    assert top.scores[0] == pytest.approx(1.0)
    assert list(top.ranks) == [1]


def test_the_tag_source_reaches_an_unplayed_track_through_its_artist():
    tracks = for_tracks(
        SPACE,
        np.array(["t-a", "t-b", "t-c", "t-unknown"]),
        np.array(["a-shoe", "b-shoe", "c-metal", "no-such-artist"]),
    )
    played = csr_matrix(np.array([[1.0, 0, 0, 0]], dtype=np.float32))  # t-a only

    top = top_k_similar(listener_profiles(played, tracks.matrix), tracks.matrix, k=4, played=played)

    assert list(tracks.item_ids[top.items]) == ["t-b"]
    assert list(tracks.has_terms()) == [True, True, True, False]


def test_a_profile_leans_to_the_tags_of_what_was_played_more():
    # Confidence 3 on a shoegaze artist, 1 on a metal one, -2 (skipped) on the other metal
    # artist: the profile is (3 shoe + 1 metal) / sqrt(10); the skip counts for nothing.
    played = listens(("a-shoe", 3.0), ("c-metal", 1.0), ("d-metal", -2.0))
    profile = listener_profiles(played, SPACE.matrix).toarray()[0]
    shoe, metal = list(SPACE.terms).index("shoegaze"), list(SPACE.terms).index("metal")

    assert profile[shoe] == pytest.approx(3 / math.sqrt(10))
    assert profile[metal] == pytest.approx(1 / math.sqrt(10))

    top = top_k_similar(
        listener_profiles(played, SPACE.matrix), SPACE.matrix, k=4, played=listens(("a-shoe", 1))
    )
    assert list(ARTISTS[top.items]) == ["b-shoe", "c-metal", "d-metal"]
    assert top.scores == pytest.approx([3 / math.sqrt(10), 1 / math.sqrt(10), 1 / math.sqrt(10)])


def test_played_artists_are_left_out_however_similar():
    played = listens(("a-shoe", 1.0), ("b-shoe", 1.0))
    profiles = listener_profiles(played, SPACE.matrix)

    unmasked = top_k_similar(profiles, SPACE.matrix, k=4)
    masked = top_k_similar(profiles, SPACE.matrix, k=4, played=played)

    assert list(ARTISTS[unmasked.items]) == ["a-shoe", "b-shoe"]  # the two nearest...
    assert list(masked.items) == []  # ...are exactly the two played: nothing else shares a tag


def test_a_listener_with_nothing_tagged_gets_nothing():
    space = tag_space(ARTISTS, np.array(["a-shoe", "b-shoe"]), np.array(["x", "x"]))
    played = listens(("c-metal", 5.0))  # c-metal has no terms
    top = top_k_similar(listener_profiles(played, space.matrix), space.matrix, k=2)
    assert top.rows.size == 0


def test_no_listeners_or_no_items_give_no_rows():
    none = top_k_similar(csr_matrix((0, 2), dtype=np.float32), SPACE.matrix, k=3)
    nothing = top_k_similar(
        listener_profiles(listens(("a-shoe", 1.0)), SPACE.matrix), csr_matrix((0, 2)), k=3
    )
    assert none.rows.size == 0 and nothing.rows.size == 0


def test_tf_idf_weights_are_sublinear_smoothed_and_unit_length():
    # Artist x: "rock" by 3 voters, "dreamy" by 1; y: "rock" once; z: "dreamy" once;
    # "solo" only on z is dropped (one artist: links to no other). n = 3 artists, each term
    # on 2 of them, so idf = 1 + ln(4 / 3) for both and x's row is the unit vector of
    # (1 + ln 3, 1) (idf cancels in the norm); y's and z's are one-hots.
    space = tag_space(
        np.array(["x", "y", "z"]),
        np.array(["x", "x", "x", "x", "y", "z", "z"]),
        np.array(["rock", "Rock", "rock", "dreamy", "rock", "dreamy", "solo"]),
    )
    assert list(space.terms) == ["dreamy", "rock"]
    tf = np.array([1.0, 1 + math.log(3)])
    assert space.matrix.toarray() == pytest.approx(
        np.vstack([tf / np.linalg.norm(tf), [0.0, 1.0], [1.0, 0.0]]), abs=1e-6
    )


def test_idf_favours_rare_terms():
    # x has "rock" (on all 3 artists) and "noise" (on 2): equal votes, but noise weighs more.
    space = tag_space(
        np.array(["x", "y", "z"]),
        np.array(["x", "x", "y", "z", "y"]),
        np.array(["rock", "noise", "rock", "rock", "noise"]),
    )
    row = space.matrix.toarray()[0]
    rock, noise = list(space.terms).index("rock"), list(space.terms).index("noise")
    assert row[noise] / row[rock] == pytest.approx((1 + math.log(4 / 3)) / (1 + math.log(4 / 4)))


def test_terms_are_matched_after_whitespace_and_case_only():
    terms = normalise_terms(np.array(["Hip  Hop", " hip hop", "hip-hop", None], dtype=object))
    assert list(terms) == ["hip hop", "hip hop", "hip-hop", ""]


def test_genre_terms_reads_the_catalog_genres_column_nulls_included():
    genres = pa.chunked_array(
        [pa.array([["Rock", "shoegaze"], None, [], ["rock", None]], pa.list_(pa.string()))]
    )
    artists, terms = genre_terms(np.array(["a", "b", "c", "d"]), genres)
    assert list(artists) == ["a", "a", "d", "d"]
    assert list(normalise_terms(terms)) == ["rock", "shoegaze", "rock", ""]


def brute_force_top_k(profiles, items, played, k):
    """Per row: sort every unplayed item with a positive score by (-score, index)."""
    scores = profiles.toarray().astype(np.float64) @ items.toarray().astype(np.float64).T
    result = []
    for row in range(scores.shape[0]):
        allowed = [i for i in range(scores.shape[1]) if played[row, i] == 0 and scores[row, i] > 0]
        result.append(sorted(allowed, key=lambda i: (-scores[row, i], i))[:k])
    return result, scores


@pytest.mark.parametrize("max_block_cells", [1, 7 * 40, 10**6])
@pytest.mark.parametrize("distinct_rows", [30, 6], ids=["per-item", "grouped"])
def test_blocked_top_k_equals_brute_force(max_block_cells, distinct_rows):
    rng = np.random.default_rng(7)
    items = sparse_random(
        distinct_rows, 12, density=0.3, random_state=rng, format="csr", dtype=np.float32
    )
    # Items past the distinct rows repeat them (40 items in all): exact ties, which must go
    # to the lower index. With 6 distinct rows the items are scored as groups.
    items = csr_matrix(np.resize(items.toarray(), (40, 12)))
    assert identical_rows(items).worth_scoring() == (distinct_rows == 6)
    profiles = sparse_random(23, 12, density=0.4, random_state=rng, format="csr", dtype=np.float32)
    played = csr_matrix(rng.random((23, 40)) < 0.2)

    top = top_k_similar(profiles, items, k=5, played=played, max_block_cells=max_block_cells)
    expected, scores = brute_force_top_k(profiles, items, played, 5)

    assert as_lists(top, 23) == expected
    assert top.scores == pytest.approx(scores[top.rows, top.items], rel=1e-5)
    assert all(
        list(top.ranks[top.rows == r]) == list(range(1, len(expected[r]) + 1)) for r in range(23)
    )
    assert sum(map(len, expected)) > 23 * 3  # the case is not trivially empty


def test_the_audio_baseline_ranks_by_centred_cosine_and_skips_unfeatured_artists():
    # Scaled features of 4 artists (2 features); "none" has no features. Mean of the
    # featured = (0.5, 0.5). The listener played "loud" only: profile - mean = (0.5, -0.5),
    # so "loud2" (0.9, 0.2) comes first, "soft" (0, 1) last, "none" never.
    scaled = np.array([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0], [0.0, 0.0], [0.1, 0.8]])
    featured = np.array([True, True, True, False, True])
    ids = np.array([10, 11, 12, 13, 14])  # loud, loud2, soft, none, softish
    listened = csr_matrix(np.array([[2.0, 0, 0, 0, 0]], dtype=np.float32))
    recs = audio_recs(scaled, featured, listened, np.array([1, 2, 3, 4]), np.array([7]), ids)
    assert list(recs["track_id"]) == [11, 14, 12]
    assert list(recs["rank"]) == [1, 2, 3]


def test_popularity_lists_are_shared_with_ties_by_id():
    recs = ranked_recs(np.array([5, 9, 5]), np.array([1, 2]), np.array([30, 20, 10]))
    assert recs.values.tolist() == [
        [1, 20, 1],
        [1, 10, 2],
        [1, 30, 3],
        [2, 20, 1],
        [2, 10, 2],
        [2, 30, 3],
    ]


# Listeners 1..8; artist 100 has 8 listeners, 101 has 6, 102 has 5, 103 has 4 (too few),
# 104 has 7 but no tags. Eligible for the hold-out: 100, 101, 102.
PLAYS = pd.DataFrame(
    [(u, 100, 10 * u) for u in range(1, 9)]
    + [(u, 101, 5) for u in range(1, 7)]
    + [(u, 102, 3) for u in range(2, 7)]
    + [(u, 103, 1) for u in range(1, 5)]
    + [(u, 104, 2) for u in range(1, 8)],
    columns=["user_id", "artist_id", "weight"],
)
TAGGED = np.array([100, 101, 102, 103])


def test_the_hold_out_is_seeded_drawn_from_eligible_artists_and_leak_free():
    split = hold_out_artists(PLAYS, TAGGED, share=0.5, min_listeners=5, seed=3)
    again = hold_out_artists(PLAYS.sample(frac=1, random_state=1), TAGGED, 0.5, 5, seed=3)

    assert split.eligible == 3
    assert split.artists.size == 2  # round(0.5 * 3)
    assert set(split.artists) <= {100, 101, 102}
    assert list(again.artists) == list(split.artists)  # row order does not matter
    # No listen of a held-out artist is left in training, and the truth is all of them.
    assert not split.train["artist_id"].isin(split.artists).any()
    held = PLAYS.loc[PLAYS["artist_id"].isin(split.artists), ["user_id", "artist_id"]]
    pd.testing.assert_frame_equal(
        split.truth.sort_values(["user_id", "artist_id"], ignore_index=True),
        held.sort_values(["user_id", "artist_id"], ignore_index=True),
    )
    assert len(split.train) + len(split.truth) == len(PLAYS)
    seeds = {tuple(hold_out_artists(PLAYS, TAGGED, 0.5, 5, seed=s).artists) for s in range(20)}
    assert len(seeds) > 1  # the seed does pick


def test_only_a_listeners_own_tags_on_a_held_out_artist_are_dropped():
    tags = pd.DataFrame(
        [
            (1, 100, "shoegaze"),  # listener 1 listened to held-out 100: a leak, dropped
            (9, 100, "shoegaze"),  # user 9 never listened to 100: kept
            (1, 104, "metal"),  # listener 1 on a training artist: kept
            (2, 101, "noise"),  # 101 not held out here: kept
        ],
        columns=["user_id", "artist_id", "tag"],
    )
    truth = PLAYS.loc[PLAYS["artist_id"] == 100, ["user_id", "artist_id"]]

    kept = leak_free_tags(tags, truth)

    assert kept.values.tolist() == [[9, 100, "shoegaze"], [1, 104, "metal"], [2, 101, "noise"]]


@pytest.mark.spark
def test_the_tags_source_reaches_an_artist_nobody_played(spark):
    artists = pa.table(
        {
            "artist_id": ["A", "B", "C", "D"],
            "genres": [["shoegaze", "dream pop"], ["Shoegaze"], ["metal"], ["metal", "doom"]],
        }
    )
    tracks = pa.table(
        {"track_id": ["a1", "a2", "b1", "c1", "d1"], "artist_id": ["A", "A", "B", "C", "D"]}
    )
    # A user tag joins a genre: "doom" is then on two artists and counts.
    user_tags = pa.table({"artist_id": ["C"], "tag": ["doom"]})
    space = catalog_tag_space(artists, tracks, user_tags)
    assert list(space.terms) == ["doom", "metal", "shoegaze"]
    interactions = spark.createDataFrame(
        [("u1", "a1", 2.0), ("u2", "c1", 1.0), ("u3", "unknown", 1.0)],
        "user_id string, track_id string, confidence double",
    )
    played = spark.createDataFrame(
        [("u1", "a1"), ("u1", "a2"), ("u2", "c1")], "user_id string, track_id string"
    )

    listeners = listener_inputs(None, interactions, masked_by_user(played), None, None)
    rows = sorted(
        flat_candidates(retrieve(listeners, Sources(k=10, tags=space))).collect(),
        key=lambda r: r.user_id,
    )

    # u1 played only A (shoegaze): B, whom nobody played, is theirs; a2 was played, and metal
    # shares nothing with them. u2's C is tagged as D is. u3's play is of no catalog track.
    assert [(r.user_id, r.track_id, r.rank, r.source) for r in rows] == [
        ("u1", "b1", 1, "tags"),
        ("u2", "d1", 1, "tags"),
    ]
    assert [r.score for r in rows] == pytest.approx([1.0, 1.0])
