"""`played`: every track each listener ever played before the week, one row per listener,
per week (jobs/domain/history.py). The novelty mask of every candidate source and playlist: kept
as a table so a week reads one row per listener instead of scanning the whole history."""

from typing import TYPE_CHECKING

from pyspark.sql.types import ArrayType, DateType, StringType, StructField, StructType

if TYPE_CHECKING:
    import great_expectations as gx

PLAYED = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("track_ids", ArrayType(StringType()), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)

# Written beside a week's partition: which event files it was built from (jobs/domain/history.py).
EVENTS_FINGERPRINT = "_events_fingerprint"


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's played lists. Parameters: `min_rows`, `max_rows`."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="played",
        expectations=[
            *(gxe.ExpectColumnValuesToNotBeNull(column=f.name) for f in PLAYED.fields),
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectTableRowCountToBeBetween(
                min_value={"$PARAMETER": "min_rows"}, max_value={"$PARAMETER": "max_rows"}
            ),
        ],
    )
