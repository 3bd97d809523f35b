"""ALS model tables, one partition per week: `user_factors`, `track_factors`, `models`."""

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
