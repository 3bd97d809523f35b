"""`weekly-playlists simulate`: generated listeners who react to what the pipeline publishes,
week after week, so that every week's playlists are shaped by how the earlier ones fared.

The sample world (jobs/sources/sample/) is generated once for the history weeks and the
simulated weeks together, so the listeners' organic listening goes on as before. The raw
days from the first simulated week on are held back under `WP_HOME/simulation/organic` and
released a week at a time: before the run of week W + 7 days, that week's organic days
come back, joined by what the listeners did with the playlists published for W
(`playlist_listens`: plays, skips, saves, adds and hides driven by their true
taste and the tracks' true features) in a file of their own, `part-playlists.parquet`,
in each day's folder. The run of W + 7 then derives W's `playlist_feedback` from those
events like any other week's. Runs go in order, in one Spark process (the same stage
functions as the DAG), or with `--airflow` through the DAG itself (`airflow dags test`).

    weekly-playlists simulate --week 2026-10-05 --weeks 8 --users 1000 --tracks 3000
"""

from __future__ import annotations

import logging
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema
from jobs.core.tables import raw_day_path, table_path
from jobs.core.weeks import WEEK
from jobs.reporting.queries import view_weeks
from jobs.sources.sample.playlist_listens import playlist_listens
from jobs.sources.sample.world import build_world, generate
from schemas import playlists, raw_events

log = logging.getLogger(__name__)

LISTENS_FILE = "part-playlists.parquet"
SERVED_COLUMNS = ["user_id", "track_id", "playlist_type", "position"]


def organic_dir(config: PipelineConfig) -> Path:
    """Where the organic raw days not yet reached by the simulation wait."""
    return config.home / "simulation" / "organic"


def simulated_weeks(first_week: date, weeks: int) -> list[date]:
    """The runs: the first week (no feedback yet), then `weeks` more, each one learning
    from the week before."""
    return [first_week + n * WEEK for n in range(weeks + 1)]


def simulate(
    config: PipelineConfig,
    first_week: date,
    weeks: int,
    users: int,
    tracks: int,
    history_weeks: int,
    seed: int,
    run_week: Callable[[date], None],
) -> list[date]:
    """Generate the world, then run every week of `simulated_weeks` in order with the
    listeners' reactions to the week before; returns the weeks run."""
    runs = simulated_weeks(first_week, weeks)
    last = runs[-1]
    generate(config, last, users, tracks, history_weeks + weeks, seed)
    world, _ = build_world(last, users, tracks, history_weeks + weeks, seed)
    hold_back(config, first_week, last)
    run_week(first_week)
    for round_, week in enumerate(runs[1:], start=1):
        served_week = week - WEEK
        release(config, served_week)
        served = published_slots(config, served_week)
        if served.num_rows:
            listens = playlist_listens(world, served, served_week, round_)
            write_days(config.raw_events_dir, listens.events)
            hides = config.controls_dir / "user_hides" / f"part-simulated-{served_week}.parquet"
            pq.write_table(listens.user_hides, hides)
            log.info(
                "week %s: %d events of listeners to %d published slots",
                served_week,
                listens.events.num_rows,
                served.num_rows,
            )
        run_week(week)
    return runs


def _days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((end - first).days)]


def hold_back(config: PipelineConfig, first_week: date, last: date) -> None:
    """Move the organic raw days of [first_week, last) out of the raw events folder."""
    target = organic_dir(config)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for day in _days(first_week, last):
        source = raw_day_path(config.raw_events_dir, day)
        source.rename(raw_day_path(target, day))


def release(config: PipelineConfig, week: date) -> None:
    """Bring the organic days of `week`'s seven days back into the raw events folder."""
    for day in _days(week, week + WEEK):
        raw_day_path(organic_dir(config), day).rename(raw_day_path(config.raw_events_dir, day))


def published_slots(config: PipelineConfig, week: date) -> pa.Table:
    """SERVED_COLUMNS of the playlists published for `week` (none when it was not)."""
    folder = table_path(config, "playlists") / f"week={week.isoformat()}"
    if not folder.exists():
        return arrow_schema(playlists.SCHEMA).empty_table().select(SERVED_COLUMNS)
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table(
        columns=SERVED_COLUMNS
    )
    return table.set_column(2, "playlist_type", pc.cast(table["playlist_type"], pa.string()))


def write_days(raw_dir: Path, events: pa.Table) -> None:
    """`events` (in time order) into LISTENS_FILE of each of their days' folders."""
    days = pc.cast(pc.cast(events["ts"], pa.timestamp("us", tz="UTC")), pa.date32())
    for day in pc.unique(days).to_pylist():
        rows = events.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        folder = raw_day_path(raw_dir, day)
        folder.mkdir(parents=True, exist_ok=True)
        schema = arrow_schema(raw_events.SCHEMA)
        pq.write_table(rows.cast(schema), folder / LISTENS_FILE)


OUTCOMES = ("slots", "played", "streamed", "skipped", "saved", "added")
# What the whole run earned (`policy_outcomes`), to set one policy against another.
POLICY_OUTCOMES = (
    "slots",
    "stream_rate",
    "save_rate",
    "skip_rate",
    "catalog_coverage",
    "cold_start_tracks",
    "cold_start_found",
)


def weekly_outcomes(config: PipelineConfig) -> list[tuple]:
    """(week, slots, then the share of slots played, streamed, skipped, saved and added)
    for every week of playlist_feedback, in week order."""
    import duckdb

    con = duckdb.connect()
    if not view_weeks(con, "feedback", table_path(config, "playlist_feedback")):
        return []
    shares = ", ".join(f"avg({name}::INT)" for name in OUTCOMES[1:])
    return con.execute(
        f"SELECT week, count(*), {shares} FROM feedback GROUP BY week ORDER BY week"
    ).fetchall()


def policy_outcomes(config: PipelineConfig) -> dict[str, float] | None:
    """Over every week of playlist_feedback (the simulated weeks): the slots, the share of
    them streamed, saved and skipped, the catalog coverage (distinct tracks served over the
    catalog's tracks), and the cold-start tracks served - nobody had played them before
    the week they were first served - with the share of those that found a listener (a
    slot of theirs streamed). None before any feedback."""
    import duckdb

    con = duckdb.connect()
    if not view_weeks(con, "feedback", table_path(config, "playlist_feedback")):
        return None
    con.read_parquet(str(config.catalog_dir / "tracks" / "*.parquet")).create_view("tracks")
    con.read_parquet(
        str(table_path(config, "events") / "date=*" / "*.parquet"), hive_partitioning=True
    ).create_view("events")
    row = con.execute(
        "WITH first_served AS (SELECT track_id, min(week) AS week, bool_or(streamed) AS found "
        "  FROM feedback GROUP BY track_id), "
        "first_played AS (SELECT track_id, min(date) AS day FROM events "
        "  WHERE event_type = 'play' GROUP BY track_id), "
        "cold AS (SELECT found FROM first_served LEFT JOIN first_played USING (track_id) "
        "  WHERE first_played.day IS NULL OR first_played.day >= first_served.week) "
        "SELECT count(*), avg(streamed::INT), avg(saved::INT), avg(skipped::INT), "
        "  count(DISTINCT track_id) / (SELECT count(*) FROM tracks), "
        "  (SELECT count(*) FROM cold), (SELECT avg(found::INT) FROM cold) "
        "FROM feedback"
    ).fetchone()
    return dict(zip(POLICY_OUTCOMES, row))


def estimates_against_outcomes(config: PipelineConfig) -> list[tuple]:
    """(week, segment, IPS estimate of the week's policy, the reward per Discover Weekly
    slot that week then earned) for every week with a `policy` (the adaptive policy on)
    and feedback; the estimate was made before the week, from the week before's slots."""
    import duckdb

    con = duckdb.connect()
    if not all(
        view_weeks(con, name, table_path(config, name)) for name in ("policy", "playlist_feedback")
    ):
        return []
    return con.execute(
        "WITH estimates AS (SELECT DISTINCT week, segment, ips_estimate FROM policy), "
        "outcomes AS (SELECT week, segment, avg((streamed OR saved)::INT) AS earned "
        "  FROM playlist_feedback WHERE playlist_type = 'discover_weekly' GROUP BY ALL) "
        "SELECT week, segment, ips_estimate, earned FROM estimates JOIN outcomes "
        "USING (week, segment) ORDER BY week, segment"
    ).fetchall()
