"""What the explorer's pages share: the config, a week picker bound to the URL, the
warehouse readers cached across reruns, and a missing table turned into a message."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Iterator

import duckdb
import pandas as pd
import streamlit as st

from jobs.core.config import PipelineConfig
from jobs.explore import data

# A week re-run while the explorer serves shows after at most this long.
CACHE_SECONDS = 600
# Streamlit keys its caches by hashing the arguments; a config by its repr (its locations
# among it), so two warehouses never share an entry.
_BY_CONFIG = {PipelineConfig: repr}
_cached_data = st.cache_data(hash_funcs=_BY_CONFIG, ttl=CACHE_SECONDS, show_spinner=False)
# Vector spaces are shared, not copied per rerun: the sliders page reads them every move.
_cached_resource = st.cache_resource(
    hash_funcs=_BY_CONFIG, ttl=CACHE_SECONDS, show_spinner="Reading the week's vectors ..."
)

listener_playlists = _cached_data(data.listener_playlists)
listener_moods = _cached_data(data.listener_moods)
played_tracks = _cached_data(data.played_tracks)
controls_at = _cached_data(data.controls_at)
feature_space = _cached_resource(data.load_feature_space)
factor_space = _cached_resource(data.load_factor_space)


@_cached_resource
def track_map(config: PipelineConfig, week: date) -> data.TrackMap:
    return data.principal_map(feature_space(config, week).vectors)


def config() -> PipelineConfig:
    """The pipeline's config (app.py has checked that it loads)."""
    return PipelineConfig.load()


@contextmanager
def missing_as_message(stop: bool = True) -> Iterator[None]:
    """Run the block; a table, partition, listener or track that is not there, or a file
    DuckDB cannot read, becomes a message naming it. With `stop` the page ends there;
    without, only the rest of the block is skipped (a section the page can do without)."""
    try:
        yield
    except data.NotInWarehouse as missing:
        (st.error if stop else st.warning)(str(missing))
    except (duckdb.IOException, duckdb.InvalidInputException) as unreadable:
        st.error(f"The warehouse could not be read: {unreadable}")
    else:
        return
    if stop:
        st.stop()


def pick_week(weeks: list[date], what: str) -> date:
    """One of `weeks` (newest first), picked in the sidebar, preselected by the URL's
    `?week=` and written back to it. With no weeks the page stops, saying so; a week in the
    URL that is not among them is named in a warning, and the newest week shown instead.
    `what` says what the weeks have, e.g. "published playlists"."""
    if not weeks:
        st.error(
            f"No week has {what} in {config().home} yet: `make demo` or "
            "`weekly-playlists run --week YYYY-MM-DD` builds one."
        )
        st.stop()
    choices = [week.isoformat() for week in weeks]
    asked = st.query_params.get("week", choices[0])
    if asked not in choices:
        st.warning(f"Week {asked} has no {what}; showing {choices[0]}. Weeks that have: {choices}.")
        asked = choices[0]
    chosen = st.sidebar.selectbox("Week", choices, index=choices.index(asked), key="week")
    st.query_params["week"] = chosen
    return date.fromisoformat(chosen)


def show_tracks(frame: pd.DataFrame, index: str | None = None) -> None:
    """A track list as a plain table (its text is on the page, for search and copy), with
    `index` as its first column, or 1, 2, 3 ... without one."""
    shown = frame.set_index(index) if index else frame.set_axis(range(1, len(frame) + 1))
    # Rounded, not styled: a pandas Styler costs ~100 ms a table, a slider move's budget.
    st.table(shown.round(3))
