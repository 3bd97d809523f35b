from datetime import date, datetime, timezone

import pytest

from jobs.domain.source_models import cold_start_users
from schemas import candidates as candidates_schema
from schemas import events, model
from schemas import interactions as interactions_schema
from schemas import playlists as playlists_schema

WEEK = date(2026, 11, 23)


def test_every_candidate_source_is_a_playlist_source():
    # The GX playlists suite only accepts schemas.playlists.SOURCES.
    assert set(candidates_schema.SOURCES) <= set(playlists_schema.SOURCES)


def _interactions(spark, rows):
    """(user_id, track_id, confidence, plays) -> the interactions table's schema."""
    return spark.createDataFrame(
        [(u, t, float(c), p, 0, None, WEEK) for u, t, c, p in rows],
        schema=interactions_schema.SCHEMA,
    )


def _events(spark, rows):
    """(user_id, track_id, date) plays -> the events table's schema."""
    return spark.createDataFrame(
        [
            (
                f"e{i}",
                datetime(d.year, d.month, d.day, tzinfo=timezone.utc),
                u,
                t,
                200_000,
                None,
                None,
                False,
                None,
                None,
                None,
                "play",
                None,
                d,
            )
            for i, (u, t, d) in enumerate(rows)
        ],
        schema=events.EVENTS,
    )


@pytest.mark.spark
def test_cold_start_users_are_light_listeners_and_the_unmodelled(spark):
    interactions = _interactions(
        spark, [("u1", "t1", 1.0, 3), ("u1", "t2", 1.0, 1), ("u2", "t1", 2.0, 5)]
    )
    factors = spark.createDataFrame(
        [("u1", [1.0], WEEK), ("u2", [1.0], WEEK)], schema=model.USER_FACTORS
    )
    history = _events(
        spark,
        [
            ("u2", "t1", date(2026, 11, 20)),
            ("u3", "t1", date(2026, 11, 22)),  # new this week, no factors yet
            ("u4", "t1", date(2026, 11, 10)),  # not active in the week before WEEK
        ],
    )
    cold = cold_start_users(interactions, factors, history, WEEK, min_plays=5)
    # u1: 3 + 1 = 4 plays < 5; u2's 5 are not fewer than 5.
    assert sorted(r["user_id"] for r in cold.collect()) == ["u1", "u3"]
