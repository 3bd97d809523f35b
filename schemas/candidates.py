"""Candidates: the top-K tracks per listener from each candidate source. The retrieval pass
(jobs/domain/retrieval.py) hands them to the ranking pass in memory, one list per listener
(`RETRIEVED` there), by source then rank; no table holds them (the week's `candidate_pool` keeps
the shortlist the ranker ordered, schemas/pool.py). `FLAT` is one row per candidate, as
the re-ranker scores them.

`rank` is 1-based within (listener, source); `score` is on the source's own scale."""

from pyspark.sql.types import (
    DateType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

# The `source` column: which candidate generator proposed the row
# (jobs/domain/source_models.py).
ALS = "als"  # ALS score u . v
LISTENERS_LIKE_YOU = "listeners_like_you"  # tracks of the nearest users (user-user)
POPULARITY = "popularity"  # most-listened tracks, for cold-start users
CONTENT = "content"  # nearest to the listener's taste profile, within their moods
EXPLORATION = "exploration"  # nearest to the taste profile, in nearby clusters not yet theirs
# Nearest by the artists' tags and genres (TF-IDF cosine, jobs/domain/tags.py): reaches artists
# nobody has played yet.
TAGS = "tags"
# Tracks played with the listener's own tracks (item-item: EASE or RP3beta,
# jobs/domain/neighbours.py).
ITEM_ITEM = "item_item"
SOURCES = (ALS, LISTENERS_LIKE_YOU, POPULARITY, CONTENT, EXPLORATION, TAGS, ITEM_ITEM)

FLAT = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("score", FloatType(), nullable=False),
        StructField("rank", IntegerType(), nullable=False),
        StructField("source", StringType(), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)
