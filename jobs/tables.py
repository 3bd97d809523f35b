"""Thin table I/O: every table is a Parquet folder under the warehouse, read with its
schema from `schemas/` and written one partition at a time (dynamic overwrite)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.config import PipelineConfig
from jobs.weeks import days_before
from schemas import controls
from schemas import raw_events as raw

STAGING = "_staging"


def table_path(config: PipelineConfig, table: str) -> Path:
    return config.warehouse_dir / table


def staging_path(config: PipelineConfig, table: str) -> Path:
    return config.warehouse_dir / STAGING / table


class MissingTable(FileNotFoundError):
    pass


def read_parquet(spark: SparkSession, path: Path, schema: StructType) -> DataFrame:
    if not path.exists():
        raise MissingTable(f"no table at {path}: has the stage that writes it run?")
    return spark.read.schema(schema).parquet(str(path))


def read_table(spark: SparkSession, config: PipelineConfig, table: str, schema: StructType):
    return read_parquet(spark, table_path(config, table), schema)


def read_control(spark: SparkSession, config: PipelineConfig, table: str) -> DataFrame:
    """A listener-controls table; an absent one is empty (a service may not offer it)."""
    schema = controls.TABLES[table]
    path = config.controls_dir / table
    if not path.exists():
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(str(path))


def read_week(
    spark: SparkSession, config: PipelineConfig, table: str, schema: StructType, week: date
) -> DataFrame:
    """One week's partition; an absent partition is an error that names the table and week."""
    path = table_path(config, table) / f"week={week.isoformat()}"
    if not path.exists():
        raise MissingTable(f"table {table!r} has no partition week={week}: run its stage first")
    return read_parquet(spark, table_path(config, table), schema).where(
        F.col("week") == F.lit(week)
    )


def write_partitions(df: DataFrame, path: Path, partition_columns: tuple[str, ...]) -> None:
    """Replace only the partitions present in `df` (the session uses dynamic overwrite)."""
    df.write.mode("overwrite").partitionBy(*partition_columns).parquet(str(path))


def write_week(df: DataFrame, path: Path, week: date) -> None:
    """Replace the whole `week=` partition of the table at `path` with `df`, even when `df`
    is empty (a partitioned dynamic overwrite would keep last run's rows in that case)."""
    df.drop("week").write.mode("overwrite").parquet(str(path / f"week={week.isoformat()}"))


def with_schema(df: DataFrame, schema: StructType) -> DataFrame:
    """Columns in the schema's order and types, so every writer produces the same layout."""
    return df.select([F.col(field.name).cast(field.dataType) for field in schema.fields])


SOURCE_FILE = "source_file"


class RawInputError(ValueError):
    """The raw input cannot be ingested at all (missing folder, missing columns)."""


def raw_day_path(raw_dir: Path, day: date) -> Path:
    return raw_dir / f"{raw.PARTITION_COLUMN}={day.isoformat()}"


def ingest_days(config: PipelineConfig, week: date) -> list[date]:
    """The days a week's ingest reads: its own seven, plus any earlier day of the look-back
    window that has raw files but was never ingested (a first run on existing history)."""
    lookback = days_before(week, 7 * config.interactions.lookback_weeks)
    events = table_path(config, "events")
    catch_up = [
        day
        for day in lookback[:-7]
        if raw_day_path(config.raw_events_dir, day).exists()
        and not (events / f"date={day.isoformat()}").exists()
    ]
    return catch_up + lookback[-7:]


def read_raw_days(spark: SparkSession, raw_dir: Path, days: list[date]) -> DataFrame:
    """The raw rows of `days` as they are (types untouched), with the file each came from."""
    paths = [raw_day_path(raw_dir, day) for day in days if raw_day_path(raw_dir, day).exists()]
    if not paths:
        raise RawInputError(
            f"no raw events for {days[0]}..{days[-1]}: expected folders like "
            f"{raw_day_path(raw_dir, days[-1])} under {raw_dir}"
        )
    df = spark.read.option("mergeSchema", "true").parquet(*[str(path) for path in paths])
    missing = [field.name for field in raw.SCHEMA.fields if field.name not in df.columns]
    if missing:
        raise RawInputError(
            f"raw events under {raw_dir} for {days[0]}..{days[-1]} lack column(s) "
            f"{', '.join(missing)}; found {', '.join(df.columns)}"
        )
    return df.withColumn(SOURCE_FILE, F.input_file_name())
