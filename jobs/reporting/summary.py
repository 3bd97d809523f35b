"""A short human summary of a published week, read with plain DuckDB (no Spark)."""

from __future__ import annotations

import json
from datetime import date

from jobs.core.config import PipelineConfig
from jobs.core.runlog import read_stage_records
from jobs.core.tables import table_path
from jobs.reporting.report import report_path
from schemas.playlists import DISCOVER_WEEKLY, RELEASE_RADAR

TITLES = {DISCOVER_WEEKLY: "Discover Weekly", RELEASE_RADAR: "Release Radar"}


def playlists_query(config: PipelineConfig) -> str:
    """The published table as DuckDB sees it: hive-partitioned Parquet."""
    pattern = table_path(config, "playlists") / "*" / "*" / "*.parquet"
    return f"read_parquet('{pattern}', hive_partitioning=true)"


def listener_playlists(config: PipelineConfig, week: date, user_id: str | None = None):
    """(user_id, rows) for one listener's playlists with track, artist and album names."""
    import duckdb

    catalog = config.catalog_dir
    con = duckdb.connect()
    con.execute(f"CREATE VIEW playlists AS SELECT * FROM {playlists_query(config)}")
    for name in ("tracks", "artists", "albums"):
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{catalog / name}/*.parquet')"
        )
    if user_id is None:
        # The first listener (by id) who got both playlists, so the demo shows both.
        found = con.execute(
            "SELECT user_id FROM playlists WHERE week = ? GROUP BY user_id "
            "HAVING count(DISTINCT playlist_type) = 2 ORDER BY user_id LIMIT 1",
            [week],
        ).fetchone()
        if found is None:
            found = con.execute(
                "SELECT min(user_id) FROM playlists WHERE week = ?", [week]
            ).fetchone()
        user_id = found[0]
    rows = con.execute(
        """
        SELECT p.playlist_type, p.position, t.name AS track, a.name AS artist,
               al.release_date, p.source, p.reason, p.score
        FROM playlists p
        JOIN tracks t USING (track_id)
        JOIN artists a ON a.artist_id = t.artist_id
        JOIN albums al ON al.album_id = t.album_id
        WHERE p.week = ? AND p.user_id = ?
        ORDER BY p.playlist_type, p.position
        """,
        [week, user_id],
    ).fetchall()
    return user_id, rows


def playlist_counts(config: PipelineConfig, week: date) -> list[tuple]:
    import duckdb

    return (
        duckdb.connect()
        .execute(
            "SELECT playlist_type, count(DISTINCT user_id), count(*) "
            f"FROM {playlists_query(config)} "
            "WHERE week = ? GROUP BY playlist_type ORDER BY playlist_type",
            [week],
        )
        .fetchall()
    )


def print_summary(config: PipelineConfig, week: date, user_id: str | None = None) -> None:
    print(f"== weekly-playlists, week {week} ==")
    print(f"{'stage':<22}{'seconds':>9}  rows written")
    for record in sorted(read_stage_records(config, week), key=lambda r: r.get("started", 0)):
        rows = ", ".join(f"{name} {count:,}" for name, count in record["rows"].items())
        print(f"{record['stage']:<22}{record['seconds']:>9.1f}  {rows}")
    print()
    for playlist_type, listeners, rows in playlist_counts(config, week):
        print(f"{TITLES[playlist_type]}: {rows:,} tracks for {listeners:,} listeners")
    user_id, rows = listener_playlists(config, week, user_id)
    for playlist_type in (DISCOVER_WEEKLY, RELEASE_RADAR):
        tracks = [row for row in rows if row[0] == playlist_type]
        print(f"\n{TITLES[playlist_type]} for {user_id} ({len(tracks)} tracks)")
        for _, position, track, artist, released, source, reason, _score in tracks:
            print(f"  {position:>2}. {track} — {artist}  [{source}] {reason}")
    query = f"SELECT * FROM {playlists_query(config)} WHERE week = '{week}' LIMIT 10"
    print(f"\nQuery it yourself with DuckDB (no Spark):\n  {query}")
    report = report_path(config, week)
    if report.exists():
        print(f"\nRun report (HTML): {report}")


def run_overview(config: PipelineConfig) -> list[dict]:
    """One line of facts per week that has a run folder, oldest first: whether it is
    published, stages run and their seconds, rows published, GX suites passed and failed,
    NDCG from offline evaluation, and the report's path."""
    import duckdb

    published = _published_weeks(config)
    metrics = _ndcg_by_week(duckdb.connect(), config)
    overview = []
    for folder in sorted(config.runs_dir.glob("week=*")):
        week = date.fromisoformat(folder.name.removeprefix("week="))
        records = read_stage_records(config, week)
        publish = next((r["rows"] for r in records if r["stage"] == "publish"), {})
        suites = [json.loads(p.read_text()) for p in sorted((folder / "validation").glob("*.json"))]
        overview.append(
            {
                "week": week,
                "published": week in published,
                "stages": len(records),
                "seconds": round(sum(r["seconds"] for r in records), 1),
                "discover_weekly": publish.get("published_discover_weekly"),
                "release_radar": publish.get("published_release_radar"),
                "suites_passed": sum(1 for s in suites if s["success"]),
                "suites_failed": [s["suite_name"] for s in suites if not s["success"]],
                "ndcg": metrics.get(week, {}),
                "report": report_path(config, week) if report_path(config, week).exists() else None,
            }
        )
    return overview


def _published_weeks(config: PipelineConfig) -> set[date]:
    folder = table_path(config, "playlists")
    return {
        date.fromisoformat(path.name.removeprefix("week="))
        for path in folder.glob("week=*")
        if path.is_dir()
    }


def _ndcg_by_week(con, config: PipelineConfig) -> dict[date, dict[str, float]]:
    """{week: {"dataset/method": ndcg}} for the first NDCG metric evaluation wrote."""
    folder = table_path(config, "run_metrics")
    if not any(folder.glob("dataset=*/week=*/*.parquet")):
        return {}
    rows = con.execute(
        f"SELECT week, dataset, method, metric, value FROM read_parquet("
        f"'{folder}/*/*/*.parquet', hive_partitioning=true) "
        "WHERE metric LIKE 'ndcg%' ORDER BY week, dataset, method, metric"
    ).fetchall()
    by_week: dict[date, dict[str, float]] = {}
    for week, dataset, method, metric, value in rows:
        by_week.setdefault(date.fromisoformat(str(week)), {}).setdefault(
            f"{dataset}/{method} {metric}", value
        )
    return by_week


def print_runs(config: PipelineConfig) -> None:
    runs = run_overview(config)
    if not runs:
        print(f"no runs in {config.runs_dir}")
        return
    print(
        f"{'week':<12}{'published':<11}{'stages':>6}{'seconds':>9}{'DW rows':>10}"
        f"{'RR rows':>9}  GX suites"
    )
    for run in runs:
        failed = run["suites_failed"]
        suites = f"{run['suites_passed']} passed" + (
            f", FAILED: {', '.join(failed)}" if failed else ""
        )
        print(
            f"{run['week'].isoformat():<12}{'yes' if run['published'] else 'no':<11}"
            f"{run['stages']:>6}{run['seconds']:>9.0f}{_count(run['discover_weekly']):>10}"
            f"{_count(run['release_radar']):>9}  {suites}"
        )
        for name, value in run["ndcg"].items():
            print(f"{'':<12}{name}: {value:.4f}")
        if run["report"]:
            print(f"{'':<12}report: {run['report']}")


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
