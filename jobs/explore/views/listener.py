"""Listener: one listener's Discover Weekly and Release Radar for a week and why each track
is there, their moods, and a map of what they played and what they got."""

import numpy as np
import streamlit as st

from jobs.explore import charts, data, ui
from jobs.reporting.figures import TITLES
from schemas.playlists import PLAYLIST_TYPES

COLUMNS = ["position", "track", "artist", "album", "release_date", "source", "reason", "boosted"]

config = ui.config()
st.title("Listener")
week = ui.pick_week(data.published_weeks(config), "published playlists")
search_column, match_column = st.columns([1, 2])
with search_column, ui.missing_as_message():
    asked = st.query_params.get("user") or data.default_listener(config, week)
    text = st.text_input("Listener id, or part of one", value=asked, key="listener").strip()
    matches = data.find_listeners(config, week, text) if text else []
with match_column:
    if not text:
        st.info("Type a listener id to see their playlists.")
        st.stop()
    if not matches:
        st.warning(f"No listener {text!r} in the playlists of week {week}: unknown listener.")
        st.stop()
    user_id = (
        text
        if text in matches
        else st.selectbox("Listeners whose id matches", matches, key="listener_match")
    )
st.query_params["user"] = user_id

with ui.missing_as_message():
    playlists = ui.listener_playlists(config, week, user_id)
counts = playlists["playlist"].value_counts()
for column, (label, value) in zip(
    st.columns(3),
    [
        *((TITLES[kind], int(counts.get(TITLES[kind], 0))) for kind in PLAYLIST_TYPES),
        ("Boosted (Discovery Mode)", int(playlists["boosted"].sum())),
    ],
):
    column.metric(label, value)

moods_column, map_column = st.columns([2, 3])
with moods_column:
    st.subheader("Moods")
    st.caption("How their listening spreads over the week's audio clusters (taste profile).")
    with ui.missing_as_message(stop=False):
        moods = ui.listener_moods(config, week, user_id)
        if moods.empty:
            st.info(f"{user_id} has no taste profile in week {week}: no plays with audio features.")
        else:
            labels = data.cluster_labels(config, week)
            st.altair_chart(charts.moods_chart(moods, labels), width="stretch")
with map_column:
    st.subheader("Map")
    st.caption(
        "The catalog on the first two principal axes of the scaled audio features, coloured "
        "by cluster; what they played in the look-back window and what they got this week."
    )
    with ui.missing_as_message(stop=False):
        space, track_map = ui.feature_space(config, week), ui.track_map(config, week)
        played = ui.played_tracks(config, week, user_id)
        points = data.listener_map(space, track_map, played, playlists)
        labels = space.clusters["label"].tolist()
        st.altair_chart(
            charts.listener_map_chart(points, track_map.explained, labels), width="stretch"
        )

for kind in PLAYLIST_TYPES:
    st.subheader(TITLES[kind])
    tracks = playlists[playlists["playlist"] == TITLES[kind]]
    if tracks.empty:
        st.info(f"No {TITLES[kind]} for {user_id} in week {week}.")
        continue
    campaign = "yes: " + tracks["campaign_id"].fillna("no campaign")
    ui.show_tracks(
        tracks.assign(boosted=np.where(tracks["boosted"], campaign, ""))[COLUMNS],
        index="position",
    )
