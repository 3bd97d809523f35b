"""Catalog sync: refresh tracks, albums, artists and audio features from the Spotify Web API,
and add the new releases of known artists (what Release Radar is made of).

Run daily by dags/catalog_sync.py. Reads the catalog's Spotify ids, fetches their metadata,
lists each known artist's albums and singles released since the last sync, fetches those
albums with their tracks, and upserts everything by id: a re-run with the same answers writes
the same tables. Every table is replaced in one rename, and only after every fetch succeeded,
so a failed sync leaves the catalog exactly as the last good one left it.

Ids that are not Spotify ids (22 base-62 characters: imported datasets use their own) are
not sent to the API. Objects Spotify returns incomplete are not written; they are counted by
reason in the sync result, which is kept in runs/catalog_sync/<date>.json.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema, write_table
from jobs.sources.spotify import Credentials, EndpointUnavailable, SpotifyCatalog
from schemas import catalog as catalog_schema

logger = logging.getLogger(__name__)

SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")
CONNECTION_ID = "spotify_default"
KEYS = {
    "tracks": "track_id",
    "albums": "album_id",
    "artists": "artist_id",
    "audio_features": "track_id",
}


@dataclass
class SyncResult:
    synced_on: str
    releases_since: str
    requests: int = 0
    rate_limited_waits_s: list[float] = field(default_factory=list)
    rows_written: dict[str, int] = field(default_factory=dict)
    fetched: dict[str, int] = field(default_factory=dict)
    new_releases: int = 0
    not_found: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> objects not written
    audio_features: str = "available"


# ---------------------------------------------------------------- API objects -> catalog rows


_RELEASE_DATE_FORMATS = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d"}


def release_date(album: Mapping) -> date | None:
    """Spotify gives a year, a month or a day ("2019", "2019-06", "2019-06-14", with
    `release_date_precision`); the catalog keeps the first day of what is known."""
    value = album.get("release_date") or ""
    pattern = _RELEASE_DATE_FORMATS.get(len(value))
    if pattern is None:
        return None
    try:
        return datetime.strptime(value, pattern).date()
    except ValueError:  # "0000" and other placeholders Spotify has for unknown dates
        return None


def album_row(album: Mapping) -> tuple[dict | None, str | None]:
    """(row, None) or (None, why it cannot be a catalog album)."""
    released = release_date(album)
    if released is None:
        return None, "album without a valid release_date"
    if not album.get("artists"):
        return None, "album without artists"
    return {
        "album_id": album["id"],
        "artist_id": album["artists"][0]["id"],
        "name": album.get("name") or "",
        "album_type": album.get("album_type"),
        "release_date": released,
        "total_tracks": album.get("total_tracks"),
    }, None


def track_row(track: Mapping, album_id: str | None = None) -> tuple[dict | None, str | None]:
    """A full track object, or a simplified one from an album listing (pass its album id)."""
    album_id = album_id or (track.get("album") or {}).get("id")
    if not album_id:
        return None, "track without an album"
    if not track.get("artists"):
        return None, "track without artists"
    if track.get("duration_ms") is None:
        return None, "track without duration_ms"
    return {
        "track_id": track["id"],
        "name": track.get("name") or "",
        "album_id": album_id,
        "artist_id": track["artists"][0]["id"],
        "duration_ms": int(track["duration_ms"]),
        "explicit": bool(track.get("explicit", False)),
        # Development-Mode apps no longer get popularity (Feb 2026): null, not zero.
        "popularity": track.get("popularity"),
    }, None


def artist_row(artist: Mapping) -> tuple[dict | None, str | None]:
    if not artist.get("name"):
        return None, "artist without a name"
    return {
        "artist_id": artist["id"],
        "name": artist["name"],
        "genres": artist.get("genres"),
        "popularity": artist.get("popularity"),
        "followers": (artist.get("followers") or {}).get("total"),
    }, None


def feature_row(features: Mapping) -> tuple[dict | None, str | None]:
    columns = ("track_id", *catalog_schema.AUDIO_FEATURE_COLUMNS, "time_signature", "key", "mode")
    return {
        "track_id": features["id"],
        **{name: features.get(name) for name in columns[1:]},
    }, None


class _Rows:
    """Rows of one catalog table by id (the last answer for an id wins), plus skip counts."""

    def __init__(self, table: str, skipped: dict[str, int]) -> None:
        self.table = table
        self.by_id: dict[str, dict] = {}
        self._skipped = skipped

    def add(self, converted: tuple[dict | None, str | None]) -> None:
        row, reason = converted
        if row is None:
            self._skipped[reason] = self._skipped.get(reason, 0) + 1
            return
        self.by_id[row[KEYS[self.table]]] = row

    def to_arrow(self) -> pa.Table:
        schema = arrow_schema(catalog_schema.TABLES[self.table])
        return pa.Table.from_pylist(list(self.by_id.values()), schema=schema)


# ---------------------------------------------------------------- tables


def read_catalog(config: PipelineConfig, table: str) -> pa.Table:
    """The table as stored, or empty with its schema when there is none yet."""
    schema = arrow_schema(catalog_schema.TABLES[table])
    folder = config.catalog_dir / table
    if not folder.exists():
        return schema.empty_table()
    return pq.read_table(folder, schema=schema)


def upsert(existing: pa.Table, fresh: pa.Table, key: str) -> pa.Table:
    """Rows of `fresh` replace rows of `existing` with the same key; sorted by key so that
    the same inputs always write the same file."""
    kept = existing.filter(pc.invert(pc.is_in(existing[key], value_set=fresh[key])))
    return pa.concat_tables([kept, fresh.cast(existing.schema)]).sort_by(key)


def spotify_ids(values: Iterable[str | None]) -> list[str]:
    return sorted({value for value in values if value and SPOTIFY_ID.match(value)})


# ---------------------------------------------------------------- the sync


def state_path(config: PipelineConfig) -> Path:
    return config.catalog_dir / "_catalog_sync.json"


def releases_since(config: PipelineConfig, today: date) -> date:
    """New releases are looked for from the day of the last successful sync (an overlap of a
    day is harmless: rows are upserted by id)."""
    path = state_path(config)
    if path.exists():
        return date.fromisoformat(json.loads(path.read_text())["synced_on"])
    return today - timedelta(days=config.spotify.first_sync_lookback_days)


def sync_catalog(config: PipelineConfig, api: SpotifyCatalog, today: date) -> SyncResult:
    since = releases_since(config, today)
    result = SyncResult(synced_on=today.isoformat(), releases_since=since.isoformat())
    stored = {table: read_catalog(config, table) for table in KEYS}
    rows = {table: _Rows(table, result.skipped) for table in KEYS}

    def fetch(table: str, ids: list[str], objects: Iterable[dict]) -> list[dict]:
        fetched = list(objects)
        result.fetched[table] = result.fetched.get(table, 0) + len(fetched)
        result.not_found[table] = result.not_found.get(table, 0) + len(ids) - len(fetched)
        return fetched

    track_ids = spotify_ids(stored["tracks"]["track_id"].to_pylist())
    for track in fetch("tracks", track_ids, api.tracks(track_ids)):
        rows["tracks"].add(track_row(track))
        rows["albums"].add(album_row(track["album"]))

    artist_ids = spotify_ids(stored["artists"]["artist_id"].to_pylist())
    released = {
        album["id"]
        for artist_id in artist_ids
        for album in api.artist_albums(artist_id)
        if (release_date(album) or date.min) >= since
    }
    known_albums = set(stored["albums"]["album_id"].to_pylist())
    result.new_releases = len(released - known_albums)
    album_ids = spotify_ids(known_albums | released)
    for album in fetch("albums", album_ids, api.albums(album_ids)):
        rows["albums"].add(album_row(album))
        for track in album["tracks"]["items"]:
            # A full track object fetched above carries popularity; keep it.
            if track["id"] not in rows["tracks"].by_id:
                rows["tracks"].add(track_row(track, album_id=album["id"]))

    referenced = {row["artist_id"] for row in rows["tracks"].by_id.values()} | {
        row["artist_id"] for row in rows["albums"].by_id.values()
    }
    artist_ids = spotify_ids(set(artist_ids) | referenced)
    for artist in fetch("artists", artist_ids, api.artists(artist_ids)):
        rows["artists"].add(artist_row(artist))

    have_features = set(stored["audio_features"]["track_id"].to_pylist())
    missing = sorted(set(rows["tracks"].by_id) - have_features)
    try:
        for features in fetch("audio_features", missing, api.audio_features(missing)):
            rows["audio_features"].add(feature_row(features))
    except EndpointUnavailable as refused:
        result.audio_features = f"not available: {refused}"
        logger.warning(
            "audio features are not available to this Spotify app (%s); keeping the %d "
            "tracks' features already in the catalog, %d tracks have none",
            refused,
            len(have_features),
            len(missing),
        )
        result.fetched.pop("audio_features", None)
        result.not_found.pop("audio_features", None)

    # Every fetch succeeded: only now is anything written.
    for table, key in KEYS.items():
        merged = upsert(stored[table], rows[table].to_arrow(), key)
        result.rows_written[table] = write_table(config.catalog_dir / table, merged)
    result.requests = api.requests_made
    result.rate_limited_waits_s = api.rate_limited_waits
    _write_state(config, result)
    return result


def _write_state(config: PipelineConfig, result: SyncResult) -> None:
    report = json.dumps(asdict(result), indent=2, sort_keys=True)
    runs = config.runs_dir / "catalog_sync"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / f"{result.synced_on}.json").write_text(report)
    pending = state_path(config).with_suffix(f".{os.getpid()}")
    pending.write_text(report)
    os.replace(pending, state_path(config))


# ---------------------------------------------------------------- credentials and entry point


def env_credentials(env: Mapping[str, str] | None = None) -> Credentials:
    env = os.environ if env is None else env
    client_id, secret = env.get("SPOTIPY_CLIENT_ID"), env.get("SPOTIPY_CLIENT_SECRET")
    if not client_id or not secret:
        raise RuntimeError(
            f"no Spotify credentials: add the Airflow connection `{CONNECTION_ID}` "
            "(login = client id, password = client secret) or set SPOTIPY_CLIENT_ID and "
            "SPOTIPY_CLIENT_SECRET"
        )
    return Credentials(client_id, secret)


def connection_credentials(login: str | None, password: str | None) -> Credentials:
    """From the Airflow connection `spotify_default` that the DAG read (login: client id,
    password: client secret); Airflow stays in the DAG file, out of jobs/."""
    if not login or not password:
        raise RuntimeError(
            f"the Airflow connection `{CONNECTION_ID}` needs the client id as login and the "
            "client secret as password"
        )
    return Credentials(login, password)


def run(config: PipelineConfig, today: date, credentials: Credentials) -> SyncResult:
    api = SpotifyCatalog(credentials, config.spotify)
    result = sync_catalog(config, api, today)
    logger.info(
        "catalog sync %s: %d requests, rows %s, new releases %d, audio features %s",
        result.synced_on,
        result.requests,
        result.rows_written,
        result.new_releases,
        result.audio_features,
    )
    return result
