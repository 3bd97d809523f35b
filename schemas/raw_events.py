"""Raw listening events as they land, one Parquet folder per day (`date=YYYY-MM-DD`).

Modelled on Spotify's streaming-history ("EndSong") fields, plus an `event_type` for the
non-play signals and an `event_id` so that a re-delivered event can be told from a replay.
"""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    BooleanType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

if TYPE_CHECKING:
    import great_expectations as gx

PLAY = "play"
SAVE = "save"
PLAYLIST_ADD = "playlist_add"
HIDE = "hide"
DONT_SUGGEST = "dont_suggest"
FOLLOW_ARTIST = "follow_artist"
EVENT_TYPES = (PLAY, SAVE, PLAYLIST_ADD, HIDE, DONT_SUGGEST, FOLLOW_ARTIST)

REASONS_START = ("trackdone", "clickrow", "fwdbtn", "backbtn", "playbtn", "appload", "remote")
REASONS_END = ("trackdone", "fwdbtn", "backbtn", "endplay", "logout", "remote")
PLATFORMS = ("android", "ios", "windows", "osx", "web_player", "cast")

# A play longer than this is a logging error, not a listen (the longest tracks are ~1 h).
MAX_MS_PLAYED = 4 * 60 * 60 * 1000

# Every field is nullable: raw input is not trusted, `ingest` quarantines what is missing.
SCHEMA = StructType(
    [
        StructField("event_id", StringType(), nullable=True),
        StructField("ts", TimestampType(), nullable=True),
        StructField("user_id", StringType(), nullable=True),
        StructField("track_id", StringType(), nullable=True),
        StructField("ms_played", LongType(), nullable=True),
        StructField("reason_start", StringType(), nullable=True),
        StructField("reason_end", StringType(), nullable=True),
        StructField("skipped", BooleanType(), nullable=True),
        StructField("shuffle", BooleanType(), nullable=True),
        StructField("platform", StringType(), nullable=True),
        StructField("conn_country", StringType(), nullable=True),
        StructField("event_type", StringType(), nullable=True),
        StructField("context", StringType(), nullable=True),
    ]
)

PARTITION_COLUMN = "date"


def suite() -> "gx.ExpectationSuite":
    """Checks on a day of raw events before they are cleaned.

    Raw data may carry some junk (bad rows are quarantined later), so row-level checks allow
    1% of misses; run with `{"min_rows": ...}` as expectation parameters.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    min_valid_share = 0.99
    return gx.ExpectationSuite(
        name="raw_events",
        expectations=[
            *(gxe.ExpectColumnToExist(column=column.name) for column in SCHEMA.fields),
            *(
                gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=min_valid_share)
                for column in ("event_id", "user_id", "track_id")
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="event_type", value_set=list(EVENT_TYPES), mostly=min_valid_share
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="ms_played", min_value=0, max_value=MAX_MS_PLAYED, mostly=min_valid_share
            ),
            gxe.ExpectTableRowCountToBeBetween(min_value={"$PARAMETER": "min_rows"}),
        ],
    )
