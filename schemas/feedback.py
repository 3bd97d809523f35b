"""`playlist_feedback`: how each published slot was received in the week after it was
published. Partitioned by `week`, the week the playlists were published for: the run of
week W + 7 days derives week W's rows, once it has ingested the events of W's own week.

A slot was `played` when the listener played its track at all that week, `streamed` when a
play lasted at least the skip threshold (30 s: what counts as a stream), `skipped` when it
was played but never that long; so played = streamed or skipped. `saved` and `added` are
save and playlist-add events of the track that week. `segment` is the listener's at
publishing time (see SEGMENTS).
"""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    BooleanType,
    DateType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

if TYPE_CHECKING:
    import great_expectations as gx

# new: first seen in the last `new_listener_days`; heavy: at least `heavy_weekly_plays`
# plays a week over the look-back window; casual: everyone else.
NEW, CASUAL, HEAVY = "new", "casual", "heavy"
SEGMENTS = (NEW, CASUAL, HEAVY)

SCHEMA = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("playlist_type", StringType(), nullable=False),
        StructField("position", IntegerType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("source", StringType(), nullable=False),
        StructField("boosted", BooleanType(), nullable=False),
        StructField("segment", StringType(), nullable=False),
        StructField("plays", IntegerType(), nullable=False),
        StructField("played", BooleanType(), nullable=False),
        StructField("streamed", BooleanType(), nullable=False),
        StructField("skipped", BooleanType(), nullable=False),
        StructField("saved", BooleanType(), nullable=False),
        StructField("added", BooleanType(), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)


def suite() -> "gx.ExpectationSuite":
    """Checks on one week's feedback rows. Parameters: `slots`, the number of published
    slots of that week (every slot gets exactly one row)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from schemas.playlists import PLAYLIST_TYPES, SOURCES

    return gx.ExpectationSuite(
        name="playlist_feedback",
        expectations=[
            *(gxe.ExpectColumnValuesToNotBeNull(column=field.name) for field in SCHEMA.fields),
            gxe.ExpectColumnValuesToBeInSet(column="segment", value_set=list(SEGMENTS)),
            gxe.ExpectColumnValuesToBeInSet(column="playlist_type", value_set=list(PLAYLIST_TYPES)),
            gxe.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)),
            gxe.ExpectColumnValuesToBeBetween(column="plays", min_value=0),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["user_id", "playlist_type", "position"]
            ),
            gxe.ExpectTableRowCountToEqual(value={"$PARAMETER": "slots"}),
        ],
    )
