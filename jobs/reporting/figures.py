"""The run report's plots: matplotlib figures of a week's playlists, clusters and feedback,
and their embedding as inline PNGs. Also the display names and colours of playlist types
and sources, which the report's tables and the explorer's charts share."""

from __future__ import annotations

import base64
import io
from datetime import date
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from jobs.reporting.markup import Html, text
from schemas.playlists import (
    DISCOVER_WEEKLY,
    PLAYLIST_TYPES,
    RELEASE_RADAR,
    SOURCE_ALS,
    SOURCE_CONTENT,
    SOURCE_EXPLORATION,
    SOURCE_FOLLOWED_ARTIST,
    SOURCE_ITEM_ITEM,
    SOURCE_LISTENERS_LIKE_YOU,
    SOURCE_PLAYED_ARTIST,
    SOURCE_POPULARITY,
    SOURCE_SIMILAR_ARTIST,
    SOURCE_TAGS,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from jobs.reporting.queries import Histogram

TITLES = {DISCOVER_WEEKLY: "Discover Weekly", RELEASE_RADAR: "Release Radar"}
COLORS = {DISCOVER_WEEKLY: "#1db954", RELEASE_RADAR: "#7c4dff"}
# One colour per playlist source, the same in every chart of every report.
SOURCE_COLORS = {
    SOURCE_ALS: "#1db954",
    SOURCE_FOLLOWED_ARTIST: "#03a9f4",
    SOURCE_PLAYED_ARTIST: "#9e9e9e",
    SOURCE_SIMILAR_ARTIST: "#795548",
    SOURCE_LISTENERS_LIKE_YOU: "#e91e63",
    SOURCE_POPULARITY: "#fbc02d",
    SOURCE_CONTENT: "#7c4dff",
    SOURCE_EXPLORATION: "#ff9800",
    SOURCE_TAGS: "#00897b",
    SOURCE_ITEM_ITEM: "#3f51b5",
}
OTHER_SOURCE_COLOR = "#607d8b"  # a source of older data this version no longer names


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(width, height))
    axis.spines[["top", "right"]].set_visible(False)
    return figure, axis


def png(figure: Figure, alt: str, wide: bool = False) -> Html:
    """The figure as an inline PNG (and closed); a wide one spans the plot grid."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", pad_inches=0.15)
    plt.close(figure)
    return png_bytes(buffer.getvalue(), alt, wide)


def png_bytes(image: bytes, alt: str, wide: bool = False) -> Html:
    """A PNG file's bytes as an inline image, e.g. one a stage drew."""
    encoded = base64.b64encode(image).decode("ascii")
    css = "plot wide" if wide else "plot"
    return Html(
        f'<div class="{css}"><img alt="{text(alt)}" src="data:image/png;base64,{encoded}"></div>'
    )


def histogram_figure(histogram: Histogram, playlist_type: str) -> Figure:
    figure, axis = _figure(5.6, 3.0)
    axis.stairs(histogram.counts, histogram.edges, fill=True, color=COLORS[playlist_type])
    if histogram.log_scale:
        axis.set_xscale("log")
    axis.set_title(f"{TITLES[playlist_type]}: scores of {histogram.tracks:,} tracks")
    axis.set_xlabel("score (log scale)" if histogram.log_scale else "score")
    axis.set_ylabel("tracks")
    return figure


def cluster_sizes_figure(clusters: Sequence[tuple]) -> Figure:
    """Tracks per cluster, from `cluster_rows` (cluster, label, size, ...)."""
    labels = [f"{cluster}: {label.replace(' / ', chr(10))}" for cluster, label, *_ in clusters]
    sizes = [size for _, _, size, *_ in clusters]
    figure, axis = _figure(6, max(3.5, 0.8 + 0.6 * len(clusters)))
    bars = axis.barh(labels, sizes, color="#03a9f4")
    axis.bar_label(bars, labels=[f"{size:,}" for size in sizes], padding=3, fontsize=9)
    axis.invert_yaxis()
    axis.set_xlabel("tracks")
    axis.set_title("Tracks per audio cluster")
    axis.margins(x=0.12)
    return figure


def source_share_figure(shares: dict[str, dict[str, int]]) -> Figure:
    """One 100% bar per playlist type, split by why its tracks were chosen."""
    sources = sorted({source for counts in shares.values() for source in counts})
    types = [playlist_type for playlist_type in PLAYLIST_TYPES if playlist_type in shares]
    figure, axis = _figure(11.5, 0.8 + 0.35 * len(types))
    left = np.zeros(len(types))
    for source in sources:
        color = SOURCE_COLORS.get(source, OTHER_SOURCE_COLOR)
        share = np.array([shares[t].get(source, 0) / sum(shares[t].values()) * 100 for t in types])
        axis.barh([TITLES[t] for t in types], share, left=left, color=color, label=source)
        left += share
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("% of tracks")
    axis.set_title("Why tracks were chosen (source)")
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return figure


def stream_rate_figure(by_source: dict[str, list[tuple[date, float]]]) -> Figure:
    """Stream rate of each candidate source over the weeks of playlist_feedback."""
    figure, axis = _figure(8, 3.6)
    for source, points in by_source.items():
        color = SOURCE_COLORS.get(source, OTHER_SOURCE_COLOR)
        weeks, rates = zip(*points)
        axis.plot(weeks, [rate * 100 for rate in rates], marker="o", color=color, label=source)
    axis.set_ylabel("% of slots streamed ≥ 30 s")
    axis.set_title("How each source's slots were received, week by week")
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    figure.autofmt_xdate()
    return figure
