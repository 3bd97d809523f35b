"""Arrow tables in the Spark schemas of `schemas/`, and their atomic Parquet writes: how
everything written without Spark (the sample world, the dataset adapters, catalog sync, a
Spotify history import) lands in a form the Spark jobs read back unchanged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructType,
    TimestampType,
)

_ARROW_TYPES = {
    StringType: pa.string(),
    BooleanType: pa.bool_(),
    LongType: pa.int64(),
    IntegerType: pa.int32(),
    DoubleType: pa.float64(),
    FloatType: pa.float32(),
    DateType: pa.date32(),
    # Spark 4 refuses nanosecond Parquet timestamps; microseconds in UTC read as TimestampType.
    TimestampType: pa.timestamp("us", tz="UTC"),
}


def arrow_schema(spark_struct: StructType) -> pa.Schema:
    """The Arrow schema that Spark reads back as `spark_struct` (names, types, nullability)."""
    return pa.schema(
        [pa.field(f.name, _arrow_type(f.dataType), nullable=f.nullable) for f in spark_struct]
    )


def _arrow_type(spark_type) -> pa.DataType:
    if isinstance(spark_type, ArrayType):
        element = pa.field("element", _arrow_type(spark_type.elementType), spark_type.containsNull)
        return pa.list_(element)
    try:
        return _ARROW_TYPES[type(spark_type)]
    except KeyError:
        raise TypeError(f"no Arrow type for Spark type {spark_type!r}") from None


def arrow_table(spark_struct: StructType, columns: list[pa.Array]) -> pa.Table:
    """`columns` as a table of `spark_struct`; a null in a non-nullable column is an error."""
    table = pa.Table.from_arrays(columns, schema=arrow_schema(spark_struct))
    for field, column in zip(table.schema, table.columns):
        if not field.nullable and column.null_count:
            raise ValueError(f"nulls in non-nullable column {field.name}")
    return table


def write_table(folder: Path, table: pa.Table) -> int:
    """Replaces the table with a single Parquet file, atomically: readers see the old file
    or the new one, never a missing or half-written table."""
    folder.mkdir(parents=True, exist_ok=True)
    # Spark skips files whose names start with "_" or ".": a reader never sees this one.
    pending = folder / f".part-00000.parquet.{os.getpid()}"
    pq.write_table(table, pending)
    target = folder / "part-00000.parquet"
    os.replace(pending, target)
    for leftover in folder.iterdir():
        if leftover != target:
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
    return table.num_rows
