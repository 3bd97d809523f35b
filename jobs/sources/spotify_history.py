"""Spotify's own "Extended streaming history" export as raw events, catalog and empty controls.

A listener downloads it from their Spotify account (Account -> Privacy settings -> "Extended
streaming history"): a folder of `Streaming_History_Audio_*.json` files (older exports:
`endsong_*.json`), each a JSON array with one object per stream. `import_spotify_history`
reads every such file under the source folder (sub-folders too, so that several listeners'
exports side by side import together) and makes a fresh import in the layout the other
adapters write (`jobs.sources.adapters`): raw events by day, the catalog, empty controls.

* Plays: a row with a `spotify:track:<id>` URI is a play (`event_type` play) of track `<id>`,
  the real Spotify id, so that a catalog sync can look it up. Every other row is counted in
  the result by reason and not imported: incognito-mode streams (the listener asked not to be
  tracked; excluded whatever they played), audiobooks, podcast episodes, rows without a track
  URI and rows with another URI (local files, `spotify:local:...`).
* Times are real: `ts` is Spotify's own, the UTC moment the stream stopped. A play whose `ts`
  is missing or unparseable is still written, with a null `ts`, to the day before the import's
  week, which that week's ingest reads and quarantines with its reason ("lose nothing"); a
  play whose `ms_played` is missing or not a whole number keeps a null one, for ingest to
  quarantine likewise. A file that is not JSON, not an array or holds a non-object element
  stops the import with an error naming the file (and the row) before anything is replaced.
* The week: the one given, else the Monday after the last play (the first week whose
  playlists can use the whole export). Plays at or after it are real too: `evaluate` of that
  week scores its playlists on them.
* Listener: the `user_id` argument when given (to keep a Spotify username out of the
  warehouse), else the row's `username` (older exports have it), else `sph-user-` and the
  hash of the folder that holds the file, named from the source folder down (the folder's
  name for a single export; `exports/alice/...` for one of several side by side).
* Event ids: `sph-` and the hash of (user, ts in microseconds since 1970, track URI), so a
  re-import writes identical rows and the same stream in two overlapping exports gets one id,
  which ingest de-duplicates.
* Fields: `reason_start`, `reason_end` as written when in the raw schema's vocabulary, else
  null (Spotify also writes e.g. `trackerror`, `unexpected-exit`); `skipped` and `shuffle` as
  written (null when absent: ingest then calls a play under 30 s a skip); `platform` mapped by
  prefix of Spotify's device string to `raw_events.PLATFORMS` (`PLATFORM_PREFIXES`), else null;
  `conn_country` kept (Spotify's "ZZ", unknown, becomes null); `context` null (not exported).
* Never stored: `ip_addr` (personal data that locates the listener; the pipeline has no use for
  it), the device model and OS build in `platform` (only the family is kept), `offline`,
  `offline_timestamp` and `user_agent_decrypted`; episode and audiobook fields go with their
  rows. Track, album and artist names go to the catalog only.
* Catalog, from the plays with a `ts` (a track's metadata is that of its last play):
  artist ids `sph-artist-` + hash(artist name) and album ids `sph-album-` + hash(artist name,
  album name), since the export has names only (two artists with one name become one);
  `release_date` is the day the album was first played in the import, the latest it can have
  come out (track ids being real Spotify ids, a catalog sync can fetch the real albums), so
  Release Radar sees albums new to the imported listeners; `duration_ms` is an estimate, the
  longest play of the track (plays over `raw_events.MAX_MS_PLAYED` left out, as ingest
  rejects them); not explicit; popularity the log of 1 + the plays in the import, scaled
  0-100; genres, followers, album type and track counts unknown (null); no audio features.

Hashes are 64-bit SipHash-2-4 as `pandas.util.hash_array` computes them (its fixed key), as
16 hex digits: vectorised, and stable across runs and machines (the tests pin known values).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema, arrow_table, write_table
from jobs.core.tables import raw_day_path
from jobs.core.weeks import monday_on_or_before
from jobs.sources.sample.catalog import popularity_scores
from schemas import catalog as catalog_schema
from schemas import controls as controls_schema
from schemas import raw_events

logger = logging.getLogger(__name__)

NAME = "spotify-history"
FILE_PATTERNS = ("Streaming_History_Audio_*.json", "endsong_*.json")

# Why a row is not imported as a play, in the order they are tested.
INCOGNITO = "incognito_mode"
AUDIOBOOK = "audiobook"
PODCAST_EPISODE = "podcast_episode"
NO_TRACK_URI = "no_track_uri"
NOT_A_TRACK_URI = "not_a_track_uri"
EXCLUSION_REASONS = (INCOGNITO, AUDIOBOOK, PODCAST_EPISODE, NO_TRACK_URI, NOT_A_TRACK_URI)

# Lower-case prefixes of Spotify's `platform` strings, e.g. "Android OS 14 API 34 (Google,
# Pixel 7)", "iOS 17.1 (iPhone15,2)", "Windows 10 (10.0.19045; x64)", "OS X 14.1.1 [arm64]",
# "web_player windows 10;chrome ...", "Partner google cast_tv;Chromecast" (newer exports
# write just "android", "ios", "windows", "osx", ...). A Partner device plays what a phone
# or computer sends it, the way a cast does.
PLATFORM_PREFIXES = {
    "android": ("android",),
    "ios": ("ios",),
    "windows": ("windows",),
    "osx": ("os x", "osx", "macos"),
    "web_player": ("web_player", "webplayer"),
    "cast": ("partner", "cast"),
}

UNKNOWN_TRACK = "(unknown track)"
UNKNOWN_ARTIST = "(unknown artist)"
UNKNOWN_ALBUM = "(unknown album)"
UNKNOWN_COUNTRY = "ZZ"

_TEXT_FIELDS = (
    "ts",
    "username",
    "platform",
    "conn_country",
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "reason_start",
    "reason_end",
)
_EPISODE_FIELDS = ("spotify_episode_uri", "episode_name", "episode_show_name")
_AUDIOBOOK_FIELDS = (
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "audiobook_chapter_title",
)
_FIELDS = (
    *_TEXT_FIELDS,
    "ms_played",
    "shuffle",
    "skipped",
    "incognito_mode",
    *_EPISODE_FIELDS,
    *_AUDIOBOOK_FIELDS,
)
# Where each row came from: its file (relative to the source's parent), its index there, and
# the folder that names its listener when nothing else does.
FILE, ROW, FOLDER = "file", "row", "folder"

_TRACK_URI = r"^spotify:track:([0-9A-Za-z]{22})$"
_SEPARATOR = "\x1f"  # joins the parts of a hashed key (a character no name contains)
_HEX = np.array(list("0123456789abcdef"))


class SpotifyHistoryError(ValueError):
    """An export file that cannot be read at all; the message names the file (and row)."""


@dataclass(frozen=True)
class HistoryPlays:
    """The music plays of an export and how many rows were not imported, by reason."""

    # raw_events.SCHEMA columns plus track_name, artist_name, album_name, file and row; in
    # time order (plays without a ts last), ties by event_id.
    plays: pd.DataFrame
    excluded: dict[str, int]


@dataclass(frozen=True)
class SpotifyHistoryImport:
    name: str
    eval_week: dt.date
    week_rule: str  # how eval_week was chosen
    files: tuple[str, ...]  # relative to the source's parent
    counts: dict[str, int]
    excluded: dict[str, int]  # rows not imported as plays, by reason (EXCLUSION_REASONS)


def import_spotify_history(
    source: Path,
    config: PipelineConfig,
    week: dt.date | None = None,
    user_id: str | None = None,
) -> SpotifyHistoryImport:
    """Imports an Extended streaming history export (see the module docstring); replaces the
    raw events, catalog and controls of `config` once the whole export has been read."""
    if week is not None and week.weekday() != 0:
        raise ValueError(f"week must be a Monday, got {week} (a {week:%A})")
    rows = read_streaming_history(Path(source))
    history = history_plays(rows, user_id)
    plays = history.plays
    if plays.empty:
        raise ValueError(
            f"no music plays to import from {source}: {len(rows)} rows, not imported: "
            + ", ".join(f"{reason} {count}" for reason, count in history.excluded.items())
        )
    dated = plays["ts"].notna()
    if week is None:
        if not dated.any():
            raise ValueError(f"no play in {source} has a readable ts: give the week")
        week = monday_on_or_before(plays.loc[dated, "ts"].max()) + dt.timedelta(weeks=1)
        week_rule = "the Monday after the last play"
    else:
        week_rule = "given"
    catalog_tables = history_catalog(plays)
    _write_events(plays, config, week)

    ts = plays["ts"]
    week_start = pd.Timestamp(week, tz="UTC")
    week_end = week_start + pd.Timedelta(weeks=1)
    counts = {
        "rows": len(rows),
        "events": len(plays),
        "events_without_ts": int((~dated).sum()),
        "history_events": int((ts < week_start).sum()),
        "held_out_events": int(((ts >= week_start) & (ts < week_end)).sum()),
        "later_events": int((ts >= week_end).sum()),
        "users": plays["user_id"].nunique(),
        "items": plays["track_id"].nunique(),
    }
    for table_name, table in catalog_tables.items():
        counts[table_name] = write_table(config.catalog_dir / table_name, table)
    for table_name, spark_struct in controls_schema.TABLES.items():
        empty = arrow_schema(spark_struct).empty_table()
        counts[table_name] = write_table(config.controls_dir / table_name, empty)
    files = tuple(pd.unique(rows[FILE]))
    logger.info(
        "imported %s (%d files) for week %s (%s): %s; not imported: %s",
        NAME,
        len(files),
        week,
        week_rule,
        counts,
        history.excluded,
    )
    return SpotifyHistoryImport(NAME, week, week_rule, files, counts, history.excluded)


def find_history_files(source: Path) -> list[Path]:
    """The export's files under `source`, sub-folders included, in path order."""
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a folder")
    files = sorted({path for pattern in FILE_PATTERNS for path in source.rglob(pattern)})
    if not files:
        raise FileNotFoundError(
            f"no {' or '.join(FILE_PATTERNS)} files under {source}: is it the unzipped "
            "Extended streaming history folder?"
        )
    return files


def read_streaming_history(source: Path) -> pd.DataFrame:
    """Every row of the export's files: the known fields (absent ones null, as read, types
    unchecked) plus FILE, ROW and FOLDER. Raises SpotifyHistoryError for a file that is not
    JSON, not an array, or holds an element that is not an object."""
    source = source.resolve()
    frames = []
    for path in find_history_files(source):
        relative = path.relative_to(source.parent)
        try:
            with path.open(encoding="utf-8") as file:
                rows = json.load(file)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise SpotifyHistoryError(f"{path}: not valid JSON ({error})") from error
        if not isinstance(rows, list):
            raise SpotifyHistoryError(
                f"{path}: expected a JSON array of streams, found a {type(rows).__name__}"
            )
        is_object = np.fromiter(map(isinstance, rows, repeat(dict)), dtype=bool, count=len(rows))
        if not is_object.all():
            index = int(np.argmin(is_object))
            raise SpotifyHistoryError(
                f"{path}: row {index} is a {type(rows[index]).__name__}, not a JSON object"
            )
        frame = pd.DataFrame(rows, columns=list(_FIELDS), dtype=object)
        frame[FILE] = relative.as_posix()
        frame[ROW] = np.arange(len(rows))
        frame[FOLDER] = relative.parent.as_posix()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def history_plays(rows: pd.DataFrame, user_id: str | None = None) -> HistoryPlays:
    """The music plays among `rows` (as `read_streaming_history` gives them) in raw event
    fields, and the rows left out by reason; see the module docstring for every rule."""
    if user_id is not None and not user_id.strip():
        raise ValueError("user_id must not be blank")
    text = {field: _text(rows[field]) for field in _TEXT_FIELDS}
    track_id = text["spotify_track_uri"].str.extract(_TRACK_URI, expand=False)
    incognito = rows["incognito_mode"].eq(True)
    music = track_id.notna()
    reasons = pd.Series(
        np.select(
            [
                incognito,
                music,
                rows[list(_AUDIOBOOK_FIELDS)].notna().any(axis=1),
                rows[list(_EPISODE_FIELDS)].notna().any(axis=1),
                text["spotify_track_uri"].isna(),
            ],
            [INCOGNITO, "", AUDIOBOOK, PODCAST_EPISODE, NO_TRACK_URI],
            NOT_A_TRACK_URI,
        ),
        index=rows.index,
    )
    excluded = {reason: int((reasons == reason).sum()) for reason in EXCLUSION_REASONS}

    kept = music & ~incognito
    text = {field: values[kept] for field, values in text.items()}
    rows = rows[kept]
    ts = pd.to_datetime(text["ts"], utc=True, format="ISO8601", errors="coerce").astype(
        "datetime64[us, UTC]"
    )
    username = text["username"].str.strip().replace("", None)  # blank: no username
    users = (
        pd.Series(user_id, index=rows.index)
        if user_id is not None
        else username.fillna(stable_ids("sph-user-", rows[FOLDER]))
    )
    # A readable ts as microseconds since 1970, so that two exports spelling it differently
    # agree; an unreadable one as written.
    ts_key = (
        pd.Series(ts.array.asi8, index=ts.index)
        .astype(str)
        .where(ts.notna(), "unreadable " + text["ts"].fillna(""))
    )
    country = text["conn_country"]
    plays = pd.DataFrame(
        {
            "event_id": stable_ids(
                "sph-", users + _SEPARATOR + ts_key + _SEPARATOR + text["spotify_track_uri"]
            ),
            "ts": ts,
            "user_id": users,
            "track_id": track_id[kept],
            "ms_played": _whole_numbers(rows["ms_played"]),
            "reason_start": text["reason_start"].where(
                text["reason_start"].isin(raw_events.REASONS_START)
            ),
            "reason_end": text["reason_end"].where(text["reason_end"].isin(raw_events.REASONS_END)),
            "skipped": _booleans(rows["skipped"]),
            "shuffle": _booleans(rows["shuffle"]),
            "platform": platform_families(text["platform"]),
            "conn_country": country.where(
                country.str.fullmatch("[A-Z]{2}", na=False) & (country != UNKNOWN_COUNTRY)
            ),
            "event_type": raw_events.PLAY,
            "context": None,
            "track_name": text["master_metadata_track_name"],
            "artist_name": text["master_metadata_album_artist_name"],
            "album_name": text["master_metadata_album_album_name"],
            FILE: rows[FILE],
            ROW: rows[ROW],
        }
    )
    plays = plays.sort_values(["ts", "event_id"], na_position="last", ignore_index=True)
    return HistoryPlays(plays, excluded)


def platform_families(platform: pd.Series) -> pd.Series:
    """Spotify's device strings as `raw_events.PLATFORMS` families (PLATFORM_PREFIXES); null
    for anything else (Linux, game consoles, "not_applicable")."""
    # An export repeats a handful of device strings: match each distinct one once.
    codes, distinct = pd.factorize(platform)
    lower = pd.Series(distinct, dtype=object).str.strip().str.lower()
    families = list(PLATFORM_PREFIXES)
    matches = [lower.str.startswith(PLATFORM_PREFIXES[family], na=False) for family in families]
    of_distinct = np.append(np.select(matches, families, None), None)  # code -1: missing
    return pd.Series(of_distinct[codes], index=platform.index)


def history_catalog(plays: pd.DataFrame) -> dict[str, pa.Table]:
    """Artists, albums and tracks of the plays that have a ts, in the catalog schemas, plus
    an empty audio-features table (see the module docstring for each column's rule)."""
    dated = plays[plays["ts"].notna()]
    # Plays are in time order: the last one of a track carries its latest metadata.
    tracks = dated.drop_duplicates("track_id", keep="last").fillna(
        {"track_name": UNKNOWN_TRACK, "artist_name": UNKNOWN_ARTIST, "album_name": UNKNOWN_ALBUM}
    )
    tracks = tracks.assign(
        artist_id=stable_ids("sph-artist-", tracks["artist_name"]),
        album_id=stable_ids(
            "sph-album-", tracks["artist_name"] + _SEPARATOR + tracks["album_name"]
        ),
    )
    ms_played = dated["ms_played"]
    per_track = (
        dated.assign(
            length=ms_played.where((ms_played >= 0) & (ms_played <= raw_events.MAX_MS_PLAYED))
        )
        .groupby("track_id")
        .agg(plays=("event_id", "size"), first_played=("ts", "min"), length=("length", "max"))
    )
    tracks = tracks.join(per_track, on="track_id").sort_values("track_id")
    albums = (
        tracks.groupby("album_id")
        .agg(
            artist_id=("artist_id", "first"),
            name=("album_name", "first"),
            first_played=("first_played", "min"),
        )
        .reset_index()
    )
    artists = (
        tracks.groupby("artist_id")
        .agg(name=("artist_name", "first"), plays=("plays", "sum"))
        .reset_index()
    )
    n_artists, n_albums = len(artists), len(albums)
    return {
        "artists": arrow_table(
            catalog_schema.ARTISTS,
            [
                pa.array(artists["artist_id"], pa.string()),
                pa.array(artists["name"], pa.string()),
                pa.nulls(n_artists, pa.list_(pa.string())),
                popularity_scores(1 + artists["plays"].to_numpy(dtype=np.float64)),
                pa.nulls(n_artists, pa.int64()),
            ],
        ),
        "albums": arrow_table(
            catalog_schema.ALBUMS,
            [
                pa.array(albums["album_id"], pa.string()),
                pa.array(albums["artist_id"], pa.string()),
                pa.array(albums["name"], pa.string()),
                pa.nulls(n_albums, pa.string()),
                pa.array(albums["first_played"].dt.date, pa.date32()),
                pa.nulls(n_albums, pa.int32()),
            ],
        ),
        "tracks": arrow_table(
            catalog_schema.TRACKS,
            [
                pa.array(tracks["track_id"], pa.string()),
                pa.array(tracks["track_name"], pa.string()),
                pa.array(tracks["album_id"], pa.string()),
                pa.array(tracks["artist_id"], pa.string()),
                pa.array(tracks["length"].fillna(0).astype(np.int32)),
                pa.array(np.zeros(len(tracks), dtype=bool)),
                popularity_scores(1 + tracks["plays"].to_numpy(dtype=np.float64)),
            ],
        ),
        "audio_features": arrow_schema(catalog_schema.AUDIO_FEATURES).empty_table(),
    }


def stable_ids(prefix: str, keys: pd.Series) -> pd.Series:
    """`prefix` and 16 hex digits of each key's 64-bit hash (`pandas.util.hash_array`)."""
    hashes = pd.util.hash_array(keys.to_numpy(dtype=object), categorize=False)
    nibbles = (hashes[:, np.newaxis] >> np.arange(60, -1, -4, dtype=np.uint64)) & np.uint64(15)
    digits = np.ascontiguousarray(_HEX[nibbles.astype(np.intp)])
    return prefix + pd.Series(digits.view("<U16").ravel(), index=keys.index, dtype=object)


def _write_events(plays: pd.DataFrame, config: PipelineConfig, week: dt.date) -> None:
    """Replaces every raw day with the plays, one folder per day that has any; plays
    without a ts go to the day before `week`, which that week's ingest reads."""
    undated = plays["ts"].isna()
    last_day = week - dt.timedelta(days=1)
    if undated.any():
        where = plays.loc[undated, [FILE, ROW]].head(5)
        logger.warning(
            "%d plays have a missing or unparseable ts, e.g. %s; they go to %s for ingest "
            "to quarantine",
            int(undated.sum()),
            ", ".join(where[FILE] + " row " + where[ROW].astype(str)),
            raw_day_path(config.raw_events_dir, last_day),
        )
    days = plays["ts"].dt.date.where(~undated, last_day)
    # Plays are in time order with the undated last, so only those may need moving.
    order = np.argsort(days.to_numpy(), kind="stable")
    days = days.iloc[order]
    events = arrow_table(
        raw_events.SCHEMA,
        [
            pa.array(plays[field.name].iloc[order], field.type, from_pandas=True)
            for field in arrow_schema(raw_events.SCHEMA)
        ],
    )
    folder = config.raw_events_dir
    for stale in folder.glob(f"{raw_events.PARTITION_COLUMN}=*"):
        shutil.rmtree(stale)
    first_rows = np.flatnonzero(days.ne(days.shift()).to_numpy())
    stops = np.append(first_rows[1:], len(days))
    for first, stop in zip(first_rows, stops):
        write_table(raw_day_path(folder, days.iloc[first]), events.slice(first, stop - first))


def _text(values: pd.Series) -> pd.Series:
    """The values that are JSON strings; anything else (null, numbers, lists) becomes null."""
    return values.where(values.map(type).eq(str))


def _whole_numbers(values: pd.Series) -> pd.Series:
    """JSON integers (and whole floats) as nullable int64; anything else (fractions, numbers
    past the int64 range, strings, booleans) null."""
    numbers = pd.to_numeric(values.where(values.map(type).isin([int, float])), errors="coerce")
    whole = (numbers == np.floor(numbers)) & (numbers.abs() < 2.0**63)
    return numbers.where(whole).astype("Int64")


def _booleans(values: pd.Series) -> pd.Series:
    """JSON true/false as nullable booleans; anything else (null, strings) null."""
    return values.where(values.map(type).eq(bool)).astype("boolean")
