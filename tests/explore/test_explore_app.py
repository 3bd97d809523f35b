"""The explorer's pages through Streamlit's AppTest (the app runs in this process, no
server) on the tiny warehouse of tests/explore_warehouse.py; bad input gets a message on
the page, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from explore_warehouse import FEATURES, FIRST_DW_TRACK, LABELS, UNPUBLISHED, WEEK, build_warehouse
from streamlit.testing.v1 import AppTest

import jobs.explore
from jobs.core.tables import table_path
from jobs.explore import streamlit_command
from schemas.catalog import AUDIO_FEATURE_COLUMNS

# The first run imports pyspark (schemas), pandas and matplotlib: seconds on 2 busy cores.
TIMEOUT = 120


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("explore")).home


def app(home: Path, monkeypatch, page: str | None = None, **query: str) -> AppTest:
    """The explorer on `home`, opened at `page` (views/<page>.py; default: the first page)
    with `query` as the URL's query string."""
    monkeypatch.setenv("WP_HOME", str(home))
    monkeypatch.delenv("WP_CONFIG", raising=False)
    tested = AppTest.from_file(str(jobs.explore.APP), default_timeout=TIMEOUT)
    if page is not None:  # AppTest knows the pages after a first run (of the first page)
        tested.run().switch_page(f"views/{page}.py")
        tested.query_params.clear()
    tested.query_params.update(query)
    return tested.run()


def messages(tested: AppTest) -> dict[str, list[str]]:
    assert not tested.exception, [exception.message for exception in tested.exception]
    return {
        kind: [element.value for element in getattr(tested, kind)]
        for kind in ("error", "warning", "info")
    }


def test_the_listener_page_shows_a_listeners_playlists_moods_and_map(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch)

    assert messages(page) == {"error": [], "warning": [], "info": []}
    assert page.selectbox(key="week").value == WEEK.isoformat()
    assert page.text_input(key="listener").value == "u1"
    assert [(metric.label, metric.value) for metric in page.metric] == [
        ("Discover Weekly", "3"),
        ("Release Radar", "1"),
        ("Boosted (Discovery Mode)", "1"),
    ]
    discover, radar = (table.value for table in page.table)
    assert discover["track"].tolist() == [FIRST_DW_TRACK, "Slow River", "Morning Dew"]
    assert discover.index.tolist() == [1, 2, 3]
    assert discover.loc[1, "artist"] == "Velvet Echo" and discover.loc[1, "album"] == "Neon"
    assert discover.loc[1, "source"] == "als"
    assert discover.loc[1, "reason"] == "Picked for your taste: Velvet Echo sounds like you"
    assert discover["boosted"].tolist() == ["", "yes: dm-1", ""]
    assert str(discover.loc[2, "release_date"]).startswith("2024-05-05")
    assert radar["track"].tolist() == ["Midnight Engine"]
    assert len(page.get("vega_lite_chart")) == 2  # moods and map
    assert page.query_params["user"] == "u1"


def test_a_listener_is_searched_by_part_of_the_id(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch)

    page.text_input(key="listener").set_value("U").run()
    assert page.selectbox(key="listener_match").options == ["u1", "u2"]
    page.selectbox(key="listener_match").select("u2").run()

    assert messages(page)["info"] == ["No Release Radar for u2 in week 2026-11-23."]
    assert page.table[0].value["track"].tolist() == ["Slow River", "Midnight Engine"]
    assert page.query_params["user"] == "u2"


def test_an_unknown_listener_gets_a_warning(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, user="nobody")

    assert messages(page)["warning"] == [
        "No listener 'nobody' in the playlists of week 2026-11-23: unknown listener."
    ]
    assert not page.table


def test_a_week_that_is_not_published_is_named(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, week=UNPUBLISHED.isoformat())

    assert messages(page)["warning"] == [
        "Week 2026-11-30 has no published playlists; showing 2026-11-23. "
        "Weeks that have: ['2026-11-23']."
    ]
    assert page.table[0].value["track"].iloc[0] == FIRST_DW_TRACK


def test_an_empty_warehouse_says_how_to_fill_it(tmp_path, monkeypatch):
    for page_name in (None, "sliders", "track", "run"):
        page = app(tmp_path, monkeypatch, page_name)
        [error] = messages(page)["error"]
        assert error.startswith("No week has ") and "`make demo`" in error


def test_missing_tables_are_named_and_the_rest_of_the_page_stays(tmp_path, monkeypatch):
    config = build_warehouse(tmp_path)
    for table in ("taste_profiles", "track_clusters"):
        shutil.rmtree(table_path(config, table) / f"week={WEEK.isoformat()}")

    page = app(tmp_path, monkeypatch)

    warnings = messages(page)["warning"]
    assert len(warnings) == 2
    assert "table taste_profiles has no partition week=2026-11-23" in warnings[0]
    assert "table track_clusters has no partition week=2026-11-23" in warnings[1]
    assert "its clusters stage has not run" in warnings[1]
    assert page.table[0].value["track"].iloc[0] == FIRST_DW_TRACK


def test_a_missing_catalog_is_an_error_on_the_page(tmp_path, monkeypatch):
    config = build_warehouse(tmp_path)
    shutil.rmtree(config.catalog_dir / "albums")

    page = app(tmp_path, monkeypatch)

    [error] = messages(page)["error"]
    assert error.startswith("the catalog has no albums table")


def test_sliders_rank_the_catalog_and_seeds_move_them(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, "sliders")
    assert messages(page) == {"error": [], "warning": [], "info": []}
    sliders = [page.slider(key=f"feature_{feature}") for feature in AUDIO_FEATURE_COLUMNS]
    assert [slider.label for slider in sliders] == list(AUDIO_FEATURE_COLUMNS)
    assert "1 is 200 in the catalog's own units" in page.slider(key="feature_tempo").help

    page.multiselect(key="seeds").select("t1").run()

    sliders = [page.slider(key=f"feature_{feature}") for feature in AUDIO_FEATURE_COLUMNS]
    np.testing.assert_allclose([slider.value for slider in sliders], FEATURES["t1"])
    results = page.table[0].value
    assert results["track"].tolist()[:3] == ["Forbidden Song", "Static Hearts", "Neon Rain"]
    assert "Midnight Engine" not in results["track"].tolist()  # the seed itself
    assert results["similarity"].iloc[0] == pytest.approx(0.9878, abs=1e-3)

    page.slider(key="feature_energy").set_value(0.0).run()
    page.slider(key="feature_acousticness").set_value(1.0).run()
    assert page.table[0].value["label"].iloc[0] == LABELS[1]  # calm now


def test_sliders_honour_a_listeners_controls(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, "sliders")

    page.text_input(key="sliders_listener").set_value("u1").run()
    page.multiselect(key="seeds").select("t1").run()

    shown = page.table[0].value["track"].tolist()
    assert shown == ["Neon Rain", "Glass City", "Morning Dew", "Slow River"]
    assert not {"Forbidden Song", "Static Hearts", "Hidden Gem"} & set(shown)
    assert (
        "u1's controls leave out 3 tracks: explicit filter on, 1 hidden tracks, 0 hidden "
        "artists; platform rules block 0 tracks and 1 artists."
    ) in [caption.value for caption in page.caption]

    page.text_input(key="sliders_listener").set_value("nobody").run()
    [warning] = messages(page)["warning"]
    assert warning.startswith("Unknown listener 'nobody': no playlists in week 2026-11-23")
    assert "Forbidden Song" in page.table[0].value["track"].tolist()


def test_the_track_page_puts_co_listening_beside_sound(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, "track")

    assert messages(page) == {"error": [], "warning": [], "info": []}
    assert page.text_input(key="track_search").value == "t1"  # the most placed track
    assert [header.value for header in page.subheader][0] == "Midnight Engine — The Nightjars"
    also, sounds = (table.value for table in page.table)
    assert also["track"].tolist()[0] == "Static Hearts"
    assert also["similarity"].iloc[0] == pytest.approx(0.9939, abs=1e-3)
    assert sounds["track"].tolist()[:2] == ["Forbidden Song", "Static Hearts"]


def test_a_track_without_factors_or_an_unknown_one_says_so(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, "track", track="t4")

    [warning] = messages(page)["warning"]
    assert warning.startswith("track t4 has no ALS factors in week 2026-11-23")
    assert page.table[0].value["track"].tolist()[0] == "Neon Rain"  # sounds like it

    page.text_input(key="track_search").set_value("quiet").run()
    assert page.selectbox(key="track_match").options == [
        "Morning Dew — Quiet Fields",
        "Slow River — Quiet Fields",
    ]

    page.text_input(key="track_search").set_value("no such song").run()
    assert messages(page)["warning"] == ["No catalog track matches 'no such song': unknown track."]


def test_the_run_page_shows_stages_validation_plots_metrics_and_campaigns(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, "run", week=WEEK.isoformat())

    assert messages(page)["error"] == [
        "Validation failed: events. The playlists published earlier stay."
    ]
    stages, suites, failures, metrics, impressions = (table.value for table in page.table)
    assert stages["stage"].tolist() == ["ingest", "train_als", "publish"]
    assert stages["seconds"].tolist() == [4.25, 2.5, 1.5]
    assert suites.set_index("suite")["result"].to_dict() == {
        "events": "FAILED",
        "playlists": "passed",
    }
    assert failures.iloc[0]["observed"] == "2 unexpected of 10 (20.00%)"
    assert metrics.loc["ndcg@30", "weekly_playlists"] == pytest.approx(0.1234)
    assert impressions.iloc[0][["campaign", "impressions", "listeners"]].tolist() == ["dm-1", 2, 2]
    assert len(page.image) == 4  # the run report's four figures
    assert "Model als-implicit-test (implicit, 4 factors, 2 listeners × 5 tracks)" in [
        caption.value for caption in page.caption
    ]


def test_the_run_page_of_a_week_that_was_not_published(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, "run", week=UNPUBLISHED.isoformat())

    shown = messages(page)
    assert shown["error"] == [] and shown["warning"][0] == "Week 2026-11-30 is not published."
    assert "week 2026-11-30 is not published: no playlists, no impressions" in shown["warning"]
    assert any(info.startswith("No validation results stored") for info in shown["info"])
    assert page.table[0].value["stage"].tolist() == ["ingest"]


def test_a_week_never_run_is_named_on_the_run_page(warehouse, monkeypatch):
    page = app(warehouse, monkeypatch, "run", week="2027-01-04")

    assert messages(page)["warning"][0].startswith("Week 2027-01-04 has no run folder")


def test_a_bad_config_file_is_an_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("WP_HOME", str(tmp_path))
    (tmp_path / "bad.toml").write_text("no_such_setting = 1\n")
    monkeypatch.setenv("WP_CONFIG", str(tmp_path / "bad.toml"))

    page = AppTest.from_file(str(jobs.explore.APP), default_timeout=TIMEOUT).run()

    assert not page.exception
    assert "unknown setting 'no_such_setting'" in page.error[0].value


def test_the_server_binds_to_this_machine_only_and_reports_nothing():
    command = streamlit_command(8765)

    options = dict(zip(command[5::2], command[6::2]))
    assert command[1:5] == ["-m", "streamlit", "run", str(jobs.explore.APP)]
    assert options == {
        "--server.address": "127.0.0.1",
        "--server.port": "8765",
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
        "--server.fileWatcherType": "none",
        "--client.toolbarMode": "viewer",
    }
