from pathlib import Path

import pytest

from jobs.core.config import PipelineConfig


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


def test_wp_variables_win_over_the_files_locations(tmp_path):
    file = tmp_path / "wp.toml"
    file.write_text(
        f'home = "{tmp_path / "file-home"}"\n'
        f'warehouse_dir = "{tmp_path / "file-warehouse"}"\n'
        f'scratch_dir = "{tmp_path / "file-scratch"}"\n'
    )
    env = {"WP_HOME": str(tmp_path / "env-home"), "WP_WAREHOUSE_DIR": str(tmp_path / "env-wh")}
    config = PipelineConfig.load(file, env=env)
    assert config.home == tmp_path / "env-home"
    assert config.warehouse_dir == tmp_path / "env-wh"
    # What the environment leaves unsaid, the file says; what neither says derives from home.
    assert config.scratch_dir == tmp_path / "file-scratch"
    assert config.runs_dir == tmp_path / "env-home" / "runs"


def test_unknown_setting_is_named(tmp_path):
    file = tmp_path / "wp.toml"
    file.write_text("[als]\nfactorz = 16\n")
    with pytest.raises(ValueError, match="factorz"):
        PipelineConfig.load(file, env={"WP_HOME": str(tmp_path)})
