"""`taste_profiles`: each listener's audio taste, per week (jobs/domain/taste.py).

`profile` is the confidence-weighted mean of the min-max scaled audio features of what the
listener played in the look-back window (cluster_models.features order); `moods` is how that
confidence spreads over the week's audio clusters, largest share first."""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

if TYPE_CHECKING:
    import great_expectations as gx

# Nullable inside the struct: Spark cannot prove an aggregate's nested fields non-null, and
# a cast to non-nullable nested fields is refused.
MOOD = StructType(
    [
        StructField("cluster", IntegerType()),
        StructField("share", DoubleType()),
    ]
)

TASTE_PROFILES = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("profile", ArrayType(DoubleType()), nullable=False),
        StructField("moods", ArrayType(MOOD), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's taste profiles (no parameters)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="taste_profiles",
        expectations=[
            *(gxe.ExpectColumnValuesToNotBeNull(column=f.name) for f in TASTE_PROFILES.fields),
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
        ],
    )
