"""jobs/stages/train_ranker.py on tiny warehouses: a first week, a pool with no positive, a pool
whose popularity feature is the label, and what the playlist stage then loads."""

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from jobs.core.tables import read_week, table_path, write_week
from jobs.domain.discover import load_week_ranker
from jobs.stages import train_ranker
from schemas import events
from schemas import pool as schema
from schemas.pool import FEATURES

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)
LAST_WEEK = WEEK - timedelta(days=7)


@pytest.fixture
def config(test_config, tmp_path):
    warehouse = tmp_path / "warehouse"
    ranking = replace(
        test_config.ranking, rounds=20, min_data_in_leaf=5, num_leaves=7, min_listeners=20
    )
    return replace(
        test_config, warehouse_dir=warehouse, runs_dir=tmp_path / "runs", ranking=ranking
    )


def _pool(spark, config, listeners=40, per_listener=10, written_without=()):
    """Last week's pool: `track_popularity` is 1 for tracks u*-t0 and t1, which are the ones
    played since; everything else noise. `written_without`: feature columns the code that
    wrote it did not have yet."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(listeners):
        for t in range(per_listener):
            values = {name: float(rng.random()) for name in FEATURES}
            values["track_popularity"] = 1.0 if t < 2 else 0.0
            values["als_rank"] = float(rng.integers(1, 100))
            rows.append(
                (f"u{u}", f"t{t}", f"a{t}", *[values[name] for name in FEATURES])
                + (
                    False,
                    float(rng.random()),
                    None,
                    1.0,
                    "als",
                    False,
                    None,
                    None,
                    "blend",
                    LAST_WEEK,
                )
            )
    frame = spark.createDataFrame(rows, schema.CANDIDATE_POOL).drop(*written_without)
    write_week(frame, table_path(config, "candidate_pool"), LAST_WEEK)


def _events(spark, config, clean_event, plays):
    """Clean events: (user, track, ms) plays on the Tuesday of last week."""
    rows = [clean_event(i, user, track, 6, ms) for i, (user, track, ms) in enumerate(plays)]
    spark.createDataFrame(rows, events.EVENTS).write.mode("overwrite").partitionBy("date").parquet(
        str(table_path(config, "events"))
    )


def _model_row(spark, config):
    return read_week(spark, config, "ranker_models", schema.RANKER_MODELS, WEEK).first()


def _assert_the_blend_ranks(spark, config, why: str):
    """Run the stage: the blend must rank the week, the record and the loader saying `why`."""
    rows = {}
    train_ranker.run(spark, config, WEEK, rows)
    record = _model_row(spark, config)
    assert record["ranked_by"] == schema.BLEND and why in record["reason"]
    assert rows["ranker"] == 0
    assert load_week_ranker(spark, config, WEEK) == (None, record["reason"])


def test_a_first_week_is_ranked_by_the_blend_saying_so(spark, config):
    _assert_the_blend_ranks(spark, config, "first week")


def test_a_pool_without_positives_falls_back_to_the_blend(spark, config, clean_event):
    _pool(spark, config)
    # Only skips (under 30 s) since: nothing to learn from.
    _events(spark, config, clean_event, [(f"u{u}", "t0", 5_000) for u in range(40)])
    train_ranker.run(spark, config, WEEK, {})
    record = _model_row(spark, config)
    assert record["ranked_by"] == schema.BLEND and "no positive" in record["reason"]


def test_a_pool_with_too_few_listeners_who_played_falls_back_to_the_blend(
    spark, config, clean_event
):
    _pool(spark, config)
    # 10 of the 40 listeners played, under [ranking] min_listeners (20): a model of ten
    # listeners checked on two says nothing.
    _events(spark, config, clean_event, [(f"u{u}", "t0", 200_000) for u in range(10)])
    _assert_the_blend_ranks(spark, config, "only 10 listener(s)")


def test_the_ranker_learns_last_weeks_first_plays_and_the_stage_loads_it(
    spark, config, clean_event
):
    _pool(spark, config)
    _events(
        spark, config, clean_event, [(f"u{u}", f"t{t}", 200_000) for u in range(40) for t in (0, 1)]
    )
    rows = {}
    train_ranker.run(spark, config, WEEK, rows)
    record = _model_row(spark, config)
    assert record["ranked_by"] == schema.RANKER and record["reason"] is None
    assert record["trained_on_week"] == LAST_WEEK
    assert record["positives"] == 80 and record["validation_ndcg"] > 0.95
    assert record["validation_ndcg"] >= record["validation_ndcg_blend"]
    assert max(record["importances"], key=record["importances"].get) == "track_popularity"
    assert rows["ranker"] == 1 and rows["ranker_positives"] == 80
    text, why = load_week_ranker(spark, config, WEEK)
    assert text is not None and "trained on week 2026-11-16" in why

    # A corrupt model file: the stage falls back to the blend and says why.
    (config.warehouse_dir / record["model_file"]).write_text("not a model")
    text, why = load_week_ranker(spark, config, WEEK)
    assert text is None and "cannot be read" in why
    # And off in the config: the blend, whatever is stored.
    off = replace(config, ranking=replace(config.ranking, ranker=False))
    assert load_week_ranker(spark, off, WEEK)[0] is None


def test_a_pool_written_before_a_feature_existed_still_trains_a_ranker(spark, config, clean_event):
    # The week after an upgrade that added features: last week's pool lacks them (read as
    # null), and the ranker learns from the rest.
    new_features = ("artist_share", "track_share_of_artist", "artist_pick_share")
    _pool(spark, config, written_without=new_features)
    _events(
        spark, config, clean_event, [(f"u{u}", f"t{t}", 200_000) for u in range(40) for t in (0, 1)]
    )
    train_ranker.run(spark, config, WEEK, {})
    record = _model_row(spark, config)
    assert record["ranked_by"] == schema.RANKER and record["validation_ndcg"] > 0.95
    assert all(record["importances"][name] == 0 for name in new_features)
    text, _ = load_week_ranker(spark, config, WEEK)
    assert text is not None
