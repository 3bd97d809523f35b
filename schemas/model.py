"""ALS model tables, one partition per week: `user_factors`, `track_factors`, `models`."""

from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

USER_FACTORS = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("factors", ArrayType(FloatType(), containsNull=False), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)

TRACK_FACTORS = StructType(
    [
        StructField("track_id", StringType(), nullable=False),
        StructField("factors", ArrayType(FloatType(), containsNull=False), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)

MODELS = StructType(
    [
        StructField("model_version", StringType(), nullable=False),
        StructField("backend", StringType(), nullable=False),
        StructField("factors", IntegerType(), nullable=False),
        StructField("regularization", DoubleType(), nullable=False),
        StructField("alpha", DoubleType(), nullable=False),
        StructField("iterations", IntegerType(), nullable=False),
        StructField("seed", IntegerType(), nullable=False),
        StructField("users", IntegerType(), nullable=False),
        StructField("tracks", IntegerType(), nullable=False),
        StructField("nonzeros", IntegerType(), nullable=False),
        StructField("training_loss", DoubleType(), nullable=True),
        StructField("train_seconds", DoubleType(), nullable=False),
        StructField("trained_at", TimestampType(), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)

TABLES = {"user_factors": USER_FACTORS, "track_factors": TRACK_FACTORS, "models": MODELS}

if TYPE_CHECKING:
    import great_expectations as gx

# ALS factor norms of a healthy model are O(1); far beyond this the fit diverged.
MAX_FACTOR_NORM = 1e3
# An id whose every interaction is an early skip has nothing positive to fit: Spark's
# implicit ALS gives it an exact zero vector, rightly. A model with mostly zero vectors
# has collapsed.
MIN_NONZERO_SHARE = 0.5


def with_factor_stats(factors: DataFrame) -> DataFrame:
    """A factors table plus what `factors_suite` checks: `finite` (no NaN or inf), `norm`
    and `dimensions` (the vector's length)."""
    finite: Column = F.forall("factors", lambda x: ~F.isnan(x) & (F.abs(x) < float("inf")))
    norm = F.sqrt(F.aggregate("factors", F.lit(0.0), lambda acc, x: acc + x * x))
    return factors.withColumns({"finite": finite, "norm": norm, "dimensions": F.size("factors")})


def factors_suite(id_column: str) -> "gx.ExpectationSuite":
    """Checks on `with_factor_stats(user_factors or track_factors)`: one finite, bounded
    vector for every id the model was trained on, most of them non-zero. Parameters: `rows`
    (how many ids the training matrix had), `rank` (factors)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name=f"{id_column.removesuffix('_id')}_factors",
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column=id_column),
            gxe.ExpectColumnValuesToBeUnique(column=id_column),
            gxe.ExpectTableRowCountToEqual(value={"$PARAMETER": "rows"}),
            gxe.ExpectColumnValuesToBeBetween(
                column="dimensions",
                min_value={"$PARAMETER": "rank"},
                max_value={"$PARAMETER": "rank"},
            ),
            gxe.ExpectColumnValuesToBeInSet(column="finite", value_set=[True]),
            gxe.ExpectColumnValuesToBeBetween(
                column="norm", min_value=0, max_value=MAX_FACTOR_NORM
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="norm", min_value=0, strict_min=True, mostly=MIN_NONZERO_SHARE
            ),
        ],
    )
