"""`run_metrics`: one row per (week, dataset, method, metric) from offline evaluation."""

from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType

SCHEMA = StructType(
    [
        StructField("dataset", StringType(), nullable=False),
        StructField("method", StringType(), nullable=False),
        StructField("metric", StringType(), nullable=False),
        StructField("value", DoubleType(), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)
