"""The explorer's entry script (`streamlit run`, see jobs/explore/__init__.py): checks that
the configuration loads, then runs the page picked in the sidebar."""

from pathlib import Path

import streamlit as st

from jobs.core.config import PipelineConfig

st.set_page_config(page_title="weekly-playlists explorer", page_icon="🎧", layout="wide")

try:
    config = PipelineConfig.load()
except (OSError, ValueError) as error:  # WP_CONFIG missing, not TOML, or an unknown setting
    st.error(f"The pipeline configuration cannot be loaded: {error}")
    st.stop()

VIEWS = Path(__file__).resolve().with_name("views")
navigation = st.navigation(
    [
        st.Page(VIEWS / "listener.py", title="Listener", icon=":material/person:", default=True),
        st.Page(VIEWS / "sliders.py", title="Sliders", icon=":material/tune:"),
        st.Page(VIEWS / "track.py", title="Track", icon=":material/music_note:"),
        st.Page(VIEWS / "run.py", title="Run", icon=":material/monitoring:"),
    ]
)
st.sidebar.caption(f"Warehouse: `{config.warehouse_dir}`")
navigation.run()
