"""A week whose catalog has no audio features (the Web API no longer serves them to new
apps; imported datasets such as MovieLens or plain Last.fm have none), built end to end in
process: no clusters, no taste profiles, no content or exploration candidates, and every
stage green; the report and the explorer say why there are no clusters."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pyarrow.parquet as pq
import pytest

from jobs.core.config import PipelineConfig
from jobs.core.runlog import read_stage_records
from jobs.core.tables import table_path
from jobs.explore import data
from jobs.reporting.report import report_path
from jobs.sources.sample.world import generate
from jobs.tools.pipeline import STAGES, run_week

pytestmark = [pytest.mark.spark, pytest.mark.slow]

WEEK = date(2026, 11, 23)


def test_a_week_without_audio_features_runs_green_and_says_why(spark, tmp_path):
    config = replace(PipelineConfig.load(env={"WP_HOME": str(tmp_path)}), hive_catalog=False)
    generate(config, WEEK, users=60, tracks=200, weeks=2, seed=5)
    features = config.catalog_dir / "audio_features"
    pq.write_table(pq.read_table(features).slice(0, 0), next(features.glob("*.parquet")))

    assert set(run_week(spark, config, WEEK)) == {stage for stage, _ in STAGES}

    stages = {record["stage"]: record["rows"] for record in read_stage_records(config, WEEK)}
    assert stages["clusters"] == {"track_clusters": 0, "clusters": 0, "skipped_tracks": 200}
    assembly = stages["playlists"]
    assert assembly["audio_sources_skipped"] == 1 and assembly["taste_profiles"] == 0
    assert assembly["candidate_pool_content"] == assembly["candidate_pool_exploration"] == 0
    assert assembly["candidate_pool_als"] > 0
    # Written empty, not left out: a re-run after the features went replaces the profiles.
    profiles = table_path(config, "taste_profiles") / f"week={WEEK}"
    assert spark.read.parquet(str(profiles)).count() == 0
    assert stages["publish"]["published_discover_weekly"] > 0
    assert "no audio clusters in week 2026-11-23" in report_path(config, WEEK).read_text()
    assert [title for title, _ in data.report_figures(data.open_week_run(config, WEEK))] == [
        "Discover Weekly scores",
        "Release Radar scores",
        "Sources",
    ]
    with pytest.raises(data.NotInWarehouse, match="week 2026-11-23 has no audio clusters"):
        data.load_feature_space(config, WEEK)
