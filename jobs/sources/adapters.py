"""Adapters that turn real public datasets into the pipeline's raw events, catalog and controls.

Each adapter makes a fresh import in the layout `jobs.sources.sample` writes (one
Parquet folder of raw events per day, one folder per catalog and controls table) around an
evaluation week W, a Monday: "history" events in the `history_weeks` whole weeks before W
and "held-out" events in [W, W + 7 days). The pipeline publishes week W's playlists from the
history alone; evaluation then compares W's Discover Weekly with the never-played-before
tracks each listener plays in the held-out week. Neither dataset has follows, settings or
hides, nor audio features of its own (Last.fm can borrow MusicOSet's, below): those tables
are written empty, with their schemas. Every play starts as a deliberate pick
(`reason_start` clickrow), never shuffled; platform, country and context are unknown (null).

MovieLens ml-latest-small (GroupLens Research, generated 2018-09-26; research use only).
F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context.
ACM Transactions on Interactive Intelligent Systems 5, 4: 19:1-19:19.
https://doi.org/10.1145/2827872

* Split, per user and chronological: a user's ratings are ordered by real timestamp (ties by
  movieId) and the last `holdout_share` of them (rounded half up, at least one kept in history)
  are held out.
* Times: real timestamps are not kept. MovieLens users rate in short bursts spread over 22 years
  (1996-2018), so a global time cut leaves most users without history or without held-out
  ratings. Instead each user's times are mapped monotonically into the target windows: the
  k-th of a user's n history ratings gets a seeded random time in the k-th of n equal slots of
  the history window, and the held-out ratings likewise in the evaluation week. A user's real
  order is kept; the real gaps between ratings are not.
* Ratings as plays: >= 3.5 stars a completed play (the whole duration, trackdone); 2.5-3.0 a
  partial play (60% of the duration, ended by the listener: endplay, not a skip); below 2.5 an
  early skip (10 s, fwdbtn, skipped).
* Catalog: a movie is a track `ml-<movieId>` named by its title, 200 s long, not explicit. Its
  "artist" is its whole genre combination, e.g. `ml-genre-comedy+romance` named
  "Comedy / Romance", rather than its first genre: MovieLens lists genres alphabetically, so
  the first one is an accident of the alphabet (Action, Comedy or Drama for 70% of movies),
  and 20 genre "artists" under the playlists' two-tracks-per-artist cap would distort
  Discover Weekly; the ~950 combinations behave more like artists. One album per artist.
  Popularity is the log of 1 + the number of ratings, scaled 0-100 (the sample data's
  Spotify-like scale).

Last.fm HetRec 2011, "hetrec2011-lastfm-2k" (HetRec 2011 workshop at ACM RecSys 2011, data from
Last.fm, http://www.lastfm.com; non-commercial use only). Iván Cantador, Peter Brusilovsky,
Tsvi Kuflik. "2nd Workshop on Information Heterogeneity and Fusion in Recommender Systems
(HetRec 2011)". RecSys 2011.

* Items are artists and the play counts are lifetime totals with no timestamps. Each artist is
  one "track" `lfm-<artistID>` by itself as artist `lfm-artist-<artistID>` (one album each),
  named from artists.dat; popularity is the log of 1 + its number of listeners, scaled 0-100.
* Split: a seeded random hold-out of `holdout_share` of each user's artists (rounded half
  up); users with fewer than 5 artists keep all of them in history. The same seed picks the
  same subset.
* Plays: a (user, artist, weight) pair becomes min(max_plays_per_pair, ceil(log2(1 + weight)))
  completed plays. Weights run from 1 to ~350,000, so log-compression keeps the heaviest
  listeners from swamping the matrix while still ranking a user's artists by play count. The
  plays of a history pair fall at seeded random times in the history window, those of a
  held-out pair in the evaluation week.

MusicOSet, optional audio features and genres for the Last.fm import (`features_source`: the
folder holding musicoset_metadata/ and musicoset_songfeatures/). Mariana O. Silva, Laís M. Rocha,
Mirella M. Moro. "MusicOSet: An Enhanced Open Dataset for Music Data Mining". 2019. Spotify Web
API audio features of 20,405 songs that charted on Billboard (1962-2018), with their artists'
Spotify genres; no licence is stated in the files.

* Matching by name only: a Last.fm artist (artists.dat) matches the MusicOSet artist
  (artists.csv) whose name is equal after collapsing each run of whitespace to one space,
  stripping and casefolding ("Eldad  Lidor" = "eldad lidor", "ICEHOUSE" = "Icehouse"); nothing
  fuzzier ("The Beatles" is not "Beatles"). Where several MusicOSet artists share a name, the
  one with the most songs wins, then the one with the higher Spotify popularity, then the
  smaller artist_id. Where several Last.fm artists share a name ("Король И Шут", "Король и Шут"),
  each gets that match. A shared name is not proof of identity: namesakes can be mismatched.
* Features: a song belongs to every artist credited in songs.csv's `artists`, collaborations
  included. A matched artist's "track" gets one audio_features row: the mean of each of
  danceability, energy, loudness, speechiness, acousticness, instrumentalness, liveness, valence
  and tempo over its songs, and for time_signature, key and mode their most common value (ties
  to the smaller). A Billboard hit list stands in for the artist's whole catalogue. About half
  of the matched artists have no songs in MusicOSet: they get genres but no audio features.
* Genres: a matched artist's Spotify genres (artists.csv `genres`; an empty list where MusicOSet
  has none); unmatched artists keep null genres, as without `features_source`.
* The result's `features` says how many artists matched and what share of the play weight
  (the sum of user_artists.dat weights) they and those with features hold; its counts add
  matched_artists, play_weight, matched_play_weight and featured_play_weight.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema, arrow_table, write_table
from jobs.core.tables import raw_day_path
from jobs.sources.sample.catalog import popularity_scores
from jobs.sources.sample.controls import timestamps_us
from jobs.sources.sample.window import DAY_US, TimeWindow
from schemas import catalog as catalog_schema
from schemas import controls as controls_schema
from schemas import raw_events

logger = logging.getLogger(__name__)

MOVIELENS = "movielens-latest-small"
LASTFM_HETREC = "lastfm-hetrec2011"
MUSICOSET = "musicoset"

DURATION_MS = 200_000  # neither dataset has lengths: every item lasts 200 s
PARTIAL_PLAY_MS = int(0.6 * DURATION_MS)
EARLY_SKIP_MS = 10_000
COMPLETED_MIN_RATING = 3.5
PARTIAL_MIN_RATING = 2.5
MIN_ARTISTS_FOR_HOLDOUT = 5
# Long before any evaluation week, so that Release Radar finds no new releases.
RELEASE_DATE = dt.date(2000, 1, 1)
# MusicOSet's audio features averaged over an artist's songs, and those that take their most
# common value (whole numbers: a mean key or time signature means nothing).
MEAN_FEATURES = catalog_schema.AUDIO_FEATURE_COLUMNS
MODE_FEATURES = ("time_signature", "key", "mode")
# songs.csv `artists` is a Python dict string, {'<22-character Spotify id>': '<name>', ...}.
_CREDITED_ARTIST = r"'([0-9A-Za-z]{22})':"
# artists.csv `genres` is a Python list string: 'single-quoted' or "double-quoted" items.
_LISTED_GENRE = r"'([^']*)'|\"([^\"]*)\""


@dataclass(frozen=True)
class ImportedDataset:
    name: str
    eval_week: dt.date
    counts: dict[str, int]
    split: str  # human description of the split used
    features: str | None = None  # human description of the borrowed audio features, if any


@dataclass(frozen=True)
class _Plays:
    """Play events before they get ids, one numpy array per field."""

    user_id: np.ndarray  # strings
    track_id: np.ndarray  # strings
    ts_us: np.ndarray
    held_out: np.ndarray
    ms_played: np.ndarray
    reason_end: np.ndarray  # strings
    skipped: np.ndarray


def import_movielens(
    source_dir: Path,
    config: PipelineConfig,
    eval_week: dt.date,
    history_weeks: int = 8,
    holdout_share: float = 0.2,
    seed: int = 42,
) -> ImportedDataset:
    """Imports MovieLens ml-latest-small (ratings.csv, movies.csv); see the module docstring."""
    history, evaluation = _windows(eval_week, history_weeks, holdout_share)
    source_dir = Path(source_dir)
    ratings = pd.read_csv(
        source_dir / "ratings.csv",
        dtype={"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"},
    )
    movies = pd.read_csv(
        source_dir / "movies.csv",
        dtype={"movieId": "int64", "title": str, "genres": str},
        keep_default_na=False,  # a title such as "NA" is a title
    )
    _check_known(ratings["movieId"], movies["movieId"], "ratings.csv", "movies.csv")

    ratings = ratings.sort_values(["userId", "timestamp", "movieId"], ignore_index=True)
    by_user = ratings.groupby("userId", sort=False)
    n = by_user["movieId"].transform("size").to_numpy()
    rank = by_user.cumcount().to_numpy()
    history_n = n - _held_out_sizes(n, holdout_share)
    held_out = rank >= history_n
    slot = np.where(held_out, rank - history_n, rank)
    slots = np.where(held_out, n - history_n, history_n)
    ts_us = _slot_times(np.random.default_rng(seed), slot, slots, held_out, history, evaluation)

    rating = ratings["rating"].to_numpy()
    completed = rating >= COMPLETED_MIN_RATING
    partial = ~completed & (rating >= PARTIAL_MIN_RATING)
    plays = _Plays(
        user_id=("ml-u" + ratings["userId"].astype(str)).to_numpy(),
        track_id=("ml-" + ratings["movieId"].astype(str)).to_numpy(),
        ts_us=ts_us,
        held_out=held_out,
        ms_played=np.select(
            [completed, partial], [DURATION_MS, PARTIAL_PLAY_MS], EARLY_SKIP_MS
        ).astype(np.int64),
        reason_end=np.select([completed, partial], ["trackdone", "endplay"], "fwdbtn"),
        skipped=~(completed | partial),
    )
    rating_counts = movies["movieId"].map(ratings["movieId"].value_counts()).fillna(0).to_numpy()
    split = (
        f"per-user chronological: each user's last {holdout_share:.0%} of ratings (by real "
        f"timestamp, ties by movieId; at least one kept in history) in the week of {history.week}, "
        f"the rest in the {history_weeks} weeks before; each user's ratings keep their real "
        "order, at seeded random times in equal slots of each window"
    )
    return _write_import(
        MOVIELENS,
        "ml",
        config,
        plays,
        _movielens_catalog(movies, rating_counts),
        history,
        evaluation,
        split,
    )


def import_lastfm_hetrec(
    source_dir: Path,
    config: PipelineConfig,
    eval_week: dt.date,
    history_weeks: int = 8,
    holdout_share: float = 0.2,
    seed: int = 42,
    max_plays_per_pair: int = 20,
    features_source: Path | None = None,
) -> ImportedDataset:
    """Imports Last.fm HetRec 2011 (user_artists.dat, artists.dat), with audio features and
    genres from the MusicOSet folder `features_source` if given; see the module docstring."""
    history, evaluation = _windows(eval_week, history_weeks, holdout_share)
    if max_plays_per_pair < 1:
        raise ValueError(f"max_plays_per_pair must be at least 1, got {max_plays_per_pair}")
    source_dir = Path(source_dir)
    pairs = pd.read_csv(
        source_dir / "user_artists.dat",
        sep="\t",
        dtype={"userID": "int64", "artistID": "int64", "weight": "int64"},
    )
    artists = pd.read_csv(
        source_dir / "artists.dat",
        sep="\t",
        usecols=["id", "name"],
        dtype={"id": "int64", "name": str},
        quoting=csv.QUOTE_NONE,  # names carry stray quotes
        keep_default_na=False,  # an artist called "NA" or "null" is an artist
    )
    _check_known(pairs["artistID"], artists["id"], "user_artists.dat", "artists.dat")

    # Sorted first, so the split and the times depend on the data, not on its row order; the
    # split has its own random stream, so that max_plays_per_pair does not change it.
    pairs = pairs.sort_values(["userID", "artistID"], ignore_index=True)
    split_rng, time_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    users = pairs["userID"].to_numpy()
    draw_order = np.lexsort((split_rng.random(users.size), users))
    first_of_user = np.searchsorted(users, users)  # users are sorted
    draw_rank = np.empty(users.size, dtype=np.int64)
    draw_rank[draw_order] = np.arange(users.size) - first_of_user
    n = np.searchsorted(users, users, side="right") - first_of_user
    held_n = np.where(n >= MIN_ARTISTS_FOR_HOLDOUT, _held_out_sizes(n, holdout_share), 0)
    pair_held_out = draw_rank < held_n

    weight = pairs["weight"].to_numpy()
    plays_per_pair = np.minimum(max_plays_per_pair, np.ceil(np.log2(1 + weight))).astype(np.int64)
    row = np.repeat(np.arange(len(pairs)), plays_per_pair)
    held_out = pair_held_out[row]
    ts_us = time_rng.integers(
        np.where(held_out, evaluation.start_us, history.start_us),
        np.where(held_out, evaluation.end_us, history.end_us),
    )
    plays = _Plays(
        user_id=("lfm-u" + pairs["userID"].astype(str)).to_numpy()[row],
        track_id=("lfm-" + pairs["artistID"].astype(str)).to_numpy()[row],
        ts_us=ts_us,
        held_out=held_out,
        ms_played=np.full(row.size, DURATION_MS, dtype=np.int64),
        reason_end=np.full(row.size, "trackdone"),
        skipped=np.zeros(row.size, dtype=bool),
    )
    listeners = artists["id"].map(pairs["artistID"].value_counts()).fillna(0).to_numpy()
    borrowed = None if features_source is None else musicoset_match(artists, Path(features_source))
    catalog_tables = _lastfm_catalog(artists, listeners, borrowed)
    tags = read_lastfm_tags(source_dir)
    if tags is not None:
        held_out_pairs = pairs.loc[pair_held_out, ["userID", "artistID"]]
        catalog_tables["artist_tags"] = _artist_tags(tags, held_out_pairs, artists["id"])
    split = (
        f"seeded random (seed {seed}): {holdout_share:.0%} of each user's artists held out to "
        f"the week of {history.week} (users with fewer than {MIN_ARTISTS_FOR_HOLDOUT} artists keep "
        f"all in history); the source has no timestamps, so plays fall at seeded random times "
        f"in the {history_weeks} weeks before or in that week; min({max_plays_per_pair}, "
        "ceil(log2(1 + weight))) plays per user and artist"
    )
    imported = _write_import(
        LASTFM_HETREC,
        "lfm",
        config,
        plays,
        catalog_tables,
        history,
        evaluation,
        split,
    )
    if borrowed is None:
        return imported
    return _with_coverage(imported, pairs, artists, borrowed)


def read_lastfm_tags(source_dir: Path) -> pd.DataFrame | None:
    """(userID, artistID, tag): user_taggedartists.dat with tags.dat's text, None when the
    folder has no tag files."""
    assigned_file, names_file = source_dir / "user_taggedartists.dat", source_dir / "tags.dat"
    if not (assigned_file.exists() and names_file.exists()):
        return None
    text = {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False}
    names = pd.read_csv(names_file, dtype={"tagID": "int64", "tagValue": str}, **text)
    assigned = pd.read_csv(
        assigned_file, sep="\t", usecols=["userID", "artistID", "tagID"], dtype="int64"
    )
    _check_known(assigned["tagID"], names["tagID"], assigned_file.name, names_file.name)
    tags = assigned.merge(names, on="tagID", validate="many_to_one")
    return tags.rename(columns={"tagValue": "tag"})[["userID", "artistID", "tag"]]


def _artist_tags(
    tags: pd.DataFrame, held_out_pairs: pd.DataFrame, artist_ids: pd.Series
) -> pa.Table:
    """The catalog's `artist_tags` from Last.fm's assignments to known artists, without
    those a listener gave an artist held out for them: that tag would reveal the very pair
    the evaluation asks about (docs/tags-evaluation.md, "Leakage")."""
    pair = pd.MultiIndex.from_frame(tags[["userID", "artistID"]])
    leaked = pair.isin(pd.MultiIndex.from_frame(held_out_pairs[["userID", "artistID"]]))
    kept = tags.loc[~leaked & tags["artistID"].isin(artist_ids)]
    return arrow_table(
        catalog_schema.ARTIST_TAGS,
        [
            pa.array(("lfm-artist-" + kept["artistID"].astype(str)).to_numpy(), pa.string()),
            pa.array(kept["tag"].to_numpy(), pa.string()),
        ],
    )


def _windows(eval_week: dt.date, history_weeks: int, holdout_share: float):
    """The history window before `eval_week` and the evaluation week itself."""
    eval_week = dt.date(eval_week.year, eval_week.month, eval_week.day)
    if eval_week.weekday() != 0:
        raise ValueError(f"eval_week must be a Monday, got {eval_week} (a {eval_week:%A})")
    if history_weeks < 1:
        raise ValueError(f"history_weeks must be at least 1, got {history_weeks}")
    if not 0 <= holdout_share < 1:
        raise ValueError(f"holdout_share must be in [0, 1), got {holdout_share}")
    history = TimeWindow.before(eval_week, history_weeks)
    return history, TimeWindow.before(eval_week + dt.timedelta(weeks=1), 1)


def _check_known(used: pd.Series, known: pd.Series, used_file: str, known_file: str) -> None:
    unknown = used[~used.isin(known)].unique()
    if unknown.size:
        raise ValueError(
            f"{unknown.size} ids in {used_file} are not in {known_file}, e.g. {unknown[:5]}"
        )


def _held_out_sizes(n: np.ndarray, holdout_share: float) -> np.ndarray:
    """The share of each user's n items, rounded half up, leaving at least one in history."""
    return np.minimum(np.floor(holdout_share * n + 0.5).astype(np.int64), n - 1)


def _slot_times(
    rng, slot, slots, held_out, history: TimeWindow, evaluation: TimeWindow
) -> np.ndarray:
    """A random time in slot `slot` of `slots` equal slots of the event's window."""
    start = np.where(held_out, evaluation.start_us, history.start_us)
    end = np.where(held_out, evaluation.end_us, history.end_us)
    offset = np.floor((slot + rng.random(slot.size)) / slots * (end - start)).astype(np.int64)
    # (slot + u) / slots can round up to 1.0 in floating point.
    return np.minimum(start + offset, end - 1)


def _movielens_catalog(movies: pd.DataFrame, rating_counts: np.ndarray) -> dict[str, pa.Table]:
    """Movies as tracks; each genre combination is an artist with one album."""
    genres = movies["genres"].replace("(no genres listed)", "")
    slug = (
        genres.str.lower()
        .str.replace(r"[^a-z0-9|]+", "-", regex=True)
        .str.strip("-")
        .str.replace("|", "+", regex=False)
    )
    artist_keys = ("ml-genre-" + slug.replace("", "none")).to_numpy()
    artists = (
        pd.DataFrame({"artist_id": artist_keys, "genres": genres, "ratings": rating_counts})
        .groupby("artist_id", as_index=False)
        .agg(genres=("genres", "first"), ratings=("ratings", "sum"), movies=("ratings", "size"))
    )
    genre_lists = artists["genres"].str.split("|").map(lambda names: [g for g in names if g])
    artist_names = genre_lists.str.join(" / ").replace("", "(no genres listed)")
    album_ids = "ml-album-" + artists["artist_id"].str.removeprefix("ml-genre-")
    return _catalog_tables(
        artist_ids=artists["artist_id"].to_numpy(),
        artist_names=artist_names.to_numpy(),
        artist_genres=pa.array(genre_lists.tolist(), type=pa.list_(pa.string())),
        artist_weight=1 + artists["ratings"].to_numpy(),
        album_ids=album_ids.to_numpy(),
        album_tracks=artists["movies"].to_numpy(),
        track_ids=("ml-" + movies["movieId"].astype(str)).to_numpy(),
        track_names=movies["title"].to_numpy(),
        track_album=album_ids.to_numpy()[np.searchsorted(artists["artist_id"], artist_keys)],
        track_artist=artist_keys,
        track_weight=1 + rating_counts,
    )


@dataclass(frozen=True)
class _Borrowed:
    """MusicOSet's genres and audio features for the Last.fm artists, in artists.dat order."""

    matched: np.ndarray  # bool: the artist's name matched a MusicOSet artist
    featured: np.ndarray  # bool: ... one with songs, so with audio features
    genres: pa.Array  # list<string>, null where unmatched
    features: pd.DataFrame  # MEAN_FEATURES + MODE_FEATURES; NaN where not featured


def _name_key(names: pd.Series) -> pd.Series:
    """The name that artists are matched on: whitespace runs collapsed, stripped, casefolded."""
    return names.str.replace(r"\s+", " ", regex=True).str.strip().str.casefold()


def musicoset_match(lastfm_artists: pd.DataFrame, source: Path) -> _Borrowed:
    """Matches the Last.fm artists by name to MusicOSet's; see the module docstring."""
    by_name, genres = _musicoset_artists(source)
    match = by_name.reindex(_name_key(lastfm_artists["name"]))
    matched = match["genre_row"].notna().to_numpy()
    genre_rows = match["genre_row"].to_numpy(dtype=np.int64, na_value=0)
    return _Borrowed(
        matched=matched,
        featured=match["songs"].gt(0).to_numpy(),
        genres=genres.take(pa.array(genre_rows, mask=~matched)),
        features=match[[*MEAN_FEATURES, *MODE_FEATURES]].reset_index(drop=True),
    )


def _musicoset_artists(source: Path) -> tuple[pd.DataFrame, pa.Array]:
    """One MusicOSet artist per name key (index): its row in the returned genre lists, its
    number of songs and its features (NaN where it has no songs)."""
    text = {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False}
    artists = pd.read_csv(
        source / "musicoset_metadata" / "artists.csv",
        usecols=["artist_id", "name", "popularity", "genres"],
        dtype={"artist_id": str, "name": str, "popularity": "int64", "genres": str},
        **text,
    )
    songs = pd.read_csv(
        source / "musicoset_metadata" / "songs.csv",
        usecols=["song_id", "artists"],
        dtype=str,
        **text,
    )
    features = pd.read_csv(
        source / "musicoset_songfeatures" / "acoustic_features.csv",
        usecols=["song_id", *MEAN_FEATURES, *MODE_FEATURES],
        dtype={"song_id": str} | {name: "float64" for name in MEAN_FEATURES},
        sep="\t",
        quoting=csv.QUOTE_NONE,
    )
    credited = songs["artists"].str.extractall(_CREDITED_ARTIST)[0]
    credits = pd.DataFrame(
        {
            "song_id": songs["song_id"].to_numpy()[credited.index.get_level_values(0)],
            "artist_id": credited.to_numpy(),
        }
    ).merge(features, on="song_id")
    per_artist = credits.groupby("artist_id").agg(
        songs=("song_id", "size"), **{name: (name, "mean") for name in MEAN_FEATURES}
    )
    for name in MODE_FEATURES:
        per_artist[name] = _most_common(credits, name)

    listed = artists["genres"].str.extractall(_LISTED_GENRE)
    lengths = np.bincount(listed.index.get_level_values(0), minlength=len(artists))
    genres = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int32()),
        pa.array(listed[0].fillna(listed[1]).to_numpy(), pa.string()),
    )
    artists = artists.assign(name_key=_name_key(artists["name"]), genre_row=np.arange(len(artists)))
    artists = artists.join(per_artist, on="artist_id").fillna({"songs": 0})
    best = artists.sort_values(
        ["name_key", "songs", "popularity", "artist_id"], ascending=[True, False, False, True]
    ).drop_duplicates("name_key")
    return best.set_index("name_key").astype({"genre_row": "Int64"}), genres


def _most_common(credits: pd.DataFrame, column: str) -> pd.Series:
    """Each artist's most common value of `column` over its songs, ties to the smaller."""
    tally = credits.groupby(["artist_id", column]).size().rename("songs").reset_index()
    top = tally.sort_values(
        ["artist_id", "songs", column], ascending=[True, False, True]
    ).drop_duplicates("artist_id")
    return top.set_index("artist_id")[column]


def _with_coverage(
    imported: ImportedDataset, pairs: pd.DataFrame, artists: pd.DataFrame, borrowed: _Borrowed
) -> ImportedDataset:
    """The import's result with the MusicOSet match counts and coverage added."""
    featured = borrowed.featured
    weight = pairs["weight"]
    coverage = {
        "matched_artists": int(borrowed.matched.sum()),
        "play_weight": int(weight.sum()),
        "matched_play_weight": int(
            weight[pairs["artistID"].isin(artists["id"][borrowed.matched])].sum()
        ),
        "featured_play_weight": int(weight[pairs["artistID"].isin(artists["id"][featured])].sum()),
    }
    description = (
        f"{MUSICOSET} by artist name (whitespace collapsed, stripped, casefolded): "
        f"{coverage['matched_artists']:,} of {len(artists):,} artists matched, with genres "
        f"({coverage['matched_play_weight'] / coverage['play_weight']:.1%} of the play weight); "
        f"{int(featured.sum()):,} of them with songs, so audio features "
        f"({coverage['featured_play_weight'] / coverage['play_weight']:.1%} of the play weight)"
    )
    logger.info("%s features: %s", imported.name, description)
    return dataclasses.replace(imported, counts=imported.counts | coverage, features=description)


def _lastfm_catalog(
    artists: pd.DataFrame, listeners: np.ndarray, borrowed: _Borrowed | None
) -> dict[str, pa.Table]:
    """Each artist is one track on one album of its own, with MusicOSet's genres and audio
    features where `borrowed` has them."""
    ids = artists["id"].astype(str)
    artist_ids = ("lfm-artist-" + ids).to_numpy()
    album_ids = ("lfm-album-" + ids).to_numpy()
    names = artists["name"].to_numpy()
    track_ids = ("lfm-" + ids).to_numpy()
    if borrowed is None:
        genres = pa.nulls(len(artists), pa.list_(pa.string()))
        audio_features = None
    else:
        genres = borrowed.genres
        audio_features = _audio_features_table(
            track_ids[borrowed.featured], borrowed.features[borrowed.featured]
        )
    return _catalog_tables(
        artist_ids=artist_ids,
        artist_names=names,
        artist_genres=genres,
        artist_weight=1 + listeners,
        album_ids=album_ids,
        album_tracks=np.ones(len(artists), dtype=np.int64),
        track_ids=track_ids,
        track_names=names,
        track_album=album_ids,
        track_artist=artist_ids,
        track_weight=1 + listeners,
        audio_features=audio_features,
    )


def _audio_features_table(track_ids: np.ndarray, features: pd.DataFrame) -> pa.Table:
    """AUDIO_FEATURES rows: one per track, from `features` (no NaN) in the same order."""
    return arrow_table(
        catalog_schema.AUDIO_FEATURES,
        [pa.array(track_ids, pa.string())]
        + [pa.array(features[name].to_numpy(), pa.float64()) for name in MEAN_FEATURES]
        + [pa.array(features[name].to_numpy().astype(np.int32)) for name in MODE_FEATURES],
    )


def _catalog_tables(
    *,
    artist_ids,
    artist_names,
    artist_genres: pa.Array,
    artist_weight,
    album_ids,
    album_tracks,
    track_ids,
    track_names,
    track_album,
    track_artist,
    track_weight,
    audio_features: pa.Table | None = None,
) -> dict[str, pa.Table]:
    """The catalog tables; audio_features empty unless given."""
    n_artists, n_tracks = len(artist_ids), len(track_ids)
    return {
        "artists": arrow_table(
            catalog_schema.ARTISTS,
            [
                pa.array(artist_ids, pa.string()),
                pa.array(artist_names, pa.string()),
                artist_genres,
                popularity_scores(np.asarray(artist_weight, dtype=np.float64)),
                pa.nulls(n_artists, pa.int64()),
            ],
        ),
        "albums": arrow_table(
            catalog_schema.ALBUMS,
            [
                pa.array(album_ids, pa.string()),
                pa.array(artist_ids, pa.string()),
                pa.array(artist_names, pa.string()),
                pa.array(np.full(n_artists, "album")),
                pa.array(np.full(n_artists, np.datetime64(RELEASE_DATE, "D")), pa.date32()),
                pa.array(np.asarray(album_tracks, dtype=np.int32)),
            ],
        ),
        "tracks": arrow_table(
            catalog_schema.TRACKS,
            [
                pa.array(track_ids, pa.string()),
                pa.array(track_names, pa.string()),
                pa.array(track_album, pa.string()),
                pa.array(track_artist, pa.string()),
                pa.array(np.full(n_tracks, DURATION_MS, dtype=np.int32)),
                pa.array(np.zeros(n_tracks, dtype=bool)),
                popularity_scores(np.asarray(track_weight, dtype=np.float64)),
            ],
        ),
        "audio_features": (
            arrow_schema(catalog_schema.AUDIO_FEATURES).empty_table()
            if audio_features is None
            else audio_features
        ),
    }


def _write_import(
    name: str,
    id_prefix: str,
    config: PipelineConfig,
    plays: _Plays,
    catalog_tables: dict[str, pa.Table],
    history: TimeWindow,
    evaluation: TimeWindow,
    split: str,
) -> ImportedDataset:
    """Writes a fresh import: events by day, catalog, empty controls; returns the counts."""
    # Numbered in time order (ties in the sorted source order), so ids follow the data.
    order = np.argsort(plays.ts_us, kind="stable")
    ts_us = plays.ts_us[order]
    n = order.size
    events = arrow_table(
        raw_events.SCHEMA,
        [
            pa.array(f"{id_prefix}-" + pd.Series(np.arange(n)).astype(str)),
            timestamps_us(ts_us),
            pa.array(plays.user_id[order], pa.string()),
            pa.array(plays.track_id[order], pa.string()),
            pa.array(plays.ms_played[order]),
            pa.array(np.full(n, "clickrow")),
            pa.array(plays.reason_end[order], pa.string()),
            pa.array(plays.skipped[order]),
            pa.array(np.zeros(n, dtype=bool)),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.string()),
            pa.array(np.full(n, raw_events.PLAY)),
            pa.nulls(n, pa.string()),
        ],
    )
    folder = config.raw_events_dir
    for stale in folder.glob(f"{raw_events.PARTITION_COLUMN}=*"):
        shutil.rmtree(stale)
    days = history.days + evaluation.days
    bounds = np.searchsorted(ts_us, history.start_us + DAY_US * np.arange(len(days) + 1))
    for day, first, stop in zip(days, bounds[:-1], bounds[1:]):
        write_table(raw_day_path(folder, day), events.slice(first, stop - first))

    counts = {
        "events": n,
        "history_events": int(n - plays.held_out.sum()),
        "held_out_events": int(plays.held_out.sum()),
        "users": len(pd.unique(plays.user_id)),
        "held_out_users": len(pd.unique(plays.user_id[plays.held_out])),
        "items": len(pd.unique(plays.track_id)),
    }
    for table_name, table in catalog_tables.items():
        counts[table_name] = write_table(config.catalog_dir / table_name, table)
    for table_name in catalog_schema.OPTIONAL_TABLES.keys() - catalog_tables.keys():
        # A previous import's, which this dataset does not have.
        shutil.rmtree(config.catalog_dir / table_name, ignore_errors=True)
    for table_name, spark_struct in controls_schema.TABLES.items():
        empty = arrow_schema(spark_struct).empty_table()
        counts[table_name] = write_table(config.controls_dir / table_name, empty)
    logger.info("imported %s for week %s: %s; split: %s", name, history.week, counts, split)
    return ImportedDataset(name=name, eval_week=history.week, counts=counts, split=split)
