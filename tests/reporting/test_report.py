"""The run report (jobs/reporting/report.py) on a tiny run folder and warehouse written
with pyarrow: no Spark, so these run in seconds."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.core.config import PipelineConfig
from jobs.core.runlog import run_dir
from jobs.core.tables import table_path
from jobs.reporting.queries import score_histogram
from jobs.reporting.report import report_path, write_report
from jobs.tools import cli
from schemas import clusters, feedback, metrics, model, playlists, rerank

WEEK = date(2026, 11, 23)
PARTITION = f"week={WEEK.isoformat()}"
# A track and an artist whose names are HTML.
TRACK_NAME = '<script>alert("x")</script> Rock & Roll'
ARTIST_NAME = "<b>The Tags</b>"


@pytest.fixture
def config(tmp_path) -> PipelineConfig:
    return PipelineConfig.load(env={"WP_HOME": str(tmp_path)})


def _write(path: Path, columns: dict[str, list], schema_fields=None) -> None:
    """One Parquet file; with `schema_fields`, its columns are the schema's minus the
    partition columns, as the Spark jobs write them."""
    if schema_fields is not None:
        assert set(columns) == {f.name for f in schema_fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def _fields(schema, *partition_columns):
    return [field for field in schema.fields if field.name not in partition_columns]


def _stage(config: PipelineConfig, stage: str, rows: dict, seconds: float, started: float):
    folder = run_dir(config, WEEK) / "stages"
    folder.mkdir(parents=True, exist_ok=True)
    record = {"stage": stage, "week": WEEK.isoformat(), "rows": rows, "seconds": seconds}
    (folder / f"{stage}.json").write_text(json.dumps({**record, "started": started}))


def _expectation(kind: str, kwargs: dict, result: dict, success: bool = True) -> dict:
    """One entry of a stored GX result's `results` (quality.validate writes to_json_dict())."""
    return {
        "success": success,
        "expectation_config": {
            "type": kind,
            "kwargs": {"batch_id": "spark_x-frame_x", **kwargs},
            "meta": {},
            "id": "0",
            "severity": "critical",
        },
        "result": result,
        "meta": {},
        "exception_info": {
            "raised_exception": False,
            "exception_traceback": None,
            "exception_message": None,
        },
    }


def _validation(config: PipelineConfig, suite: str, results: list[dict], at: str) -> None:
    failed = sum(not result["success"] for result in results)
    stored = {
        "success": not failed,
        "results": results,
        "suite_name": suite,
        "suite_parameters": {},
        "statistics": {
            "evaluated_expectations": len(results),
            "successful_expectations": len(results) - failed,
            "unsuccessful_expectations": failed,
            "success_percent": 100.0 * (len(results) - failed) / len(results),
        },
        "meta": {"great_expectations_version": "1.24.1", "validation_time": at},
        "id": None,
    }
    folder = run_dir(config, WEEK) / "validation"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{suite}.json").write_text(json.dumps(stored))


def _run_folder(config: PipelineConfig) -> None:
    """Two stage records; `events` failed two expectations (one with HTML in a value),
    `playlists` passed."""
    _stage(config, "ingest", {"events": 1234, "events_quarantine": 5}, 4.25, 1795420000.0)
    _stage(config, "publish", {"published_discover_weekly": 6}, 1.5, 1795420100.0)
    not_null = _expectation(
        "expect_column_values_to_not_be_null",
        {"column": "user_id"},
        {"element_count": 10, "unexpected_count": 0, "unexpected_percent": 0.0},
    )
    between = _expectation(
        "expect_column_values_to_be_between",
        {"column": "ms_played", "min_value": 0, "max_value": None},
        {
            "element_count": 10,
            "unexpected_count": 2,
            "unexpected_percent": 20.0,
            "partial_unexpected_list": [-5, "<img src=x>"],
        },
        success=False,
    )
    row_count = _expectation(
        "expect_table_row_count_to_be_between",
        {"min_value": 100, "max_value": 200},
        {"observed_value": 10},
        success=False,
    )
    _validation(config, "events", [not_null, between, row_count], "2026-11-23T07:54:28+00:00")
    _validation(config, "playlists", [not_null], "2026-11-23T07:59:09+00:00")


def _reranker_metrics(config: PipelineConfig, features_week: date) -> None:
    """The week's re-ranker row; its held-out plays were all of one class (no AUC)."""
    _write(
        table_path(config, "reranker_metrics") / PARTITION / "part-0.parquet",
        {
            "enabled": [True],
            "features_week": [features_week],
            "train_rows": [8000],
            "validation_rows": [2000],
            "positive_share": [0.78],
            "train_accuracy": [0.8123],
            "validation_accuracy": [0.7951],
            "train_auc": [0.7712],
            "validation_auc": pa.array([None], pa.float64()),
            "train_seconds": [12.5],
        },
        _fields(rerank.RERANKER_METRICS, "week"),
    )


def _published_week(config: PipelineConfig) -> None:
    """Both playlists for three listeners, two clusters, the model, the catalog's names,
    one evaluation's metrics and the re-ranker's."""
    root = table_path(config, "playlists") / PARTITION
    for kind, scores, source in (
        (playlists.DISCOVER_WEEKLY, [0.5, 0.9, 1.2, 0.7, 0.8, 1.1], "als"),
        (playlists.RELEASE_RADAR, [1.5, 40.0, 470.0, 2.0, 3.0, 9.0], "followed_artist"),
    ):
        users = ["u1", "u1", "u2", "u2", "u3", "u3"]
        columns = {
            "user_id": users,
            "position": [1, 2] * 3,
            "track_id": ["t1", "t2", "t1", "t3", "t1", "t2"],
            "artist_id": ["a1", "a2", "a1", "a2", "a1", "a2"],
            "score": pa.array(scores, pa.float32()),
            "source": [source] * 6,
            "reason": ["because"] * 6,
            "boosted": [False] * 6,
            "campaign_id": pa.nulls(6, pa.string()),
            "model_version": ["als-implicit-test"] * 6,
        }
        fields = _fields(playlists.SCHEMA, *playlists.PARTITION_COLUMNS)
        _write(root / f"playlist_type={kind}" / "part-0.parquet", columns, fields)
    _write(
        table_path(config, "clusters") / PARTITION / "part-0.parquet",
        {
            "cluster": pa.array([0, 1], pa.int32()),
            "label": ["high energy / low acousticness", "high valence"],
            "size": [40, 2],
            "centroid": [[0.1, 0.2], [0.3, 0.4]],
            "top_genres": [["rock", "metal"], ["pop"]],
            "top_artists": [[ARTIST_NAME], ["Other"]],
        },
        _fields(clusters.CLUSTERS, "week"),
    )
    _write(
        table_path(config, "models") / PARTITION / "part-0.parquet",
        {
            "model_version": ["als-implicit-test"],
            "backend": ["implicit"],
            "factors": pa.array([8], pa.int32()),
            "regularization": [0.05],
            "alpha": [2.0],
            "iterations": pa.array([3], pa.int32()),
            "seed": pa.array([42], pa.int32()),
            "users": pa.array([3], pa.int32()),
            "tracks": pa.array([3], pa.int32()),
            "nonzeros": pa.array([9], pa.int32()),
            "training_loss": [None],
            "train_seconds": [0.1],
            "trained_at": [datetime(2026, 11, 23, 7, 55)],
        },
        _fields(model.MODELS, "week"),
    )
    catalog = config.catalog_dir
    _write(catalog / "tracks" / "part-0.parquet", {"track_id": ["t1"], "name": [TRACK_NAME]})
    _write(catalog / "artists" / "part-0.parquet", {"artist_id": ["a1"], "name": [ARTIST_NAME]})
    _write(
        table_path(config, "run_metrics") / "dataset=generated" / PARTITION / "part-0.parquet",
        {
            "dataset": ["generated"] * 2,
            "method": ["weekly_playlists", "popularity"],
            "metric": ["ndcg@30", "ndcg@30"],
            "value": [0.1234, 0.0567],
        },
        _fields(metrics.SCHEMA, "week"),
    )
    _reranker_metrics(config, date(2026, 11, 16))


def _with_reranker(config: PipelineConfig) -> PipelineConfig:
    return replace(config, reranker=replace(config.reranker, enabled=True))


def test_report_of_a_published_week(config):
    config = _with_reranker(config)
    _run_folder(config)
    _published_week(config)
    _feedback_week(config, date(2026, 11, 16), [True, False])

    path = write_report(config, WEEK)

    assert path == report_path(config, WEEK) == run_dir(config, WEEK) / "report.html"
    page = path.read_text()
    # header: week, model, and the week is published although a suite failed since
    assert "week 2026-11-23" in page and "als-implicit-test" in page
    assert "validation failed (events)" in page
    # stage rows with their counts and seconds
    for expected in ("ingest", "events <b>1,234</b>", "4.25", "publish", "5.75"):
        assert expected in page
    # GX: suites with counts, the failed expectations with what was seen
    assert "expect_column_values_to_be_between" in page and "<td>ms_played</td>" in page
    assert "2 unexpected of 10 (20.00%)" in page
    assert "expect_table_row_count_to_be_between" in page and "observed 10" in page
    # plots inline: two score histograms, sources, cluster sizes, feedback over the weeks
    assert page.count('src="data:image/png;base64,') == 5
    assert "http://" not in page and "https://" not in page
    # metrics and names from the catalog, escaped
    assert "ndcg@30" in page and "0.1234" in page and "weekly_playlists" in page
    assert html.escape(TRACK_NAME) in page and html.escape(ARTIST_NAME) in page
    # the re-ranker: training and held-out figures, an undefined one as n/a
    assert "Likeability re-ranker" in page and "0.8123" in page and "0.7951" in page
    assert "0.7712" in page and "n/a" in page and "8,000" in page and "2,000" in page
    assert "78.0% of the plays completed (always guessing the larger class scores 0.7800" in page
    assert "features as of 2026-11-16" in page
    assert "<script" not in page and "<b>The Tags" not in page and "<img src=x>" not in page
    assert "not available" not in page


def test_a_week_that_failed_validation_before_publish_still_gets_a_report(config):
    _run_folder(config)

    page = write_report(config, WEEK).read_text()

    assert "not published: validation failed (events)" in page
    assert "expect_column_values_to_be_between" in page
    assert "not available: week 2026-11-23 is not published" in page
    assert "not available: no clusters partition week=2026-11-23" in page
    assert "not available: no run_metrics for week 2026-11-23" in page
    assert "model: not available" in page
    assert "not available: re-ranker off (reranker.enabled = false)" in page
    assert "data:image/png" not in page


def test_an_enabled_reranker_without_metrics_or_with_in_sample_features_says_so(config):
    config = _with_reranker(config)
    page = write_report(config, WEEK).read_text()
    assert "not available: no reranker_metrics row for week 2026-11-23" in page

    _reranker_metrics(config, WEEK)  # no week before it: trained on the week's own features
    page = write_report(config, WEEK).read_text()
    assert "features of this week itself, which saw the training plays" in page


def test_an_empty_run_folder_says_what_is_missing(config):
    page = write_report(config, WEEK).read_text()

    assert "not available: no stage records" in page
    assert "not available: no validation results" in page
    assert re.search(r'class="badge bad">not published<', page)


def test_a_wide_score_range_is_binned_on_a_log_scale_and_every_track_counted():
    con = duckdb.connect()
    con.sql(
        "SELECT * FROM (VALUES ('release_radar', 1.0), ('release_radar', 10.0), "
        "('release_radar', 1000.0), ('discover_weekly', 0.5), ('discover_weekly', 0.5)) "
        "AS t(playlist_type, score)"
    ).create_view("week_playlists")

    wide = score_histogram(con, playlists.RELEASE_RADAR)
    same = score_histogram(con, playlists.DISCOVER_WEEKLY)

    assert wide.log_scale and wide.counts.sum() == wide.tracks == 3
    assert wide.edges[0] == pytest.approx(1.0) and wide.edges[-1] == pytest.approx(1000.0)
    assert not same.log_scale and same.counts[0] == 2 and same.counts.sum() == 2
    assert score_histogram(con, "no_such_playlist") is None


def test_the_report_command_rewrites_the_report_and_prints_its_path(config, monkeypatch, capsys):
    monkeypatch.setenv("WP_HOME", str(config.home))

    cli.main(["report", "--week", WEEK.isoformat()])

    assert capsys.readouterr().out.strip() == str(report_path(config, WEEK))
    assert report_path(config, WEEK).exists()


def test_a_run_that_failed_at_a_stage_says_which(config):
    page = write_report(config, WEEK, failed_stage="ingest").read_text()
    assert "not published: the run failed at stage ingest" in page

    _published_week(config)
    page = write_report(config, WEEK, failed_stage="ingest").read_text()
    assert "the run failed at stage ingest: the playlists published earlier" in page


def test_runs_lists_each_week_with_its_outcome(config, monkeypatch, capsys):
    _run_folder(config)
    _published_week(config)
    write_report(config, WEEK)
    monkeypatch.setenv("WP_HOME", str(config.home))

    cli.main(["runs"])

    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:6] == ["2026-11-23", "yes", "2", "6", "6", "-"]
    assert lines[1].endswith("1 passed, FAILED: events")
    assert any(line.strip().startswith("generated/") and "0.1234" in line for line in lines)
    assert lines[-1].strip() == f"report: {report_path(config, WEEK)}"


def _feedback_week(config: PipelineConfig, served: date, streamed: list[bool]) -> None:
    """One slot per entry of `streamed` (the first one an exploration slot of a new
    listener, the others ALS slots of heavy listeners); unstreamed slots were skipped."""
    n = len(streamed)
    columns = {
        "user_id": [f"u{i}" for i in range(n)],
        "playlist_type": [playlists.DISCOVER_WEEKLY] * n,
        "position": [1] * n,
        "track_id": [f"t{i}" for i in range(n)],
        "source": ["exploration"] + ["als"] * (n - 1),
        "boosted": [False] * n,
        "segment": ["new"] + ["heavy"] * (n - 1),
        "plays": [1] * n,
        "played": [True] * n,
        "streamed": streamed,
        "skipped": [not value for value in streamed],
        "saved": [i == 1 for i in range(n)],
        "added": [False] * n,
    }
    folder = table_path(config, "playlist_feedback") / f"week={served.isoformat()}"
    _write(folder / "part-0.parquet", columns, _fields(feedback.SCHEMA, "week"))


def test_last_weeks_feedback_by_source_and_segment_with_weeks_plotted(config):
    page = write_report(config, WEEK).read_text()
    assert "no playlist_feedback for week 2026-11-16 (nothing published then)" in page

    _feedback_week(config, date(2026, 11, 9), [True, False])
    _feedback_week(config, date(2026, 11, 16), [False, True, True, False, True])
    # A later week's feedback is not this report's to show.
    _feedback_week(config, date(2026, 11, 23), [True])
    page = write_report(config, WEEK).read_text()

    section = page[page.index("How last week") : page.index("Offline metrics")]
    assert "published 2026-11-16" in section
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", section)
    # By source: ALS 4 slots, 3 streamed, 1 skipped, 1 saved; exploration 1 slot, skipped.
    assert cells[:16] == (
        ["Discover Weekly", "als", "4", "100.0%", "75.0%", "25.0%", "25.0%", "0.0%"]
        + ["Discover Weekly", "exploration", "1", "100.0%", "0.0%", "100.0%", "0.0%", "0.0%"]
    )
    assert cells[16:18] == ["Discover Weekly", "heavy"] and cells[24:26] == [
        "Discover Weekly",
        "new",
    ]
    assert "stream rate per source over the weeks" in section
