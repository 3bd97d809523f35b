"""Tag similarity: artists' tags and genres as TF-IDF vectors, the `tags` candidate source,
which reaches artists nobody has played yet.

ALS and "listeners like you" only know items that someone played; the audio sources need
audio features, which Spotify no longer serves to new apps. Words about an artist - user
tags (Last.fm, the catalog's optional `artist_tags`), the catalog's `artists.genres`
(Spotify) - often exist before the first play. Here:

* `tag_space`: one document per artist, its tag assignments and/or genres, as a TF-IDF
  matrix (artists x terms) that travels with its row ids and vocabulary;
* `for_tracks`: the same rows per track, through each track's artist;
* `listener_profiles`: each listener's confidence-weighted mean of the rows they played,
  l2-normalised;
* `top_k_similar`: per listener, the k items nearest by cosine, played items left out,
  listeners scored in blocks so memory stays bounded for 100k listeners, and items with
  identical rows (the tracks of artists with the same tags) scored once per group;
* `tag_scorer`: the source's batch function. The track space is built once on the driver
  and broadcast; the retrieval pass (jobs/domain/retrieval.py) scores each listener batch with one
  sparse product.

Everything is whole-array numpy / scipy.sparse / scikit-learn: no Python loop over rows.
`jobs/tools/evaluate_tags.py` measures the ranking offline on Last.fm (docs/tags-evaluation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix, csr_matrix, vstack
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize

from jobs.domain.scoring import SCORED, masked_csr


@dataclass(frozen=True)
class TagSpace:
    """Row i of `matrix` is item `item_ids[i]`'s TF-IDF vector over `terms`, unit length;
    an item without terms is an all-zero row (similar to nothing)."""

    item_ids: np.ndarray
    terms: np.ndarray
    matrix: csr_matrix  # items x terms, float32

    def has_terms(self) -> np.ndarray:
        """Boolean per item: it has at least one term, so the source can reach it."""
        return np.diff(self.matrix.indptr) > 0


@dataclass(frozen=True)
class TopK:
    """Per listener row, its best items, best first: flat arrays of equal length, sorted by
    (row, rank). Listeners with no item above the floor have no entries."""

    rows: np.ndarray  # the listener's row in the profiles
    items: np.ndarray  # the item's row in the item matrix
    scores: np.ndarray  # float32 cosine
    ranks: np.ndarray  # int32, 1-based within the listener


def normalise_terms(terms: np.ndarray) -> np.ndarray:
    """Terms as matched across sources: whitespace runs collapsed, stripped, casefolded, so
    the Last.fm tag "Hip Hop" and the Spotify genre "hip hop" are one term. Nothing fuzzier:
    "hip-hop" stays apart. A null term becomes "" (no term). Computed once per distinct
    value."""
    codes, uniques = pd.factorize(np.asarray(terms, dtype=object))
    cleaned = pd.Series(uniques, dtype=object).str.replace(r"\s+", " ", regex=True)
    cleaned = cleaned.str.strip().str.casefold().to_numpy(dtype=object)
    return np.append(cleaned, "")[codes]  # code -1 (null) picks the appended ""


def genre_terms(
    artist_ids: np.ndarray, genres: pa.ListArray | pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray]:
    """(artist of each term, term) from the catalog's `artists.genres` column (list<string>,
    null where unknown), row i being `artist_ids[i]`: the input `tag_space` takes."""
    if isinstance(genres, pa.ChunkedArray):
        genres = genres.combine_chunks()
    parents = genres.value_parent_indices().to_numpy()
    values = genres.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(artist_ids)[parents], values


def tag_space(
    artist_ids: np.ndarray, artist_of: np.ndarray, terms: np.ndarray, min_artists: int = 2
) -> TagSpace:
    """The TF-IDF matrix of `artist_ids` (unique; row order kept) from term assignments:
    `terms[j]` given to artist `artist_of[j]`. One assignment is one vote (a user tagging,
    a catalog genre); a repeated (artist, term) counts as often as it is given. Assignments
    to artists outside `artist_ids`, and empty terms, are dropped, and so are terms on fewer
    than `min_artists` artists: a term only one artist has links it to no other artist and
    would only shrink its shared terms' weights in the l2 norm (measured on Last.fm in
    docs/tags-evaluation.md).

    Weights, per artist a and term t (scikit-learn's TfidfTransformer):

        tf(a, t)  = 1 + ln(votes(a, t))                   (sublinear_tf=True)
        idf(t)    = 1 + ln((1 + n) / (1 + df(t)))          (smooth_idf=True)
        row(a)    = tf * idf / || tf * idf ||_2            (norm="l2")

    with n the number of artists and df(t) how many have t. Why these:
    * sublinear tf: on Last.fm a famous artist's top tag has a hundred votes and its third
      a handful; raw counts would make its vector that one tag. The log keeps the
      order of the tags while letting the rest count;
    * idf: "rock", "seen live", "pop" are on thousands of artists and say little about any
      one; rare, specific tags ("shoegaze", "dark cabaret") carry the similarity. The
      smoothed form never divides by zero and keeps every term's weight positive;
    * l2 rows: the cosine of two artists is then a plain dot product, so a listener x
      artists block of scores is one sparse product (`top_k_similar`), and an artist with
      many tags is not closer to everyone than one with few.
    Terms are whole tags ("alternative metal" is one term, not "alternative" + "metal"):
    a tag is a label users chose, and its words alone mean other things ("alternative
    metal" is not "metal").
    """
    artist_ids = np.asarray(artist_ids)
    index = pd.Index(artist_ids)
    if not index.is_unique:
        raise ValueError("artist_ids must be unique: each is one row of the matrix")
    rows = index.get_indexer(np.asarray(artist_of))
    cleaned = normalise_terms(terms)
    kept = (rows >= 0) & (cleaned != "")
    vocabulary, columns = np.unique(cleaned[kept].astype(str), return_inverse=True)
    counts = coo_matrix(
        (np.ones(columns.size, dtype=np.float64), (rows[kept], columns)),
        shape=(len(artist_ids), len(vocabulary)),
    ).tocsr()  # duplicates summed: votes per (artist, term)
    shared = np.flatnonzero(np.bincount(counts.indices, minlength=len(vocabulary)) >= min_artists)
    vocabulary, counts = vocabulary[shared], counts[:, shared]
    if counts.shape[1] == 0:  # no terms at all: every artist is similar to nothing
        return TagSpace(artist_ids, vocabulary, csr_matrix(counts, dtype=np.float32))
    weights = TfidfTransformer(norm="l2", sublinear_tf=True, smooth_idf=True).fit_transform(counts)
    return TagSpace(artist_ids, vocabulary, csr_matrix(weights, dtype=np.float32))


def for_tracks(space: TagSpace, track_ids: np.ndarray, track_artist_ids: np.ndarray) -> TagSpace:
    """The tag space over tracks: each track gets its artist's row (tags describe artists;
    a track inherits them), an all-zero row when the artist is not in `space`."""
    position = pd.Index(space.item_ids).get_indexer(np.asarray(track_artist_ids))
    # Index -1 picks the appended zero row.
    padded = vstack([space.matrix, csr_matrix((1, space.matrix.shape[1]), dtype=np.float32)])
    return TagSpace(np.asarray(track_ids), space.terms, csr_matrix(padded.tocsr()[position]))


def listener_profiles(user_items: csr_matrix, item_matrix: csr_matrix) -> csr_matrix:
    """Listeners x terms: each listener's confidence-weighted mean of the rows of the items
    they played, l2-normalised, so `top_k_similar`'s scores are cosines.

    `user_items[u, i]` is u's confidence for item i (jobs/domain/matrix.py orientation). Only
    positive confidence counts: an item the listener skips is not their taste (as in
    jobs/domain/taste.py). Each item row is unit length, so an item weighs in proportion to its
    confidence alone. The division by the sum of confidences that makes the sum a mean is
    left out: the l2 normalisation that follows removes any per-listener scale. Items
    without terms add nothing; a listener with nothing tagged gets an all-zero profile,
    and `top_k_similar` offers them nothing."""
    weights = csr_matrix(user_items, dtype=np.float32, copy=True)
    weights.data = np.maximum(weights.data, 0)
    weights.eliminate_zeros()
    return csr_matrix(normalize(weights @ item_matrix, norm="l2"), dtype=np.float32)


@dataclass(frozen=True)
class RowGroups:
    """Items whose rows are identical, as groups: `group[i]` is item i's, `distinct` the
    groups' rows (groups x terms)."""

    group: np.ndarray
    distinct: csr_matrix

    def worth_scoring(self, most_groups_share: float = 0.25) -> bool:
        """Few enough groups that scoring them instead of the items saves time."""
        return self.distinct.shape[0] <= most_groups_share * self.group.size


def identical_rows(matrix: csr_matrix) -> RowGroups:
    """The items of `matrix` grouped by identical row. A track inherits its artist's row,
    and artists share genre sets: the generated 10M world's 83,332 tracks have 59 distinct
    rows. Rows are hashed, then compared entry by entry: after a hash collision every item
    is its own group, never in a wrong one."""
    matrix = csr_matrix(matrix, dtype=np.float32, copy=True)
    matrix.sum_duplicates()  # canonical: sorted indices, no repeats
    n_items = matrix.shape[0]
    entries = np.diff(matrix.indptr)
    mixed = matrix.indices.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ (
        matrix.data.view(np.uint32).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    )
    hashes = np.zeros(n_items, np.uint64)
    filled = entries > 0
    hashes[filled] = np.add.reduceat(mixed, matrix.indptr[:-1][filled]) if mixed.size else 0
    _, first, group = np.unique(
        np.stack([hashes, entries.astype(np.uint64)], axis=1),
        axis=0,
        return_index=True,
        return_inverse=True,
    )
    group = group.ravel()
    distinct = matrix[first]
    if (matrix - distinct[group]).count_nonzero():
        return RowGroups(np.arange(n_items), matrix)
    return RowGroups(group, csr_matrix(distinct))


def top_k_similar(
    profiles: csr_matrix,
    item_matrix: csr_matrix,
    k: int,
    played: csr_matrix | None = None,
    floor: float = 0.0,
    max_block_cells: int = 1 << 23,
    groups: RowGroups | None = None,
) -> TopK:
    """Per profile row, the `k` items of highest score profile . item (a cosine when both
    are unit rows), best first, ties to the lower item index; items with a non-zero in that
    row of `played` (listeners x items; every stored entry masks) are left out, and so are
    scores at or below `floor` (the default 0: an item sharing no term with the listener is
    no candidate; -inf ranks every unmasked item).

    Listeners are scored in blocks of max(1, max_block_cells // items) rows: each block is
    one sparse product made dense (at most `max_block_cells` float32 scores, 32 MiB by
    default, copied once by the partial sort), so the working memory does not grow with the
    number of listeners; the profiles themselves are the caller's (in Spark, one Arrow
    batch's).
    The top k is exact: every score at or above a row's k-th best is kept, then sorted by
    (row, -score, item), so equal scores are never cut arbitrarily.

    Items with identical rows (`identical_rows`; `groups` when the caller computed it once
    for many calls) are scored once per group, when there are few enough groups."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_rows, n_items = profiles.shape[0], item_matrix.shape[0]
    if played is not None and played.shape != (n_rows, n_items):
        raise ValueError(f"played is {played.shape}, expected {(n_rows, n_items)}")
    if n_rows == 0 or n_items == 0:
        empty = np.empty(0, dtype=np.int64)
        return TopK(empty, empty, np.empty(0, np.float32), np.empty(0, np.int32))
    k = min(k, n_items)
    grouped = groups if groups is not None else identical_rows(item_matrix)
    if grouped.worth_scoring():
        return _grouped_top_k(profiles, grouped, played, k, floor, max_block_cells)
    items_t = csr_matrix(item_matrix.T, dtype=np.float32)
    block = max(1, max_block_cells // n_items)
    parts = [
        _block_top_k(profiles, items_t, played, start, min(start + block, n_rows), k, floor)
        for start in range(0, n_rows, block)
    ]
    return TopK(*(np.concatenate(arrays) for arrays in zip(*parts)))


def _grouped_top_k(
    profiles: csr_matrix,
    grouped: RowGroups,
    played: csr_matrix | None,
    k: int,
    floor: float,
    max_block_cells: int,
) -> TopK:
    """`top_k_similar` scoring each group once: per listener, the best groups until they
    hold k unplayed items, every group tied with the last of them included, each expanded
    to its first k unplayed items and sorted by (row, -score, item), so the result is the
    same exact top k."""
    n_rows, n_groups = profiles.shape[0], grouped.distinct.shape[0]
    n_items = grouped.group.size
    size = np.bincount(grouped.group, minlength=n_groups)
    members = np.argsort(grouped.group, kind="stable")  # by group, then item
    first_member = np.cumsum(size) - size
    distinct_t = csr_matrix(grouped.distinct.T, dtype=np.float32)
    if played is not None:
        played = csr_matrix(played, copy=True)
        played.sum_duplicates()
    # A row's expansion holds about k items plus its last group's: bound that too.
    block = max(1, max_block_cells // (n_groups + k + int(size.max())))
    parts = []
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        scores = (profiles[start:stop] @ distinct_t).toarray().astype(np.float32, copy=False)
        available = np.broadcast_to(size, scores.shape).astype(np.int64)
        played_keys = np.empty(0, np.int64)
        if played is not None:
            masked = played[start:stop].tocoo()
            np.subtract.at(available, (masked.row, grouped.group[masked.col]), 1)
            played_keys = np.sort(masked.row.astype(np.int64) * n_items + masked.col)
        valid = scores > floor
        order = np.argsort(-scores, axis=1, kind="stable")
        held = np.cumsum(np.take_along_axis(available * valid, order, axis=1), axis=1)
        enough = held >= k
        cut = np.take_along_axis(scores, order, axis=1)[
            np.arange(stop - start), np.argmax(enough, axis=1)
        ]
        threshold = np.where(enough.any(axis=1), cut, -np.inf)
        rows, groups = np.nonzero(valid & (scores >= threshold[:, None]))
        # A group's members in item order: no more than its first k unplayed ones can be in
        # the row's top k, so each expands to at most k plus its played members (the 10M
        # world's 59 groups hold 1,400 tracks each: a batch expanded 5.7M pairs, now 0.4M).
        counts = np.minimum(size[groups], k + size[groups] - available[rows, groups])
        pair = np.repeat(np.arange(rows.size), counts)
        offset = np.arange(pair.size) - np.repeat(np.cumsum(counts) - counts, counts)
        items = members[first_member[groups][pair] + offset]
        rows, values = rows[pair], scores[rows[pair], groups[pair]]
        keys = rows.astype(np.int64) * n_items + items
        found = np.minimum(np.searchsorted(played_keys, keys), max(played_keys.size - 1, 0))
        kept = ~(played_keys[found] == keys) if played_keys.size else np.ones(keys.size, bool)
        rows, items, values = rows[kept], items[kept], values[kept]
        order = np.lexsort((items, -values, rows))
        rows, items, values = rows[order], items[order], values[order]
        ranks = np.arange(rows.size) - np.searchsorted(rows, rows) + 1
        keep = ranks <= k
        parts.append((rows[keep] + start, items[keep], values[keep], ranks[keep].astype(np.int32)))
    return TopK(*(np.concatenate(arrays) for arrays in zip(*parts)))


def _block_top_k(
    profiles: csr_matrix,
    items_t: csr_matrix,
    played: csr_matrix | None,
    start: int,
    stop: int,
    k: int,
    floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`top_k_similar` for profile rows [start, stop): (rows, items, scores, ranks)."""
    scores = (profiles[start:stop] @ items_t).toarray().astype(np.float32, copy=False)
    if played is not None:
        masked = played[start:stop].tocoo()
        scores[masked.row, masked.col] = -np.inf
    # The k-th best score of each row: everything at or above it is a candidate.
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    rows, items = np.nonzero((scores >= kth[:, None]) & (scores > floor))
    values = scores[rows, items]
    order = np.lexsort((items, -values, rows))
    rows, items, values = rows[order], items[order], values[order]
    ranks = np.arange(rows.size) - np.searchsorted(rows, rows) + 1
    keep = ranks <= k
    return (
        rows[keep] + start,
        items[keep],
        values[keep],
        ranks[keep].astype(np.int32),
    )


def catalog_tag_space(
    artists: pa.Table, tracks: pa.Table, artist_tags: pa.Table | None = None
) -> TagSpace:
    """The tag space of the catalog's tracks: each artist's genres (`artists`: artist_id,
    genres) and, when the catalog has them, its user tags (`artist_tags`: artist_id, tag)
    make one TF-IDF document; a track (`tracks`: track_id, artist_id) inherits its
    artist's row. The rows keep the order of `tracks`."""
    artist_ids = artists["artist_id"].to_numpy(zero_copy_only=False)
    artist_of, terms = genre_terms(artist_ids, artists["genres"])
    if artist_tags is not None:
        artist_of = np.concatenate(
            [artist_of, artist_tags["artist_id"].to_numpy(zero_copy_only=False)]
        )
        terms = np.concatenate([terms, artist_tags["tag"].to_numpy(zero_copy_only=False)])
    return for_tracks(
        tag_space(artist_ids, artist_of, terms),
        tracks["track_id"].to_numpy(zero_copy_only=False),
        tracks["artist_id"].to_numpy(zero_copy_only=False),
    )


def tag_scorer(
    track_ids: np.ndarray, track_matrix: csr_matrix, k: int
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The `mapInArrow` function: (user_id, plays [(item_index, confidence)], masked track
    ids) -> each listener's top-k tracks by the cosine of their tag profile and the
    track's row (`candidates.SCORED` rows), masked tracks and tracks sharing no term left
    out."""
    n_items = track_matrix.shape[0]
    masked_ids = pa.array(track_ids, pa.string())
    groups = identical_rows(track_matrix)  # once per task, not per batch

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            plays = batch.column("plays")
            played = plays.flatten()
            listener = plays.value_parent_indices().to_numpy()
            track = played.field("item_index").to_numpy()
            confidence = played.field("confidence").to_numpy()
            user_items = csr_matrix(
                (confidence, (listener, track)), shape=(batch.num_rows, n_items)
            )
            best = top_k_similar(
                listener_profiles(user_items, track_matrix),
                track_matrix,
                k,
                played=masked_csr(batch.column("masked"), masked_ids),
                groups=groups,
            )
            if best.rows.size:
                yield pa.RecordBatch.from_arrays(
                    [
                        batch.column("user_id").take(pa.array(best.rows)),
                        pa.array(track_ids[best.items], pa.string()),
                        pa.array(best.scores, pa.float32()),
                        pa.array(best.ranks, pa.int32()),
                    ],
                    schema=SCORED,
                )

    return score
