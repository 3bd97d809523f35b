"""Per-run stage records (rows written, seconds) that the summary and reports read, and the
lock that lets one process at a time build a week."""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

from jobs.core.config import PipelineConfig


def run_dir(config: PipelineConfig, week: date) -> Path:
    return config.runs_dir / f"week={week.isoformat()}"


class WeekBusy(RuntimeError):
    """Another process is building the same week."""


def _holders(folder: Path) -> str:
    """Who holds the week's locks, as they wrote it; a holder that has just locked may not
    have written yet, so wait a moment for it."""
    for _ in range(20):
        written = [path.read_text().strip() for path in sorted(folder.glob(".lock*"))]
        if any(written):
            return "; ".join(text for text in written if text)
        time.sleep(0.05)
    return "holder unknown"


@contextmanager
def _flock(path: Path, mode: int, week: date, holder: str | None) -> Iterator[None]:
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WeekBusy(
                f"week {week} is being built by another process ({_holders(path.parent)}); "
                "wait for it to finish (or stop it), then run again"
            ) from None
        if holder is not None:
            handle.truncate(0)
            handle.write(f"pid {os.getpid()}, {holder}")
            handle.flush()
        try:
            yield
        finally:
            if holder is not None:
                handle.truncate(0)  # no stale name in the next refusal
                handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def week_lock(
    config: PipelineConfig, week: date, holder: str, whole_week: bool = True
) -> Iterator[None]:
    """Hold the week's lock for the block, or raise `WeekBusy` at once, naming the process
    that holds it. Two runs of one week would overwrite each other's staging and tables;
    two different weeks never share a lock. The kernel drops an `flock` when its holder
    dies, even by SIGKILL.

    `whole_week` (a run of every stage in one process) locks `runs/week=W/.lock`
    exclusively. A single stage (`whole_week=False`, `holder` its name) holds that lock
    shared and `.lock-<stage>` exclusively: the DAG's independent stages of one week
    (cluster_tracks beside the event chain) run side by side, while the same stage twice,
    or a stage beside a whole-week run, is refused."""
    folder = run_dir(config, week)
    folder.mkdir(parents=True, exist_ok=True)
    if whole_week:
        with _flock(folder / ".lock", fcntl.LOCK_EX, week, holder):
            yield
        return
    with (
        _flock(folder / ".lock", fcntl.LOCK_SH, week, None),
        _flock(folder / f".lock-{holder}", fcntl.LOCK_EX, week, holder),
    ):
        yield


@contextmanager
def ingest_lock(config: PipelineConfig, week: date) -> Iterator[None]:
    """Held while a week's events are ingested; a second ingest waits for it. Each ingest
    catches up the days nobody has ingested yet, so two weeks ingesting at once (two
    `weekly-playlists run`s; in Airflow `depends_on_past` already orders them) would both
    take the same days. Waiting, not refusing: the later week needs the earlier one's days."""
    config.runs_dir.mkdir(parents=True, exist_ok=True)
    with open(config.runs_dir / ".ingest.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            print(f"week {week}: waiting for another ingest ({handle.read().strip()})", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}, week {week}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def stage_record(config: PipelineConfig, week: date, stage: str) -> Iterator[dict]:
    """Times the block and writes `{stage, seconds, rows}` to the week's run folder.

    The block fills `record["rows"]` with the row counts it wrote."""
    record: dict = {"stage": stage, "week": week.isoformat(), "rows": {}, "started": time.time()}
    started = time.perf_counter()
    yield record
    record["seconds"] = round(time.perf_counter() - started, 2)
    folder = run_dir(config, week) / "stages"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stage}.json").write_text(json.dumps(record, indent=2, sort_keys=True))


def read_stage_records(config: PipelineConfig, week: date) -> list[dict]:
    folder = run_dir(config, week) / "stages"
    if not folder.exists():
        return []
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def previous_rows(config: PipelineConfig, week: date, stage: str) -> dict:
    """The row counts `stage` recorded for the week before (empty if it never ran)."""
    for record in read_stage_records(config, week - timedelta(days=7)):
        if record["stage"] == stage:
            return record["rows"]
    return {}


def row_count_bounds(expected: float | None, tolerance: float) -> dict[str, int | None]:
    """`min_rows`/`max_rows` suite parameters: within +-tolerance of `expected` (last week's
    count), or at least one row when there is no last week to compare with."""
    if not expected:
        return {"min_rows": 1, "max_rows": None}
    return {
        "min_rows": max(1, math.floor(expected * (1 - tolerance))),
        "max_rows": math.ceil(expected * (1 + tolerance)),
    }


def skip_share_bounds(last_week: dict, tolerance: float) -> dict[str, float]:
    """`min_skip_share`/`min_unskipped_share` events-suite parameters: this week's share of
    skipped plays within +-tolerance of last week's (ingest's `skips` / `events`), or
    anything when there is no last week to compare with."""
    if not last_week.get("events") or "skips" not in last_week:
        return {"min_skip_share": 0.0, "min_unskipped_share": 0.0}
    share = last_week["skips"] / last_week["events"]
    return {
        "min_skip_share": max(0.0, share - tolerance),
        "min_unskipped_share": max(0.0, 1.0 - share - tolerance),
    }
