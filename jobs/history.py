"""Listening history questions several jobs ask of the clean `events` table."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.raw_events import PLAY


def plays_before(events: DataFrame, week: date) -> DataFrame:
    """(user_id, track_id) of every play before `week`, repeats included."""
    return events.where((F.col("event_type") == PLAY) & (F.col("date") < F.lit(week))).select(
        "user_id", "track_id"
    )


def played_tracks(events: DataFrame, week: date) -> DataFrame:
    """Distinct (user_id, track_id) played before `week`: these are never recommended."""
    return plays_before(events, week).distinct()
