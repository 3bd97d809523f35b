"""Test helper: candidate lists set by hand, for the Discover Weekly pass to rank as if its
retrieval had found them (jobs/domain/discover.py `build_discover_pool`)."""

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F

from jobs.domain.retrieval import RETRIEVED, listener_inputs


@dataclass(frozen=True)
class GivenLists:
    """Candidate lists (`RETRIEVED` rows) in place of the week's source models: its
    `retriever()` returns the lists of a batch's listeners."""

    lists: pa.Table

    def retriever(self):
        def listed(batch: pa.RecordBatch) -> pa.RecordBatch:
            at = pc.index_in(batch.column("user_id"), value_set=self.lists.column("user_id"))
            found = pc.drop_null(at)
            return pa.RecordBatch.from_arrays(
                [self.lists.column(name).combine_chunks().take(found) for name in RETRIEVED.names],
                schema=RETRIEVED,
            )

        return listed


def given_lists(flat) -> GivenLists:
    """The lists of flat candidate rows (schemas/candidates.py FLAT), per listener by source
    then rank, as retrieval orders them."""
    nested = (
        flat.groupBy("user_id")
        .agg(
            F.sort_array(F.collect_list(F.struct("source", "rank", "track_id", "score"))).alias(
                "_sorted"
            )
        )
        .select(
            "user_id",
            F.transform(
                "_sorted",
                lambda c: F.struct(
                    c["track_id"].alias("track_id"),
                    c["source"].alias("source"),
                    c["score"].cast("float").alias("score"),
                    c["rank"].cast("int").alias("rank"),
                ),
            ).alias("candidates"),
        )
    )
    return GivenLists(nested.toArrow().cast(RETRIEVED))


def listeners_of(flat, profiles=None):
    """`listener_inputs` rows of the listeners of flat candidate rows (with their taste
    `profiles`, when given): what the pass reads of them besides their candidates."""
    return listener_inputs(None, None, None, flat.select("user_id").distinct(), profiles)
