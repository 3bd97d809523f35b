import math
from datetime import date, datetime, timezone

import pytest

from jobs.core.config import InteractionsConfig
from jobs.stages.interactions import build_interactions
from schemas import controls, events

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)
CONFIG = InteractionsConfig(
    lookback_weeks=2,
    half_life_days=7.0,
    skip_ms=30_000,
    skip_penalty=1.0,
    save_weight=3.0,
    playlist_add_weight=3.0,
)


@pytest.fixture
def confidences(spark, clean_event):
    rows = [
        clean_event(1, "u1", "full", 7),  # one complete play a half-life ago -> log1p(0.5)
        clean_event(2, "u1", "half", 0.0001, ms=90_000),  # half a 180 s track, just now
        clean_event(3, "u1", "skipped", 7, ms=5_000),  # early skip only -> negative
        clean_event(4, "u1", "saved", 14, ms=0, kind="save"),  # save two half-lives ago
        clean_event(5, "u2", "full", 21),  # outside the 2-week look-back
        clean_event(6, "u2", "full", -1),  # in the publish week itself: not yet history
        clean_event(7, "u2", "hidden", 3, ms=0, kind="hide"),  # not a taste signal here
        clean_event(8, "u3", "full", 7, context="playlist:sleep"),  # excluded by u3
        clean_event(9, "u2", "half", 7, context="playlist:sleep"),  # u2 did not exclude it
    ]
    events_df = spark.createDataFrame(rows, schema=events.EVENTS)
    tracks = spark.createDataFrame(
        [(t, 180_000) for t in ("full", "half", "skipped", "saved", "hidden")],
        "track_id string, duration_ms int",
    )
    exclusions = spark.createDataFrame(
        [("u3", "playlist:sleep", datetime(2026, 1, 1, tzinfo=timezone.utc))],
        schema=controls.TASTE_PROFILE_EXCLUSIONS,
    )
    result = build_interactions(events_df, tracks, exclusions, WEEK, CONFIG).collect()
    return {(r["user_id"], r["track_id"]): r for r in result}


def test_confidence_follows_the_documented_formula(confidences):
    # u3's only play was in a context u3 excluded from the taste profile: no row for u3.
    assert set(confidences) == {
        ("u1", "full"),
        ("u1", "half"),
        ("u1", "skipped"),
        ("u1", "saved"),
        ("u2", "half"),
    }
    assert confidences[("u1", "full")]["confidence"] == pytest.approx(math.log1p(0.5))
    assert confidences[("u1", "half")]["confidence"] == pytest.approx(math.log1p(0.5), rel=1e-3)
    assert confidences[("u1", "skipped")]["confidence"] == pytest.approx(-math.log1p(0.5))
    assert confidences[("u1", "saved")]["confidence"] == pytest.approx(math.log1p(3 * 0.25))


def test_counts_and_week(confidences):
    full, skipped = confidences[("u1", "full")], confidences[("u1", "skipped")]
    assert (full["plays"], full["skips"], skipped["plays"], skipped["skips"]) == (1, 0, 0, 1)
    assert full["week"] == WEEK
