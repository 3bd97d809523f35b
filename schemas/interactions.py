"""`interactions`: one row per (user, track) with the confidence ALS trains on, per week."""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

SCHEMA = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("confidence", DoubleType(), nullable=False),
        StructField("plays", IntegerType(), nullable=False),
        StructField("skips", IntegerType(), nullable=False),
        StructField("last_played", TimestampType(), nullable=True),
        StructField("week", DateType(), nullable=False),
    ]
)

if TYPE_CHECKING:
    import great_expectations as gx

# |confidence| = |log1p(positive) - log1p(negative)| stays far below this for any real
# listening history (log1p(1e8) is 18.4); beyond it a weight or the decay went wrong.
MAX_ABS_CONFIDENCE = 25.0


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's interactions. Parameters: `min_rows`, `max_rows`."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="interactions",
        expectations=[
            *(
                gxe.ExpectColumnValuesToNotBeNull(column=field.name)
                for field in SCHEMA.fields
                if not field.nullable
            ),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "track_id"]),
            gxe.ExpectColumnValuesToBeBetween(
                column="confidence", min_value=-MAX_ABS_CONFIDENCE, max_value=MAX_ABS_CONFIDENCE
            ),
            gxe.ExpectColumnValuesToBeBetween(column="plays", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="skips", min_value=0),
            gxe.ExpectTableRowCountToBeBetween(
                min_value={"$PARAMETER": "min_rows"}, max_value={"$PARAMETER": "max_rows"}
            ),
        ],
    )
