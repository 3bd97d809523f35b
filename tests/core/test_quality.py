"""The GX suites in `schemas/` (one per stage output), run through `jobs.core.quality`.

Each validate call costs a few Spark jobs per expectation, so every fixture is tiny and every
call checks as much as it can (outcome, message and result JSON together).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from pyspark.sql.types import StructField, StructType

from jobs.core import quality
from jobs.core.quality import ValidationFailed, rows_with_repeated_keys, validate
from jobs.core.runlog import skip_share_bounds
from schemas import candidates, events, interactions, model, playlists, raw_events

pytestmark = pytest.mark.spark

WEEK = dt.date(2024, 6, 3)
MAX_LENGTH = 3
RAW_ROWS = 100
MIN_RAW_ROWS = 50


def _nullable(schema: StructType) -> StructType:
    """The schema with every field nullable, so that Spark lets bad fixtures through to GX."""
    return StructType([StructField(f.name, f.dataType, nullable=True) for f in schema.fields])


def _frame(spark, rows: list[dict], schema: StructType):
    return spark.createDataFrame(
        [tuple(row[name] for name in schema.fieldNames()) for row in rows],
        schema=_nullable(schema),
    )


def _playlist_rows() -> list[dict]:
    """Two users, both playlist types, positions 1..MAX_LENGTH: a valid week."""
    rows = []
    for user in ("u1", "u2"):
        for playlist_type, source in zip(playlists.PLAYLIST_TYPES, playlists.SOURCES):
            for position in range(1, MAX_LENGTH + 1):
                rows.append(
                    {
                        "user_id": user,
                        "position": position,
                        "track_id": f"t{position}",
                        "artist_id": f"a{position}",
                        "score": 1.0 / position,
                        "source": source,
                        "reason": "because you listened to a1",
                        "boosted": False,
                        "campaign_id": None,
                        "model_version": "als-test",
                        "week": WEEK,
                        "playlist_type": playlist_type,
                    }
                )
    return rows


def _raw_rows() -> list[dict]:
    """RAW_ROWS plays, one of them of an unknown type: the 1% of junk raw data may carry."""
    start = dt.datetime(2024, 6, 1)
    rows = [
        {
            "event_id": f"e{i}",
            "ts": start + dt.timedelta(minutes=i),
            "user_id": f"u{i % 7}",
            "track_id": f"t{i % 13}",
            "ms_played": 1000 * i,
            "reason_start": "trackdone",
            "reason_end": "trackdone",
            "skipped": False,
            "shuffle": False,
            "platform": "android",
            "conn_country": "SE",
            "event_type": raw_events.PLAY,
            "context": None,
        }
        for i in range(RAW_ROWS)
    ]
    rows[0]["event_type"] = "glitch"
    return rows


def _raw_frame(spark, rows: list[dict] | None = None):
    return _frame(spark, _raw_rows() if rows is None else rows, raw_events.SCHEMA)


def _set(rows: list[dict], index: int, **changes) -> list[dict]:
    rows[index] = {**rows[index], **changes}
    return rows


def test_good_playlists_pass_and_write_results(spark, tmp_path):
    df = _frame(spark, _playlist_rows(), playlists.SCHEMA)

    results = tmp_path / "validation"
    summary = validate(df, playlists.suite(), {"max_length": MAX_LENGTH}, results_dir=results)

    assert summary.success and summary.failed == []
    assert summary.suite_name == "playlists"
    assert summary.evaluated == len(playlists.suite().expectations)
    written = json.loads((results / "playlists.json").read_text())
    assert written["success"] is True
    assert len(written["results"]) == summary.evaluated
    page = (tmp_path / "data_docs" / "playlists.html").read_text()
    assert "Expectation Suite: playlists" in " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Values for given compound columns must be unique together" in page


@pytest.mark.parametrize(
    ("break_rows", "named"),
    [
        pytest.param(
            lambda rows: _set(rows, 1, track_id=rows[0]["track_id"]),
            ["expect_compound_columns_to_be_unique", "'track_id'"],
            id="duplicate-track-in-playlist",
        ),
        pytest.param(
            lambda rows: _set(rows, 0, position=0),
            ["expect_column_values_to_be_between on position", "[0]"],
            id="position-zero",
        ),
        pytest.param(
            lambda rows: _set(rows, MAX_LENGTH - 1, position=MAX_LENGTH + 1),
            ["expect_column_values_to_be_between on position", f"[{MAX_LENGTH + 1}]"],
            id="position-over-max-length",
        ),
        pytest.param(
            lambda rows: _set(rows, 0, playlist_type="daily_mix"),
            ["expect_column_values_to_be_in_set on playlist_type", "'daily_mix'"],
            id="unknown-playlist-type",
        ),
        pytest.param(
            lambda rows: _set(rows, 0, user_id=None),
            ["expect_column_values_to_not_be_null on user_id"],
            id="null-user-id",
        ),
    ],
)
def test_broken_playlists_fail_naming_the_cause(spark, tmp_path, break_rows, named):
    df = _frame(spark, break_rows(_playlist_rows()), playlists.SCHEMA)

    with pytest.raises(ValidationFailed) as failure:
        validate(
            df, playlists.suite(), {"max_length": MAX_LENGTH}, results_dir=tmp_path / "validation"
        )

    message = str(failure.value)
    assert "'playlists'" in message
    assert len(failure.value.summary.failed) == 1, message
    for text in named:
        assert text in message
    # The result and its Data Docs page are kept for the run even when the suite fails.
    assert json.loads((tmp_path / "validation" / "playlists.json").read_text())["success"] is False
    page = " ".join(
        re.sub(r"<[^>]+>", " ", (tmp_path / "data_docs" / "playlists.html").read_text()).split()
    )
    assert "Status: Failed" in page


def test_good_raw_events_pass_despite_one_percent_junk(spark, tmp_path):
    df = _raw_frame(spark)

    summary = validate(
        df, raw_events.suite(), {"min_rows": MIN_RAW_ROWS}, results_dir=tmp_path / "validation"
    )

    assert summary.success and summary.failed == []
    assert summary.evaluated == len(raw_events.suite().expectations)
    assert json.loads((tmp_path / "validation" / "raw_events.json").read_text())["success"] is True


@pytest.mark.parametrize(
    ("build", "min_rows", "named", "failures"),
    [
        pytest.param(
            _raw_frame,
            RAW_ROWS + 1,
            ["expect_table_row_count_to_be_between", f"observed {RAW_ROWS}"],
            1,
            id="too-few-rows",
        ),
        pytest.param(
            # A second junk type on top of the tolerated one: 2% of the rows.
            lambda spark: _raw_frame(spark, _set(_raw_rows(), 1, event_type="glitch")),
            MIN_RAW_ROWS,
            ["expect_column_values_to_be_in_set on event_type", "'glitch'"],
            1,
            id="unknown-event-types",
        ),
        pytest.param(
            lambda spark: _raw_frame(
                spark, _set(_set(_raw_rows(), 1, ms_played=-1), 2, ms_played=-5)
            ),
            MIN_RAW_ROWS,
            ["expect_column_values_to_be_between on ms_played", "-1", "-5"],
            1,
            id="negative-ms-played",
        ),
        pytest.param(
            # The range check on the dropped column cannot run: it fails with the reason.
            lambda spark: _raw_frame(spark).drop("ms_played"),
            MIN_RAW_ROWS,
            [
                "expect_column_to_exist on ms_played",
                'could not be evaluated: Error: The column "ms_played" in BatchData does not exist',
            ],
            2,
            id="missing-column",
        ),
    ],
)
def test_broken_raw_events_fail_naming_the_cause(spark, build, min_rows, named, failures):
    with pytest.raises(ValidationFailed) as failure:
        validate(build(spark), raw_events.suite(), {"min_rows": min_rows})

    message = str(failure.value)
    assert "'raw_events'" in message
    assert len(failure.value.summary.failed) == failures, message
    for text in named:
        assert text in message


def _failed(spark, rows, schema, suite, params):
    """The expectation types (and columns) a suite reports failed on `rows`."""
    with pytest.raises(ValidationFailed) as failure:
        validate(_frame(spark, rows, schema) if isinstance(rows, list) else rows, suite, params)
    return sorted(
        re.match(r"\w+(?: on (?:\[[^\]]*\]|\w+))?", line).group()
        for line in failure.value.summary.failed
    )


def test_clean_events_suite_catches_duplicates_stray_days_and_a_collapsed_count(spark, clean_event):
    names = events.EVENTS.fieldNames()
    good = [dict(zip(names, clean_event(n, "u1", "t1", 2))) for n in range(3)]
    duplicated = {**good[0]}
    stray = dict(zip(names, clean_event(9, "u1", "t1", 20)))  # not an ingested day
    params = {
        "first_day": "2026-11-16",
        "last_day": "2026-11-22",
        "min_rows": 10,
        "max_rows": None,
        **skip_share_bounds({}, 0.15),
    }
    failed = _failed(spark, good + [duplicated, stray], events.EVENTS, events.suite(), params)
    assert failed == [
        "expect_column_values_to_be_between on date",
        "expect_column_values_to_be_unique on event_id",
        "expect_table_row_count_to_be_between",
    ]


def test_clean_events_suite_compares_the_share_of_skips_with_last_week(spark, clean_event):
    names = events.EVENTS.fieldNames()

    def week_with_skips(skips: int):
        # 10 events, `skips` of them under 30 s (skipped).
        return [
            dict(zip(names, clean_event(n, "u1", "t1", 2, ms=5_000 if n < skips else 180_000)))
            for n in range(10)
        ]

    def failed(skips: int, last_week: dict) -> list:
        params = {
            "first_day": "2026-11-16",
            "last_day": "2026-11-22",
            "min_rows": 1,
            "max_rows": None,
            **skip_share_bounds(last_week, 0.15),
        }
        try:
            validate(_frame(spark, week_with_skips(skips), events.EVENTS), events.suite(), params)
        except ValidationFailed as failure:
            return failure.summary.failed
        return []

    last_week = {"events": 1000, "skips": 300}  # 30% skipped
    assert failed(3, last_week) == []
    assert failed(4, last_week) == []  # 40%: within 15 points
    too_many = failed(5, last_week)  # 50%
    assert len(too_many) == 1 and "value_set=[False]" in too_many[0]
    too_few = failed(1, last_week)  # 10%
    assert len(too_few) == 1 and "value_set=[True]" in too_few[0]
    assert failed(10, {}) == []  # no last week: anything goes


def test_interactions_suite_catches_a_repeated_pair_and_runaway_confidence(spark):
    row = {
        "user_id": "u1",
        "track_id": "t1",
        "confidence": 1.0,
        "plays": 1,
        "skips": 0,
        "last_played": None,
        "week": WEEK,
    }
    rows = [row, {**row, "confidence": 1e6}, {**row, "track_id": "t2", "plays": -1}]
    failed = _failed(
        spark, rows, interactions.SCHEMA, interactions.suite(), {"min_rows": 1, "max_rows": None}
    )
    assert failed == [
        "expect_column_values_to_be_between on confidence",
        "expect_column_values_to_be_between on plays",
        "expect_compound_columns_to_be_unique on ['user_id', 'track_id']",
    ]


def test_factors_suite_passes_a_healthy_model_and_catches_nan_collapse_and_missing_ids(spark):
    def factors(rows):
        frame = spark.createDataFrame(
            [(f"u{i}", vector, WEEK) for i, vector in enumerate(rows)], schema=model.USER_FACTORS
        )
        return model.with_factor_stats(frame)

    suite = model.factors_suite("user_id")
    assert suite.name == "user_factors"
    validate(factors([[0.5, -0.2], [0.1, 0.3]]), suite, {"rows": 2, "rank": 2})
    # A track only ever skipped early: a zero vector beside healthy ones is no failure...
    validate(factors([[0.5, -0.2], [0.1, 0.3], [0.0, 0.0]]), suite, {"rows": 3, "rank": 2})
    # ... but a model of mostly zero vectors has collapsed.
    collapsed = factors([[0.0, 0.0], [0.0, 0.0], [0.1, 0.3]])
    assert _failed(spark, collapsed, None, suite, {"rows": 3, "rank": 2}) == [
        "expect_column_values_to_be_between on norm"
    ]
    broken = factors([[float("nan"), 0.0], [0.0, 0.0], [1.0]])
    failed = _failed(spark, broken, None, suite, {"rows": 4, "rank": 2})
    assert failed == [
        "expect_column_values_to_be_between on dimensions",
        "expect_column_values_to_be_between on norm",
        "expect_column_values_to_be_in_set on finite",
        "expect_table_row_count_to_equal",
    ]


@pytest.mark.parametrize("listed_hashes", [quality._MAX_LISTED_HASHES, 0], ids=["listed", "joined"])
def test_uniqueness_is_checked_on_the_rows_whose_key_repeats(spark, monkeypatch, listed_hashes):
    # 0: more repeated hashes than may be listed, so the rows are found with a join.
    monkeypatch.setattr(quality, "_MAX_LISTED_HASHES", listed_hashes)
    row = {"user_id": "u1", "track_id": "t1", "score": 1.0, "rank": 1, "source": "als"}
    rows = [
        row,
        {**row, "track_id": "t2", "rank": 2},
        {**row, "rank": 3},  # t1 again for u1/als
        {**row, "source": "content"},  # t1 for u1 from another source: allowed
        {**row, "user_id": "u2", "track_id": "t2", "rank": 2},
        {**row, "user_id": "u2", "track_id": "t2", "rank": 2},  # the same row twice
        {**row, "user_id": None, "track_id": None, "source": None},
    ]
    frame = _frame(spark, [{**r, "week": WEEK} for r in rows], candidates.FLAT)
    repeated = rows_with_repeated_keys(frame, ["user_id", "source", "track_id"])
    assert sorted((r.user_id, r.track_id, r.rank) for r in repeated.collect()) == [
        ("u1", "t1", 1),
        ("u1", "t1", 3),
        ("u2", "t2", 2),
        ("u2", "t2", 2),
    ]
    import great_expectations as gx
    import great_expectations.expectations as gxe

    keys = [["user_id", "source", "track_id"], ["user_id", "source", "rank"]]
    suite = gx.ExpectationSuite(
        name="unique_keys",
        expectations=[gxe.ExpectCompoundColumnsToBeUnique(column_list=key) for key in keys],
    )
    with pytest.raises(ValidationFailed) as failure:
        validate(frame.where("user_id is not null"), suite)
    summary = failure.value.summary
    assert summary.evaluated == 2
    (track_line, rank_line) = summary.failed
    assert "expect_compound_columns_to_be_unique on ['user_id', 'source', 'track_id']" in track_line
    assert "4 unexpected" in track_line and "'u1'" in track_line
    assert "expect_compound_columns_to_be_unique on ['user_id', 'source', 'rank']" in rank_line
    assert "2 unexpected" in rank_line and "'u2'" in rank_line
    unique = frame.where("user_id = 'u1' and rank < 3")
    assert rows_with_repeated_keys(unique, ["user_id", "source", "track_id"]).count() == 0
