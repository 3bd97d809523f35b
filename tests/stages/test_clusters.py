from dataclasses import replace
from datetime import date

import numpy as np
import pyarrow.parquet as pq
import pytest

from jobs.core.config import ClusteringConfig, PipelineConfig
from jobs.sources.sample.world import generate
from jobs.stages import clusters
from jobs.stages.clusters import (
    FEATURES,
    centroid_labels,
    cluster_tracks,
    complete_features,
    describe_clusters,
)
from schemas import catalog

pytestmark = pytest.mark.spark

WEEK = date(2026, 11, 23)
CONFIG = ClusteringConfig(k_values=(2, 3, 4, 5), seed=1)

# Three moods, each high on one feature (speech less so, so no two labels tie).
MOODS = {"loud": ("energy", 0.9), "quiet": ("acousticness", 0.9), "spoken": ("speechiness", 0.7)}


def feature_rows(rng, mood: str, n: int, prefix: str):
    feature, level = MOODS[mood]
    rows = []
    for i in range(n):
        values = {name: 0.1 + rng.normal(0, 0.02) for name in FEATURES}
        values.update({feature: level + rng.normal(0, 0.02), "loudness": -8.0, "tempo": 120.0})
        rows.append((f"{prefix}{i}", *[float(values[name]) for name in FEATURES], 4, 0, 1))
    return rows


@pytest.fixture
def catalog_frames(spark):
    rng = np.random.default_rng(0)
    features = [row for mood in MOODS for row in feature_rows(rng, mood, 10, mood[0])]
    # One track without any features row, one with a missing value.
    features.append(("partial", *[None] * len(FEATURES), None, None, None))
    track_ids = [row[0] for row in features] + ["unmeasured"]
    artist_of = {"l": "a_loud", "q": "a_quiet", "s": "a_mid"}
    tracks = spark.createDataFrame(
        [(t, t, "al", artist_of.get(t[0], "a_mid"), 1, False, 1) for t in track_ids],
        schema=catalog.TRACKS,
    )
    artists = spark.createDataFrame(
        [
            ("a_loud", "Loud Band", ["metal", "rock"], 1, 1),
            ("a_quiet", "Quiet Duo", ["folk"], 1, 1),
            ("a_mid", "Middle Act", ["pop"], 1, 1),
        ],
        schema=catalog.ARTISTS,
    )
    return spark.createDataFrame(features, schema=catalog.AUDIO_FEATURES), tracks, artists


def test_tracks_without_every_feature_are_left_out(catalog_frames):
    features, _, _ = catalog_frames
    ids = {row["track_id"] for row in complete_features(features).collect()}
    assert len(ids) == 30 and "partial" not in ids


def test_the_silhouette_finds_the_three_moods(catalog_frames):
    features, tracks, artists = catalog_frames
    clustering = cluster_tracks(complete_features(features), CONFIG)
    assert clustering.k == 3
    assert [k for k, _, _ in clustering.scores] == [2, 3, 4, 5]
    silhouettes = dict((k, s) for k, s, _ in clustering.scores)
    assert silhouettes[3] == max(silhouettes.values()) > 0.7
    members = {}
    for row in clustering.assigned.collect():
        members.setdefault(row["cluster"], set()).add(row["track_id"][0])
        assert 0 <= row["distance"] < 1.0  # the moods sit sqrt(2) apart once scaled
    assert sorted(map(sorted, members.values())) == [["l"], ["q"], ["s"]]

    described = {
        r["label"]: r for r in describe_clusters(clustering, tracks, artists, WEEK).collect()
    }
    loud = next(r for label, r in described.items() if label.startswith("high energy"))
    assert loud["label"] == "high energy / low acousticness"
    assert loud["size"] == 10 and loud["top_artists"] == ["Loud Band"]
    assert loud["top_genres"] == ["metal", "rock"]
    assert any(label.startswith("high acousticness / low energy") for label in described)


def test_labels_read_the_centroid_and_stay_unique():
    mean = np.full(len(FEATURES), 0.5)
    high_energy = mean.copy()
    high_energy[FEATURES.index("energy")] = 0.9
    high_energy[FEATURES.index("valence")] = 0.3
    assert centroid_labels(np.stack([high_energy, high_energy]), mean) == [
        "high energy / low valence",
        "high energy / low valence (2)",
    ]


def test_the_job_writes_three_tables_and_the_plot(spark, tmp_path):
    config = replace(PipelineConfig.load(env={"WP_HOME": str(tmp_path)}), hive_catalog=False)
    config = replace(config, clustering=ClusteringConfig(k_values=(3, 5)))
    generate(config, WEEK, users=20, tracks=300, weeks=1, seed=5)
    rows = {}
    clusters.run(spark, config, WEEK, rows)
    n_tracks = pq.read_table(config.catalog_dir / "tracks").num_rows
    assert rows["track_clusters"] + rows["skipped_tracks"] == n_tracks
    assert rows["skipped_tracks"] > 0  # the generator leaves some tracks without features
    assert rows["clusters"] in (3, 5)
    for table in ("track_clusters", "clusters", "cluster_models"):
        assert (config.warehouse_dir / table / f"week={WEEK}").exists()
    model = pq.read_table(config.warehouse_dir / "cluster_models").to_pylist()[0]
    assert [s["k"] for s in model["scores"]] == [3, 5]
    assert model["skipped_tracks"] == rows["skipped_tracks"]
    assert (config.runs_dir / f"week={WEEK}" / "clusters-k.png").stat().st_size > 1000
    assert (config.runs_dir / f"week={WEEK}" / "validation" / "track_clusters.json").exists()


def test_a_catalog_without_audio_features_gets_empty_cluster_partitions(spark, tmp_path):
    config = replace(PipelineConfig.load(env={"WP_HOME": str(tmp_path)}), hive_catalog=False)
    generate(config, WEEK, users=20, tracks=50, weeks=1, seed=5)
    features = config.catalog_dir / "audio_features"
    table = pq.read_table(features)
    pq.write_table(table.slice(0, 0), next(features.glob("*.parquet")))  # none served
    rows = {}
    clusters.run(spark, config, WEEK, rows)
    assert rows == {"track_clusters": 0, "clusters": 0, "skipped_tracks": 50}
    for table_name in ("track_clusters", "clusters"):
        assert spark.read.parquet(str(config.warehouse_dir / table_name)).count() == 0
    assert not (config.warehouse_dir / "cluster_models").exists()
