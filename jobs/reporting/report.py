"""The run report: one self-contained HTML page per week, `runs/week=W/report.html`.

What the run did (rows each stage wrote, seconds it took), what Great Expectations found in
every table it checked, the week's offline metrics if it was evaluated, and plots of the
published playlists (score distributions, sources) and of the catalog's audio clusters.
CSS and plots (PNG data URIs) are inline, so the file can be mailed, attached to a ticket or
opened from a task log as is. Tables are read with DuckDB, never Spark: a report takes
seconds. A piece the week lacks (not published, not evaluated) says so instead.

This module lays out the sections; what they read is in queries.py, the HTML kit and page
in markup.py, the plots in figures.py.

    weekly-playlists report --week 2026-11-23
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import quote

from jobs.core.config import PipelineConfig
from jobs.core.quality import data_docs_dir, error_messages
from jobs.core.runlog import read_stage_records, run_dir
from jobs.core.tables import table_path
from jobs.reporting.figures import (
    TITLES,
    cluster_sizes_figure,
    histogram_figure,
    png,
    png_bytes,
    source_share_figure,
    stream_rate_figure,
)
from jobs.reporting.markup import (
    Html,
    badge,
    code,
    number,
    page,
    section,
    table,
    text,
    unavailable,
    utc,
)
from jobs.reporting.queries import (
    FEEDBACK_RATES,
    cluster_rows,
    feedback_rates,
    k_choice_plot,
    metric_tables,
    model_facts,
    most_placed_tracks,
    playlist_counts,
    read_validations,
    reranker_row,
    score_histogram,
    source_counts,
    stream_rate_by_week,
    validated_at,
    view_week,
)
from schemas.playlists import PLAYLIST_TYPES

if TYPE_CHECKING:
    import duckdb

    from jobs.reporting.queries import Histogram

log = logging.getLogger(__name__)

# How many unexpected values a failed expectation quotes, and how long a quoted value gets.
QUOTED_VALUES = 3
QUOTE_CHARS = 100


def report_path(config: PipelineConfig, week: date) -> Path:
    return run_dir(config, week) / "report.html"


def write_report(config: PipelineConfig, week: date, failed_stage: str | None = None) -> Path:
    """(Re)write the week's run report from its run folder and warehouse tables;
    `failed_stage` names the stage a run just failed at."""
    path = report_path(config, week)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(render_report(config, week, failed_stage), encoding="utf-8")
    os.replace(partial, path)  # readers never see half a report
    log.info("run report: %s", path)
    return path


def render_report(config: PipelineConfig, week: date, failed_stage: str | None = None) -> str:
    import duckdb

    con = duckdb.connect()
    published = view_week(con, "week_playlists", table_path(config, "playlists"), week, "*/")
    has_clusters = view_week(con, "week_clusters", table_path(config, "clusters"), week)
    has_model = view_week(con, "week_model", table_path(config, "models"), week)
    validations = read_validations(config, week)
    body = [
        _header(
            config,
            week,
            published,
            validations,
            model_facts(con) if has_model else None,
            failed_stage,
        ),
        _stages_section(read_stage_records(config, week)),
        _validation_section(validations, week, data_docs_dir(run_dir(config, week))),
        _playlists_section(con, config) if published else _not_published_section(week),
        _clusters_section(con, config, week) if has_clusters else _no_clusters_section(week, False),
        _reranker_section(con, config, week),
        _feedback_section(con, config, week),
        _metrics_section(config, con, week),
    ]
    return page(f"weekly-playlists run report, week {week}", body)


# ---- sections --------------------------------------------------------------------------


def _failed_suites(validations: Sequence[dict]) -> list[str]:
    return [result.get("suite_name", "?") for result in validations if not result["success"]]


def _status(
    published: bool, failed: Sequence[str], failed_stage: str | None = None
) -> tuple[str, str]:
    """(badge kind, text) of the week as a whole."""
    if failed:
        why = f"validation failed ({', '.join(failed)})"
    elif failed_stage:
        why = f"the run failed at stage {failed_stage}"
    else:
        return ("ok", "published") if published else ("bad", "not published")
    if published:
        return "warn", f"{why}: the playlists published earlier for this week stay as they were"
    return "bad", f"not published: {why}"


def _header(
    config: PipelineConfig,
    week: date,
    published: bool,
    validations: Sequence[dict],
    model: dict[str, Any] | None,
    failed_stage: str | None = None,
) -> Html:
    kind, status = _status(published, _failed_suites(validations), failed_stage)
    if model is None:
        trained = text("model: not available (no models partition for this week)")
    else:
        trained = (
            f"model {code(model['version'])} ({text(model['backend'])}, "
            f"{text(model['factors'])} factors, {text(model['users'])} listeners × "
            f"{text(model['tracks'])} tracks)"
        )
    return Html(
        f"<header><h1>Weekly playlists · week {text(week.isoformat())}</h1>"
        f"<p>{badge(status, kind)}</p>"
        f"<p class='meta'>{trained}<br>written {utc(datetime.now(timezone.utc))} · "
        f"run folder {code(run_dir(config, week))}</p></header>"
    )


def _stages_section(records: Sequence[dict]) -> Html:
    if not records:
        return section("Stages", unavailable("no stage records in this week's run folder"))
    records = sorted(records, key=lambda record: record.get("started", 0))
    slowest = max(record.get("seconds", 0) for record in records) or 1
    rows = [
        (
            record["stage"],
            utc(record["started"]) if "started" in record else "",
            _rows_written(record.get("rows", {})),
            record.get("seconds", 0.0),
            _bar(record.get("seconds", 0) / slowest),
        )
        for record in records
    ]
    total = sum(record.get("seconds", 0) for record in records)
    rows.append((Html("<b>total</b>"), "", "", total, ""))
    header = ("stage", "started", "rows written", "seconds", "")
    return section(
        "Stages",
        table(header, rows, numeric={3}, css="stages"),
        Html(f'<p class="meta">{_wall_clock(records)}</p>'),
    )


def _wall_clock(records: Sequence[dict]) -> str:
    timed = [record for record in records if "started" in record and "seconds" in record]
    if not timed:
        return "wall-clock time: not available (the records carry no start times)"
    first = min(record["started"] for record in timed)
    last = max(record["started"] + record["seconds"] for record in timed)
    minutes, seconds = divmod(round(last - first), 60)
    return (
        f"{len(records)} stages; {minutes} min {seconds} s from the first start to the last "
        "end (a stage re-run on its own later stretches this)"
    )


def _bar(share: float) -> Html:
    return Html(f'<div class="bar" style="width:{100 * share:.0f}%"></div>')


def _rows_written(rows: dict[str, int]) -> Html:
    return Html(
        " · ".join(
            f'<span class="nowrap">{text(name)} <b>{number(count)}</b></span>'
            for name, count in rows.items()
        )
    )


def _validation_section(validations: Sequence[dict], week: date, docs: Path) -> Html:
    if not validations:
        return section(
            "Great Expectations", unavailable(f"no validation results stored for week {week}")
        )
    rows = [
        (
            _suite_link(result.get("suite_name", "?"), docs),
            badge("passed", "ok") if result["success"] else badge("failed", "bad"),
            result["statistics"]["evaluated_expectations"],
            result["statistics"]["unsuccessful_expectations"],
            utc(datetime.fromisoformat(validated_at(result))) if validated_at(result) else "",
        )
        for result in validations
    ]
    header = ("suite", "result", "expectations", "failed", "validated")
    failures = [_failures_table(result) for result in validations if not result["success"]]
    return section("Great Expectations", table(header, rows, numeric={2, 3}), *failures)


def _suite_link(suite_name: str, docs: Path) -> Html | str:
    """The suite's GX Data Docs page, written beside the JSON result (jobs/core/quality.py)."""
    if not (docs / f"{suite_name}.html").exists():
        return suite_name
    href = quote(f"{docs.name}/{suite_name}.html")
    return Html(f'<a href="{href}">{text(suite_name)}</a>')


def _failures_table(result: dict) -> Html:
    rows = [describe_failure(outcome) for outcome in result["results"] if not outcome["success"]]
    header = ("expectation", "column", "expected", "observed")
    return Html(f"<h3>Failed in {code(result.get('suite_name', '?'))}</h3>{table(header, rows)}")


def describe_failure(outcome: dict) -> tuple[str, str, str, str]:
    """(expectation type, column(s), its other arguments, what was seen) of one failure."""
    config = outcome["expectation_config"]
    kwargs = {key: value for key, value in config["kwargs"].items() if key != "batch_id"}
    target = kwargs.pop("column", None) or kwargs.pop("column_list", None) or ""
    expected = ", ".join(f"{key}={_quote(value)}" for key, value in kwargs.items())
    rule = config.get("meta", {}).get("rule")
    columns = ", ".join(target) if isinstance(target, list) else str(target)
    return config["type"], columns, rule or expected, _observed(outcome)


def _quote(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= QUOTE_CHARS else shown[: QUOTE_CHARS - 1] + "…"


def _observed(outcome: dict) -> str:
    errors = error_messages(outcome.get("exception_info") or {})
    if errors:
        return f"could not be evaluated: {'; '.join(errors)}"
    result = outcome.get("result") or {}
    if "unexpected_count" in result:
        quoted = [_quote(value) for value in result.get("partial_unexpected_list") or []]
        examples = f", e.g. {', '.join(quoted[:QUOTED_VALUES])}" if quoted else ""
        return (
            f"{result['unexpected_count']:,} unexpected of {result.get('element_count', 0):,}"
            f" ({result.get('unexpected_percent') or 0.0:.2f}%){examples}"
        )
    if "observed_value" in result:
        return f"observed {_quote(result['observed_value'])}"
    return ""


def _not_published_section(week: date) -> Html:
    return section(
        "Published playlists",
        unavailable(f"week {week} is not published (no playlists partition week={week})"),
    )


def _playlists_section(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> Html:
    rows = [
        (TITLES.get(kind, kind), listeners, tracks, boosted, low, middle, high)
        for kind, listeners, tracks, boosted, low, middle, high in playlist_counts(con)
    ]
    header = ("playlist", "listeners", "tracks", "boosted", "min score", "median", "max score")
    histograms = {kind: score_histogram(con, kind) for kind in PLAYLIST_TYPES}
    plots = [
        _histogram_plot(histogram, kind)
        if histogram
        else unavailable(f"no {TITLES[kind]} tracks this week")
        for kind, histogram in histograms.items()
    ]
    plots.append(_source_share_plot(source_counts(con)))
    return section(
        "Published playlists",
        table(header, rows, numeric=range(1, 7)),
        Html(f'<div class="plots">{"".join(plots)}</div>'),
        Html(f"<h3>Most placed tracks</h3>{_most_placed(con, config)}"),
    )


def _histogram_plot(histogram: Histogram, playlist_type: str) -> Html:
    return png(
        histogram_figure(histogram, playlist_type), f"{TITLES[playlist_type]} score distribution"
    )


def _source_share_plot(shares: dict[str, dict[str, int]]) -> Html:
    return png(source_share_figure(shares), "playlist sources", wide=True)


def _most_placed(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> Html:
    """The tracks in the most playlists of each type, named from the catalog."""
    rows = most_placed_tracks(con, config)
    header = ("playlist", "track", "artist", "listeners")
    return table(header, [(TITLES.get(k, k), *rest) for k, *rest in rows], numeric={3})


def _no_clusters_section(week: date, ran: bool) -> Html:
    why = (
        f"no audio clusters in week {week}: no catalog track has audio features (the "
        "clusters stage's skipped_tracks), so no taste profiles, content or exploration"
        if ran
        else f"no clusters partition week={week} (the clusters stage has not run)"
    )
    return section("Audio clusters", unavailable(why))


def _cluster_sizes_plot(clusters: Sequence[tuple]) -> Html:
    return png(cluster_sizes_figure(clusters), "cluster sizes")


def _clusters_section(con: duckdb.DuckDBPyConnection, config: PipelineConfig, week: date) -> Html:
    clusters = cluster_rows(con)
    if not clusters:  # the partition a catalog without audio features gets
        return _no_clusters_section(week, True)
    header = ("cluster", "label", "tracks", "top genres", "top artists")
    plots = [_cluster_sizes_plot(clusters)]
    k_plot = k_choice_plot(config, week)
    if k_plot.exists():
        plots.append(png_bytes(k_plot.read_bytes(), "choice of k"))
    return section(
        "Audio clusters",
        Html(f'<div class="plots">{"".join(plots)}</div>'),
        table(header, clusters, numeric={0, 2}),
    )


RERANKER_FIGURES = (
    ("accuracy", "train_accuracy", "validation_accuracy"),
    ("ROC AUC", "train_auc", "validation_auc"),
    ("plays", "train_rows", "validation_rows"),
)


def _reranker_section(con: duckdb.DuckDBPyConnection, config: PipelineConfig, week: date) -> Html:
    """The week's `reranker_metrics` row (jobs/stages/rerank.py): accuracy and AUC of the
    likeability network on its training plays and on held-out listeners."""
    title = "Likeability re-ranker"
    if not config.reranker.enabled:
        return section(title, unavailable("re-ranker off (reranker.enabled = false)"))
    found = reranker_row(con, config, week)
    if found is None:
        return section(
            title,
            unavailable(f"no reranker_metrics row for week {week} (the rerank stage has not run)"),
        )
    rows = [
        (name, *(_figure_text(found[column]) for column in columns))
        for name, *columns in RERANKER_FIGURES
    ]
    completed = found["positive_share"]
    features = (
        f"features as of {found['features_week']:%Y-%m-%d}"
        if found["features_week"] < week
        else "features of this week itself, which saw the training plays: figures optimistic"
    )
    note = (
        f"{completed:.1%} of the plays completed (always guessing the larger class scores "
        f"{max(completed, 1 - completed):.4f} accuracy) · {features} · "
        f"fitted in {found['train_seconds']:.1f} s"
    )
    return section(
        title,
        table(("", "training", "held-out listeners"), rows, numeric={1, 2}),
        Html(f'<p class="meta">{text(note)}</p>'),
    )


def _feedback_section(con: duckdb.DuckDBPyConnection, config: PipelineConfig, week: date) -> Html:
    """How last week's playlists were received (playlist_feedback of week - 7 days)."""
    from jobs.core.weeks import served_week_of

    served = served_week_of(week)
    title = f"How last week's playlists were received (published {served})"
    if not view_week(con, "week_feedback", table_path(config, "playlist_feedback"), served):
        return section(
            title,
            unavailable(f"no playlist_feedback for week {served} (nothing published then)"),
        )
    labels = tuple(label for label, _ in FEEDBACK_RATES)
    numeric = range(2, 2 + len(labels))

    def shown(rows: list[tuple], keys: int) -> list[tuple]:
        return [
            (
                TITLES.get(row[0], row[0]),
                *row[1:keys],
                number(row[keys]),
                *(f"{rate:.1%}" for rate in row[keys + 1 :]),
            )
            for row in rows
        ]

    by_source = shown(feedback_rates(con, "playlist_type, source"), 2)
    by_segment = shown(feedback_rates(con, "playlist_type, segment"), 2)
    over_weeks = stream_rate_by_week(config, served)
    return section(
        title,
        Html("<h3>By source</h3>"),
        table(("playlist", "source", *labels), by_source, numeric=numeric),
        Html("<h3>By listener segment (new / casual / heavy)</h3>"),
        table(("playlist", "segment", *labels), by_segment, numeric=numeric),
        png(stream_rate_figure(over_weeks), "stream rate per source over the weeks", wide=True),
    )


def _figure_text(value: int | float | None) -> str:
    """A count with separators, a share or AUC with 4 decimals, or "n/a" (null: undefined,
    e.g. held-out plays of one class only)."""
    return "n/a" if value is None else number(value, 4)


def _metrics_section(config: PipelineConfig, con: duckdb.DuckDBPyConnection, week: date) -> Html:
    pivots = metric_tables(config, con, week)
    if not pivots:
        return section(
            "Offline metrics",
            unavailable(
                f"no run_metrics for week {week} (weekly-playlists evaluate --week {week} "
                "writes them)"
            ),
        )
    tables = []
    for dataset, pivot in pivots.items():
        body = [
            (metric, *(Html(number(value, 4)) for value in values))
            for metric, values in pivot.iterrows()
        ]
        tables.append(f"<h3>dataset {code(dataset)}</h3>")
        columns = ("metric", *pivot.columns)
        tables.append(table(columns, body, numeric=range(1, len(columns))))
    return section("Offline metrics", *tables)
