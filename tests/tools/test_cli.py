"""`weekly-playlists` as a user runs it: its own process, from a shell with nothing exported."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from jobs.core.config import PipelineConfig
from jobs.core.runlog import read_stage_records
from jobs.core.tables import table_path

pytestmark = pytest.mark.slow

WEEK = date(2026, 11, 23)
VENV_BIN = Path(sys.executable).parent


def test_run_gives_spark_workers_its_own_interpreter_without_pyspark_python(tmp_path):
    """No PYSPARK_PYTHON and no venv on PATH: a Python worker started as a bare `python3`
    has no pyarrow, and the first `mapInArrow` (candidates' ALS scoring) would fail."""
    settings = tmp_path / "config.toml"
    settings.write_text(
        'hive_catalog = false\nshuffle_partitions = 1\nspark_master = "local[2]"\n'
        'spark_driver_memory = "1g"\n'
    )
    folders = os.environ.get("PATH", "").split(os.pathsep)
    path = os.pathsep.join(folder for folder in folders if Path(folder) != VENV_BIN)
    removed = ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")
    env = {name: value for name, value in os.environ.items() if name not in removed}
    env.update(
        {
            "PATH": path,
            "WP_HOME": str(tmp_path),
            "WP_CONFIG": str(settings),
        }
    )
    cli = str(VENV_BIN / "weekly-playlists")
    week = ["--week", WEEK.isoformat()]
    generate = [cli, "generate", *week, "--users", "60", "--tracks", "200", "--weeks", "2"]
    for command in (generate, [cli, "run", *week]):
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{command[1]} failed:\n{result.stdout}\n{result.stderr}"
    config = PipelineConfig.load(settings, env={"WP_HOME": str(tmp_path)})
    stages = {record["stage"]: record["rows"] for record in read_stage_records(config, WEEK)}
    assert stages["playlists"]["candidate_pool_als"] > 0
    assert (table_path(config, "playlists") / f"week={WEEK}").exists()
