"""Thin table I/O: every table is a Parquet folder under the warehouse, read with its
schema from `schemas/` and written one partition at a time (dynamic overwrite)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.core.config import PipelineConfig
from jobs.core.weeks import days_before
from schemas import controls
from schemas import raw_events as raw

log = logging.getLogger(__name__)

STAGING = "_staging"


def table_path(config: PipelineConfig, table: str) -> Path:
    return config.warehouse_dir / table


def staging_path(config: PipelineConfig, table: str) -> Path:
    return config.warehouse_dir / STAGING / table


class MissingTable(FileNotFoundError):
    pass


def staged_week(config: PipelineConfig, table: str, week: date) -> Path:
    return staging_path(config, table) / f"week={week.isoformat()}"


def finished_staged_week(config: PipelineConfig, table: str, week: date) -> Path:
    """The staged week, once its writer finished: Spark writes `_SUCCESS` last, so a job
    killed mid-write leaves a folder that must be neither validated nor published."""
    path = staged_week(config, table, week)
    if path.exists() and not (path / "_SUCCESS").exists():
        raise MissingTable(
            f"{path} is incomplete (no _SUCCESS): the stage writing it was interrupted; "
            "run that stage again"
        )
    return path


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


@dataclass(frozen=True)
class RawFiles:
    """The Parquet files of some raw days, checked by their footers (no data read)."""

    raw_dir: Path
    readable: list[Path]
    unreadable: dict[Path, str]  # file -> why its footer cannot be read
    new_columns: dict[str, int]  # a column the raw schema does not know -> files with it


# Arrow types Spark can merge into one column when files disagree, by family.
_TYPE_FAMILIES = (
    ("integer", pa.types.is_integer),
    ("floating", pa.types.is_floating),
    ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    ("timestamp", pa.types.is_timestamp),
    ("boolean", pa.types.is_boolean),
)


def _type_family(arrow_type: pa.DataType) -> str:
    return next((name for name, test in _TYPE_FAMILIES if test(arrow_type)), str(arrow_type))


def raw_data_files(raw_dir: Path, days: list[date]) -> list[Path] | None:
    """The data files in the folders of `days`; None when none of the folders exists."""
    folders = [raw_day_path(raw_dir, day) for day in days if raw_day_path(raw_dir, day).exists()]
    if not folders:
        return None
    # Spark and Hive write hidden `_SUCCESS`/`.crc` companions: only data files count.
    return sorted(
        path
        for folder in folders
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(("_", "."))
    )


def inspect_raw_days(raw_dir: Path, days: list[date], skip_unreadable: bool = False) -> RawFiles:
    """Every raw file of `days`, footers read on the driver. Raises `RawInputError` naming
    the files when a file lacks a column of the raw schema (missing or renamed), when files
    disagree on a column's type, or when a file is not readable Parquet - unless
    `skip_unreadable`, when such files are returned in `unreadable` for the caller to record.
    Columns the schema does not know are counted in `new_columns` (and ignored)."""
    files = raw_data_files(raw_dir, days)
    if files is None:
        raise RawInputError(
            f"no raw events for {days[0]}..{days[-1]}: expected folders like "
            f"{raw_day_path(raw_dir, days[-1])} under {raw_dir}"
        )
    unreadable, schemas = {}, {}
    for path in files:
        try:
            schemas[path] = pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as error:
            unreadable[path] = str(error).splitlines()[0]
    if unreadable and not skip_unreadable:
        listed = "; ".join(f"{path}: {why}" for path, why in unreadable.items())
        raise RawInputError(
            f"{len(unreadable)} raw file(s) are not readable Parquet: {listed}. Replace or "
            "move them, or set skip_unreadable_raw_files = true to quarantine them and go on"
        )
    problems = []
    expected = raw.SCHEMA.fieldNames()
    for path, schema in schemas.items():
        missing = [name for name in expected if name not in schema.names]
        if missing:
            problems.append(
                f"{path} lacks column(s) {', '.join(missing)}; found {', '.join(schema.names)}"
            )
    families: dict[str, dict[str, Path]] = {}
    for path, schema in schemas.items():
        for field in schema:
            families.setdefault(field.name, {}).setdefault(_type_family(field.type), path)
    for column, seen in families.items():
        if len(seen) > 1:
            problems.append(
                f"column {column} changes type: "
                + ", ".join(f"{family} in {path}" for family, path in seen.items())
            )
    if problems:
        raise RawInputError("raw events schema drift: " + "; ".join(problems))
    new_columns = {
        column: sum(column in schema.names for schema in schemas.values())
        for column in families
        if column not in expected and column != raw.PARTITION_COLUMN
    }
    return RawFiles(raw_dir, sorted(schemas), unreadable, new_columns)


def read_raw_files(spark: SparkSession, files: RawFiles) -> DataFrame:
    """The raw rows of the readable files as they are (types untouched), with the file each
    came from."""
    if not files.readable:
        raise RawInputError(f"no readable raw files under {files.raw_dir}")
    if files.new_columns:
        log.warning("raw events carry column(s) the schema does not know: %s", files.new_columns)
    df = (
        spark.read.option("basePath", str(files.raw_dir))
        .option("mergeSchema", "true")
        .parquet(*[str(path) for path in files.readable])
    )
    return df.withColumn(SOURCE_FILE, F.input_file_name())


def read_raw_days(
    spark: SparkSession, raw_dir: Path, days: list[date], skip_unreadable: bool = False
) -> DataFrame:
    """`read_raw_files` of `inspect_raw_days`."""
    return read_raw_files(spark, inspect_raw_days(raw_dir, days, skip_unreadable))
