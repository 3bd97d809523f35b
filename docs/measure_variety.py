"""Discover Weekly's accuracy and artist variety under other variety settings, ranked
afresh from one built week's tables, with the week's ranker (the figures in
docs/ranking.md, "With exploration's slots"); every other setting is the config's. Run
after `weekly-playlists bench`, on its warehouse:

    WP_HOME=<bench root>/events-1000000 python docs/measure_variety.py 2026-11-16

Each line: the settings, NDCG@30 against the week after's first plays, distinct artists
per track, and the share of the playlists' slots that exploration filled."""

import sys
from dataclasses import replace
from datetime import date

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig
from jobs.core.spark import spark_session
from jobs.core.tables import read_table
from jobs.domain.history import played_tracks
from jobs.domain.metrics import artist_diversity, ndcg_at_k
from jobs.domain.rules import read_controls
from jobs.stages.playlists import discover_weekly
from jobs.tools.evaluate import week_truth
from schemas import catalog, events
from schemas.playlists import SOURCE_EXPLORATION

K = 30
# (label, max per artist, artist penalty, cluster penalty, exploration share); the
# shortlist keeps one track per artist more than the cap allows, and at least 3.
VARIANTS = [
    ("2 per artist, exploration 0.2", 2, 0.0, 0.0, 0.2),
    ("2 per artist, exploration 0", 2, 0.0, 0.0, 0.0),
    ("2 per artist, exploration 0.1", 2, 0.0, 0.0, 0.1),
    ("3 per artist, exploration 0.2", 3, 0.0, 0.0, 0.2),
    ("3 per artist, penalty 0.05, exploration 0.2", 3, 0.05, 0.0, 0.2),
    ("3 per artist, penalty 0.1, exploration 0.2", 3, 0.1, 0.0, 0.2),
    ("3 per artist, penalty 0.2, exploration 0.2", 3, 0.2, 0.0, 0.2),
    ("4 per artist, penalty 0.05, exploration 0.2", 4, 0.05, 0.0, 0.2),
    ("4 per artist, penalty 0.075, exploration 0.2", 4, 0.075, 0.0, 0.2),
    ("4 per artist, penalty 0.1, exploration 0.2", 4, 0.1, 0.0, 0.2),
    ("4 per artist, penalty 0.15, exploration 0.2", 4, 0.15, 0.0, 0.2),
    ("4 per artist, penalty 0.25, exploration 0.2", 4, 0.25, 0.0, 0.2),
    ("5 per artist, penalty 0.1, exploration 0.2", 5, 0.1, 0.0, 0.2),
    ("no cap, penalty 0.15, exploration 0.2", 30, 0.15, 0.0, 0.2),
    ("no cap, penalty 0.25, exploration 0.2", 30, 0.25, 0.0, 0.2),
    ("4 per artist, penalty 0.15, cluster 0.02, expl. 0.2", 4, 0.15, 0.02, 0.2),
    ("no cap, no penalty, exploration 0", 30, 0.0, 0.0, 0.0),
]


class Judge:
    """Scores a week's playlists: NDCG@30 against the week after's first plays, and distinct
    artists per track (also used by docs/measure_constraints.py)."""

    def __init__(self, spark: SparkSession, config: PipelineConfig, week: date) -> None:
        tracks = spark.read.schema(catalog.TRACKS).parquet(str(config.catalog_dir / "tracks"))
        played = played_tracks(read_table(spark, config, "events", events.EVENTS), week).cache()
        self.truth = week_truth(spark, config, tracks, played, week)
        self.track_artists = tracks.select("track_id", "artist_id").toPandas()

    def print(self, label: str, picks: pd.DataFrame, note: str) -> None:
        """One line for `picks` (user_id, track_id, rank)."""
        print(
            f"{label:<52} NDCG@30 {ndcg_at_k(self.truth, picks, K):.4f}  "
            f"artists/track {artist_diversity(picks, K, self.track_artists):.3f}  {note}",
            flush=True,
        )


def main(week: date) -> None:
    config = replace(PipelineConfig.load(), hive_catalog=False)  # reads files only
    spark = spark_session(config, "measure-variety")
    judge = Judge(spark, config, week)
    controls = read_controls(spark, config, week)
    for label, per_artist, penalty, cluster_penalty, exploration in VARIANTS:
        variant = replace(
            config,
            playlists=replace(
                config.playlists,
                max_tracks_per_artist=per_artist,
                exploration_share=exploration,
            ),
            ranking=replace(
                config.ranking,
                artist_penalty=penalty,
                cluster_penalty=cluster_penalty,
                shortlist_per_artist=max(3, per_artist + 1),
            ),
        )
        built = discover_weekly(spark, variant, week, controls).select(
            "user_id", "track_id", F.col("position").alias("rank"), "source"
        )
        recs = built.toPandas()
        judge.print(label, recs, f"exploration {(recs['source'] == SOURCE_EXPLORATION).mean():.2f}")
    spark.stop()


if __name__ == "__main__":
    main(date.fromisoformat(sys.argv[1]))
