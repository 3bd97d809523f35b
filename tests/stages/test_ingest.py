from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from jobs.core.tables import (
    SOURCE_FILE,
    RawInputError,
    ingest_days,
    inspect_raw_days,
    read_raw_days,
    read_raw_files,
)
from jobs.stages.ingest import parse_events
from schemas import raw_events as raw

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)  # reads 2026-11-16 .. 2026-11-22


def ts(day, hour=12):
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc)


def event(event_id, user="u1", track="t1", when=None, ms=200_000, kind="play", skipped=None):
    return (
        event_id,
        when or ts(17),
        user,
        track,
        ms,
        "clickrow",
        "trackdone",
        skipped,
        False,
        "ios",
        "SE",
        kind,
        None,
    )


@pytest.fixture
def parsed(spark):
    rows = [
        event("e1"),  # clean
        event("e2", ms=12_000),  # clean, skipped derived from ms_played
        event("e3", user=None),
        event("e4", track="t-unknown"),
        event("e5", ms=-5),
        event("e6", ms=5 * 60 * 60 * 1000),
        event("e7", when=ts(15)),  # Sunday before the week's first day
        event("e8", when=ts(23, 0)),  # the publish Monday itself is not part of the week
        event("e9", kind="dance"),
        event("e1", when=ts(18)),  # a re-delivered e1: duplicate
        event(None),
    ]
    df = spark.createDataFrame(rows, schema=raw.SCHEMA).withColumn(SOURCE_FILE, F.lit("f.parquet"))
    tracks = spark.createDataFrame([("t1",)], "track_id string")
    clean, quarantine = parse_events(df, tracks, date(2026, 11, 16), WEEK)
    return clean.collect(), {r["event_id"]: r["reason"] for r in quarantine.collect()}, quarantine


def test_clean_rows_are_typed_and_dated(parsed):
    clean, _, _ = parsed
    by_id = {row["event_id"]: row for row in clean}
    assert sorted(by_id) == ["e1", "e2"]
    assert by_id["e1"]["ts"] == datetime(2026, 11, 17, 12)  # first delivery kept
    assert by_id["e1"]["date"] == date(2026, 11, 17)
    assert (by_id["e1"]["skipped"], by_id["e2"]["skipped"]) == (False, True)


def test_every_bad_row_is_quarantined_with_its_reason(parsed):
    _, reasons, _ = parsed
    assert reasons == {
        "e3": "missing user_id",
        "e4": "track_id not in catalog",
        "e5": "negative ms_played",
        "e6": "ms_played over 4 hours",
        "e7": "ts before the ingested days",
        "e8": "ts after the week",
        "e9": "unknown event_type",
        "e1": "duplicate event_id",
        None: "missing event_id",
    }


def test_quarantine_keeps_source_file_and_week(parsed):
    _, _, quarantine = parsed
    assert {(r["source_file"], r["week"]) for r in quarantine.collect()} == {("f.parquet", WEEK)}


def test_unparseable_field_is_quarantined_not_a_crash(spark):
    # Spark 4 runs ANSI: a plain cast of "abc" would fail the whole job.
    df = spark.createDataFrame(
        [("e1", "2026-11-17 10:00:00", "u1", "t1", "abc", "play", "f")],
        "event_id string, ts string, user_id string, track_id string, ms_played string, "
        "event_type string, source_file string",
    )
    for field in raw.SCHEMA.fields:
        if field.name not in df.columns:
            df = df.withColumn(field.name, F.lit(None).cast(field.dataType))
    clean, quarantine = parse_events(
        df, spark.createDataFrame([("t1",)], "track_id string"), date(2026, 11, 16), WEEK
    )
    assert clean.count() == 0
    assert [r["reason"] for r in quarantine.collect()] == ["missing or unparseable ms_played"]


def test_missing_raw_folder_is_a_clear_error(spark, tmp_path):
    with pytest.raises(RawInputError, match="no raw events for 2026-11-16..2026-11-22"):
        read_raw_days(spark, tmp_path, [date(2026, 11, 16), date(2026, 11, 22)])


def test_missing_column_is_named(spark, tmp_path):
    folder = tmp_path / "date=2026-11-17"
    spark.createDataFrame([("e1", "u1")], "event_id string, user_id string").write.parquet(
        str(folder)
    )
    with pytest.raises(RawInputError, match="lacks column.*track_id"):
        read_raw_days(spark, tmp_path, [date(2026, 11, 17)])


def test_ingest_catches_up_on_never_ingested_history(tmp_path):
    from jobs.core.config import PipelineConfig

    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    for day in ("2026-11-01", "2026-11-09", "2026-11-10"):
        (config.raw_events_dir / f"date={day}").mkdir(parents=True)
    (config.warehouse_dir / "events" / "date=2026-11-09").mkdir(parents=True)  # done before
    days = ingest_days(config, WEEK)
    assert days[:2] == [date(2026, 11, 1), date(2026, 11, 10)]
    assert days[2:] == [date(2026, 11, 16) + timedelta(days=n) for n in range(7)]


def test_quarantine_share_under_the_threshold_passes():
    from jobs.stages.ingest import check_quarantine_share

    assert check_quarantine_share(96, {"negative ms_played": 4}, 0.05, WEEK) == 0.04


def test_quarantine_share_over_the_threshold_names_threshold_share_and_reasons():
    from jobs.stages.ingest import QuarantineThresholdExceeded, check_quarantine_share

    with pytest.raises(QuarantineThresholdExceeded) as error:
        check_quarantine_share(90, {"negative ms_played": 3, "unknown event_type": 7}, 0.05, WEEK)
    message = str(error.value)
    assert "10.0% of 100 raw rows" in message and "5.0% threshold" in message
    assert message.index("unknown event_type (7)") < message.index("negative ms_played (3)")


def test_an_empty_week_is_an_error_not_an_empty_publish():
    from jobs.stages.ingest import check_quarantine_share

    with pytest.raises(RawInputError, match="hold no rows"):
        check_quarantine_share(0, {}, 0.05, WEEK)


def write_raw(folder, rows, schema=raw.SCHEMA, name="part-0.parquet"):
    """Raw rows as one Parquet file written by pyarrow, the way a producer would."""
    from jobs.core.parquet import arrow_schema

    folder.mkdir(parents=True, exist_ok=True)
    arrow = arrow_schema(schema)
    table = pa.Table.from_pylist([dict(zip(arrow.names, row)) for row in rows], schema=arrow)
    pq.write_table(table, folder / name)
    return folder / name


@pytest.mark.parametrize("files", ["none", "empty files"])
def test_a_week_without_events_fails_or_is_skipped_as_configured(tmp_path, files):
    from dataclasses import replace

    from jobs.core.config import PipelineConfig
    from jobs.stages.ingest import week_has_events

    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    if files == "empty files":  # a producer that ran and wrote nothing
        write_raw(config.raw_events_dir / "date=2026-11-18", [])
    # Never-ingested history before the week is for a first run to catch up on, not the
    # week's own events.
    write_raw(config.raw_events_dir / "date=2026-11-10", [event("e0", when=ts(10))])
    rows: dict = {}
    with pytest.raises(RawInputError) as error:
        week_has_events(config, WEEK, rows)
    assert "week 2026-11-23: the raw days 2026-11-16..2026-11-22" in str(error.value)
    assert 'set empty_week = "skip"' in str(error.value)
    assert week_has_events(replace(config, empty_week="skip"), WEEK, rows) is False
    assert rows == {"raw_rows": 0}
    write_raw(config.raw_events_dir / "date=2026-11-22", [event("e1"), event("e2")])
    assert week_has_events(config, WEEK, rows) is True and rows == {"raw_rows": 2}
    # A file that cannot be read is input for ingest to judge, not an empty week.
    (config.raw_events_dir / "date=2026-11-22" / "part-0.parquet").write_bytes(b"PAR1 cut")
    assert week_has_events(config, WEEK, rows) is True


def test_empty_week_setting_is_checked(test_config):
    with pytest.raises(ValueError, match="empty_week = 'ignore': expected one of fail, skip"):
        replace(test_config, empty_week="ignore")


def test_a_corrupt_file_fails_by_name_or_is_set_aside(tmp_path):
    good = write_raw(tmp_path / "date=2026-11-17", [event("e1")])
    corrupt = tmp_path / "date=2026-11-18" / "part-0.parquet"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"PAR1 this was cut off mid-upload")
    days = [date(2026, 11, 17), date(2026, 11, 18)]
    with pytest.raises(
        RawInputError, match=r"1 raw file\(s\) are not readable Parquet: .*18/part-0"
    ):
        inspect_raw_days(tmp_path, days)
    files = inspect_raw_days(tmp_path, days, skip_unreadable=True)
    assert files.readable == [good] and list(files.unreadable) == [corrupt]


def test_schema_drift_names_the_file_and_the_column(tmp_path):
    write_raw(tmp_path / "date=2026-11-17", [event("e1")])
    renamed = StructType(
        [StructField("uid", f.dataType) if f.name == "user_id" else f for f in raw.SCHEMA]
    )
    write_raw(tmp_path / "date=2026-11-18", [event("e2")], renamed)
    retyped = StructType(
        [StructField("ms_played", StringType()) if f.name == "ms_played" else f for f in raw.SCHEMA]
    )
    write_raw(tmp_path / "date=2026-11-19", [event("e3", ms="180000")], retyped)
    with pytest.raises(RawInputError) as error:
        inspect_raw_days(tmp_path, [date(2026, 11, d) for d in (17, 18, 19)])
    message = str(error.value)
    assert "date=2026-11-18/part-0.parquet lacks column(s) user_id" in message
    assert "column ms_played changes type: integer in " in message
    assert "string in " in message and "date=2026-11-19" in message


def test_a_new_column_is_counted_and_the_rows_still_read(spark, tmp_path):
    extended = StructType([*raw.SCHEMA.fields, StructField("device_model", StringType())])
    write_raw(tmp_path / "date=2026-11-17", [(*event("e1"), "pixel")], extended)
    write_raw(tmp_path / "date=2026-11-17", [event("e2")], name="part-1.parquet")
    files = inspect_raw_days(tmp_path, [date(2026, 11, 17)])
    assert files.new_columns == {"device_model": 1}
    rows = read_raw_files(spark, files).select("event_id", SOURCE_FILE).collect()
    assert sorted(r["event_id"] for r in rows) == ["e1", "e2"]
    assert all(r[SOURCE_FILE].endswith(".parquet") for r in rows)
