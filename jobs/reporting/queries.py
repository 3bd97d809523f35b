"""What the run report reads: DuckDB views over the warehouse's Parquet tables and the
queries over them, and the week's run folder (stored GX results, the k-choice plot).
Plain rows and numbers, no HTML; the explorer (jobs/explore/) reads through these too."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jobs.core.config import PipelineConfig
from jobs.core.runlog import run_dir
from jobs.core.tables import table_path

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

HISTOGRAM_BINS = 40
# Scores spanning more than this factor (all positive) are binned on a log scale.
LOG_SCALE_SPAN = 100
# Tracks listed per playlist type under "Most placed tracks".
MOST_PLACED = 5


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
    return sorted(results, key=validated_at)


def validated_at(result: dict) -> str:
    """When a stored GX result was validated (ISO 8601); "" when it does not say."""
    return result.get("meta", {}).get("validation_time") or ""


def model_facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    found = con.execute(
        "SELECT model_version, backend, factors, users, tracks FROM week_model LIMIT 1"
    ).fetchone()
    if found is None:
        return None
    return dict(zip(("version", "backend", "factors", "users", "tracks"), found))


def playlist_counts(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(playlist type, listeners, tracks, boosted tracks, min, median and max score) of the
    `week_playlists` view, one row per playlist type."""
    return con.execute(
        "SELECT playlist_type, count(DISTINCT user_id), count(*), "
        "count(*) FILTER (WHERE boosted), min(score), median(score), max(score) "
        "FROM week_playlists GROUP BY playlist_type ORDER BY playlist_type"
    ).fetchall()


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


def most_placed_tracks(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> list[tuple]:
    """(playlist type, track, artist, listeners) of the MOST_PLACED tracks in the most
    playlists of each type, named from the catalog (ids where the catalog lacks them)."""
    _view_names(con, "track_names", "track_id", config.catalog_dir / "tracks")
    _view_names(con, "artist_names", "artist_id", config.catalog_dir / "artists")
    return con.execute(
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


def source_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """playlist type -> source -> tracks."""
    shares: dict[str, dict[str, int]] = {}
    for kind, source, tracks in con.execute(
        "SELECT playlist_type, source, count(*) FROM week_playlists GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        shares.setdefault(kind, {})[source] = tracks
    return shares


def cluster_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(cluster, label, size, top genres, top artists) of the `week_clusters` view."""
    return con.execute(
        "SELECT cluster, label, size, array_to_string(top_genres, ', '), "
        "array_to_string(top_artists, ', ') FROM week_clusters ORDER BY cluster"
    ).fetchall()


def k_choice_plot(config: PipelineConfig, week: date) -> Path:
    """The PNG the clusters stage draws of its choice of k (it may not exist)."""
    return run_dir(config, week) / "clusters-k.png"


def reranker_row(
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
