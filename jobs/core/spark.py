"""The one SparkSession factory: every job and the tests build their session here."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from jobs.core.config import PipelineConfig


def spark_session(config: PipelineConfig, app_name: str) -> SparkSession:
    """A session with UTC everywhere, ANSI on, dynamic partition overwrite, shuffle files
    deleted as each query ends and, when `config.hive_catalog`, an embedded Derby
    metastore kept inside the warehouse folder."""
    metastore = config.warehouse_dir / "_metastore"
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config(
            "spark.driver.extraJavaOptions", f"-Duser.timezone=UTC -Dderby.system.home={metastore}"
        )
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.shuffle.partitions", str(config.shuffle_partitions))
        # Adaptive execution may merge a cached frame's shuffle partitions too. GX looks up
        # failing rows with a `limit` over the cached frame, which scans partition after
        # partition: kept at 200, ingesting 121k events took 102 s instead of 28 s.
        .config("spark.sql.optimizer.canChangeCachedPlanOutputPartitioning", "true")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.sql.warehouse.dir", str(config.warehouse_dir))
        .config("spark.local.dir", str(config.scratch_dir))
        # A query's shuffle files are deleted when it ends, not when the driver JVM happens
        # to collect its plan: `run`, `evaluate` and the bench run every stage in one
        # session, and at 50M events the leftovers filled the disk. Measured: none left
        # after count, collect, toPandas or a Parquet write; a cached frame's stay until
        # the JVM collects them.
        .config("spark.sql.classic.shuffleDependency.fileCleanup.enabled", "true")
        # A join keyed (user_id, track_id) on rows already partitioned by user_id shuffles
        # only its other side to match: the playlists' pool is shuffled by listener once.
        .config("spark.sql.requireAllClusterKeysForCoPartition", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    # Under spark-submit (PYSPARK_GATEWAY_PORT set) the master, driver memory and code zip
    # come from its command line; setting them here would silently override the Airflow
    # connection.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if not submitted:
        # Python workers start `PYSPARK_PYTHON`, else a bare `python3` without this
        # interpreter's packages (pyarrow for every mapInArrow): the CLI, the bench and the
        # tests give them the driver's own unless the user chose another.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.master(config.spark_master).config(
            "spark.driver.memory", config.spark_driver_memory
        )
    if config.hive_catalog:
        builder = builder.config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true",
        ).enableHiveSupport()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    code_zip = os.environ.get("WP_PY_FILES")
    if code_zip and not submitted:
        # A driver started by the CLI against a cluster ships the code as --py-files would:
        # executors on other machines have no checkout to import `jobs` from.
        spark.sparkContext.addPyFile(code_zip)
    return spark
