"""The likeability re-ranker (jobs/stages/rerank.py) on tiny frames: labels, features, a network
whose right answer is known, the listener split, scoring and the stage itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from jobs.core.config import RerankerConfig
from jobs.core.quality import ValidationFailed, validate
from jobs.core.tables import table_path, write_week
from jobs.stages import rerank
from jobs.stages.rerank import (
    NoSkipSignal,
    fit_reranker,
    listener_split,
    play_labels,
    score_candidates,
    training_examples,
    training_features,
)
from schemas import candidates, catalog, clusters, events, interactions, model, played, taste
from schemas import rerank as schema

WEEK = date(2026, 11, 23)
ALL_TRACKS = ", ".join(f"'t{i}'" for i in range(20))
SKIP_MS = 30_000
# A few iterations on a few hundred rows: the network stops before it converges.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
SMALL = RerankerConfig(
    enabled=True, hidden_layers=(8,), max_iterations=60, validation_share=0.25, seed=7
)


def _event(n, track, ms, reason_end, skipped, days_before=1, user="u1", kind="play"):
    """One `events` row (schemas/events.py EVENTS order) `days_before` the week."""
    ts = datetime(2026, 11, 23, 12, tzinfo=timezone.utc) - timedelta(days=days_before)
    return (f"e{n}", ts, user, track, ms, None, reason_end, skipped, False, None, None, kind,
            None, ts.date())  # fmt: skip


# (track, ms_played, reason_end, skipped, days before the week, event type, label)
LABEL_CASES = [
    ("done", 180_000, "trackdone", False, 1, "play", 1),  # played to the end
    ("short_track", 20_000, "trackdone", False, 1, "play", 1),  # a 20 s track, to its end
    ("fwd", 5_000, "fwdbtn", True, 1, "play", 0),  # skipped within 30 s
    ("back_unflagged", 5_000, "backbtn", False, 1, "play", 0),  # `skipped` not set: ended by user
    ("skip_no_reason", 5_000, None, True, 1, "play", 0),  # skipped, no reason logged
    ("short_no_reason", 5_000, None, False, 1, "play", 0),  # < skip_ms, what interactions skips
    ("long_no_reason", 60_000, None, False, 1, "play", 1),  # no reason logged, >= skip_ms
    ("late_skip", 90_000, "fwdbtn", True, 1, "play", None),  # heard 90 s first: ambiguous
    ("logout", 5_000, "logout", False, 1, "play", None),  # the session ended, not a judgement
    ("endplay", 120_000, "endplay", False, 1, "play", None),  # stopped by the app
    ("first_day", 180_000, "trackdone", False, 7, "play", 1),  # Monday before: in the window
]
# Plays that are not labelled at all: outside the 7 days, or not a play.
OUTSIDE = [
    ("eight_days", 180_000, "trackdone", False, 8, "play"),
    ("the_week_itself", 180_000, "trackdone", False, 0, "play"),
    ("save", 0, None, False, 1, "save"),
]


@pytest.fixture(scope="module")
def labels(spark):
    rows = [
        _event(n, track, ms, reason, skipped, days, kind=kind)
        for n, (track, ms, reason, skipped, days, kind, *_) in enumerate(LABEL_CASES + OUTSIDE)
    ]
    frame = spark.createDataFrame(rows, schema=events.EVENTS)
    return {r["track_id"]: r["label"] for r in play_labels(frame, WEEK, SKIP_MS).collect()}


@pytest.mark.spark
@pytest.mark.parametrize("track, expected", [(case[0], case[-1]) for case in LABEL_CASES])
def test_plays_are_labelled_completed_early_skip_or_neither(labels, track, expected):
    assert labels[track] == expected


@pytest.mark.spark
def test_only_the_plays_of_the_seven_days_before_the_week_are_labelled(labels):
    assert set(labels) == {case[0] for case in LABEL_CASES}


def _feature_frames(spark, week=WEEK):
    """Profiles (2 values), track features (2), factors (rank 2): u1 has everything, u2
    no profile, u3 no factors; t1 and t2 have everything, t3 no features, t4 no factors."""
    profiles = spark.createDataFrame(
        [("u1", [0.2, 0.8], [], week), ("u3", [0.5, 0.5], [], week)], schema=taste.TASTE_PROFILES
    )
    track_clusters = spark.createDataFrame(
        [("t1", 0, 0.1, [1.0, 0.0], week), ("t2", 1, 0.2, [0.0, 1.0], week),
         ("t4", 1, 0.3, [0.5, 0.5], week)],
        schema=clusters.TRACK_CLUSTERS,
    )  # fmt: skip
    user_factors = spark.createDataFrame(
        [("u1", [1.0, 2.0], week), ("u2", [1.0, 1.0], week)], schema=model.USER_FACTORS
    )
    track_factors = spark.createDataFrame(
        [("t1", [3.0, 0.5], week), ("t2", [-1.0, 1.0], week), ("t3", [1.0, 1.0], week)],
        schema=model.TRACK_FACTORS,
    )
    return profiles, track_clusters, user_factors, track_factors


@pytest.mark.spark
def test_examples_join_profile_track_features_and_als_score_and_drop_incomplete_rows(spark):
    plays = [
        _event(1, "t1", 180_000, "trackdone", False),
        _event(2, "t2", 5_000, "fwdbtn", True),
        _event(3, "t2", 180_000, "trackdone", False),  # the same track again: its own example
        _event(4, "t1", 90_000, "fwdbtn", True),  # late skip: no label, no example
        _event(5, "t3", 180_000, "trackdone", False),  # t3 has no audio features
        _event(6, "t4", 180_000, "trackdone", False),  # t4 has no ALS factors
        _event(7, "t1", 180_000, "trackdone", False, user="u2"),  # u2 has no profile
        _event(8, "t1", 180_000, "trackdone", False, user="u3"),  # u3 has no ALS factors
    ]
    frame = spark.createDataFrame(plays, schema=events.EVENTS)

    examples = training_examples(frame, *_feature_frames(spark), WEEK, SKIP_MS).collect()

    got = sorted((r["user_id"], r["track_id"], r["label"], r["features"]) for r in examples)
    assert got == [
        # profile ++ track features ++ [u . v]: u1 . t1 = 1*3 + 2*0.5 = 4
        ("u1", "t1", 1, [0.2, 0.8, 1.0, 0.0, 4.0]),
        # u1 . t2 = 1*-1 + 2*1 = 1
        ("u1", "t2", 0, [0.2, 0.8, 0.0, 1.0, 1.0]),
        ("u1", "t2", 1, [0.2, 0.8, 0.0, 1.0, 1.0]),
    ]


def _synthetic(listeners=80, plays=30, seed=0, width=5):
    """Examples whose label is a clear function of the features: completed when
    x0 + x1 > 0, with 5% of labels flipped."""
    rng = np.random.default_rng(seed)
    n = listeners * plays
    x = rng.normal(size=(n, width))
    label = ((x[:, 0] + x[:, 1] > 0) ^ (rng.random(n) < 0.05)).astype(int)
    return pd.DataFrame(
        {
            "user_id": np.repeat([f"u{i}" for i in range(listeners)], plays),
            "track_id": [f"t{i}" for i in range(n)],
            "label": label,
            "features": list(x),
        }
    )


def test_a_learnable_label_gives_a_high_validation_auc_and_every_metric():
    examples = _synthetic()

    fitted, metrics = fit_reranker(examples, SMALL)

    assert metrics["validation_auc"] > 0.8 and metrics["train_auc"] > 0.8
    assert metrics["validation_accuracy"] > 0.7 and metrics["train_accuracy"] > 0.7
    assert metrics["train_rows"] + metrics["validation_rows"] == len(examples)
    assert 0 < metrics["validation_rows"] < metrics["train_rows"]
    assert metrics["positive_share"] == pytest.approx(examples["label"].mean())
    assert metrics["train_seconds"] > 0
    assert fitted.n_features_in_ == 5


def test_the_fit_is_deterministic_whatever_the_row_order():
    examples = _synthetic(listeners=30)
    shuffled = examples.sample(frac=1.0, random_state=3)
    probe = np.random.default_rng(1).normal(size=(20, 5))

    first, first_metrics = fit_reranker(examples, SMALL)
    second, second_metrics = fit_reranker(shuffled, SMALL)

    first_metrics.pop("train_seconds"), second_metrics.pop("train_seconds")
    assert first_metrics == second_metrics
    np.testing.assert_array_equal(first.predict_proba(probe), second.predict_proba(probe))


def test_training_rows_are_capped_at_max_training_rows():
    _, metrics = fit_reranker(_synthetic(listeners=20), replace(SMALL, max_training_rows=100))
    assert metrics["train_rows"] == 100


def test_the_split_is_by_listener():
    users = pd.Series(np.repeat([f"u{i}" for i in range(1000)], 3))

    held_out = listener_split(users, 0.2, seed=42)

    sides = pd.DataFrame({"user_id": users, "held_out": held_out}).groupby("user_id")["held_out"]
    assert (sides.nunique() == 1).all()  # no listener on both sides
    assert 0.15 < sides.first().mean() < 0.25
    # another seed holds out other listeners
    assert not np.array_equal(held_out, listener_split(users, 0.2, seed=43))


def test_a_single_class_cannot_be_trained_on():
    examples = _synthetic(listeners=10).assign(label=1)
    with pytest.raises(NoSkipSignal, match="both completed plays and early skips"):
        fit_reranker(examples, SMALL)


def test_plays_without_features_cannot_be_trained_on():
    with pytest.raises(NoSkipSignal, match="does the catalog have audio features"):
        fit_reranker(_synthetic(listeners=10).iloc[:0], SMALL)


@pytest.mark.spark
def test_scoring_gives_a_probability_to_every_candidate_with_features_and_none_otherwise(spark):
    fitted, _ = fit_reranker(_synthetic(listeners=20), SMALL)
    frames = _feature_frames(spark)
    rows = [
        ("u1", "t1", 0.9, 1, "als", WEEK),
        ("u1", "t1", 0.5, 3, "popularity", WEEK),  # the same pair from two sources: one row
        ("u1", "t2", 0.8, 2, "als", WEEK),
        ("u1", "t3", 0.7, 3, "als", WEEK),  # no track features
        ("u2", "t1", 0.6, 1, "als", WEEK),  # no profile
    ]
    pairs = spark.createDataFrame(rows, schema=candidates.FLAT)

    scored = score_candidates(pairs, *frames, fitted)

    assert scored.dtypes == [(f.name, f.dataType.simpleString()) for f in schema.LIKEABILITY]
    got = {(r["user_id"], r["track_id"]): r for r in scored.collect()}
    assert set(got) == {("u1", "t1"), ("u1", "t2")}
    expected = fitted.predict_proba(
        np.array([[0.2, 0.8, 1.0, 0.0, 4.0], [0.2, 0.8, 0.0, 1.0, 1.0]])
    )
    for (pair, row), probability in zip(sorted(got.items()), expected[:, 1]):
        assert 0.0 <= row["likeability"] <= 1.0
        assert row["likeability"] == pytest.approx(probability, abs=1e-6)
        assert row["week"] == WEEK


@pytest.mark.spark
def test_a_disabled_reranker_reads_and_writes_nothing(spark, test_config, tmp_path):
    config = replace(test_config, warehouse_dir=tmp_path / "warehouse")  # empty: no inputs
    rows = {}

    rerank.run(spark, config, WEEK, rows)

    assert rows == {"reranker": 0}
    assert not (tmp_path / "warehouse").exists()


def _warehouse(spark, config, rng, feature_weeks):
    """40 listeners on 12 tracks whose skips follow the audio (listeners skip tracks far
    from their taste), 8 more catalog tracks nobody played (what retrieval can offer), the
    week's interactions and played lists, and the feature tables of `feature_weeks`."""
    users = [f"u{i}" for i in range(40)]
    played_tracks = [f"t{i}" for i in range(12)]
    tracks = played_tracks + [f"t{i}" for i in range(12, 20)]
    taste_of = {u: rng.random(2) for u in users}
    sound_of = {t: rng.random(2) for t in tracks}
    plays = []
    for n in range(1200):
        user, track = users[n % 40], played_tracks[rng.integers(12)]
        completed = np.abs(taste_of[user] - sound_of[track]).sum() < 0.6
        ms, reason = (200_000, "trackdone") if completed else (4_000, "fwdbtn")
        plays.append(_event(n, track, ms, reason, not completed, 1 + n % 7, user=user))
    frame = spark.createDataFrame(plays, schema=events.EVENTS)
    frame.write.partitionBy("date").parquet(str(table_path(config, "events")))
    heard = sorted({(p[2], p[3]) for p in plays})
    week_tables = {
        "interactions": ([(u, t, 1.0, 1, 0, None) for u, t in heard], interactions.SCHEMA),
        "played": (
            [(u, sorted(t for v, t in heard if v == u)) for u in users],
            played.PLAYED,
        ),
    }
    for name, (rows, table_schema) in week_tables.items():
        frame = spark.createDataFrame([(*row, WEEK) for row in rows], schema=table_schema)
        write_week(frame, table_path(config, name), WEEK)
    catalog_rows = {
        "artists": ([("a0", "A", ["pop"], 50, 10)], catalog.ARTISTS),
        "tracks": (
            [(t, t, "al", "a0", 200_000, False, 50) for t in tracks],
            catalog.TRACKS,
        ),
    }
    for name, (rows, table_schema) in catalog_rows.items():
        spark.createDataFrame(rows, table_schema).write.parquet(str(config.catalog_dir / name))
    for week in feature_weeks:
        tables = {
            "track_clusters": (
                [(t, 0, 0.0, sound_of[t].tolist()) for t in tracks],
                clusters.TRACK_CLUSTERS,
            ),
            "user_factors": ([(u, rng.random(2).tolist()) for u in users], model.USER_FACTORS),
            "track_factors": ([(t, rng.random(2).tolist()) for t in tracks], model.TRACK_FACTORS),
        }
        for name, (rows, table_schema) in tables.items():
            frame = spark.createDataFrame([(*row, week) for row in rows], schema=table_schema)
            write_week(frame, table_path(config, name), week)
    # The week before's interactions: its listeners' taste profiles.
    frame = spark.createDataFrame(
        [(u, t, 1.0, 1, 0, None, feature_weeks[0]) for u, t in heard], schema=interactions.SCHEMA
    )
    write_week(frame, table_path(config, "interactions"), feature_weeks[0])


@pytest.fixture(scope="module")
def stage_config(spark, test_config, tmp_path_factory):
    """A warehouse with the week's plays, interactions and played lists, a catalog, and
    feature tables for the week and the week before."""
    home = tmp_path_factory.mktemp("rerank")
    config = replace(
        test_config,
        warehouse_dir=home / "warehouse",
        runs_dir=home / "runs",
        catalog_dir=home / "catalog",
        reranker=SMALL,
    )
    _warehouse(spark, config, np.random.default_rng(5), [WEEK - timedelta(days=7), WEEK])
    return config


@pytest.mark.spark
def test_training_features_are_the_week_befores_else_the_weeks_own(spark, stage_config):
    before = WEEK - timedelta(days=7)
    # the week before exists: its tables, whose window ends where the plays begin
    assert training_features(spark, stage_config, WEEK)[0] == before
    # a first week (nothing before it): its own tables, which saw the plays
    features_week, tables = training_features(spark, stage_config, before)
    assert features_week == before
    assert {row["week"] for row in tables[1].collect()} == {before}


@pytest.mark.spark
def test_an_enabled_reranker_writes_checked_likeability_and_metrics(spark, stage_config):
    rows = {}

    rerank.run(spark, stage_config, WEEK, rows)

    likeability = spark.read.parquet(str(table_path(stage_config, "likeability")))
    # Every listener's candidates are the tracks they never played: the 8 nobody played,
    # and of the 12 played, those they did not; each with features, so each scored.
    unplayed = (
        spark.read.parquet(str(table_path(stage_config, "played")))
        .selectExpr("user_id", "explode(array_except(array(" + ALL_TRACKS + "), track_ids)) t")
        .count()
    )
    assert likeability.count() == rows["likeability"] == unplayed
    assert likeability.count() > 8 * 40
    (metrics,) = spark.read.parquet(str(table_path(stage_config, "reranker_metrics"))).collect()
    assert metrics["enabled"] and metrics["week"] == WEEK
    assert metrics["features_week"] == WEEK - timedelta(days=7)
    assert metrics["train_rows"] + metrics["validation_rows"] == rows["reranker"] == 1200
    assert rows["reranker_validation_auc"] == round(metrics["validation_auc"], 4)
    assert 0 <= rows["reranker_train_auc"] <= 1
    validated = {path.name for path in stage_config.runs_dir.rglob("validation/*.json")}
    assert {"likeability.json", "reranker_metrics.json"} <= validated


@pytest.mark.spark
def test_likeability_suite_catches_out_of_range_duplicates_and_extra_rows(spark):
    good = [("u1", "t1", 0.2, WEEK), ("u1", "t2", 0.9, WEEK)]
    validate(spark.createDataFrame(good, schema.LIKEABILITY), schema.suite(), {"max_rows": 2})

    broken = good + [("u1", "t3", 1.5, WEEK), ("u1", "t1", 0.4, WEEK)]
    with pytest.raises(ValidationFailed) as failure:
        validate(spark.createDataFrame(broken, schema.LIKEABILITY), schema.suite(), {"max_rows": 3})

    failed = "\n".join(failure.value.summary.failed)
    assert len(failure.value.summary.failed) == 3, failed
    assert "expect_column_values_to_be_between on likeability" in failed
    assert "expect_compound_columns_to_be_unique" in failed
    assert "expect_table_row_count_to_be_between" in failed
