"""The explorer's Altair charts (jobs/explore/charts.py), read back as Vega-Lite specs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobs.explore import charts
from jobs.reporting.figures import COLORS
from schemas.playlists import DISCOVER_WEEKLY, RELEASE_RADAR

LABELS = ["loud", "calm"]


def test_the_map_draws_the_catalog_by_cluster_under_the_listeners_points():
    points = pd.DataFrame(
        {
            "x": [0.0, 1.0, 0.5, 0.2, 0.4],
            "y": [0.0, 1.0, 0.5, 0.1, 0.3],
            "layer": ["catalog", "catalog", "cluster centre", "played", "Discover Weekly"],
            "track": ["a", "b", "loud", "c", "d"],
            "artist": ["x", "y", "", "z", "w"],
            "label": ["loud", "calm", "loud", "loud", "calm"],
        }
    )

    spec = charts.listener_map_chart(points, np.array([0.61, 0.25]), LABELS).to_dict()

    catalog, centres, listener = spec["layer"]
    assert catalog["mark"]["type"] == "circle"
    assert catalog["encoding"]["color"]["scale"]["domain"] == LABELS
    assert catalog["encoding"]["x"]["title"] == "principal axis 1 (61% of the variance)"
    listener_colors = listener["encoding"]["color"]["scale"]
    assert listener_colors["domain"] == ["played", "Discover Weekly", "Release Radar"]
    assert listener_colors["range"][1:] == [COLORS[DISCOVER_WEEKLY], COLORS[RELEASE_RADAR]]
    assert centres["mark"]["shape"] == "cross"
    assert centres["encoding"]["color"]["scale"]["domain"] == LABELS
    assert spec["resolve"]["scale"]["color"] == "independent"
    [rows] = spec["datasets"].values()
    assert len(rows) == len(points)


def test_moods_are_bars_of_shares_coloured_like_the_map():
    moods = pd.DataFrame({"cluster": [1, 0], "label": ["calm", "loud"], "share": [0.7, 0.3]})

    spec = charts.moods_chart(moods, LABELS).to_dict()

    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"]["field"] == "share"
    assert spec["encoding"]["color"]["scale"]["domain"] == LABELS
