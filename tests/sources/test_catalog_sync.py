"""Catalog sync against a real HTTP server standing in for the Spotify Web API
(tests/fake_spotify.py): spotipy talks HTTP to it, nothing is monkeypatched."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import replace
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fake_spotify import TOKEN, Catalog, FakeSpotify

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema, write_table
from jobs.ops.local_airflow import airflow, airflow_env, init_airflow
from jobs.sources import catalog_sync
from jobs.sources.catalog_sync import KEYS, read_catalog, release_date
from jobs.sources.spotify import Credentials, SpotifyApiError, SpotifyCatalog
from schemas import catalog as catalog_schema

CLIENT_ID = "wp-test-client"
SECRET = "s3cret-Never-Logged-7f2a"
TODAY = date(2026, 11, 23)


def sid(label: str) -> str:
    """A Spotify-shaped id (22 base-62 characters) readable in failures."""
    return (label + "0" * 22)[:22]


R1, R2 = sid("artistOne"), sid("artistTwo")
A1, A2, A3, A4, A5 = (sid(f"album{n}") for n in "ABCDE")
T = {n: sid(f"track{n}") for n in range(1, 9)}


@pytest.fixture
def server_catalog() -> Catalog:
    catalog = Catalog()
    catalog.add_artist(R1, "Artist One", ["indie pop"], popularity=61, followers=12_000)
    catalog.add_artist(R2, "Artist Two", ["techno"], popularity=45, followers=800)
    catalog.add_album(A1, "Old Album", R1, "2020-05-01")
    catalog.add_album(A2, "Year Only", R2, "2019")
    catalog.add_album(A3, "New Single <3", R1, "2026-11-20", album_type="single")
    catalog.add_album(A4, "Unknown Date", R2, "0000")
    catalog.add_album(A5, "New, broken", R2, "2026-11-21")
    catalog.add_track(T[1], "One", A1)
    catalog.add_track(T[2], "Two", A1, explicit=True, popularity=70)
    catalog.add_track(T[3], "Three", A2, duration_ms=180_000)
    for n in (4, 5, 6):  # three tracks: two pages of the album's track listing
        catalog.add_track(T[n], f"New {n}", A3, popularity=None)
    catalog.add_track(T[7], "No duration", A5, duration_ms=None)
    return catalog


def stored_catalog(config: PipelineConfig) -> None:
    """What an earlier sync (or an import) left: stale values, one non-Spotify id."""
    tables = {
        "artists": [
            dict(artist_id=R1, name="Old Name", genres=[], popularity=1, followers=1),
            dict(artist_id=R2, name="Artist Two", genres=None, popularity=None, followers=None),
        ],
        "albums": [
            dict(
                album_id=A1,
                artist_id=R1,
                name="Old Album",
                album_type="album",
                release_date=date(2020, 5, 1),
                total_tracks=2,
            ),
            dict(
                album_id=A2,
                artist_id=R2,
                name="Year Only",
                album_type="album",
                release_date=date(2019, 1, 1),
                total_tracks=1,
            ),
            dict(
                album_id="ml-album-1",
                artist_id="ml-artist",
                name="Imported",
                album_type=None,
                release_date=date(2001, 1, 1),
                total_tracks=None,
            ),
        ],
        "tracks": [
            dict(
                track_id=T[1],
                name="One",
                album_id=A1,
                artist_id=R1,
                duration_ms=1,
                explicit=False,
                popularity=None,
            ),
            dict(
                track_id=T[2],
                name="Two",
                album_id=A1,
                artist_id=R1,
                duration_ms=1,
                explicit=False,
                popularity=None,
            ),
            dict(
                track_id=T[3],
                name="Three",
                album_id=A2,
                artist_id=R2,
                duration_ms=1,
                explicit=False,
                popularity=None,
            ),
            dict(
                track_id="ml-1",
                name="Imported",
                album_id="ml-album-1",
                artist_id="ml-artist",
                duration_ms=200_000,
                explicit=False,
                popularity=None,
            ),
        ],
        "audio_features": [
            dict(
                track_id=T[1],
                danceability=0.5,
                energy=0.6,
                loudness=-7.0,
                speechiness=0.05,
                acousticness=0.1,
                instrumentalness=0.0,
                liveness=0.1,
                valence=0.4,
                tempo=120.0,
                time_signature=4,
                key=5,
                mode=1,
            )
        ],
    }
    for name, rows in tables.items():
        schema = arrow_schema(catalog_schema.TABLES[name])
        write_table(config.catalog_dir / name, pa.Table.from_pylist(rows, schema=schema))


def catalog_bytes(config: PipelineConfig) -> dict[str, str]:
    return {
        table: hashlib.sha256(
            (config.catalog_dir / table / "part-00000.parquet").read_bytes()
        ).hexdigest()
        for table in KEYS
    }


@pytest.fixture
def config(tmp_path) -> PipelineConfig:
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    stored_catalog(config)
    return config


@pytest.fixture
def api(server_catalog):
    with FakeSpotify(server_catalog, CLIENT_ID, SECRET) as server:
        yield server


def sync(config: PipelineConfig, api: FakeSpotify, **spotify) -> catalog_sync.SyncResult:
    settings = replace(
        config.spotify, api_url=api.url, token_url=api.token_url, backoff_s=0.01, **spotify
    )
    client = SpotifyCatalog(Credentials(CLIENT_ID, SECRET), settings)
    return catalog_sync.sync_catalog(replace(config, spotify=settings), client, TODAY)


def rows_by_id(config: PipelineConfig, table: str) -> dict[str, dict]:
    return {row[KEYS[table]]: row for row in read_catalog(config, table).to_pylist()}


def test_sync_refreshes_known_ids_and_adds_new_releases(config, api):
    result = sync(config, api)

    tracks = rows_by_id(config, "tracks")
    assert tracks[T[2]] == dict(
        track_id=T[2],
        name="Two",
        album_id=A1,
        artist_id=R1,
        duration_ms=200_000,
        explicit=True,
        popularity=70,
    )
    assert {T[4], T[5], T[6]} <= set(tracks), "the new single's tracks, over two pages"
    assert tracks[T[4]]["popularity"] is None, "album listings carry no popularity"
    assert tracks["ml-1"]["name"] == "Imported", "non-Spotify ids are kept as they are"
    assert not api.paths("/v1/tracks/ml") and "ml-1" not in "".join(api.paths("/v1/tracks"))

    albums = rows_by_id(config, "albums")
    assert albums[A3]["release_date"] == date(2026, 11, 20)
    assert albums[A3]["album_type"] == "single" and albums[A3]["name"] == "New Single <3"
    assert albums[A2]["release_date"] == date(2019, 1, 1), "year precision: 1 January"
    assert A4 not in albums, "an album older than the last sync is not a new release"

    artists = rows_by_id(config, "artists")
    assert artists[R1] == dict(
        artist_id=R1, name="Artist One", genres=["indie pop"], popularity=61, followers=12_000
    )

    assert result.new_releases == 2  # A3 and the broken A5
    assert result.skipped == {"track without duration_ms": 1}
    assert T[7] not in tracks
    assert result.releases_since == "2026-10-26"
    assert api.paths("/v1/albums/" + A3 + "/tracks"), "the album's second page was followed"


def test_batches_respect_spotify_limits(config, api, server_catalog):
    for n in range(120):  # 120 more known tracks on the old album: three track batches
        track_id = sid(f"bulk{n:03d}")
        server_catalog.add_track(track_id, f"Bulk {n}", A1)
    extra = [
        dict(
            track_id=sid(f"bulk{n:03d}"),
            name="x",
            album_id=A1,
            artist_id=R1,
            duration_ms=1,
            explicit=False,
            popularity=None,
        )
        for n in range(120)
    ]
    write_table(
        config.catalog_dir / "tracks",
        pa.concat_tables(
            [
                read_catalog(config, "tracks"),
                pa.Table.from_pylist(extra, schema=read_catalog(config, "tracks").schema),
            ]
        ),
    )
    sync(config, api)
    batches = [path.split("ids=")[1].split(",") for path in api.paths("/v1/tracks/?")]
    assert [len(batch) for batch in batches] == [50, 50, 23]
    assert all(len(p.split("ids=")[1].split(",")) <= 20 for p in api.paths("/v1/albums/?"))


def test_audio_features_403_keeps_the_stored_ones_and_says_so_once(config, api, caplog):
    caplog.set_level(logging.WARNING, logger="jobs.sources.catalog_sync")
    result = sync(config, api)
    assert result.audio_features.startswith("not available")
    assert "HTTP 403" in result.audio_features
    assert set(rows_by_id(config, "audio_features")) == {T[1]}
    assert len(api.paths("/v1/audio-features")) == 1, "no request per track after a 403"
    said = [r for r in caplog.records if "audio features are not available" in r.getMessage()]
    assert len(said) == 1


def test_same_answers_write_the_same_bytes(config, api):
    sync(config, api)
    first = catalog_bytes(config)
    sync(config, api)
    assert catalog_bytes(config) == first


def test_429_waits_for_retry_after_then_succeeds(config, api):
    api.rate_limits["/v1/tracks"] = [1]
    result = sync(config, api)
    assert result.rate_limited_waits_s == [1.0]
    assert rows_by_id(config, "tracks")[T[2]]["explicit"] is True


def test_long_retry_after_fails_clearly_and_writes_nothing(config, api):
    before = catalog_bytes(config)
    api.rate_limits["/v1/artists"] = [3600]
    with pytest.raises(SpotifyApiError, match=r"Retry-After is 3600 s.*max_retry_after_s=120"):
        sync(config, api)
    assert catalog_bytes(config) == before
    assert not catalog_sync.state_path(config).exists()


def test_5xx_is_retried_with_backoff(config, api):
    api.server_errors["/v1/albums"] = 2
    sync(config, api)
    assert A3 in rows_by_id(config, "albums")


def test_persistent_5xx_stops_after_max_attempts_and_writes_nothing(config, api):
    before = catalog_bytes(config)
    api.server_errors["/v1/tracks"] = 100
    with pytest.raises(SpotifyApiError, match=r"GET /tracks: 3 attempts"):
        sync(config, api, max_attempts=3)
    assert len(api.paths("/v1/tracks")) == 3
    assert catalog_bytes(config) == before


def test_development_mode_fetches_one_id_per_request(config, api):
    api.batch_endpoints = False
    with pytest.raises(SpotifyApiError, match="HTTP 403"):
        sync(config, api)
    api.requests.clear()
    sync(config, api, batch_requests=False)
    assert not [p for p in api.paths("/v1/") if "ids=" in p and "audio-features" not in p]
    assert len(api.paths(f"/v1/tracks/{T[1]}")) == 1
    assert rows_by_id(config, "tracks")[T[2]]["popularity"] == 70


def test_later_syncs_look_for_releases_since_the_last_one(config, api):
    sync(config, api)
    assert catalog_sync.releases_since(config, date(2026, 12, 1)) == TODAY


def test_wrong_credentials_are_named_without_the_secret(config, api):
    settings = replace(config.spotify, api_url=api.url, token_url=api.token_url)
    client = SpotifyCatalog(Credentials(CLIENT_ID, "wrong-secret"), settings)
    with pytest.raises(SpotifyApiError, match="refused the client credentials") as failure:
        catalog_sync.sync_catalog(config, client, TODAY)
    assert "wrong-secret" not in str(failure.value)
    assert "wrong-secret" not in repr(Credentials(CLIENT_ID, "wrong-secret"))


def test_debug_logs_never_hold_the_secret_or_the_token(config, api, caplog):
    caplog.set_level(logging.DEBUG)
    sync(config, api)
    text = caplog.text
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert text, "the sync logged something to check"
    for secret in (SECRET, basic, TOKEN):
        assert secret not in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20", date(2026, 11, 20)),
        ("2026-11", date(2026, 11, 1)),
        ("2019", date(2019, 1, 1)),
        ("0000", None),
        ("", None),
        ("2026-13-01", None),
    ],
)
def test_release_date_precisions(value, expected):
    assert release_date({"release_date": value}) == expected


def test_env_credentials_say_what_is_missing():
    with pytest.raises(RuntimeError, match="SPOTIPY_CLIENT_SECRET"):
        catalog_sync.env_credentials({"SPOTIPY_CLIENT_ID": "x"})
    assert catalog_sync.env_credentials(
        {"SPOTIPY_CLIENT_ID": "x", "SPOTIPY_CLIENT_SECRET": "y"}
    ) == Credentials("x", "y")


def test_connection_credentials_need_login_and_password():
    with pytest.raises(RuntimeError, match="client secret as password"):
        catalog_sync.connection_credentials("client-id", None)
    assert catalog_sync.connection_credentials("x", "y") == Credentials("x", "y")


def test_write_table_replaces_in_place(tmp_path):
    folder = tmp_path / "t"
    schema = pa.schema([("a", pa.int64())])
    write_table(folder, pa.Table.from_pylist([{"a": 1}], schema=schema))
    (folder / "part-00001.parquet").write_bytes(b"stale part of an older multi-file write")
    write_table(folder, pa.Table.from_pylist([{"a": 2}], schema=schema))
    assert sorted(p.name for p in folder.iterdir()) == ["part-00000.parquet"]
    assert pq.read_table(folder).to_pylist() == [{"a": 2}]


@pytest.mark.slow
def test_airflow_task_syncs_with_the_connection_and_logs_no_secret(config, api, tmp_path):
    """The DAG's task, run by Airflow with the credentials in `spotify_default`: the catalog
    is synced and neither the secret, its Basic header nor the token is in any log Airflow
    wrote or printed. At INFO, Airflow's level in production: at DEBUG, `airflow dags test`
    itself (task SDK 1.3.2, InProcessSupervisorComms.send) prints every MaskSecret message
    with its value; our own and spotipy's DEBUG logs are checked by the test above."""
    settings = tmp_path / "wp.toml"
    settings.write_text(f'[spotify]\napi_url = "{api.url}"\ntoken_url = "{api.token_url}"\n')
    env = airflow_env(config)
    env.update(
        WP_CONFIG=str(settings),
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        AIRFLOW_CONN_SPOTIFY_DEFAULT=json.dumps(
            {"conn_type": "generic", "login": CLIENT_ID, "password": SECRET}
        ),
    )
    env.pop("SPOTIPY_CLIENT_SECRET", None)
    init_airflow(config, env)
    log_file = tmp_path / "dags-test.log"
    airflow(["dags", "test", "catalog_sync", TODAY.isoformat()], env, log_file)

    assert rows_by_id(config, "albums")[A3]["name"] == "New Single <3", "the task synced"
    assert api.paths("/api/token"), "credentials came from the connection"
    logs = [log_file, *(config.home / "airflow" / "logs").rglob("*")]
    text = "\n".join(p.read_text(errors="replace") for p in logs if p.is_file())
    assert "sync_catalog" in text
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    for secret in (SECRET, basic, TOKEN):
        assert secret not in text
