"""The run report: one self-contained HTML page per week, `runs/week=W/report.html`.

What the run did (rows each stage wrote, seconds it took), what Great Expectations found in
every table it checked, the week's offline metrics if it was evaluated, and plots of the
published playlists (score distributions, sources) and of the catalog's audio clusters.
CSS and plots (PNG data URIs) are inline, so the file can be mailed, attached to a ticket or
opened from a task log as is. Tables are read with DuckDB, never Spark: a report takes
seconds. A piece the week lacks (not published, not evaluated) says so instead.

    weekly-playlists report --week 2026-11-23
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterable, Sequence
from urllib.parse import quote

import numpy as np

from jobs.core.config import PipelineConfig
from jobs.core.quality import data_docs_dir, error_messages
from jobs.core.runlog import read_stage_records, run_dir
from jobs.core.tables import table_path
from schemas.playlists import (
    DISCOVER_WEEKLY,
    PLAYLIST_TYPES,
    RELEASE_RADAR,
    SOURCE_ALS,
    SOURCE_CONTENT,
    SOURCE_EXPLORATION,
    SOURCE_FOLLOWED_ARTIST,
    SOURCE_ITEM_ITEM,
    SOURCE_LISTENERS_LIKE_YOU,
    SOURCE_PLAYED_ARTIST,
    SOURCE_POPULARITY,
    SOURCE_SIMILAR_ARTIST,
    SOURCE_TAGS,
)

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

TITLES = {DISCOVER_WEEKLY: "Discover Weekly", RELEASE_RADAR: "Release Radar"}
COLORS = {DISCOVER_WEEKLY: "#1db954", RELEASE_RADAR: "#7c4dff"}
# One colour per playlist source, the same in every chart of every report.
SOURCE_COLORS = {
    SOURCE_ALS: "#1db954",
    SOURCE_FOLLOWED_ARTIST: "#03a9f4",
    SOURCE_PLAYED_ARTIST: "#9e9e9e",
    SOURCE_SIMILAR_ARTIST: "#795548",
    SOURCE_LISTENERS_LIKE_YOU: "#e91e63",
    SOURCE_POPULARITY: "#fbc02d",
    SOURCE_CONTENT: "#7c4dff",
    SOURCE_EXPLORATION: "#ff9800",
    SOURCE_TAGS: "#00897b",
    SOURCE_ITEM_ITEM: "#3f51b5",
}
OTHER_SOURCE_COLOR = "#607d8b"  # a source of older data this version no longer names
HISTOGRAM_BINS = 40
# Scores spanning more than this factor (all positive) are binned on a log scale.
LOG_SCALE_SPAN = 100
# How many unexpected values a failed expectation quotes, and how long a quoted value gets.
QUOTED_VALUES = 3
QUOTE_CHARS = 100
# Tracks listed per playlist type under "Most placed tracks".
MOST_PLACED = 5


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
    return _page(f"weekly-playlists run report, week {week}", body)


# ---- reading ---------------------------------------------------------------------------


def view_week(
    con: duckdb.DuckDBPyConnection, view: str, table: Path, week: date, subfolders: str = ""
) -> bool:
    """Create `view` over the table's week partition; False (no view) when it has no files."""
    folder = table / f"week={week.isoformat()}"
    if not any(folder.glob(f"{subfolders}*.parquet")):
        return False
    pattern = str(folder / f"{subfolders}*.parquet")
    con.read_parquet(pattern, hive_partitioning=True).create_view(view)
    return True


def view_weeks(con: duckdb.DuckDBPyConnection, view: str, table: Path) -> bool:
    """Create `view` over every week of a week-partitioned table (its `week` column from the
    folder names); False (no view) when the table has no files yet."""
    pattern = table / "week=*" / "*.parquet"
    if not any(table.glob("week=*/*.parquet")):
        return False
    con.read_parquet(str(pattern), hive_partitioning=True).create_view(view)
    return True


def _view_names(con: duckdb.DuckDBPyConnection, view: str, key: str, folder: Path) -> None:
    """`view` (key, name) over a catalog table; empty when the catalog lacks it."""
    if any(folder.glob("*.parquet")):
        con.read_parquet(str(folder / "*.parquet")).project(f"{key}, name").create_view(view)
    else:
        con.sql(f"SELECT NULL::VARCHAR AS {key}, NULL::VARCHAR AS name WHERE false").create_view(
            view
        )


def read_validations(config: PipelineConfig, week: date) -> list[dict]:
    """The stored GX results of the week (quality.check_output), in the order they ran."""
    folder = run_dir(config, week) / "validation"
    results = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return sorted(results, key=_validated_at)


def _validated_at(result: dict) -> str:
    return result.get("meta", {}).get("validation_time") or ""


def model_facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    found = con.execute(
        "SELECT model_version, backend, factors, users, tracks FROM week_model LIMIT 1"
    ).fetchone()
    if found is None:
        return None
    return dict(zip(("version", "backend", "factors", "users", "tracks"), found))


@dataclass(frozen=True)
class Histogram:
    edges: np.ndarray  # HISTOGRAM_BINS + 1 bin edges, in score units
    counts: np.ndarray
    log_scale: bool
    tracks: int


def score_histogram(con: duckdb.DuckDBPyConnection, playlist_type: str) -> Histogram | None:
    """Binned scores of one playlist type, counted in DuckDB."""
    low, high, tracks = con.execute(
        "SELECT min(score)::DOUBLE, max(score)::DOUBLE, count(*) FROM week_playlists "
        "WHERE playlist_type = ? AND isfinite(score)",
        [playlist_type],
    ).fetchone()
    if not tracks:
        return None
    log_scale = low > 0 and high > LOG_SCALE_SPAN * low
    value = "ln(score)" if log_scale else "score"
    start, stop = (math.log(low), math.log(high)) if log_scale else (low, high)
    width = (stop - start) / HISTOGRAM_BINS or 1.0
    rows = con.execute(
        f"SELECT least(CAST(floor(({value} - ?) / ?) AS INTEGER), ?) AS bin, count(*) "
        "FROM week_playlists WHERE playlist_type = ? AND isfinite(score) GROUP BY bin",
        [start, width, HISTOGRAM_BINS - 1, playlist_type],
    ).fetchall()
    counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    bins, sizes = zip(*rows)
    counts[list(bins)] = sizes
    edges = start + width * np.arange(HISTOGRAM_BINS + 1)
    return Histogram(np.exp(edges) if log_scale else edges, counts, log_scale, tracks)


# ---- HTML building blocks --------------------------------------------------------------


class Html(str):
    """Markup that is already escaped; every other string is escaped where it is placed."""


def _number(value: int | float, decimals: int = 2) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{decimals}f}"


def _text(value: Any) -> str:
    """Escaped text of a cell or field; numbers with thousands separators."""
    if isinstance(value, Html):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    return html.escape(str(value))


def _table(
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    numeric: Collection[int] = (),
    css: str = "",
) -> Html:
    """A table; the columns whose indexes are in `numeric` are right-aligned."""

    def cells(values: Sequence[Any], tag: str) -> str:
        opening = {True: f'<{tag} class="num">', False: f"<{tag}>"}
        return "".join(
            f"{opening[i in numeric]}{_text(value)}</{tag}>" for i, value in enumerate(values)
        )

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return Html(
        f'<table class="{css}"><thead><tr>{cells(header, "th")}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _badge(text: str, kind: str) -> Html:
    return Html(f'<span class="badge {kind}">{_text(text)}</span>')


def _unavailable(why: str) -> Html:
    return Html(f'<p class="na">not available: {_text(why)}</p>')


def _section(title: str, *parts: str) -> Html:
    return Html(f"<section><h2>{_text(title)}</h2>{''.join(parts)}</section>")


def _code(value: Any) -> Html:
    return Html(f"<code>{_text(value)}</code>")


def _utc(moment: datetime | float) -> Html:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    when = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Html(f'<span class="nowrap">{when}</span>')


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


# ---- plots -----------------------------------------------------------------------------


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(width, height))
    axis.spines[["top", "right"]].set_visible(False)
    return figure, axis


def _png(figure: Figure, alt: str, wide: bool = False) -> Html:
    """The figure as an inline PNG (and closed); a wide one spans the plot grid."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", pad_inches=0.15)
    plt.close(figure)
    return _png_bytes(buffer.getvalue(), alt, wide)


def _png_bytes(png: bytes, alt: str, wide: bool = False) -> Html:
    encoded = base64.b64encode(png).decode("ascii")
    css = "plot wide" if wide else "plot"
    return Html(
        f'<div class="{css}"><img alt="{_text(alt)}" src="data:image/png;base64,{encoded}"></div>'
    )


def _histogram_plot(histogram: Histogram, playlist_type: str) -> Html:
    return _png(
        histogram_figure(histogram, playlist_type), f"{TITLES[playlist_type]} score distribution"
    )


def histogram_figure(histogram: Histogram, playlist_type: str) -> Figure:
    figure, axis = _figure(5.6, 3.0)
    axis.stairs(histogram.counts, histogram.edges, fill=True, color=COLORS[playlist_type])
    if histogram.log_scale:
        axis.set_xscale("log")
    axis.set_title(f"{TITLES[playlist_type]}: scores of {histogram.tracks:,} tracks")
    axis.set_xlabel("score (log scale)" if histogram.log_scale else "score")
    axis.set_ylabel("tracks")
    return figure


def _cluster_sizes_plot(clusters: Sequence[tuple]) -> Html:
    return _png(cluster_sizes_figure(clusters), "cluster sizes")


def cluster_sizes_figure(clusters: Sequence[tuple]) -> Figure:
    """Tracks per cluster, from `cluster_rows` (cluster, label, size, ...)."""
    labels = [f"{cluster}: {label.replace(' / ', chr(10))}" for cluster, label, *_ in clusters]
    sizes = [size for _, _, size, *_ in clusters]
    figure, axis = _figure(6, max(3.5, 0.8 + 0.6 * len(clusters)))
    bars = axis.barh(labels, sizes, color="#03a9f4")
    axis.bar_label(bars, labels=[f"{size:,}" for size in sizes], padding=3, fontsize=9)
    axis.invert_yaxis()
    axis.set_xlabel("tracks")
    axis.set_title("Tracks per audio cluster")
    axis.margins(x=0.12)
    return figure


def _source_share_plot(shares: dict[str, dict[str, int]]) -> Html:
    return _png(source_share_figure(shares), "playlist sources", wide=True)


def source_share_figure(shares: dict[str, dict[str, int]]) -> Figure:
    """One 100% bar per playlist type, split by why its tracks were chosen."""
    sources = sorted({source for counts in shares.values() for source in counts})
    types = [playlist_type for playlist_type in PLAYLIST_TYPES if playlist_type in shares]
    figure, axis = _figure(11.5, 0.8 + 0.35 * len(types))
    left = np.zeros(len(types))
    for source in sources:
        color = SOURCE_COLORS.get(source, OTHER_SOURCE_COLOR)
        share = np.array([shares[t].get(source, 0) / sum(shares[t].values()) * 100 for t in types])
        axis.barh([TITLES[t] for t in types], share, left=left, color=color, label=source)
        left += share
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("% of tracks")
    axis.set_title("Why tracks were chosen (source)")
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return figure


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
        trained = _text("model: not available (no models partition for this week)")
    else:
        trained = (
            f"model {_code(model['version'])} ({_text(model['backend'])}, "
            f"{_text(model['factors'])} factors, {_text(model['users'])} listeners × "
            f"{_text(model['tracks'])} tracks)"
        )
    return Html(
        f"<header><h1>Weekly playlists · week {_text(week.isoformat())}</h1>"
        f"<p>{_badge(status, kind)}</p>"
        f"<p class='meta'>{trained}<br>written {_utc(datetime.now(timezone.utc))} · "
        f"run folder {_code(run_dir(config, week))}</p></header>"
    )


def _stages_section(records: Sequence[dict]) -> Html:
    if not records:
        return _section("Stages", _unavailable("no stage records in this week's run folder"))
    records = sorted(records, key=lambda record: record.get("started", 0))
    slowest = max(record.get("seconds", 0) for record in records) or 1
    rows = [
        (
            record["stage"],
            _utc(record["started"]) if "started" in record else "",
            _rows_written(record.get("rows", {})),
            record.get("seconds", 0.0),
            _bar(record.get("seconds", 0) / slowest),
        )
        for record in records
    ]
    total = sum(record.get("seconds", 0) for record in records)
    rows.append((Html("<b>total</b>"), "", "", total, ""))
    header = ("stage", "started", "rows written", "seconds", "")
    return _section(
        "Stages",
        _table(header, rows, numeric={3}, css="stages"),
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
            f'<span class="nowrap">{_text(name)} <b>{_number(count)}</b></span>'
            for name, count in rows.items()
        )
    )


def _validation_section(validations: Sequence[dict], week: date, docs: Path) -> Html:
    if not validations:
        return _section(
            "Great Expectations", _unavailable(f"no validation results stored for week {week}")
        )
    rows = [
        (
            _suite_link(result.get("suite_name", "?"), docs),
            _badge("passed", "ok") if result["success"] else _badge("failed", "bad"),
            result["statistics"]["evaluated_expectations"],
            result["statistics"]["unsuccessful_expectations"],
            _utc(datetime.fromisoformat(_validated_at(result))) if _validated_at(result) else "",
        )
        for result in validations
    ]
    header = ("suite", "result", "expectations", "failed", "validated")
    failures = [_failures_table(result) for result in validations if not result["success"]]
    return _section("Great Expectations", _table(header, rows, numeric={2, 3}), *failures)


def _suite_link(suite_name: str, docs: Path) -> Html | str:
    """The suite's GX Data Docs page, written beside the JSON result (jobs/core/quality.py)."""
    if not (docs / f"{suite_name}.html").exists():
        return suite_name
    href = quote(f"{docs.name}/{suite_name}.html")
    return Html(f'<a href="{href}">{_text(suite_name)}</a>')


def _failures_table(result: dict) -> Html:
    rows = [describe_failure(outcome) for outcome in result["results"] if not outcome["success"]]
    header = ("expectation", "column", "expected", "observed")
    return Html(f"<h3>Failed in {_code(result.get('suite_name', '?'))}</h3>{_table(header, rows)}")


def describe_failure(outcome: dict) -> tuple[str, str, str, str]:
    """(expectation type, column(s), its other arguments, what was seen) of one failure."""
    config = outcome["expectation_config"]
    kwargs = {key: value for key, value in config["kwargs"].items() if key != "batch_id"}
    target = kwargs.pop("column", None) or kwargs.pop("column_list", None) or ""
    expected = ", ".join(f"{key}={_quote(value)}" for key, value in kwargs.items())
    rule = config.get("meta", {}).get("rule")
    columns = ", ".join(target) if isinstance(target, list) else str(target)
    return config["type"], columns, rule or expected, _observed(outcome)


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
    return _section(
        "Published playlists",
        _unavailable(f"week {week} is not published (no playlists partition week={week})"),
    )


def _playlists_section(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> Html:
    counts = con.execute(
        "SELECT playlist_type, count(DISTINCT user_id), count(*), "
        "count(*) FILTER (WHERE boosted), min(score), median(score), max(score) "
        "FROM week_playlists GROUP BY playlist_type ORDER BY playlist_type"
    ).fetchall()
    rows = [
        (TITLES.get(kind, kind), listeners, tracks, boosted, low, middle, high)
        for kind, listeners, tracks, boosted, low, middle, high in counts
    ]
    header = ("playlist", "listeners", "tracks", "boosted", "min score", "median", "max score")
    histograms = {kind: score_histogram(con, kind) for kind in PLAYLIST_TYPES}
    plots = [
        _histogram_plot(histogram, kind)
        if histogram
        else _unavailable(f"no {TITLES[kind]} tracks this week")
        for kind, histogram in histograms.items()
    ]
    plots.append(_source_share_plot(source_counts(con)))
    return _section(
        "Published playlists",
        _table(header, rows, numeric=range(1, 7)),
        Html(f'<div class="plots">{"".join(plots)}</div>'),
        Html(f"<h3>Most placed tracks</h3>{_most_placed(con, config)}"),
    )


def _most_placed(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> Html:
    """The tracks in the most playlists of each type, named from the catalog (ids where the
    catalog lacks them)."""
    _view_names(con, "track_names", "track_id", config.catalog_dir / "tracks")
    _view_names(con, "artist_names", "artist_id", config.catalog_dir / "artists")
    rows = con.execute(
        """
        SELECT p.playlist_type, coalesce(t.name, p.track_id) AS track,
               coalesce(a.name, p.artist_id) AS artist, count(*) AS listeners
        FROM week_playlists p
        LEFT JOIN track_names t USING (track_id)
        LEFT JOIN artist_names a USING (artist_id)
        GROUP BY 1, 2, 3
        QUALIFY row_number() OVER (
            PARTITION BY p.playlist_type ORDER BY listeners DESC, track) <= ?
        ORDER BY p.playlist_type, listeners DESC, track
        """,
        [MOST_PLACED],
    ).fetchall()
    header = ("playlist", "track", "artist", "listeners")
    return _table(header, [(TITLES.get(k, k), *rest) for k, *rest in rows], numeric={3})


def source_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """playlist type -> source -> tracks."""
    shares: dict[str, dict[str, int]] = {}
    for kind, source, tracks in con.execute(
        "SELECT playlist_type, source, count(*) FROM week_playlists GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        shares.setdefault(kind, {})[source] = tracks
    return shares


def _no_clusters_section(week: date, ran: bool) -> Html:
    why = (
        f"no audio clusters in week {week}: no catalog track has audio features (the "
        "clusters stage's skipped_tracks), so no taste profiles, content or exploration"
        if ran
        else f"no clusters partition week={week} (the clusters stage has not run)"
    )
    return _section("Audio clusters", _unavailable(why))


def cluster_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(cluster, label, size, top genres, top artists) of the `week_clusters` view."""
    return con.execute(
        "SELECT cluster, label, size, array_to_string(top_genres, ', '), "
        "array_to_string(top_artists, ', ') FROM week_clusters ORDER BY cluster"
    ).fetchall()


def k_choice_plot(config: PipelineConfig, week: date) -> Path:
    """The PNG the clusters stage draws of its choice of k (it may not exist)."""
    return run_dir(config, week) / "clusters-k.png"


def _clusters_section(con: duckdb.DuckDBPyConnection, config: PipelineConfig, week: date) -> Html:
    clusters = cluster_rows(con)
    if not clusters:  # the partition a catalog without audio features gets
        return _no_clusters_section(week, True)
    header = ("cluster", "label", "tracks", "top genres", "top artists")
    plots = [_cluster_sizes_plot(clusters)]
    k_plot = k_choice_plot(config, week)
    if k_plot.exists():
        plots.append(_png_bytes(k_plot.read_bytes(), "choice of k"))
    return _section(
        "Audio clusters",
        Html(f'<div class="plots">{"".join(plots)}</div>'),
        _table(header, clusters, numeric={0, 2}),
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
        return _section(title, _unavailable("re-ranker off (reranker.enabled = false)"))
    found = _reranker_row(con, config, week)
    if found is None:
        return _section(
            title,
            _unavailable(f"no reranker_metrics row for week {week} (the rerank stage has not run)"),
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
    return _section(
        title,
        _table(("", "training", "held-out listeners"), rows, numeric={1, 2}),
        Html(f'<p class="meta">{_text(note)}</p>'),
    )


def _reranker_row(
    con: duckdb.DuckDBPyConnection, config: PipelineConfig, week: date
) -> dict[str, Any] | None:
    """The week's reranker_metrics row by column name; None without one."""
    if not view_week(con, "week_reranker", table_path(config, "reranker_metrics"), week):
        return None
    cursor = con.execute("SELECT * FROM week_reranker LIMIT 1")
    names = [column for column, *_ in cursor.description]
    written = cursor.fetchall()
    return dict(zip(names, written[0])) if written else None


# (label, SQL aggregate over a week's playlist_feedback rows), as the report shows them.
FEEDBACK_RATES = (
    ("slots", "count(*)"),
    ("played", "avg(played::INT)"),
    ("streamed ≥ 30 s", "avg(streamed::INT)"),
    ("skipped", "avg(skipped::INT)"),
    ("saved", "avg(saved::INT)"),
    ("added", "avg(added::INT)"),
)


def feedback_rates(con: duckdb.DuckDBPyConnection, by: str) -> list[tuple]:
    """FEEDBACK_RATES of the `week_feedback` view per `by` (SQL columns), in `by` order."""
    rates = ", ".join(aggregate for _, aggregate in FEEDBACK_RATES)
    return con.execute(
        f"SELECT {by}, {rates} FROM week_feedback GROUP BY ALL ORDER BY {by}"
    ).fetchall()


def stream_rate_by_week(config: PipelineConfig, until: date) -> dict[str, list[tuple[date, float]]]:
    """Share of slots streamed per source, for every week of playlist_feedback up to `until`."""
    import duckdb

    con = duckdb.connect()
    if not view_weeks(con, "feedback", table_path(config, "playlist_feedback")):
        return {}
    rows = con.execute(
        "SELECT source, week, avg(streamed::INT) FROM feedback WHERE week <= ? "
        "GROUP BY ALL ORDER BY source, week",
        [until],
    ).fetchall()
    by_source: dict[str, list[tuple[date, float]]] = {}
    for source, week, rate in rows:
        by_source.setdefault(source, []).append((week, rate))
    return by_source


def stream_rate_figure(by_source: dict[str, list[tuple[date, float]]]) -> Figure:
    """Stream rate of each candidate source over the weeks of playlist_feedback."""
    figure, axis = _figure(8, 3.6)
    for source, points in by_source.items():
        color = SOURCE_COLORS.get(source, OTHER_SOURCE_COLOR)
        weeks, rates = zip(*points)
        axis.plot(weeks, [rate * 100 for rate in rates], marker="o", color=color, label=source)
    axis.set_ylabel("% of slots streamed ≥ 30 s")
    axis.set_title("How each source's slots were received, week by week")
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    figure.autofmt_xdate()
    return figure


def _feedback_section(con: duckdb.DuckDBPyConnection, config: PipelineConfig, week: date) -> Html:
    """How last week's playlists were received (playlist_feedback of week - 7 days)."""
    from jobs.core.weeks import served_week_of

    served = served_week_of(week)
    title = f"How last week's playlists were received (published {served})"
    if not view_week(con, "week_feedback", table_path(config, "playlist_feedback"), served):
        return _section(
            title,
            _unavailable(f"no playlist_feedback for week {served} (nothing published then)"),
        )
    labels = tuple(label for label, _ in FEEDBACK_RATES)
    numeric = range(2, 2 + len(labels))

    def shown(rows: list[tuple], keys: int) -> list[tuple]:
        return [
            (
                TITLES.get(row[0], row[0]),
                *row[1:keys],
                _number(row[keys]),
                *(f"{rate:.1%}" for rate in row[keys + 1 :]),
            )
            for row in rows
        ]

    by_source = shown(feedback_rates(con, "playlist_type, source"), 2)
    by_segment = shown(feedback_rates(con, "playlist_type, segment"), 2)
    over_weeks = stream_rate_by_week(config, served)
    return _section(
        title,
        Html("<h3>By source</h3>"),
        _table(("playlist", "source", *labels), by_source, numeric=numeric),
        Html("<h3>By listener segment (new / casual / heavy)</h3>"),
        _table(("playlist", "segment", *labels), by_segment, numeric=numeric),
        _png(stream_rate_figure(over_weeks), "stream rate per source over the weeks", wide=True),
    )


def _figure_text(value: int | float | None) -> str:
    """A count with separators, a share or AUC with 4 decimals, or "n/a" (null: undefined,
    e.g. held-out plays of one class only)."""
    return "n/a" if value is None else _number(value, 4)


def metric_tables(
    config: PipelineConfig, con: duckdb.DuckDBPyConnection, week: date
) -> dict[str, pd.DataFrame]:
    """The `run_metrics` rows of the week (`run_metrics/dataset=D/week=W`), one table per
    dataset: metrics down, methods across. Empty when the week was not evaluated."""
    files = sorted(table_path(config, "run_metrics").glob(f"*/week={week.isoformat()}/*.parquet"))
    if not files:
        return {}
    # evaluate.run keeps `dataset` in the files (the folder name repeats it).
    frame = con.read_parquet([str(path) for path in files], hive_partitioning=False).df()
    return {
        dataset: rows.pivot_table(index="metric", columns="method", values="value")
        for dataset, rows in frame.groupby("dataset")
    }


def _metrics_section(config: PipelineConfig, con: duckdb.DuckDBPyConnection, week: date) -> Html:
    pivots = metric_tables(config, con, week)
    if not pivots:
        return _section(
            "Offline metrics",
            _unavailable(
                f"no run_metrics for week {week} (weekly-playlists evaluate --week {week} "
                "writes them)"
            ),
        )
    tables = []
    for dataset, pivot in pivots.items():
        body = [
            (metric, *(Html(_number(value, 4)) for value in values))
            for metric, values in pivot.iterrows()
        ]
        tables.append(f"<h3>dataset {_code(dataset)}</h3>")
        columns = ("metric", *pivot.columns)
        tables.append(_table(columns, body, numeric=range(1, len(columns))))
    return _section("Offline metrics", *tables)


STYLE = """
:root { --ink:#1f2328; --muted:#59636e; --line:#d8dee4; --head:#f6f8fa;
        --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:#fff;
       font:15px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Arial, sans-serif; }
main { max-width:1200px; margin:0 auto; padding:24px 32px 40px; }
h1 { font-size:26px; margin:0 0 8px; }
h2 { font-size:19px; margin:30px 0 12px; padding-bottom:6px; border-bottom:2px solid var(--line); }
h3 { font-size:15px; margin:18px 0 8px; }
p { margin:6px 0; }
.meta { color:var(--muted); font-size:14px; }
code { font:13px "DejaVu Sans Mono", monospace; background:var(--head); padding:1px 5px;
       border-radius:4px; }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left;
         vertical-align:top; }
th { background:var(--head); font-weight:600; }
.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
table.stages td:last-child { width:22%; }
.bar { height:10px; min-width:2px; margin-top:5px; border-radius:3px; background:#1db954; }
tr:last-child td { border-bottom:none; }
.badge { display:inline-block; padding:2px 10px; border-radius:12px; color:#fff;
         font-size:13px; font-weight:600; }
.ok { background:var(--ok); } .bad { background:var(--bad); } .warn { background:var(--warn); }
.na { color:var(--muted); font-style:italic; }
.plots { display:grid; grid-template-columns:1fr 1fr; gap:14px; margin:14px 0; }
.plot { display:flex; align-items:center; justify-content:center; padding:4px;
        border:1px solid var(--line); border-radius:6px; }
.plot img { max-width:100%; }
.plot.wide { grid-column:1 / -1; }
.nowrap { white-space:nowrap; }
"""


def _page(title: str, body: Sequence[str]) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_text(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
