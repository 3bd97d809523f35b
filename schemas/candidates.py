"""`candidates`: the top-K tracks per user from each candidate source, per week."""

from pyspark.sql.types import (
    DateType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

ALS = "als"

SCHEMA = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("score", FloatType(), nullable=False),
        StructField("rank", IntegerType(), nullable=False),
        StructField("source", StringType(), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)
