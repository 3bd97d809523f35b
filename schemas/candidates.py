"""`candidates`: the top-K tracks per user from each candidate source, per week.

`rank` is 1-based within (user, source); `score` is on the source's own scale."""

from pyspark.sql.types import (
    DateType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

# The `source` column: which candidate generator proposed the row (jobs/candidates.py).
ALS = "als"  # ALS score u . v
LISTENERS_LIKE_YOU = "listeners_like_you"  # tracks of the nearest users (user-user)
POPULARITY = "popularity"  # most-listened tracks, for cold-start users
SOURCES = (ALS, LISTENERS_LIKE_YOU, POPULARITY)

SCHEMA = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("score", FloatType(), nullable=False),
        StructField("rank", IntegerType(), nullable=False),
        StructField("source", StringType(), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)
