"""`playlists`: the published table downstream teams read.

Partitioned `week=YYYY-MM-DD/playlist_type=...`; `week` is the Monday the playlists are
published for, built from the events before it. No wall-clock column: re-running a week
gives the same rows (when it ran is in the run folder's stage records).
"""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    BooleanType,
    DateType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
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
SOURCE_SIMILAR_ARTIST = "similar_artist"
SOURCE_LISTENERS_LIKE_YOU = "listeners_like_you"
SOURCE_POPULARITY = "popularity"
SOURCE_CONTENT = "content"  # sounds like the listener's taste, in one of their moods
SOURCE_EXPLORATION = "exploration"  # a nearby mood the listener does not play yet
SOURCE_TAGS = "tags"  # its artist is tagged like the artists the listener plays
SOURCE_ITEM_ITEM = "item_item"  # often played with the tracks the listener plays
SOURCES = (
    SOURCE_ALS,
    SOURCE_FOLLOWED_ARTIST,
    SOURCE_PLAYED_ARTIST,
    SOURCE_SIMILAR_ARTIST,
    SOURCE_LISTENERS_LIKE_YOU,
    SOURCE_POPULARITY,
    SOURCE_CONTENT,
    SOURCE_EXPLORATION,
    SOURCE_TAGS,
    SOURCE_ITEM_ITEM,
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
        # A sponsored Discovery Mode boost raised this track's score; campaign_id says whose.
        StructField("boosted", BooleanType(), nullable=False),
        StructField("campaign_id", StringType(), nullable=True),
        StructField("model_version", StringType(), nullable=False),
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
        "boosted",
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


# The rules every published row obeys, checked before publish (jobs/domain/rules.py annotates each
# row with a `violates_<rule>` column: null, or what the row breaks).
RULES = {
    "explicit_filter": "an explicit track for a listener with the explicit filter on",
    "hidden": "a track or artist the listener hid (track: 30 days) or asked not to be suggested",
    "blocked": "a track or artist blocked by a platform rule in force",
    "already_played": "a Discover Weekly track the listener already played",
    "artist_cap": "more tracks of one artist than max_tracks_per_artist in a Discover Weekly",
    "release_cap": "more than one track of one release in a Release Radar",
    "positions": "positions of a playlist not 1..n without gaps",
    "release_window": "a Release Radar track released outside the release window",
    "boost_cap": "more boosted tracks in a playlist than max_boosted_per_playlist",
    "boost_campaign": "a boosted track with no campaign in force for it",
    "boost_after_skip": "a boosted track the listener skipped before",
}


def rules_suite() -> "gx.ExpectationSuite":
    """Every `violates_<rule>` column of the annotated playlists (jobs/domain/rules.py) is null."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="playlist_rules",
        expectations=[
            gxe.ExpectColumnValuesToBeNull(column=f"violates_{rule}", meta={"rule": text})
            for rule, text in RULES.items()
        ],
    )
