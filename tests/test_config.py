from pathlib import Path

import pytest

from jobs.config import PipelineConfig


def test_locations_derive_from_wp_home(tmp_path):
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    assert config.warehouse_dir == tmp_path / "warehouse"
    assert config.raw_events_dir == tmp_path / "raw" / "events"


def test_file_sets_nested_values_and_env_overrides_locations(tmp_path):
    file = tmp_path / "wp.toml"
    file.write_text(
        'spark_master = "spark://h:7077"\n[als]\nfactors = 16\n[playlists]\nlength = 20\n'
    )
    config = PipelineConfig.load(
        file, env={"WP_HOME": str(tmp_path), "WP_WAREHOUSE_DIR": "/shared/wh"}
    )
    assert (config.spark_master, config.als.factors, config.playlists.length) == (
        "spark://h:7077",
        16,
        20,
    )
    assert config.warehouse_dir == Path("/shared/wh")


def test_unknown_setting_is_named(tmp_path):
    file = tmp_path / "wp.toml"
    file.write_text("[als]\nfactorz = 16\n")
    with pytest.raises(ValueError, match="factorz"):
        PipelineConfig.load(file, env={"WP_HOME": str(tmp_path)})
