"""One stage of a built week, timed, with Spark's job timeline in the log (the old-against-new
figures in docs/benchmarks.md). Run after `weekly-playlists bench`, on its warehouse:

    WP_HOME=<bench root>/events-10000000 python docs/measure_stage.py playlists 2026-11-16

The stage's `run` gets a fresh SparkSession, as its Airflow task does; the last line gives
its seconds and its stage record. Each Spark job's duration is logged by the DAGScheduler
("Job N finished: ... took"). To compare two versions of the code, run it from each
checkout (PYTHONPATH)."""

import importlib
import logging
import sys
import time
from datetime import date

from jobs.core.config import PipelineConfig
from jobs.core.spark import spark_session

stage, week = sys.argv[1], date.fromisoformat(sys.argv[2])
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
for noisy in ("great_expectations", "py4j"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
config = PipelineConfig.load(None)
spark = spark_session(config, f"measure-{stage}")
log4j = spark.sparkContext._jvm.org.apache.logging.log4j
log4j.core.config.Configurator.setLevel("org.apache.spark.scheduler.DAGScheduler", log4j.Level.INFO)
rows: dict = {}
started = time.perf_counter()
importlib.import_module(f"jobs.stages.{stage}").run(spark, config, week, rows)
print("STAGE", stage, round(time.perf_counter() - started, 1), rows)
