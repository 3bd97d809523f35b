"""Clean events (`events`, partitioned by `date`) and the rows that failed parsing
(`events_quarantine`, partitioned by `week`, the publish week whose ingest saw them)."""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    BooleanType,
    DateType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

EVENTS = StructType(
    [
        StructField("event_id", StringType(), nullable=False),
        StructField("ts", TimestampType(), nullable=False),
        StructField("user_id", StringType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("ms_played", LongType(), nullable=False),
        StructField("reason_start", StringType(), nullable=True),
        StructField("reason_end", StringType(), nullable=True),
        StructField("skipped", BooleanType(), nullable=False),
        StructField("shuffle", BooleanType(), nullable=True),
        StructField("platform", StringType(), nullable=True),
        StructField("conn_country", StringType(), nullable=True),
        StructField("event_type", StringType(), nullable=False),
        StructField("context", StringType(), nullable=True),
        StructField("date", DateType(), nullable=False),
    ]
)

if TYPE_CHECKING:
    import great_expectations as gx


def suite() -> "gx.ExpectationSuite":
    """Checks on the clean events one ingest wrote. Parameters: `first_day`, `last_day` (the
    days ingested), `min_rows`, `max_rows` (see `jobs.core.runlog.row_count_bounds`),
    `min_skip_share`, `min_unskipped_share` (see `jobs.core.runlog.skip_share_bounds`)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from schemas.raw_events import EVENT_TYPES, MAX_MS_PLAYED

    return gx.ExpectationSuite(
        name="events",
        expectations=[
            *(
                gxe.ExpectColumnValuesToNotBeNull(column=field.name)
                for field in EVENTS.fields
                if not field.nullable
            ),
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(EVENT_TYPES)),
            gxe.ExpectColumnValuesToBeBetween(
                column="ms_played", min_value=0, max_value=MAX_MS_PLAYED
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="date",
                min_value={"$PARAMETER": "first_day"},
                max_value={"$PARAMETER": "last_day"},
            ),
            gxe.ExpectTableRowCountToBeBetween(
                min_value={"$PARAMETER": "min_rows"}, max_value={"$PARAMETER": "max_rows"}
            ),
            # The share of skips, from both sides, near last week's.
            gxe.ExpectColumnValuesToBeInSet(
                column="skipped", value_set=[True], mostly={"$PARAMETER": "min_skip_share"}
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="skipped", value_set=[False], mostly={"$PARAMETER": "min_unskipped_share"}
            ),
        ],
    )


QUARANTINE = StructType(
    [
        StructField("reason", StringType(), nullable=False),
        StructField("source_file", StringType(), nullable=True),
        StructField("event_id", StringType(), nullable=True),
        StructField("user_id", StringType(), nullable=True),
        StructField("track_id", StringType(), nullable=True),
        StructField("ts", TimestampType(), nullable=True),
        StructField("ms_played", LongType(), nullable=True),
        StructField("event_type", StringType(), nullable=True),
        StructField("week", DateType(), nullable=False),
    ]
)
