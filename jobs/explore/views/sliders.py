"""Sliders: set a sound with the audio features and the nearest catalog tracks follow, live;
seed tracks set the sliders to their average, and a listener's controls leave out what
they may not be recommended."""

import time

import numpy as np
import streamlit as st

from jobs.explore import data, ui

DEFAULT_RESULTS = 15


def _slider_key(feature: str) -> str:
    return f"feature_{feature}"


def _move_sliders_to_seeds(space: data.FeatureSpace) -> None:
    """The seeds changed: the sliders move to the seeds' average sound, to tune from."""
    seeds = np.isin(space.tracks["track_id"], st.session_state["seeds"])
    if seeds.any():
        for feature, value in zip(space.features, space.vectors[seeds].mean(axis=0)):
            st.session_state[_slider_key(feature)] = round(float(value), 2)


def _controls_caption(user_id: str, controls: data.ListenerControls, left_out: int) -> str:
    return (
        f"{user_id}'s controls leave out {left_out:,} tracks: explicit filter "
        f"{'on' if controls.explicit_filter else 'off'}, {len(controls.hidden_tracks)} hidden "
        f"tracks, {len(controls.hidden_artists)} hidden artists; platform rules block "
        f"{len(controls.blocked_tracks)} tracks and {len(controls.blocked_artists)} artists."
    )


config = ui.config()
st.title("Sliders")
st.caption(
    "Each audio feature is min-max scaled to 0–1 over the catalog, as the clusters stage "
    "scales it. Tracks are ranked by cosine similarity around the catalog's average sound."
)
week = ui.pick_week(data.weeks_with(config, "track_clusters"), "audio clusters (track_clusters)")
with ui.missing_as_message():
    space = ui.feature_space(config, week)
tracks = space.tracks
user_id = st.text_input(
    "Listener whose controls to honour (optional)",
    value=st.query_params.get("user", ""),
    key="sliders_listener",
).strip()
excluded = np.zeros(len(tracks), dtype=bool)
if user_id:
    with ui.missing_as_message():
        known = data.known_listener(config, week, user_id)
    if known:
        controls = ui.controls_at(config, week, user_id)
        excluded = data.excluded_by(tracks, controls)
        st.caption(_controls_caption(user_id, controls, int(excluded.sum())))
    else:
        st.warning(
            f"Unknown listener {user_id!r}: no playlists in week {week} and no settings in "
            f"{config.controls_dir}. No controls applied."
        )
labels = dict(zip(tracks["track_id"], tracks["track"] + " — " + tracks["artist"].fillna("?")))
seeds = st.multiselect(
    "Seed tracks (the sliders move to their average)",
    tracks["track_id"],
    format_func=labels.get,
    key="seeds",
    on_change=_move_sliders_to_seeds,
    args=(space,),
)
excluded |= np.isin(tracks["track_id"], seeds)


@st.fragment
def sound_and_neighbours() -> None:
    """Sliders and results rerun alone when a slider moves (nothing above is redrawn)."""
    columns = st.columns(3)
    target = np.empty(len(space.features))
    for position, feature in enumerate(space.features):
        st.session_state.setdefault(_slider_key(feature), 0.5)
        target[position] = columns[position % 3].slider(
            feature,
            0.0,
            1.0,
            step=0.01,
            key=_slider_key(feature),
            help=f"0 is {space.low[position]:g} and 1 is {space.high[position]:g} in the "
            "catalog's own units",
        )
    shown = st.slider("Tracks to show", 5, 50, DEFAULT_RESULTS, key="sliders_results")
    started = time.perf_counter()
    neighbours = data.tracks_like(space, target, shown, excluded)
    elapsed = time.perf_counter() - started
    ui.show_tracks(neighbours)
    st.caption(
        f"The {len(neighbours)} nearest of {int((~excluded).sum()):,} tracks, found in "
        f"{1000 * elapsed:.1f} ms."
    )


sound_and_neighbours()
