"""Clean events (`events`, partitioned by `date`) and the rows that failed parsing
(`events_quarantine`, partitioned by `week`, the publish week whose ingest saw them)."""

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
