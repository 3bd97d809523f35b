"""Test helper: flat candidate rows as the `candidates` table holds them."""

from pyspark.sql import functions as F

from schemas import candidates


def nested_candidates(flat):
    """`candidates` table rows (one per listener, a list by source then rank) from one row
    per candidate (schemas/candidates.py FLAT): the form the retrieval pass writes."""
    return (
        flat.groupBy("user_id", "week")
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
                    c["score"].alias("score"),
                    c["rank"].alias("rank"),
                ),
            ).alias("candidates"),
            "week",
        )
        .select([F.col(f.name).cast(f.dataType) for f in candidates.SCHEMA.fields])
    )
