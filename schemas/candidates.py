"""`candidates`: the top-K tracks per listener from each candidate source, per week, one row
per listener with a list of candidates (the retrieval pass writes them so: no Spark row per
candidate). `FLAT` is one row per candidate, the view readers flatten it to; `CHECKS` one
row per listener, what the suite checks (jobs/domain/retrieval.py `candidate_checks`).

`rank` is 1-based within (listener, source); `score` is on the source's own scale."""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    ArrayType,
    DateType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

# The `source` column: which candidate generator proposed the row (jobs/stages/candidates.py).
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

# Nullable inside the list only because Spark cannot cast a list's struct to non-null
# fields; the suite checks the flat rows for nulls.
CANDIDATE = StructType(
    [
        StructField("track_id", StringType()),
        StructField("source", StringType()),
        StructField("score", FloatType()),
        StructField("rank", IntegerType()),
    ]
)
SCHEMA = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        # By source (in SOURCES order), then rank.
        StructField("candidates", ArrayType(CANDIDATE), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)
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

# Per listener: the list's length, its candidates with a null field, the sources it names
# that are not in SOURCES (comma-separated, "" when none), the candidates repeating an
# earlier one's (source, track) and (source, rank), and its lowest and highest rank.
CHECKS = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("week", DateType(), nullable=False),
        StructField("candidates", IntegerType(), nullable=False),
        StructField("incomplete", IntegerType(), nullable=False),
        StructField("unknown_sources", StringType(), nullable=False),
        StructField("repeated_tracks", IntegerType(), nullable=False),
        StructField("repeated_ranks", IntegerType(), nullable=False),
        StructField("min_rank", IntegerType(), nullable=True),
        StructField("max_rank", IntegerType(), nullable=True),
        *(StructField(f"from_{source}", IntegerType(), nullable=False) for source in SOURCES),
    ]
)

if TYPE_CHECKING:
    import great_expectations as gx


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's candidates, one row per listener (`CHECKS`): every candidate
    complete, of a known source, ranked 1..`max_rank`, no track or rank twice within a
    source, one row per listener, and `min_rows`..`max_rows` candidates in all."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="candidates",
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectColumnValuesToBeBetween(column="candidates", min_value=1),
            gxe.ExpectColumnValuesToBeInSet(column="incomplete", value_set=[0]),
            gxe.ExpectColumnValuesToBeInSet(column="unknown_sources", value_set=[""]),
            gxe.ExpectColumnValuesToBeInSet(column="repeated_tracks", value_set=[0]),
            gxe.ExpectColumnValuesToBeInSet(column="repeated_ranks", value_set=[0]),
            gxe.ExpectColumnValuesToBeBetween(column="min_rank", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(
                column="max_rank", max_value={"$PARAMETER": "max_rank"}
            ),
            gxe.ExpectColumnSumToBeBetween(
                column="candidates",
                min_value={"$PARAMETER": "min_rows"},
                max_value={"$PARAMETER": "max_rows"},
            ),
        ],
    )
