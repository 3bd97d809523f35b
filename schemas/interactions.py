"""`interactions`: one row per (user, track) with the confidence ALS trains on, per week."""

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
