"""The likeability re-ranker's tables, one partition per week (jobs/stages/rerank.py).

`likeability`: for each candidate (user, track) with features, the probability that the
listener plays the track to the end rather than skipping it early.
`reranker_metrics`: one row per week, how well that week's network did on the plays it was
trained on and on held-out listeners."""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    FloatType,
    LongType,
    StringType,
    StructField,
    StructType,
)

if TYPE_CHECKING:
    import great_expectations as gx

LIKEABILITY = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("likeability", FloatType(), nullable=False),  # P(completed play), [0, 1]
        StructField("week", DateType(), nullable=False),
    ]
)

RERANKER_METRICS = StructType(
    [
        StructField("week", DateType(), nullable=False),
        StructField("enabled", BooleanType(), nullable=False),
        # The week whose profiles and factors described the training plays: the week before
        # `week` (leak-free), or `week` itself when that one was missing (in-sample).
        StructField("features_week", DateType(), nullable=False),
        StructField("train_rows", LongType(), nullable=False),
        StructField("validation_rows", LongType(), nullable=False),
        StructField("positive_share", DoubleType(), nullable=False),  # completed plays
        StructField("train_accuracy", DoubleType(), nullable=False),
        # Null when the held-out listeners' plays are all of one class (or there are none).
        StructField("validation_accuracy", DoubleType(), nullable=True),
        StructField("train_auc", DoubleType(), nullable=False),
        StructField("validation_auc", DoubleType(), nullable=True),
        StructField("train_seconds", DoubleType(), nullable=False),
    ]
)

TABLES = {"likeability": LIKEABILITY, "reranker_metrics": RERANKER_METRICS}


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's likeability. Parameters: `max_rows` (distinct candidate pairs:
    scoring never adds a pair)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="likeability",
        expectations=[
            *(gxe.ExpectColumnValuesToNotBeNull(column=f.name) for f in LIKEABILITY.fields),
            gxe.ExpectColumnValuesToBeBetween(column="likeability", min_value=0, max_value=1),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "track_id"]),
            gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value={"$PARAMETER": "max_rows"}),
        ],
    )


def metrics_suite() -> "gx.ExpectationSuite":
    """Checks on a week's reranker_metrics: one row, shares and scores in [0, 1]."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    shares = (
        "positive_share",
        "train_accuracy",
        "validation_accuracy",
        "train_auc",
        "validation_auc",
    )
    return gx.ExpectationSuite(
        name="reranker_metrics",
        expectations=[
            *(
                gxe.ExpectColumnValuesToNotBeNull(column=f.name)
                for f in RERANKER_METRICS.fields
                if not f.nullable
            ),
            *(
                gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1)
                for c in shares
            ),
            gxe.ExpectColumnValuesToBeBetween(column="train_rows", min_value=1),
            gxe.ExpectTableRowCountToEqual(value=1),
        ],
    )
