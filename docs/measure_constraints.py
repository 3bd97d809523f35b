"""What Discover Weekly's product rules cost in accuracy: the ranking pass rebuilt under
other variety and exploration settings, each with its own ranker (the figures in
docs/ranking.md, "The ranker against the rules"). For each setting, the week before's pool
is ranked by the blend, a ranker is trained on it labelled by that week's first plays (as
`train_ranker` does), and the week is ranked by that ranker. Run after `weekly-playlists
bench`, on its warehouse:

    WP_HOME=<bench root>/events-1000000 python docs/measure_constraints.py 2026-11-16

Each line: the setting, NDCG@30 against the week after's first plays, distinct artists per
track, and the ranker's held-out NDCG against the blend's."""

import sys
from dataclasses import replace
from datetime import date, timedelta

from measure_variety import Judge  # docs/, beside this script
from pyspark.sql import functions as F

import jobs.domain.discover as ranking_pass
from jobs.core.config import PipelineConfig
from jobs.core.spark import spark_session
from jobs.core.tables import read_table
from jobs.domain.rules import read_controls
from jobs.stages.train_ranker import fit, labelled_pool
from schemas import events

UNBOUNDED = {"max_tracks_per_artist": 30, "max_tracks_per_album": 30, "max_cluster_share": 1.0}
# (label, [playlists] settings, [ranking] settings)
SETTINGS = [
    ("the defaults", {}, {}),
    ("exploration 0", {"exploration_share": 0.0}, {}),
    ("artist penalty 0.1", {}, {"artist_penalty": 0.1}),
    ("artist penalty 0.075", {}, {"artist_penalty": 0.075}),
    ("no variety bounds", UNBOUNDED, {"artist_penalty": 0.0, "shortlist_per_artist": 31}),
    (
        "no variety bounds, exploration 0",
        {**UNBOUNDED, "exploration_share": 0.0},
        {"artist_penalty": 0.0, "shortlist_per_artist": 31},
    ),
]


def main(week: date) -> None:
    before = week - timedelta(days=7)
    config = replace(PipelineConfig.load(), hive_catalog=False)  # reads files only
    spark = spark_session(config, "measure-constraints")
    judge = Judge(spark, config, week)
    history = read_table(spark, config, "events", events.EVENTS)
    controls = {w: read_controls(spark, config, w) for w in (before, week)}
    for label, playlists, ranking in SETTINGS:
        setting = replace(
            config,
            playlists=replace(config.playlists, **playlists),
            ranking=replace(config.ranking, **ranking),
        )
        # The stage reads the week's ranker from `ranker_models`; here each setting's own.
        ranking_pass.load_week_ranker = lambda *_: (None, "the blend, to train on")
        pool = ranking_pass.discover_pool(spark, setting, before, controls[before])
        labelled = labelled_pool(pool, history, before, week, config.interactions.skip_ms)
        trained = fit(labelled, setting)
        ranking_pass.load_week_ranker = lambda *_: (trained.model_text, label)
        picks = ranking_pass.discover_pool(spark, setting, week, controls[week]).where(
            F.col("position").isNotNull()
        )
        judge.print(
            label,
            picks.select("user_id", "track_id", F.col("position").alias("rank")).toPandas(),
            f"ranker {trained.validation_ndcg:.3f} blend {trained.validation_ndcg_blend:.3f}",
        )
    spark.stop()


if __name__ == "__main__":
    main(date.fromisoformat(sys.argv[1]))
