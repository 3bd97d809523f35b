"""The import rules of jobs/ (pyproject.toml, `[tool.importlinter]`): core <- domain <-
stages; reporting and the explorer never import a stage; nothing in jobs/ imports Airflow.
A wrong-way import fails `make test` here, naming the chain of imports."""

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def test_imports_follow_the_layers():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=PROJECT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
