"""Track: "listeners who play this also play", from the week's ALS track factors, beside
"sounds like this", from the audio features."""

import streamlit as st

from jobs.explore import data, ui

config = ui.config()
st.title("Track")
weeks = set(data.weeks_with(config, "track_factors")) | set(
    data.weeks_with(config, "track_clusters")
)
week = ui.pick_week(sorted(weeks, reverse=True), "ALS track factors or audio clusters")
search_column, match_column = st.columns([1, 2])
with search_column, ui.missing_as_message():
    # Start from the week's most placed track; an unpublished week starts empty.
    start = data.popular_track(config, week) if week in data.published_weeks(config) else ""
    text = st.text_input(
        "Track name, artist or id", value=st.query_params.get("track", start), key="track_search"
    ).strip()
    matches = data.find_tracks(config, text) if text else None
with match_column:
    if not text:
        st.info("Type part of a track's name, its artist's name or its id.")
        st.stop()
    if matches.empty:
        st.warning(f"No catalog track matches {text!r}: unknown track.")
        st.stop()
    labels = dict(
        zip(matches["track_id"], matches["track"] + " — " + matches["artist"].fillna("?"))
    )
    track_id = (
        text
        if text in labels
        else st.selectbox("Matching tracks", labels, format_func=labels.get, key="track_match")
    )
st.query_params["track"] = track_id

with ui.missing_as_message():
    details = data.track_details(config, track_id)
st.subheader(f"{details['track']} — {details['artist']}")
st.caption(
    f"{details['album'] or 'no album'} · released {details['release_date'] or 'unknown'} · "
    f"{'explicit · ' if details['explicit'] else ''}popularity {details['popularity']} · "
    f"id {track_id}"
)
shown = st.slider("Tracks to show", 5, 50, 10, key="track_results")
NEIGHBOURS = (
    (
        "Listeners who play this also play",
        "Nearest by cosine of the week's ALS track factors: what the same listeners play.",
        lambda: data.also_played(ui.factor_space(config, week), track_id, shown),
    ),
    (
        "Sounds like this",
        "Nearest by cosine of the scaled audio features, around the catalog's average.",
        lambda: data.sounds_like(ui.feature_space(config, week), track_id, shown),
    ),
)
for column, (title, how, nearest) in zip(st.columns(len(NEIGHBOURS)), NEIGHBOURS):
    with column:
        st.subheader(title)
        st.caption(how)
        with ui.missing_as_message(stop=False):
            ui.show_tracks(nearest().drop(columns="track_id"))
