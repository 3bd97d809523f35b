"""The explorer: a Streamlit app that browses the warehouse with DuckDB, no Spark or Airflow.

    weekly-playlists explore [--port 8501]      # or: make explore

Pages (`views/`): a listener's playlists, moods and map; sliders over the audio features
with the nearest catalog tracks; a track's neighbours by co-listening and by sound; a
week's run. `data` holds every query and computation, `ui` what the pages share.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501


def streamlit_command(port: int) -> list[str]:
    """`streamlit run` of the app, reachable from this machine only and reporting nothing."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # The app's code does not change while it serves: no file watcher polling the tree.
        "--server.fileWatcherType",
        "none",
        # A local viewer: no "Deploy" button or developer menu.
        "--client.toolbarMode",
        "viewer",
    ]
