"""`playlists`: the published table downstream teams read.

Partitioned `week=YYYY-MM-DD/playlist_type=...`; `week` is the Monday the playlists are
published for, built from the events before it.
"""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    DateType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

if TYPE_CHECKING:
    import great_expectations as gx

DISCOVER_WEEKLY = "discover_weekly"
RELEASE_RADAR = "release_radar"
PLAYLIST_TYPES = (DISCOVER_WEEKLY, RELEASE_RADAR)

# Why a track was chosen (the `source` column).
SOURCE_ALS = "als"
SOURCE_FOLLOWED_ARTIST = "followed_artist"
SOURCE_PLAYED_ARTIST = "played_artist"
SOURCE_LISTENERS_LIKE_YOU = "listeners_like_you"
SOURCE_POPULARITY = "popularity"
SOURCES = (
    SOURCE_ALS,
    SOURCE_FOLLOWED_ARTIST,
    SOURCE_PLAYED_ARTIST,
    SOURCE_LISTENERS_LIKE_YOU,
    SOURCE_POPULARITY,
)

SCHEMA = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("position", IntegerType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("artist_id", StringType(), nullable=False),
        StructField("score", FloatType(), nullable=False),
        StructField("source", StringType(), nullable=False),
        StructField("reason", StringType(), nullable=False),
        StructField("model_version", StringType(), nullable=False),
        StructField("generated_at", TimestampType(), nullable=False),
        StructField("week", DateType(), nullable=False),
        StructField("playlist_type", StringType(), nullable=False),
    ]
)

PARTITION_COLUMNS = ("week", "playlist_type")


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's playlists before they are published.

    Run with `{"max_length": ...}` (the configured playlist length) as expectation parameters.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    required = (
        "user_id",
        "track_id",
        "position",
        "source",
        "reason",
        "model_version",
        "week",
        "playlist_type",
        "score",
    )
    return gx.ExpectationSuite(
        name="playlists",
        expectations=[
            *(gxe.ExpectColumnToExist(column=column.name) for column in SCHEMA.fields),
            *(gxe.ExpectColumnValuesToNotBeNull(column=column) for column in required),
            gxe.ExpectColumnValuesToBeInSet(column="playlist_type", value_set=list(PLAYLIST_TYPES)),
            gxe.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)),
            gxe.ExpectColumnValuesToBeBetween(
                column="position", min_value=1, max_value={"$PARAMETER": "max_length"}
            ),
            # A track at most once per playlist, and one track per slot.
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["user_id", "playlist_type", "track_id"]
            ),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["user_id", "playlist_type", "position"]
            ),
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
        ],
    )
