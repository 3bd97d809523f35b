"""`candidates`: the top-K tracks per listener from each candidate source, per week, one row
per listener with a list of candidates (the retrieval pass writes them so: no Spark row per
candidate). `FLAT` is one row per candidate, the view the suite checks.

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

# The `source` column: which candidate generator proposed the row (jobs/candidates.py).
ALS = "als"  # ALS score u . v
LISTENERS_LIKE_YOU = "listeners_like_you"  # tracks of the nearest users (user-user)
POPULARITY = "popularity"  # most-listened tracks, for cold-start users
CONTENT = "content"  # nearest to the listener's taste profile, within their moods
EXPLORATION = "exploration"  # nearest to the taste profile, in nearby clusters not yet theirs
# Nearest by the artists' tags and genres (TF-IDF cosine, jobs/tags.py): reaches artists
# nobody has played yet.
TAGS = "tags"
# Tracks played with the listener's own tracks (item-item: EASE or RP3beta, jobs/neighbours.py).
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

if TYPE_CHECKING:
    import great_expectations as gx


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's candidates, one row per candidate (`FLAT`). Parameters:
    `max_rank` (candidates_per_user), `min_rows`, `max_rows`."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="candidates",
        expectations=[
            *(gxe.ExpectColumnValuesToNotBeNull(column=field.name) for field in FLAT.fields),
            gxe.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)),
            gxe.ExpectColumnValuesToBeBetween(
                column="rank", min_value=1, max_value={"$PARAMETER": "max_rank"}
            ),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "source", "track_id"]),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "source", "rank"]),
            gxe.ExpectTableRowCountToBeBetween(
                min_value={"$PARAMETER": "min_rows"}, max_value={"$PARAMETER": "max_rows"}
            ),
        ],
    )
