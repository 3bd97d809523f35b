"""Retrieval: every candidate source's top K for a batch of listeners, in one numpy pass.

Each listener row carries what any source reads of them (their ALS factors, the tracks they
ever played, their plays of the look-back window, whether popularity serves them, their
taste profile and moods); the week's source models (`Sources`: track factors, the user
factors and liking matrix of listeners-like-you, track popularity, item-item similarity,
the audio space, the tag space; jobs/domain/source_models.py) are broadcast once. Per Arrow
batch, `Retriever` runs every source's scorer (jobs/domain/scoring.py, jobs/domain/taste.py,
jobs/domain/tags.py) on the batch's rows it serves and returns one row per listener with all
their candidates, as a list: no Spark row per candidate, no shuffle or union per source.
The Discover Weekly pass calls it on each batch before ranking (jobs/domain/discover.py);
`retrieve` runs it alone (the re-ranker's candidates, evaluation, the bench).

    als                 u . v over the track factors, implicit's fused top-K
    listeners_like_you  the `neighbours` nearest users by cosine over the user factors, then
                        what they like voted by similarity (one sparse product)
    popularity          listeners(t) over the look-back window, for cold-start listeners
    content             centred cosine to the taste profile, within the listener's moods
    exploration         the same, within nearby clusters not yet theirs
    tags                cosine of the artists' TF-IDF tag profile
    item_item           sum of the item-item similarities of the tracks they played

Played tracks are masked inside every scorer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.sparse import csr_matrix

from jobs.core.arrays import unit_rows
from jobs.domain.neighbours import ItemSimilarity
from jobs.domain.scoring import SCORED, batch_scorer, vote_scorer
from jobs.domain.tags import TagSpace, tag_scorer
from jobs.domain.taste import AudioSpace
from schemas import candidates as schema

Scorer = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]
CANDIDATE = pa.struct(
    [
        pa.field("track_id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("rank", pa.int32()),
    ]
)
RETRIEVED = pa.schema(
    [pa.field("user_id", pa.string()), pa.field("candidates", pa.list_(CANDIDATE))]
)
RETRIEVED_DDL = (
    "user_id string, candidates array<struct<track_id:string,source:string,score:float,rank:int>>"
)


@dataclass(frozen=True)
class People:
    """Listeners like you: `user_ids` (sorted) with unit-length ALS factors, each listener's
    `neighbours` nearest among them, and the liking matrix their votes are read from
    (`liking_user_ids` x `liking_track_ids`, each row scaled to a maximum of 1)."""

    user_ids: np.ndarray
    unit_factors: np.ndarray
    neighbours: int
    liking_user_ids: np.ndarray
    liking_track_ids: np.ndarray
    liking: csr_matrix


@dataclass(frozen=True)
class Sources:
    """The week's source models; a source that is None offers nothing this week."""

    k: int
    als: tuple[np.ndarray, np.ndarray] | None = None  # (track ids sorted, factors)
    people: People | None = None
    popularity: tuple[np.ndarray, np.ndarray] | None = None  # (track ids sorted, listeners)
    audio: AudioSpace | None = None
    tags: TagSpace | None = None
    item_item: ItemSimilarity | None = None

    def retriever(self) -> Retriever:
        """The batch function over these models (build it where the batches are)."""
        return Retriever(self)


def _lists(values: dict[str, pa.Array], rows: np.ndarray, n_rows: int) -> pa.ListArray:
    """A list<struct> column of `n_rows` rows, entry j (of struct fields `values`) in row
    `rows[j]`; `rows` must be sorted."""
    offsets = np.zeros(n_rows + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=offsets[1:])
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.StructArray.from_arrays(list(values.values()), list(values))
    )


def _positions(values: pa.Array, value_set: np.ndarray) -> np.ndarray:
    """Each value's index in `value_set`, -1 where absent."""
    found = pc.index_in(values, value_set=pa.array(value_set, pa.string()))
    return pc.fill_null(found, -1).to_numpy().astype(np.int64)


def _subset(batch: pa.RecordBatch, rows: np.ndarray, **columns: pa.Array) -> pa.RecordBatch:
    """The scorer input for `rows` of the batch: user_id and masked, plus `columns`."""
    taken = pa.array(rows, pa.int64())
    arrays = {
        "user_id": batch.column("user_id").take(taken),
        "masked": batch.column("masked").take(taken),
    }
    return pa.RecordBatch.from_pydict({**arrays, **columns})


class Retriever:
    """The batch function of `retrieve`, built once per Spark task from `Sources`."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        k = sources.k
        self.scorers: dict[str, Scorer] = {}
        if sources.als is not None:
            self.scorers[schema.ALS] = batch_scorer(*sources.als, k)
        if sources.people is not None:
            people = sources.people
            self.nearest = batch_scorer(
                people.user_ids, people.unit_factors, people.neighbours, cosine=True
            )
            self.scorers[schema.LISTENERS_LIKE_YOU] = vote_scorer(
                people.liking_track_ids, people.liking, k
            )
        if sources.popularity is not None:
            track_ids, listeners = sources.popularity
            self.scorers[schema.POPULARITY] = batch_scorer(track_ids, listeners[:, None], k)
        if sources.audio is not None:
            audio = sources.audio
            unit = unit_rows(audio.space.features - audio.space.mean).astype(np.float32)
            for source in (schema.CONTENT, schema.EXPLORATION):
                self.scorers[source] = batch_scorer(
                    audio.space.track_ids, unit, k, cosine=True, item_groups=audio.space.clusters
                )
        if sources.tags is not None:
            self.scorers[schema.TAGS] = tag_scorer(sources.tags.item_ids, sources.tags.matrix, k)
        if sources.item_item is not None:
            similarity = sources.item_item
            self.scorers[schema.ITEM_ITEM] = vote_scorer(similarity.track_ids, similarity.matrix, k)

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """`RETRIEVED` rows of the batch's listeners that any source offers something."""
        inputs = {
            schema.ALS: self._als,
            schema.LISTENERS_LIKE_YOU: self._people,
            schema.POPULARITY: self._popularity,
            schema.CONTENT: self._content,
            schema.EXPLORATION: self._exploration,
            schema.TAGS: self._tags,
            schema.ITEM_ITEM: self._item_item,
        }
        scored = []
        for source, scorer in self.scorers.items():
            sub = inputs[source](batch)
            if sub is not None and sub.num_rows:
                for part in scorer(iter([sub])):
                    scored.append((schema.SOURCES.index(source), part))
        return _gathered(batch, scored)

    # ---- each source's input rows --------------------------------------------------------

    def _modelled(self, batch: pa.RecordBatch) -> np.ndarray:
        return np.flatnonzero(batch.column("factors").is_valid().to_numpy(zero_copy_only=False))

    def _als(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = self._modelled(batch)
        return _subset(batch, rows, factors=batch.column("factors").take(pa.array(rows)))

    def _people(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        """The votes of each modelled listener's nearest users (similarity > 0), weighted
        by similarity / the sum of their similarities."""
        rows = self._modelled(batch)
        if rows.size == 0:
            return None
        people = self.sources.people
        queries = pa.RecordBatch.from_pydict(
            {
                "user_id": batch.column("user_id").take(pa.array(rows)),
                "factors": batch.column("factors").take(pa.array(rows)),
                # itself is never its own neighbour
                "masked": pa.ListArray.from_arrays(
                    pa.array(np.arange(rows.size + 1), pa.int32()),
                    batch.column("user_id").take(pa.array(rows)),
                ),
            }
        )
        found = pa.Table.from_batches(list(self.nearest(iter([queries]))), schema=SCORED)
        similar = found.filter(pc.greater(found.column("score"), 0))
        query_row = _positions(
            similar.column("user_id"), queries.column("user_id").to_numpy(zero_copy_only=False)
        )
        similarity = similar.column("score").to_numpy()
        total = np.bincount(query_row, weights=similarity, minlength=rows.size)
        weight = (similarity / total[query_row]).astype(np.float32)
        # A neighbour without positive confidences counts in the sum but votes for nothing.
        neighbour = _positions(similar.column("item_id"), people.liking_user_ids)
        voting = neighbour >= 0
        votes = _lists(
            {
                "neighbour_index": pa.array(neighbour[voting]),
                "weight": pa.array(weight[voting]),
            },
            query_row[voting],
            rows.size,
        )
        return _subset(batch, rows, votes=votes)

    def _popularity(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        rows = np.flatnonzero(batch.column("cold").to_numpy(zero_copy_only=False))
        ones = pa.ListArray.from_arrays(
            pa.array(np.arange(rows.size + 1), pa.int32()), pa.array(np.ones(rows.size, np.float32))
        )
        return _subset(batch, rows, factors=ones)

    def _audio(self, batch: pa.RecordBatch, exploring: bool) -> pa.RecordBatch | None:
        rows = np.flatnonzero(batch.column("profile").is_valid().to_numpy(zero_copy_only=False))
        if rows.size == 0:
            return None
        audio = self.sources.audio
        taken = pa.array(rows)
        vectors = batch.column("profile").take(taken).flatten().to_numpy().reshape(rows.size, -1)
        moods = batch.column("moods").take(taken)
        allowed = (audio.exploration_clusters if exploring else audio.content_clusters)(
            vectors, moods
        )
        kept = np.flatnonzero(allowed.any(axis=1))  # a listener allowed no cluster: none
        allowed = allowed[kept]
        centred = (vectors[kept] - audio.space.mean).astype(np.float32)
        cells = np.nonzero(allowed)
        return _subset(
            batch,
            rows[kept],
            factors=pa.ListArray.from_arrays(
                pa.array(np.arange(0, centred.size + 1, centred.shape[1]), pa.int32()),
                pa.array(centred.ravel()),
            ),
            groups=pa.ListArray.from_arrays(
                pa.array(np.r_[0, np.cumsum(allowed.sum(axis=1))], pa.int32()),
                pa.array(cells[1], pa.int32()),
            ),
        )

    def _content(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        return self._audio(batch, exploring=False)

    def _exploration(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        return self._audio(batch, exploring=True)

    def _plays_in(
        self, batch: pa.RecordBatch, item_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, item index, confidence) of each play of a track among `item_ids`, sorted by
        (row, item index): the sums over plays then add up in one order wherever it runs."""
        plays = batch.column("plays")
        entries = plays.flatten()
        row = plays.value_parent_indices().to_numpy()
        item = _positions(pc.struct_field(entries, "track_id"), item_ids)
        confidence = pc.struct_field(entries, "confidence").to_numpy().astype(np.float32)
        known = item >= 0
        row, item, confidence = row[known], item[known], confidence[known]
        order = np.lexsort((item, row))
        return row[order], item[order], confidence[order]

    def _tags(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        row, item, confidence = self._plays_in(batch, self.sources.tags.item_ids)
        plays = _lists(
            {"item_index": pa.array(item), "confidence": pa.array(confidence)}, row, batch.num_rows
        )
        return _subset(batch, np.arange(batch.num_rows), plays=plays)

    def _item_item(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        row, item, _ = self._plays_in(batch, self.sources.item_item.track_ids)
        votes = _lists(
            {
                "neighbour_index": pa.array(item),
                "weight": pa.array(np.ones(item.size, np.float32)),
            },
            row,
            batch.num_rows,
        )
        return _subset(batch, np.arange(batch.num_rows), votes=votes)


def _gathered(batch: pa.RecordBatch, scored: list[tuple[int, pa.RecordBatch]]) -> pa.RecordBatch:
    """One `RETRIEVED` row per listener of `batch` with candidates, from every source's
    scored rows: by source (in `schema.SOURCES` order), then rank."""
    if not scored:
        return pa.RecordBatch.from_pylist([], schema=RETRIEVED)
    parts = pa.Table.from_batches([part for _, part in scored], schema=SCORED)
    parts = pa.RecordBatch.from_arrays(
        [column.combine_chunks() for column in parts.columns], schema=SCORED
    )
    source = np.concatenate([np.full(part.num_rows, code) for code, part in scored])
    user_ids = batch.column("user_id").to_numpy(zero_copy_only=False)
    row = _positions(parts.column("user_id"), user_ids)
    rank = parts.column("rank").to_numpy()
    order = np.lexsort((rank, source, row))
    row = row[order]
    listeners = np.unique(row)
    candidates = _lists(
        {
            "track_id": parts.column("item_id").take(pa.array(order)),
            "source": pa.array(schema.SOURCES, pa.string()).take(pa.array(source[order])),
            "score": parts.column("score").take(pa.array(order)),
            "rank": pa.array(rank[order], pa.int32()),
        },
        np.searchsorted(listeners, row),
        listeners.size,
    )
    return pa.RecordBatch.from_arrays(
        [pa.array(user_ids[listeners], pa.string()), candidates], schema=RETRIEVED
    )


def listener_inputs(
    user_factors: DataFrame | None,
    interactions: DataFrame | None,
    played: DataFrame | None,
    cold: DataFrame | None,
    profiles: DataFrame | None,
) -> DataFrame:
    """One row per listener any source can serve (with ALS factors, plays in the look-back
    window, or cold-start): user_id, factors (null: none), masked (the track ids ever
    played), plays [(track_id, confidence)] (positive confidences), cold, profile and moods
    (null: no taste profile). Any input may be None (tests build one source at a time)."""
    frames = []
    if user_factors is not None:
        frames.append(user_factors.select("user_id", "factors"))
    if interactions is not None:
        frames.append(
            interactions.where(F.col("confidence") > 0)
            .groupBy("user_id")
            .agg(
                F.collect_list(
                    F.struct("track_id", F.col("confidence").cast("float").alias("confidence"))
                ).alias("plays")
            )
        )
    if cold is not None:
        frames.append(cold.select("user_id").distinct().withColumn("cold", F.lit(True)))
    if profiles is not None:
        frames.append(profiles.select("user_id", "profile", "moods"))
    if not frames:
        raise ValueError("no listener inputs: give at least one table")
    users = frames[0].select("user_id")
    for frame in frames[1:]:
        users = users.unionByName(frame.select("user_id"))
    rows = users.distinct()
    for frame in frames:
        rows = rows.join(frame, "user_id", "left")
    if played is not None:
        rows = rows.join(played.select("user_id", "masked"), "user_id", "left")
    defaults = {
        "factors": F.lit(None).cast("array<float>"),
        "plays": F.lit(None).cast("array<struct<track_id:string,confidence:float>>"),
        "cold": F.lit(None).cast("boolean"),
        "profile": F.lit(None).cast("array<float>"),
        "moods": F.lit(None).cast("array<struct<cluster:int,share:double>>"),
        "masked": F.lit(None).cast("array<string>"),
    }
    rows = rows.withColumns({c: v for c, v in defaults.items() if c not in rows.columns})
    return rows.select(
        "user_id",
        F.col("factors").cast("array<float>").alias("factors"),
        F.coalesce("masked", F.expr("cast(array() as array<string>)")).alias("masked"),
        F.coalesce(
            "plays", F.expr("cast(array() as array<struct<track_id:string,confidence:float>>)")
        ).alias("plays"),
        F.coalesce("cold", F.lit(False)).alias("cold"),
        F.col("profile").cast("array<float>").alias("profile"),
        F.coalesce(
            F.col("moods").cast("array<struct<cluster:int,share:double>>"),
            F.expr("cast(array() as array<struct<cluster:int,share:double>>)"),
        ).alias("moods"),
    )


def retrieve(listeners: DataFrame, sources: Sources) -> DataFrame:
    """(user_id, candidates [(track_id, source, score, rank)]) of every listener row
    (`listener_inputs`) that some source offers a track: one `Retriever` call per Arrow
    batch, `sources` broadcast."""
    shipped = listeners.sparkSession.sparkContext.broadcast(sources)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        retriever = Retriever(shipped.value)
        for batch in batches:
            if batch.num_rows:
                out = retriever(batch)
                if out.num_rows:
                    yield out

    return listeners.mapInArrow(run, RETRIEVED_DDL)


def flat_candidates(candidates: DataFrame) -> DataFrame:
    """One row per candidate (user_id, track_id, score, rank, source[, week]) of per-listener
    candidate lists (`retrieve`'s rows: schemas/candidates.py FLAT)."""
    week = ["week"] if "week" in candidates.columns else []
    flat = candidates.select("user_id", F.inline("candidates"), *week)
    return flat.select("user_id", "track_id", "score", "rank", "source", *week)
