"""What a downstream consumer does with a `playlists` asset event: read the week it names.

The example consumer DAG (dags/playlists_consumer.py) calls this; the README shows the same
reads from Spark SQL, DuckDB and pandas.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Iterable

from jobs.core.config import PipelineConfig
from jobs.core.weeks import parse_week
from jobs.reporting.summary import playlist_counts

logger = logging.getLogger(__name__)


def announced_weeks(events: Iterable[Any]) -> list[date]:
    """The weeks a batch of asset events announced (one run may see several, e.g. after a
    backfill), oldest first. An event without a valid week is refused by name."""
    weeks = set()
    for event in events:
        week = (event.extra or {}).get("week")
        if week is None:
            raise ValueError(f"asset event {event!r} carries no `week` in its extra")
        weeks.add(parse_week(week))
    return sorted(weeks)


def summarise_announced_weeks(config: PipelineConfig, events: Iterable[Any]) -> list[dict]:
    """Listeners and rows per playlist type for each announced week, read from the table."""
    events = list(events)
    announced_rows = {}
    for event in events:
        announced_rows.update({(event.extra["week"], k): v for k, v in event.extra.items()})
    summaries = []
    for week in announced_weeks(events):
        counts = playlist_counts(config, week)
        if not counts:
            raise RuntimeError(f"week {week} was announced but the playlists table has no rows")
        summary: dict[str, Any] = {"week": week.isoformat()}
        for playlist_type, listeners, rows in counts:
            summary[f"{playlist_type}_listeners"] = listeners
            summary[f"{playlist_type}_rows"] = rows
            announced = announced_rows.get((week.isoformat(), f"published_{playlist_type}"))
            if announced is not None and announced != rows:
                # A later re-run of the week replaced the partition: the table is the truth.
                logger.warning(
                    "week %s %s: %d rows announced, %d in the table now",
                    week,
                    playlist_type,
                    announced,
                    rows,
                )
        logger.info("published week: %s", summary)
        summaries.append(summary)
    return summaries
