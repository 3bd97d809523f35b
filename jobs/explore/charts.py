"""The explorer's interactive charts (Vega-Lite through Altair, hover for names). The run
page's plots are the run report's own matplotlib figures, not these."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from jobs.explore.data import CATALOG, CLUSTER_CENTRE, PLAYED
from jobs.reporting.figures import COLORS, TITLES
from schemas.playlists import PLAYLIST_TYPES

# The listener's own points, over the catalog coloured by cluster: what they played small
# and grey, each playlist larger in its run-report colour.
LISTENER_LAYERS = (PLAYED, *(TITLES[kind] for kind in PLAYLIST_TYPES))
LISTENER_COLORS = ("#3a3a3a", *(COLORS[kind] for kind in PLAYLIST_TYPES))
LISTENER_SHAPES = ("circle", "diamond", "triangle-up")
LISTENER_SIZES = (30, 110, 110)
# Cluster labels run to ~45 characters ("high instrumentalness / high acousticness").
LABEL_LIMIT = 320


def _cluster_colors(labels: list[str]) -> alt.Scale:
    """One colour per cluster label, the same on every chart of the page."""
    return alt.Scale(domain=labels, scheme="tableau10")


def moods_chart(moods: pd.DataFrame, labels: list[str]) -> alt.Chart:
    """The listener's share of listening per cluster (`data.listener_moods`)."""
    return (
        alt.Chart(moods)
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title="share of listening", axis=alt.Axis(format="%")),
            y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT)),
            color=alt.Color("label:N", scale=_cluster_colors(labels), legend=None),
            tooltip=[
                alt.Tooltip("label:N", title="cluster"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(height=max(120, 40 * len(moods)))
    )


def listener_map_chart(points: pd.DataFrame, explained: np.ndarray, labels: list[str]):
    """`data.listener_map` points on the first two principal axes of the audio features."""
    base = alt.Chart(points).encode(
        x=alt.X("x:Q", title=f"principal axis 1 ({explained[0]:.0%} of the variance)"),
        y=alt.Y("y:Q", title=f"principal axis 2 ({explained[1]:.0%})"),
        tooltip=["track:N", "artist:N", alt.Tooltip("label:N", title="cluster"), "layer:N"],
    )
    legend = alt.Legend(orient="bottom", direction="vertical", labelLimit=LABEL_LIMIT)
    catalog = (
        base.transform_filter(alt.datum.layer == CATALOG)
        .mark_circle(size=14, opacity=0.3)
        .encode(
            color=alt.Color(
                "label:N", scale=_cluster_colors(labels), legend=legend, title="cluster"
            )
        )
    )
    # Cluster centres as crosses (the label is in the tooltip: texts would overlap).
    centres = (
        base.transform_filter(alt.datum.layer == CLUSTER_CENTRE)
        .mark_point(shape="cross", size=260, filled=True, opacity=0.9)
        .encode(color=alt.Color("label:N", scale=_cluster_colors(labels), legend=None))
    )
    listener_scale = {"domain": LISTENER_LAYERS}
    listener = (
        base.transform_filter(alt.FieldOneOfPredicate(field="layer", oneOf=LISTENER_LAYERS))
        .mark_point(filled=True, opacity=0.85, stroke="white", strokeWidth=0.6)
        .encode(
            color=alt.Color(
                "layer:N",
                scale=alt.Scale(**listener_scale, range=LISTENER_COLORS),
                legend=alt.Legend(
                    title="listener", orient="bottom", direction="vertical", symbolSize=90
                ),
            ),
            shape=alt.Shape("layer:N", scale=alt.Scale(**listener_scale, range=LISTENER_SHAPES)),
            size=alt.Size(
                "layer:N", scale=alt.Scale(**listener_scale, range=LISTENER_SIZES), legend=None
            ),
        )
    )
    return (
        alt.layer(catalog, centres, listener)
        .resolve_scale(color="independent", shape="independent", size="independent")
        .properties(height=480)
        .interactive()
    )
