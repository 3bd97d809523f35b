"""The Spotify Extended streaming history importer, on a small hand-written export: two
listeners' folders side by side (one new-style export without usernames, one older
`endsong` file with them), podcasts, an audiobook, incognito, a local file, skips and broken
rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema
from jobs.sources.spotify_history import (
    AUDIOBOOK,
    INCOGNITO,
    NO_TRACK_URI,
    NOT_A_TRACK_URI,
    PLATFORM_PREFIXES,
    PODCAST_EPISODE,
    SpotifyHistoryError,
    import_spotify_history,
    platform_families,
    stable_ids,
)
from jobs.tools.cli import main
from schemas import catalog, controls, raw_events

WEEK = dt.date(2024, 3, 4)  # the Monday after the last play
ALICE_FOLDER = "exports/alice/Spotify Extended Streaming History"
# Pinned, so that a change of hash (a pandas upgrade) is noticed: ids must stay stable.
ALICE = "sph-user-8429e8e305950a88"
RICK_ASTLEY = "sph-artist-7669731237b034ea"

NEVER = "4uLU6hMCjMI75M1A2tKUQC"  # Never Gonna Give You Up
TAKE_ON_ME = "2WfaOiMkCvy7F5fcp2zZ8L"
BLINDING = "0VjIjW4GlUZAMYd2vXMi3b"
BRIGHTSIDE = "3n3Ppam7vgaVa1iaRUc9Lp"
SONG_2 = "1FTSo4v6BOZH9QxKc3MbVM"
TRACKS = {
    NEVER: ("Never Gonna Give You Up", "Rick Astley", "Whenever You Need Somebody"),
    TAKE_ON_ME: ("Take On Me", "a-ha", "Hunting High and Low"),
    BLINDING: ("Blinding Lights", "The Weeknd", "After Hours"),
    BRIGHTSIDE: ("Mr. Brightside", "The Killers", "Hot Fuss"),
    SONG_2: ("Song 2", "Blur", "Blur"),
}


def _stream(ts, platform, ms_played, track=None, **fields) -> dict:
    """One row as Spotify writes it (a music stream when `track` is given)."""
    name, artist, album = TRACKS.get(track, (None, None, None))
    return {
        "ts": ts,
        "platform": platform,
        "ms_played": ms_played,
        "conn_country": "SE",
        "ip_addr": "192.0.2.1",
        "master_metadata_track_name": name,
        "master_metadata_album_artist_name": artist,
        "master_metadata_album_album_name": album,
        "spotify_track_uri": f"spotify:track:{track}" if track else None,
        "episode_name": None,
        "episode_show_name": None,
        "spotify_episode_uri": None,
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": "clickrow",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "offline_timestamp": None,
        "incognito_mode": False,
    } | fields


PODCAST = {
    "episode_name": "Episode 12",
    "episode_show_name": "A Show",
    "spotify_episode_uri": "spotify:episode:5Xt5DXGzch68nYYamXrNxZ",
}
ALICE_0 = [
    _stream("2024-02-20T08:00:00Z", "Android OS 14 API 34 (Google, Pixel 7)", 213_000, NEVER),
    _stream(
        "2024-02-26T18:22:05Z",
        "iOS 17.1 (iPhone15,2)",
        8_000,
        BLINDING,
        reason_start="trackdone",
        reason_end="fwdbtn",
        skipped=True,
        shuffle=True,
        conn_country="DE",
    ),
    _stream("2024-02-27T07:00:00Z", "iOS 17.1 (iPhone15,2)", 1_200_000, **PODCAST),
    _stream(
        "2024-02-27T22:00:00Z", "iOS 17.1 (iPhone15,2)", 222_000, BRIGHTSIDE, incognito_mode=True
    ),
    _stream(
        "2024-02-28T12:00:00Z",
        "Windows 10 (10.0.19045; x64)",
        200_000,
        NEVER,
        reason_start="trackerror",
        reason_end="unexpected-exit",
        skipped=None,
    ),
    _stream("2024-02-28T13:00:00Z", "Windows 10 (10.0.19045; x64)", 0),
    _stream(
        "2024-02-28T14:00:00Z",
        "Windows 10 (10.0.19045; x64)",
        900_000,
        audiobook_title="A Book",
        audiobook_uri="spotify:show:4uLU6hMCjMI75M1A2tKUQC",
        audiobook_chapter_uri="spotify:episode:4uLU6hMCjMI75M1A2tKUQC",
        audiobook_chapter_title="Chapter 1",
    ),
    {
        key: value
        for key, value in _stream(None, "android", 225_000, TAKE_ON_ME).items()
        if key != "ts"
    },
]
ALICE_1 = [
    _stream("2024-03-01T21:00:00Z", "OS X 14.1.1 [arm64]", 121_000, SONG_2, conn_country="GB"),
    _stream(
        "2024-03-02T10:00:00Z", "web_player windows 10;chrome 120.0.0.0;desktop", 200_040, BLINDING
    ),
    _stream("2024-03-02T20:00:00Z", "Partner google cast_tv;Chromecast;;", 222_000, BRIGHTSIDE),
    _stream("2024-03-03T23:59:59Z", "Linux [x86-64 0]", "n/a", NEVER, conn_country="ZZ"),
    _stream(
        "2024-03-03T12:00:00Z",
        "Linux [x86-64 0]",
        215_000,
        spotify_track_uri="spotify:local:Some+Artist:Some+Album:Some+Title:215",
    ),
]
BOB = [
    _stream("2024-02-29T09:00:00Z", "android", 200_000, BLINDING, username="bob_1984"),
    _stream("2024-03-01T09:00:00Z", "ios", 225_000, TAKE_ON_ME, username="bob_1984"),
    _stream("2024-03-01T09:30:00Z", "ios", 1_800_000, username="bob_1984", **PODCAST),
]
ROWS = len(ALICE_0) + len(ALICE_1) + len(BOB)
EXCLUDED = {INCOGNITO: 1, AUDIOBOOK: 1, PODCAST_EPISODE: 2, NO_TRACK_URI: 1, NOT_A_TRACK_URI: 1}
PLAYS = ROWS - sum(EXCLUDED.values())


def _config(home: Path) -> PipelineConfig:
    return PipelineConfig.load(env={"WP_HOME": str(home)})


def _write(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows), encoding="utf-8")


@pytest.fixture
def export(tmp_path) -> Path:
    exports = tmp_path / "exports"
    _write(exports.parent / ALICE_FOLDER / "Streaming_History_Audio_2024_0.json", ALICE_0)
    _write(exports.parent / ALICE_FOLDER / "Streaming_History_Audio_2024_1.json", ALICE_1)
    _write(exports / "bob" / "endsong_0.json", BOB)
    # Not part of the audio history: ignored.
    _write(exports / "bob" / "Streaming_History_Video_2024.json", [{"ts": "broken"}])
    return exports


def _events(config: PipelineConfig) -> pd.DataFrame:
    return (
        ds.dataset(config.raw_events_dir, format="parquet", partitioning="hive")
        .to_table()
        .to_pandas()
    )


def _catalog(config: PipelineConfig, name: str) -> pd.DataFrame:
    return pq.read_table(config.catalog_dir / name).to_pandas()


def _play(events: pd.DataFrame, user: str, ts: str) -> pd.Series:
    (row,) = events.index[(events["user_id"] == user) & (events["ts"] == pd.Timestamp(ts))]
    return events.loc[row]


def test_counts_and_the_week(export, tmp_path):
    imported = import_spotify_history(export, _config(tmp_path / "home"))
    assert imported.eval_week == WEEK and imported.week_rule == "the Monday after the last play"
    assert imported.excluded == EXCLUDED
    assert imported.files == (
        f"{ALICE_FOLDER}/Streaming_History_Audio_2024_0.json",
        f"{ALICE_FOLDER}/Streaming_History_Audio_2024_1.json",
        "exports/bob/endsong_0.json",
    )
    counts = imported.counts
    assert counts["rows"] == ROWS == 16 and counts["events"] == PLAYS == 10
    assert counts["events_without_ts"] == 1
    assert counts["history_events"] == 9 and counts["held_out_events"] == 0
    assert counts["users"] == 2 and counts["items"] == len(TRACKS)
    assert counts["tracks"] == counts["artists"] == counts["albums"] == len(TRACKS)
    assert counts["audio_features"] == 0 and all(counts[name] == 0 for name in controls.TABLES)


def test_plays_map_to_raw_fields(export, tmp_path):
    config = _config(tmp_path / "home")
    import_spotify_history(export, config)
    events = _events(config)
    assert len(events) == PLAYS and events["event_id"].is_unique
    assert set(events["user_id"]) == {ALICE, "bob_1984"}
    assert (events["event_type"] == raw_events.PLAY).all() and events["context"].isna().all()
    assert list(events.columns) == [*raw_events.SCHEMA.fieldNames(), "date"]  # no ip_addr

    skip = _play(events, ALICE, "2024-02-26T18:22:05Z")
    key = f"{ALICE}\x1f1708971725000000\x1fspotify:track:{BLINDING}"
    assert skip["event_id"] == stable_ids("sph-", pd.Series([key])).iloc[0]
    assert skip["event_id"] == "sph-4090f20e1c6d0bbb"  # pinned: re-imports must agree
    assert skip["track_id"] == BLINDING and skip["ms_played"] == 8_000
    assert (skip["reason_start"], skip["reason_end"]) == ("trackdone", "fwdbtn")
    assert skip["skipped"] and skip["shuffle"]
    assert (skip["platform"], skip["conn_country"]) == ("ios", "DE")

    first = _play(events, ALICE, "2024-02-20T08:00:00Z")
    assert (first["platform"], first["reason_start"], first["reason_end"]) == (
        "android",
        "clickrow",
        "trackdone",
    )
    assert not first["skipped"] and not first["shuffle"] and first["conn_country"] == "SE"
    # Reasons outside the schema's vocabulary, and a skipped flag Spotify left out: unknown.
    odd = _play(events, ALICE, "2024-02-28T12:00:00Z")
    assert pd.isna(odd["reason_start"]) and pd.isna(odd["reason_end"]) and pd.isna(odd["skipped"])
    platforms = events.set_index("ts")["platform"]
    assert platforms[pd.Timestamp("2024-03-01T21:00:00Z")] == "osx"
    assert platforms[pd.Timestamp("2024-03-02T10:00:00Z")] == "web_player"
    assert platforms[pd.Timestamp("2024-03-02T20:00:00Z")] == "cast"
    # Linux is no platform of ours; "ZZ" is Spotify's unknown country; "n/a" is no number.
    last = _play(events, ALICE, "2024-03-03T23:59:59Z")
    assert pd.isna(last["platform"]) and pd.isna(last["conn_country"])
    assert pd.isna(last["ms_played"])
    # Incognito and local-file plays of otherwise known tracks are not there.
    assert not (events["ts"] == pd.Timestamp("2024-02-27T22:00:00Z")).any()
    assert not (events["ts"] == pd.Timestamp("2024-03-03T12:00:00Z")).any()


def test_days_hold_their_plays_and_the_undated_play_goes_to_the_weeks_last_day(export, tmp_path):
    config = _config(tmp_path / "home")
    import_spotify_history(export, config)
    events = _events(config)
    dated = events[events["ts"].notna()]
    assert (dated["ts"].dt.strftime("%Y-%m-%d") == dated["date"].astype(str)).all()
    undated = events[events["ts"].isna()]
    assert list(undated["track_id"]) == [TAKE_ON_ME] and list(undated["user_id"]) == [ALICE]
    assert list(undated["date"].astype(str)) == ["2024-03-03"]
    days = sorted(path.name for path in config.raw_events_dir.iterdir())
    assert days == [
        "date=2024-02-20",
        "date=2024-02-26",
        "date=2024-02-28",
        "date=2024-02-29",
        "date=2024-03-01",
        "date=2024-03-02",
        "date=2024-03-03",
    ]
    for path in config.raw_events_dir.glob("date=*/part-00000.parquet"):
        assert pq.read_schema(path) == arrow_schema(raw_events.SCHEMA), path


def test_catalog_from_names_and_uris(export, tmp_path):
    config = _config(tmp_path / "home")
    import_spotify_history(export, config)
    tracks = _catalog(config, "tracks").set_index("track_id")
    artists = _catalog(config, "artists").set_index("artist_id")
    albums = _catalog(config, "albums").set_index("album_id")
    assert set(tracks.index) == set(TRACKS) == set(_events(config)["track_id"])
    assert set(tracks["album_id"]) == set(albums.index)
    assert set(tracks["artist_id"]) == set(artists.index) == set(albums["artist_id"])
    never = tracks.loc[NEVER]
    assert never["name"] == "Never Gonna Give You Up" and never["artist_id"] == RICK_ASTLEY
    assert artists.loc[RICK_ASTLEY, "name"] == "Rick Astley"
    album = albums.loc[never["album_id"]]
    assert album["name"] == "Whenever You Need Somebody" and album["artist_id"] == RICK_ASTLEY
    assert (
        never["album_id"]
        == stable_ids("sph-album-", pd.Series(["Rick Astley\x1fWhenever You Need Somebody"])).iloc[
            0
        ]
    )
    # Longest play as the duration: 213 s over 200 s (and the unreadable "n/a" ignored).
    assert never["duration_ms"] == 213_000 and tracks.loc[BLINDING, "duration_ms"] == 200_040
    # Released, at the latest, on the day of the album's first play (undated plays aside).
    assert album["release_date"] == dt.date(2024, 2, 20)
    assert albums.loc[tracks.loc[TAKE_ON_ME, "album_id"], "release_date"] == dt.date(2024, 3, 1)
    assert not tracks["explicit"].any()
    # Never played three times (one undated play aside), more than Song 2's once.
    assert never["popularity"] == 100 and tracks.loc[SONG_2, "popularity"] == 0
    assert artists["genres"].isna().all() and albums["total_tracks"].isna().all()
    assert pq.read_table(config.catalog_dir / "audio_features").num_rows == 0
    expected = {config.catalog_dir / name: schema for name, schema in catalog.TABLES.items()}
    expected |= {config.controls_dir / name: schema for name, schema in controls.TABLES.items()}
    for folder, schema in expected.items():
        assert pq.read_schema(folder / "part-00000.parquet") == arrow_schema(schema), folder


def test_importing_twice_writes_identical_rows(export, tmp_path):
    config = _config(tmp_path / "home")

    def snapshot() -> dict[str, pd.DataFrame]:
        files = sorted(config.home.rglob("*.parquet"))
        return {
            str(path.relative_to(config.home)): pq.read_table(path).to_pandas() for path in files
        }

    import_spotify_history(export, config)
    first = snapshot()
    import_spotify_history(export, config)
    second = snapshot()
    assert first.keys() == second.keys()
    assert all(first[name].equals(second[name]) for name in first)


def test_a_given_user_and_week(export, tmp_path):
    config = _config(tmp_path / "home")
    imported = import_spotify_history(export, config, dt.date(2024, 2, 26), user_id="me")
    assert imported.eval_week == dt.date(2024, 2, 26) and imported.week_rule == "given"
    counts = imported.counts
    assert (counts["history_events"], counts["held_out_events"], counts["later_events"]) == (
        1,
        8,
        0,
    )
    assert set(_events(config)["user_id"]) == {"me"}
    # The undated play goes to the day before the given week.
    events = _events(config)
    assert list(events.loc[events["ts"].isna(), "date"].astype(str)) == ["2024-02-25"]


def test_a_stale_import_is_replaced(export, tmp_path):
    config = _config(tmp_path / "home")
    stale = config.raw_events_dir / "date=2001-01-01"
    stale.mkdir(parents=True)
    (stale / "part-00000.parquet").write_bytes(b"old")
    import_spotify_history(export, config)
    assert not stale.exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ('[{"ts": ', "not valid JSON"),
        ('{"ts": "2024-03-01T18:22:05Z"}', "expected a JSON array of streams, found a dict"),
        ('[{"ts": "2024-03-01T18:22:05Z"}, {}, 42]', "row 2 is a int, not a JSON object"),
    ],
)
def test_a_malformed_file_is_named_and_nothing_is_replaced(export, tmp_path, text, message):
    config = _config(tmp_path / "home")
    import_spotify_history(export, config)
    before = _events(config)
    broken = export / "bob" / "endsong_1.json"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(SpotifyHistoryError, match=message) as error:
        import_spotify_history(export, config)
    assert str(broken) in str(error.value)
    assert _events(config).equals(before)


def test_bad_arguments_are_refused(export, tmp_path):
    config = _config(tmp_path / "home")
    with pytest.raises(ValueError, match="Monday"):
        import_spotify_history(export, config, dt.date(2024, 3, 5))
    with pytest.raises(ValueError, match="blank"):
        import_spotify_history(export, config, user_id=" ")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no Streaming_History_Audio"):
        import_spotify_history(empty, config)
    podcasts_only = tmp_path / "podcasts"
    _write(podcasts_only / "Streaming_History_Audio_2024.json", [BOB[2]])
    with pytest.raises(ValueError, match="podcast_episode 1"):
        import_spotify_history(podcasts_only, config)


@pytest.mark.parametrize(
    "platform, family",
    [
        ("Android OS 14 API 34 (Google, Pixel 7)", "android"),
        ("android", "android"),
        ("iOS 17.1 (iPhone15,2)", "ios"),
        ("Windows 10 (10.0.19045; x64)", "windows"),
        ("OS X 14.1.1 [arm64]", "osx"),
        ("osx", "osx"),
        ("web_player windows 10;chrome 120.0.0.0;desktop", "web_player"),
        ("WebPlayer (websocket RFC6455)", "web_player"),
        ("Partner google cast_tv;Chromecast;;", "cast"),
        ("Partner sonos_amp Sonos;Amp", "cast"),
        ("cast_tv", "cast"),
        ("Linux [x86-64 0]", None),
        ("not_applicable", None),
        (None, None),
    ],
)
def test_platform_families(platform, family):
    assert set(PLATFORM_PREFIXES) == set(raw_events.PLATFORMS)
    assert platform_families(pd.Series([platform], dtype=object)).iloc[0] == family


def test_cli(export, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WP_HOME", str(tmp_path / "home"))
    main(["import", "spotify-history", "--source", str(export), "--user", "me"])
    out = capsys.readouterr().out
    assert "events 10" in out and "podcast_episode 2" in out and "incognito_mode 1" in out
    assert f"weekly-playlists run --week {WEEK}" in out
    assert set(_events(_config(tmp_path / "home"))["user_id"]) == {"me"}
    with pytest.raises(SystemExit, match="--week is required"):
        main(["import", "movielens", "--source", str(export)])


@pytest.mark.spark
def test_ingest_quarantines_only_the_broken_plays(spark, export, tmp_path):
    from pyspark.sql import functions as F

    from jobs.core.tables import read_raw_days
    from jobs.core.weeks import days_before
    from jobs.stages.ingest import parse_events

    config = _config(tmp_path / "home")
    imported = import_spotify_history(export, config)
    tracks = spark.read.schema(catalog.TRACKS).parquet(str(config.catalog_dir / "tracks"))
    days = days_before(WEEK, 14)
    clean, quarantine = parse_events(
        read_raw_days(spark, config.raw_events_dir, days), tracks, days[0], WEEK
    )
    # One Spark job for both outputs: the clean rows count under "clean".
    outcomes = clean.select(F.lit("clean").alias("reason")).unionByName(quarantine.select("reason"))
    assert {
        row["reason"]: row["count"] for row in outcomes.groupBy("reason").count().collect()
    } == {
        "clean": imported.counts["events"] - 2,
        "missing or unparseable ms_played": 1,
        "missing or unparseable ts": 1,
    }
