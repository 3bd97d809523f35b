"""Offline ranking metrics for the weekly recommendations, on pandas frames.

The evaluation job collects two frames from Spark (via Arrow):

- `recs`: user_id, track_id, rank (1 = best); rows with rank > k are ignored.
- `truth`: user_id, track_id, the tracks each user played new in the test week. Duplicate
  rows are ignored.

Accuracy metrics (`precision_at_k`, `recall_at_k`, `ndcg_at_k`, `map_at_k`,
`hit_rate_at_k`) all take `(truth, recs, k)` and return the mean over the users who have at
least one relevant track in `truth`. A user in `truth` without recs scores 0; recs for users
absent from `truth` are ignored. This differs from microsoft/recommenders, which averages only
over users present in both frames: a model that drops users must not look better for it.
With no users in `truth` the mean is NaN.

`rank` is taken as the position in the list, as in retrieval's candidates (a `playlists`
frame passes its `position` column renamed to rank); it is not recomputed from scores.
A track listed twice for one user counts once, at its better rank.

List metrics (`catalog_coverage`, `artist_diversity`, `popularity_bias`) look at the top-k of
every user in `recs`, relevant or not. `ranking_report` computes everything in one pass.

Everything is a groupby/merge over whole columns: 100k users x 30 recs must stay seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

# Column names as in schemas/candidates.py and schemas/catalog.py; `plays` is training plays.
USER_ID = "user_id"
TRACK_ID = "track_id"
RANK = "rank"
ARTIST_ID = "artist_id"
PLAYS = "plays"


def precision_at_k(truth: pd.DataFrame, recs: pd.DataFrame, k: int) -> float:
    """Precision at k: the share of the k recommended slots that hold a relevant track.

    precision@k = mean over users u of |top_k(u) ∩ rel(u)| / k

    The denominator is k even when the user has fewer than k relevant tracks or fewer than
    k recs, as in microsoft/recommenders `python_evaluation.precision_at_k`. implicit's
    `evaluation.precision_at_k` divides by min(k, |rel(u)|) instead, which makes 1 reachable
    for users with few relevant tracks; here the maximum for such a user is |rel(u)| / k.

    Range: [0, 1].
    """
    return _precision(_user_stats(_encode(recs, k, truth), k), k)


def recall_at_k(truth: pd.DataFrame, recs: pd.DataFrame, k: int) -> float:
    """Recall at k: the share of a user's relevant tracks found in the top k.

    recall@k = mean over users u of |top_k(u) ∩ rel(u)| / |rel(u)|

    Source: microsoft/recommenders `python_evaluation.recall_at_k`. A user with more than k
    relevant tracks cannot reach 1.

    Range: [0, 1].
    """
    return _recall(_user_stats(_encode(recs, k, truth), k))


def ndcg_at_k(truth: pd.DataFrame, recs: pd.DataFrame, k: int) -> float:
    """Normalised discounted cumulative gain at k, with binary gains.

    DCG@k(u)  = sum over hits at rank r <= k of 1 / log2(r + 1)
    IDCG@k(u) = sum for r = 1 .. min(k, |rel(u)|) of 1 / log2(r + 1)
    ndcg@k    = mean over users u of DCG@k(u) / IDCG@k(u)

    IDCG is the DCG of the ideal list: every relevant track first. Source: Järvelin &
    Kekäläinen (2002), "Cumulated gain-based evaluation of IR techniques", ACM TOIS 20(4),
    with the log2(r + 1) discount of Burges et al. (2005), as in sklearn's `ndcg_score` and
    microsoft/recommenders `python_evaluation.ndcg_at_k` (binary score type).

    Range: [0, 1].
    """
    return _ndcg(_user_stats(_encode(recs, k, truth), k))


def map_at_k(truth: pd.DataFrame, recs: pd.DataFrame, k: int) -> float:
    """Mean average precision at k.

    AP@k(u) = (1 / min(k, |rel(u)|)) * sum over hits at rank r <= k of precision@r(u)
    map@k   = mean over users u of AP@k(u)

    where precision@r(u) = (hits at ranks <= r) / r. Normalising by min(k, |rel(u)|) rather
    than |rel(u)| lets a user with more than k relevant tracks reach 1 with a perfect top k.
    Source: microsoft/recommenders `python_evaluation.map_at_k` (its `map` divides by
    |rel(u)|), after Spark MLlib `RankingMetrics.meanAveragePrecisionAt`.

    Range: [0, 1].
    """
    return _map(_user_stats(_encode(recs, k, truth), k), k)


def hit_rate_at_k(truth: pd.DataFrame, recs: pd.DataFrame, k: int) -> float:
    """Hit rate at k: the share of users with at least one relevant track in their top k.

    hit_rate@k = mean over users u of [ |top_k(u) ∩ rel(u)| >= 1 ]

    Source: Deshpande & Karypis (2004), "Item-based top-N recommendation algorithms",
    ACM TOIS 22(1) (there called HR).

    Range: [0, 1].
    """
    return _hit_rate(_user_stats(_encode(recs, k, truth), k))


def catalog_coverage(recs: pd.DataFrame, k: int, catalog_size: int) -> float:
    """Catalog coverage: the share of the catalog recommended to anyone in a top k.

    coverage = |union over users u of top_k(u)| / catalog_size

    Source: Ge, Delgado-Battenfeld & Jannach (2010), "Beyond accuracy: evaluating
    recommender systems by coverage and serendipity", RecSys; microsoft/recommenders
    `python_evaluation.catalog_coverage` (which takes the catalog from the training data).

    Range: [0, 1] when every recommended track is in the catalog.
    """
    return _coverage(_encode(recs, k, None), catalog_size)


def artist_diversity(recs: pd.DataFrame, k: int, track_artists: pd.DataFrame) -> float:
    """Artist diversity: distinct artists per recommended track, averaged over users.

    diversity = mean over users u in recs of |artists(top_k(u))| / |top_k(u)|

    `track_artists` maps each track_id to one artist_id (the primary artist, as in the
    catalog `tracks` table); a recommended track missing from it is an error. 1 means every
    track in the list is by a different artist; 1/|top_k(u)| means one artist fills it.

    Range: (0, 1]; NaN when `recs` has no rows with rank <= k.
    """
    return _artist_diversity(_encode(recs, k, None), track_artists)


def popularity_bias(recs: pd.DataFrame, k: int, track_popularity: pd.DataFrame) -> float:
    """Mean popularity percentile of the recommended tracks.

    pct(t) = 100 * (#{c : plays(c) < plays(t)} + 0.5 * #{c : plays(c) = plays(t)}) / N
    bias   = mean of pct(t) over the distinct (user, track) pairs with rank <= k

    where c ranges over the N catalog tracks in `track_popularity` (track_id, plays: training
    plays). A recommended track absent from the table, or with null plays, has 0 plays.
    pct is the mid-rank percentile rank (scipy.stats.percentileofscore with kind="mean"); its
    mean over the catalog is exactly 50, so 50 means no lean towards popular or obscure
    tracks, above 50 a lean towards popular ones. Source: average recommendation popularity (ARP) in
    Abdollahpouri, Burke & Mobasher (2019), "Managing popularity bias in recommender systems
    with personalized re-ranking", FLAIRS; here on percentiles rather than raw counts so that
    weeks with different traffic compare.

    Range: [0, 100]; NaN when `recs` has no rows with rank <= k.
    """
    return _popularity(_encode(recs, k, None), track_popularity)


def ranking_report(
    truth: pd.DataFrame,
    recs: pd.DataFrame,
    k: int,
    catalog_size: int,
    track_artists: pd.DataFrame,
    track_popularity: pd.DataFrame,
) -> dict[str, float]:
    """Every metric of this module at k, encoding and joining the frames once.

    Keys: precision@k, recall@k, ndcg@k, map@k, hit_rate@k (with k's value, e.g. "ndcg@30"),
    coverage, artist_diversity, popularity_percentile, and users_evaluated (the number of
    users with at least one relevant track, the denominator of the accuracy metrics).
    """
    encoded = _encode(recs, k, truth)
    stats = _user_stats(encoded, k)
    return {
        f"precision@{k}": _precision(stats, k),
        f"recall@{k}": _recall(stats),
        f"ndcg@{k}": _ndcg(stats),
        f"map@{k}": _map(stats, k),
        f"hit_rate@{k}": _hit_rate(stats),
        "coverage": _coverage(encoded, catalog_size),
        "artist_diversity": _artist_diversity(encoded, track_artists),
        "popularity_percentile": _popularity(encoded, track_popularity),
        "users_evaluated": float(len(stats)),
    }


@dataclass(frozen=True)
class _Encoded:
    """The top-k recs, and the relevant pairs, with users and tracks as integer codes.

    String keys are hashed once here; every metric then works on int arrays (bincount,
    sort, searchsorted), which is what keeps 3M rows within seconds. (np.unique and np.isin
    are avoided: with numpy 2.4, on 3M int64 keys, they measured 10-60 times a plain sort.)
    """

    user: np.ndarray  # one entry per distinct (user, track) in the top k, sorted by both
    track: np.ndarray
    rank: np.ndarray  # float64
    user_ids: pd.Index  # user_ids[code] is the user_id; shared by recs and truth
    track_ids: pd.Index
    relevant: np.ndarray  # sorted distinct user * len(track_ids) + track keys from truth


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; it has {list(frame.columns)}")


def _encode(recs: pd.DataFrame, k: int, truth: pd.DataFrame | None) -> _Encoded:
    """Check the inputs, keep the top k and encode; `truth=None` for the list metrics."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    _require(recs, (USER_ID, TRACK_ID, RANK), "recs")
    top = recs.loc[recs[RANK] <= k]
    rank = top[RANK].to_numpy(dtype=np.float64)
    if (rank < 1).any():
        raise ValueError("recs has ranks below 1; rank 1 is the best position")
    frames = [top]
    if truth is not None:
        _require(truth, (USER_ID, TRACK_ID), "truth")
        for column in (USER_ID, TRACK_ID):
            # Codes are shared by value: 7 and "7" would silently never match.
            if is_numeric_dtype(recs[column]) != is_numeric_dtype(truth[column]):
                raise ValueError(
                    f"{column} is {recs[column].dtype} in recs but {truth[column].dtype} in truth"
                )
        frames.append(truth)
    user_codes, user_ids = _shared_codes([frame[USER_ID] for frame in frames])
    track_codes, track_ids = _shared_codes([frame[TRACK_ID] for frame in frames])

    # A track listed twice for a user is one recommendation; keep its better rank.
    pair = user_codes[0] * len(track_ids) + track_codes[0]
    by_pair = np.lexsort((rank, pair))
    keep = by_pair[_run_starts(pair[by_pair])]
    relevant = (
        _distinct(user_codes[1] * len(track_ids) + track_codes[1])
        if truth is not None
        else np.empty(0, dtype=np.int64)
    )
    return _Encoded(
        user=user_codes[0][keep],
        track=track_codes[0][keep],
        rank=rank[keep],
        user_ids=user_ids,
        track_ids=track_ids,
        relevant=relevant,
    )


def _shared_codes(columns: list[pd.Series]) -> tuple[list[np.ndarray], pd.Index]:
    """Integer codes for several columns in one value space, and the values by code."""
    codes, uniques = pd.factorize(pd.concat(columns, ignore_index=True))
    if (codes < 0).any():
        # A null id would get code -1 and its pair key would alias another user's track.
        raise ValueError(f"{columns[0].name} has null values")
    return np.split(codes.astype(np.int64), np.cumsum([len(c) for c in columns])[:-1]), uniques


def _run_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Boolean mask of the first element of each run of equal values."""
    starts = np.ones(len(sorted_values), dtype=bool)
    starts[1:] = sorted_values[1:] != sorted_values[:-1]
    return starts


def _distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique's result, by a plain sort)."""
    ordered = np.sort(values)
    return ordered[_run_starts(ordered)]


def _contains(sorted_distinct: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask of `values` found in `sorted_distinct` (np.isin's result)."""
    if len(sorted_distinct) == 0:
        return np.zeros(len(values), dtype=bool)
    position = np.searchsorted(sorted_distinct, values)
    return sorted_distinct[np.minimum(position, len(sorted_distinct) - 1)] == values


def _user_stats(encoded: _Encoded, k: int) -> pd.DataFrame:
    """Per user with relevant tracks: n_relevant, hits, dcg, idcg and ap_sum.

    ap_sum is the sum of precision@r over the hit ranks r, the numerator of AP@k.
    """
    n_users = len(encoded.user_ids)
    n_relevant = np.bincount(encoded.relevant // len(encoded.track_ids), minlength=n_users)

    # The recs are distinct (user, track) pairs, so each hit is counted once.
    rec_pair = encoded.user * len(encoded.track_ids) + encoded.track
    is_hit = _contains(encoded.relevant, rec_pair)
    by_rank = np.lexsort((encoded.rank[is_hit], encoded.user[is_hit]))
    hit_user = encoded.user[is_hit][by_rank]
    hit_rank = encoded.rank[is_hit][by_rank]
    # Number each user's hits 1, 2, ... in rank order: the hits at ranks <= r.
    starts = _run_starts(hit_user)
    run_start = np.flatnonzero(starts)[np.cumsum(starts) - 1]
    hits_so_far = np.arange(1, len(hit_user) + 1) - run_start

    def per_user(weights: np.ndarray | None) -> np.ndarray:
        return np.bincount(hit_user, weights=weights, minlength=n_users)

    ideal_dcg = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))  # IDCG for 1..k relevant tracks
    # Users with relevant tracks but no hits (or no recs at all) keep zero sums.
    evaluated = n_relevant > 0
    return pd.DataFrame(
        {
            "n_relevant": n_relevant[evaluated],
            "hits": per_user(None)[evaluated],
            "dcg": per_user(1.0 / np.log2(hit_rank + 1.0))[evaluated],
            "idcg": ideal_dcg[np.minimum(n_relevant[evaluated], k) - 1],
            "ap_sum": per_user(hits_so_far / hit_rank)[evaluated],
        },
        index=encoded.user_ids[evaluated],
    )


def _precision(stats: pd.DataFrame, k: int) -> float:
    return float((stats["hits"] / k).mean())


def _recall(stats: pd.DataFrame) -> float:
    return float((stats["hits"] / stats["n_relevant"]).mean())


def _ndcg(stats: pd.DataFrame) -> float:
    return float((stats["dcg"] / stats["idcg"]).mean())


def _map(stats: pd.DataFrame, k: int) -> float:
    return float((stats["ap_sum"] / np.minimum(stats["n_relevant"], k)).mean())


def _hit_rate(stats: pd.DataFrame) -> float:
    return float((stats["hits"] > 0).mean())


def _coverage(encoded: _Encoded, catalog_size: int) -> float:
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be positive, got {catalog_size!r}")
    return float(np.count_nonzero(np.bincount(encoded.track)) / catalog_size)


def _artist_diversity(encoded: _Encoded, track_artists: pd.DataFrame) -> float:
    artist_of = _one_row_per_track(track_artists, ARTIST_ID, "track_artists")
    if len(encoded.track) == 0:
        return float("nan")
    listed_tracks = np.flatnonzero(np.bincount(encoded.track))
    artist_codes, artist_ids = pd.factorize(encoded.track_ids[listed_tracks].map(artist_of))
    if (artist_codes < 0).any():
        unknown = encoded.track_ids[listed_tracks[artist_codes < 0]]
        raise ValueError(
            f"{len(unknown)} recommended tracks have no artist in track_artists, "
            f"e.g. {list(unknown[:3])}"
        )
    artist_of_code = np.zeros(len(encoded.track_ids), dtype=np.int64)  # read for listed only
    artist_of_code[listed_tracks] = artist_codes
    user_artist = _distinct(encoded.user * len(artist_ids) + artist_of_code[encoded.track])
    n_users = len(encoded.user_ids)
    artists_per_user = np.bincount(user_artist // len(artist_ids), minlength=n_users)
    # One row per (user, track), so row counts are distinct tracks.
    tracks_per_user = np.bincount(encoded.user, minlength=n_users)
    listed = tracks_per_user > 0
    return float((artists_per_user[listed] / tracks_per_user[listed]).mean())


def _popularity(encoded: _Encoded, track_popularity: pd.DataFrame) -> float:
    plays_of = _one_row_per_track(track_popularity, PLAYS, "track_popularity").fillna(0)
    if plays_of.empty:
        raise ValueError("track_popularity is empty: no catalog to rank against")
    if len(encoded.track) == 0:
        return float("nan")
    catalog_plays = np.sort(plays_of.to_numpy(dtype=np.float64))
    # Percentiles per distinct track, weighted by how often each was recommended.
    times_listed = np.bincount(encoded.track, minlength=len(encoded.track_ids))
    listed_tracks = np.flatnonzero(times_listed)
    plays = encoded.track_ids[listed_tracks].map(plays_of).fillna(0).to_numpy(np.float64)
    below = np.searchsorted(catalog_plays, plays, side="left")
    at_or_below = np.searchsorted(catalog_plays, plays, side="right")
    percentile = 100.0 * (below + at_or_below) / (2 * len(catalog_plays))
    return float(np.average(percentile, weights=times_listed[listed_tracks]))


def _one_row_per_track(frame: pd.DataFrame, value: str, name: str) -> pd.Series:
    """`frame`'s `value` column indexed by track_id; a track listed twice is an error."""
    _require(frame, (TRACK_ID, value), name)
    if frame[TRACK_ID].duplicated().any():
        raise ValueError(f"{name} lists some track_id more than once")
    return frame.set_index(TRACK_ID)[value]
