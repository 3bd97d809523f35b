"""The explorer's data functions (jobs/explore/data.py) on the tiny warehouse of
tests/explore_warehouse.py: DuckDB and numpy only, no Spark, no Streamlit."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from explore_warehouse import (
    FEATURE_MAX,
    FEATURES,
    FIRST_DW_TRACK,
    LABELS,
    UNPUBLISHED,
    WEEK,
    build_warehouse,
)

from jobs.core.arrays import unit_rows
from jobs.core.tables import table_path
from jobs.explore import data
from jobs.reporting.queries import read_validations
from jobs.reporting.report import render_report
from schemas.catalog import AUDIO_FEATURE_COLUMNS


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return build_warehouse(tmp_path_factory.mktemp("explore"))


@pytest.fixture(scope="module")
def space(config):
    return data.load_feature_space(config, WEEK)


def centred_cosine(vectors: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The definition the explorer ranks by, written out: cosine around the mean."""
    centred, query = vectors - vectors.mean(axis=0), target - vectors.mean(axis=0)
    return centred @ query / (np.linalg.norm(centred, axis=1) * np.linalg.norm(query))


def test_weeks_published_and_run(config):
    assert data.published_weeks(config) == [WEEK]
    assert data.run_weeks(config) == [UNPUBLISHED, WEEK]
    assert data.weeks_with(config, "track_clusters") == [WEEK]
    assert data.weeks_with(config, "user_factors") == []


def test_a_listeners_playlists_are_named_from_the_catalog(config):
    rows = data.listener_playlists(config, WEEK, "u1")

    assert list(rows["playlist"]) == ["Discover Weekly"] * 3 + ["Release Radar"]
    first = rows.iloc[0]
    assert (first["position"], first["track"], first["artist"], first["album"]) == (
        1,
        FIRST_DW_TRACK,
        "Velvet Echo",
        "Neon",
    )
    assert first["release_date"] == date(2025, 1, 1)
    assert first["reason"] == "Picked for your taste: Velvet Echo sounds like you"
    assert list(rows["boosted"]) == [False, True, False, False]
    assert rows.loc[rows["boosted"], "campaign_id"].tolist() == ["dm-1"]
    assert rows.iloc[3][["track", "source"]].tolist() == ["Midnight Engine", "followed_artist"]


def test_listeners_are_found_by_part_of_their_id_exact_match_first(config):
    assert data.default_listener(config, WEEK) == "u1"  # the one with both playlists
    assert data.find_listeners(config, WEEK, "U") == ["u1", "u2"]
    assert data.find_listeners(config, WEEK, "u2") == ["u2"]
    assert data.find_listeners(config, WEEK, "nobody") == []
    assert data.known_listener(config, WEEK, "u2")
    assert not data.known_listener(config, WEEK, "nobody")


def test_what_is_not_there_is_named(config, tmp_path):
    with pytest.raises(data.NotInWarehouse, match="listener 'nobody' has no playlists"):
        data.listener_playlists(config, WEEK, "nobody")
    with pytest.raises(data.NotInWarehouse, match="week 2026-11-30 is not published"):
        data.listener_playlists(config, UNPUBLISHED, "u1")
    with pytest.raises(data.NotInWarehouse, match="track_factors has no partition week=2026-11-30"):
        data.load_factor_space(config, UNPUBLISHED)
    with pytest.raises(data.NotInWarehouse, match="no track 'nope' in the catalog"):
        data.track_details(config, "nope")
    no_catalog = replace(config, catalog_dir=tmp_path / "nowhere")
    with pytest.raises(data.NotInWarehouse, match="the catalog has no tracks table"):
        data.listener_playlists(no_catalog, WEEK, "u1")


def test_moods_and_plays_of_a_listener(config):
    moods = data.listener_moods(config, WEEK, "u1")

    assert moods.to_dict("list") == {
        "cluster": [0, 1],
        "label": [LABELS[0], LABELS[1]],
        "share": [0.75, 0.25],
    }
    assert data.listener_moods(config, WEEK, "nobody").empty
    assert data.cluster_labels(config, WEEK) == [LABELS[0], LABELS[1]]
    assert data.played_tracks(config, WEEK, "u1") == ["t1", "t2"]  # not t4: saved, not played


def test_controls_in_force_at_the_week_follow_the_rules_of_the_pipeline(config):
    controls = data.controls_at(config, WEEK, "u1")

    # t8: don't-suggest, still standing. Not a3 (a 30-day hide, long over), not t4
    # (withdrawn), not t6 (made after the week); platform: a4 blocked, t3's block ended.
    assert controls == data.ListenerControls(
        explicit_filter=True,
        hidden_tracks=frozenset({"t8"}),
        hidden_artists=frozenset(),
        blocked_tracks=frozenset(),
        blocked_artists=frozenset({"a4"}),
    )
    assert not data.controls_at(config, WEEK, "u2").explicit_filter
    longer_hides = replace(config, playlists=replace(config.playlists, hide_days=120))
    assert data.controls_at(longer_hides, WEEK, "u1").hidden_artists == {"a3"}


def test_controls_exclude_explicit_hidden_and_blocked_tracks(config, space):
    excluded = data.excluded_by(space.tracks, data.controls_at(config, WEEK, "u1"))

    assert space.tracks.loc[excluded, "track_id"].tolist() == ["t2", "t7", "t8"]
    assert not data.excluded_by(space.tracks, data.ListenerControls()).any()


def test_the_feature_space_is_the_clusters_stage_scaling(space):
    assert space.features == AUDIO_FEATURE_COLUMNS
    assert space.tracks["track_id"].tolist() == sorted(FEATURES)
    np.testing.assert_allclose(space.vectors, np.array([FEATURES[t] for t in sorted(FEATURES)]))
    tempo = space.features.index("tempo")
    assert space.raw(np.full(len(space.features), 1.0))[tempo] == FEATURE_MAX[tempo] == 200.0
    assert space.centroids.shape == (2, len(AUDIO_FEATURE_COLUMNS))


def test_nearest_tracks_by_cosine_around_the_mean(config, space):
    target = np.array(FEATURES["t1"])

    everything = data.tracks_like(space, target, 8)
    expected = centred_cosine(space.vectors, target)
    assert everything["track_id"].tolist() == list(space.tracks["track_id"][np.argsort(-expected)])
    np.testing.assert_allclose(everything["similarity"], np.sort(expected)[::-1], atol=1e-4)
    assert everything["track_id"].tolist()[:3] == ["t1", "t7", "t2"]

    excluded = data.excluded_by(space.tracks, data.controls_at(config, WEEK, "u1"))
    allowed = data.tracks_like(space, target, 3, excluded)
    assert allowed["track_id"].tolist() == ["t1", "t3", "t4"]
    assert data.tracks_like(space, target, 50, excluded).shape[0] == 5  # all that is allowed

    assert data.sounds_like(space, "t5", 2)["track_id"].tolist() == ["t8", "t6"]  # not itself


def test_nearest_breaks_ties_by_row_and_never_returns_excluded_rows():
    directions = unit_rows(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]))

    rows, scores = data.nearest(directions, np.array([2.0, 0.0]), 3)
    assert rows.tolist() == [0, 2, 1] and scores.tolist() == [1.0, 1.0, 0.0]
    rows, _ = data.nearest(directions, np.array([1.0, 0.0]), 5, np.array([1, 0, 0, 0], bool))
    assert rows.tolist() == [2, 1, 3]  # the zero row resembles nothing: last, at 0
    rows, scores = data.nearest(directions, np.array([1.0, 0.0]), 2, np.ones(4, bool))
    assert rows.size == scores.size == 0


def test_listeners_who_play_this_also_play(config):
    factors = data.load_factor_space(config, WEEK)

    also = data.also_played(factors, "t1", 2)
    assert also["track"].tolist() == ["Static Hearts", "Neon Rain"]
    assert also["similarity"].tolist() == [pytest.approx(0.9 / np.sqrt(0.82), abs=1e-4), 0.0]
    with pytest.raises(data.NotInWarehouse, match="track t4 has no ALS factors in week"):
        data.also_played(factors, "t4", 2)


def test_tracks_are_found_by_name_artist_or_id(config):
    assert data.find_tracks(config, "neon")["track_id"].tolist() == ["t3"]
    assert data.find_tracks(config, "quiet fields")["track"].tolist() == [
        "Morning Dew",
        "Slow River",
    ]
    assert data.find_tracks(config, "t1")["track_id"].tolist() == ["t1"]
    assert data.track_details(config, "t2")["explicit"]
    assert data.popular_track(config, WEEK) == "t1"  # in 2 playlists, first by id of those


def test_principal_map_of_points_on_a_line_has_one_axis():
    vectors = np.outer(np.arange(5.0), [1.0, 2.0, 2.0]) / 3  # along (1, 2, 2) / 3

    track_map = data.principal_map(vectors)

    np.testing.assert_allclose(track_map.explained, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(track_map.axes[0]), [1 / 3, 2 / 3, 2 / 3])
    assert track_map.axes[0][np.abs(track_map.axes[0]).argmax()] > 0  # signs fixed
    np.testing.assert_allclose(track_map.points[:, 0], np.arange(5.0) - 2.0, atol=1e-12)
    np.testing.assert_allclose(track_map.project(vectors[:1]), track_map.points[:1], atol=1e-12)


def test_the_listener_map_places_plays_playlists_and_cluster_centres(config, space):
    track_map = data.principal_map(space.vectors)
    playlists = data.listener_playlists(config, WEEK, "u1")

    points = data.listener_map(space, track_map, ["t1", "t2", "not-in-space"], playlists)

    by_layer = points.groupby("layer")["track"].apply(list).to_dict()
    assert by_layer["played"] == ["Midnight Engine", "Static Hearts"]
    assert by_layer["Discover Weekly"] == ["Neon Rain", "Slow River", "Morning Dew"]
    assert by_layer["Release Radar"] == ["Midnight Engine"]
    assert by_layer["cluster centre"] == [LABELS[0], LABELS[1]]
    assert len(by_layer["catalog"]) == len(FEATURES)
    dw = points[points["layer"] == "Discover Weekly"]
    np.testing.assert_allclose(dw[["x", "y"]], track_map.points[[2, 4, 5]])
    sampled = data.listener_map(space, track_map, [], playlists, background=3)
    assert (sampled["layer"] == "catalog").sum() == 3


def test_the_run_of_a_week(config):
    run = data.open_week_run(config, WEEK)

    assert run.published and run.has_clusters and data.model_of(run)["factors"] == 4
    stages = data.stage_table(config, WEEK)
    assert stages["stage"].tolist() == ["ingest", "train_als", "publish"]
    assert stages["seconds"].tolist() == [4.25, 2.5, 1.5]
    assert stages["rows written"][0] == "events 1,234, events_quarantine 5"
    validations = data.validation_table(read_validations(config, WEEK))
    assert validations.set_index("suite")["result"].to_dict() == {
        "events": "FAILED",
        "playlists": "passed",
    }
    failed = [result for result in read_validations(config, WEEK) if not result["success"]]
    failures = data.failures_table(failed[0])
    assert failures.iloc[0].tolist() == [
        "expect_column_values_to_be_between",
        "ms_played",
        "min_value=0",
        "2 unexpected of 10 (20.00%)",
    ]
    impressions = data.campaign_impressions(run)
    assert impressions.to_dict("records") == [
        {
            "campaign": "dm-1",
            "playlist": "Discover Weekly",
            "impressions": 2,
            "listeners": 2,
            "tracks": 1,
            "boost": 0.3,
        }
    ]
    titles = [title for title, _ in data.report_figures(run)]
    assert titles == ["Discover Weekly scores", "Release Radar scores", "Sources", "Audio clusters"]
    metrics = data.week_metrics(config, WEEK)["generated"]
    assert metrics.loc["ndcg@30", "weekly_playlists"] == pytest.approx(0.1234)


def test_the_run_page_draws_the_figures_the_run_report_embeds(config):
    report = render_report(config, WEEK)

    figures = data.report_figures(data.open_week_run(config, WEEK))

    assert report.count('src="data:image/png;base64,') == len(figures) == 4


def test_a_week_that_ran_but_was_not_published(config):
    run = data.open_week_run(config, UNPUBLISHED)

    assert not run.published and not run.has_clusters and data.model_of(run) is None
    assert data.report_figures(run) == []
    assert data.stage_table(config, UNPUBLISHED)["stage"].tolist() == ["ingest"]
    with pytest.raises(data.NotInWarehouse, match="week 2026-11-30 is not published"):
        data.campaign_impressions(run)
    with pytest.raises(data.NotInWarehouse, match="week 2027-01-04 has not run"):
        data.open_week_run(config, date(2027, 1, 4))


def test_impressions_without_a_discovery_mode_table(config, tmp_path):
    copy = build_warehouse(tmp_path)
    shutil.rmtree(copy.controls_dir / "discovery_mode")

    impressions = data.campaign_impressions(data.open_week_run(copy, WEEK))

    assert impressions["impressions"].tolist() == [2] and impressions["boost"].isna().all()


def test_a_nearest_neighbour_query_on_a_demo_sized_catalog_is_fast():
    rng = np.random.default_rng(0)
    tracks = 6000
    vectors = rng.random((tracks, len(AUDIO_FEATURE_COLUMNS)))
    space = data.FeatureSpace(
        week=WEEK,
        features=AUDIO_FEATURE_COLUMNS,
        low=np.zeros(9),
        high=np.ones(9),
        tracks=pd.DataFrame(
            {"track_id": np.arange(tracks).astype(str), "track": "x", "artist": "y", "label": "z"}
        ),
        vectors=vectors,
        center=vectors.mean(axis=0),
        directions=unit_rows(vectors - vectors.mean(axis=0)),
        clusters=pd.DataFrame({"cluster": [0], "label": ["z"]}),
        centroids=vectors[:1],
    )
    excluded = rng.random(tracks) < 0.05

    started = time.perf_counter()
    for _ in range(20):
        data.tracks_like(space, rng.random(9), 15, excluded)
    per_query = (time.perf_counter() - started) / 20

    assert per_query < 0.05, f"{per_query * 1000:.1f} ms per query"


def test_the_stage_that_writes_a_missing_partition_is_named(config, tmp_path):
    copy = build_warehouse(tmp_path)
    shutil.rmtree(table_path(copy, "cluster_models") / f"week={WEEK.isoformat()}")

    with pytest.raises(data.NotInWarehouse, match="cluster_models .* its clusters stage"):
        data.load_feature_space(copy, WEEK)
