"""The dataset adapters: hold-out splits, time windows, event mapping, catalog and layout, on
tiny inline sources in the real formats (and, when present, on the real datasets)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema
from jobs.sources.adapters import import_lastfm_hetrec, import_movielens
from jobs.tools.cli import main
from schemas import catalog, controls, raw_events

WEEK = dt.date(2025, 6, 2)  # a Monday
HISTORY_WEEKS = 3
HISTORY_START = pd.Timestamp(WEEK - dt.timedelta(weeks=HISTORY_WEEKS), tz="UTC")
EVAL_START = pd.Timestamp(WEEK, tz="UTC")
EVAL_END = pd.Timestamp(WEEK + dt.timedelta(weeks=1), tz="UTC")
REAL_DATA = Path("/work/shared/data")

# userId, movieId, rating, timestamp; rows out of order on purpose. User 1's last two by
# (timestamp, movieId) are movies 12 and 11: movie 8 ties with 12 at t=900 but sorts first.
RATINGS = """userId,movieId,rating,timestamp
1,11,5.0,1000
1,3,3.0,300
1,1,4.0,100
1,12,0.5,900
1,2,3.5,200
1,8,2.5,900
1,4,2.0,400
1,5,4.5,500
1,6,1.0,600
1,7,3.0,700
2,1,4.0,1500000000
2,9,5.0,1500000100
2,10,2.0,1500000200
2,2,3.0,1400000000
2,11,4.0,1600000000
3,10,5.0,964982703
"""
MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,Jumanji (1995),Adventure|Children|Fantasy
3,Grumpier Old Men (1995),Comedy|Romance
4,Waiting to Exhale (1995),Comedy|Drama|Romance
5,Father of the Bride Part II (1995),Comedy
6,Heat (1995),Action|Crime|Thriller
7,Sabrina (1995),Comedy|Romance
8,Tom and Huck (1995),Adventure|Children
9,Sudden Death (1995),Action
10,"American President, The (1995)",Comedy|Drama|Romance
11,Pirates of the Caribbean (2003),Sci-Fi
12,Some Documentary (2010),(no genres listed)
13,Never Rated (1999),Comedy
"""
MOVIELENS_HELD_OUT = {"ml-u1": {"ml-11", "ml-12"}, "ml-u2": {"ml-11"}, "ml-u3": set()}

USER_ARTISTS = """userID\tartistID\tweight
2\t51\t13883
2\t52\t1
2\t53\t1000
2\t54\t10000000
2\t55\t3
2\t56\t40
2\t57\t7
2\t58\t250
2\t59\t12
2\t60\t600
3\t51\t5
3\t52\t6
3\t61\t7
3\t62\t8
4\t51\t100
4\t53\t101
4\t59\t102
4\t61\t103
4\t62\t104
"""
ARTISTS = """id\tname\turl\tpictureURL
51\tDuran Duran\thttp://www.last.fm/music/Duran+Duran\thttp://userserve-ak.last.fm/a.jpg
52\tMorcheeba\thttp://www.last.fm/music/Morcheeba\t
53\t"Weird Al" Yankovic\thttp://www.last.fm/music/%22Weird+Al%22+Yankovic\t
54\tNA\thttp://www.last.fm/music/NA\t
55\tAir\thttp://www.last.fm/music/Air\t
56\tHooverphonic\thttp://www.last.fm/music/Hooverphonic\t
57\tBoards of Canada\thttp://www.last.fm/music/Boards+of+Canada\t
58\tPortishead\thttp://www.last.fm/music/Portishead\t
59\tBjörk\thttp://www.last.fm/music/Bj%C3%B6rk\t
60\tMassive Attack\thttp://www.last.fm/music/Massive+Attack\t
61\tMoby\thttp://www.last.fm/music/Moby\t
62\tZero 7\thttp://www.last.fm/music/Zero+7\t
63\tNever Played\thttp://www.last.fm/music/Never+Played\t
"""
HETREC_HELD_OUT_SIZES = {"lfm-u2": 2, "lfm-u3": 0, "lfm-u4": 1}

# MusicOSet-shaped (Python reprs in tab-separated columns), for the Last.fm artists above:
# Portishead (two songs, one shared with Massive Attack), "  massive   ATTACK " (case and
# spacing differ), two Mobys (the one with songs wins over the more popular one without),
# "Weird Al" (a double-quoted genre), Air and Zero 7 (no songs), Ariana Grande (no Last.fm
# namesake).
PORTISHEAD, MASSIVE_ATTACK = "6liAMWkVf5LH7YR9yfFy1Y", "6FXMGgJwohJLUSr5nVlf9X"
MOBY, WEIRD_AL, ARIANA = (
    "3OsRAKCvk37zwYcnzRf5XF",
    "1bDWGdIC2hardyt55nlQgG",
    "66CXWjxzNUsdJxJ2JdwvnR",
)
MUSICOSET_ARTISTS = [
    ("artist_id", "name", "followers", "popularity", "artist_type", "main_genre", "genres"),
    (PORTISHEAD, "Portishead", 100, 60, "band", "trip hop", "['trip hop', 'electronica']"),
    (MASSIVE_ATTACK, "  massive   ATTACK ", 100, 65, "band", "trip hop", "['trip hop']"),
    (MOBY, "Moby", 100, 20, "singer", "downtempo", "['downtempo']"),
    ("7dtX3aoLgcnjUX3QgmPSVF", "Moby", 100, 90, "singer", "big beat", "['big beat']"),
    (
        WEIRD_AL,
        '"Weird Al" Yankovic',
        100,
        55,
        "singer",
        "comic",
        "['comic', \"children's music\"]",
    ),
    ("5ShvqbTJwJ6iK8Tzv43gQp", "Air", 100, 50, "band", "french pop", "['french pop']"),
    ("4ZtPNoU3ghBcFOjNVz8hUo", "Zero 7", 100, 40, "band", "-", "[]"),
    (ARIANA, "Ariana Grande", 100, 96, "singer", "dance pop", "['dance pop']"),
]


def _credits(*artists: tuple[str, str]) -> str:
    """songs.csv's `artists`: a Python dict string of Spotify artist id to name."""
    return "{" + ", ".join(f"'{artist_id}': '{name}'" for artist_id, name in artists) + "}"


MUSICOSET_SONGS = [
    ("song_id", "song_name", "billboard", "artists"),  # popularity, explicit, song_type unread
    ("s1", "Glory Box", "('Glory Box', 'Portishead')", _credits((PORTISHEAD, "Portishead"))),
    ("s2", "Teardrop", "('Teardrop', 'Massive Attack')", _credits((MASSIVE_ATTACK, "MA"))),
    ("s3", "Duet", "('Duet', 'P')", _credits((PORTISHEAD, "P"), (MASSIVE_ATTACK, "MA"))),
    ("s4", "Porcelain", "('Porcelain', 'Moby')", _credits((MOBY, "Moby"))),
    ("s5", "Natural Blues", "('Natural Blues', 'Moby')", _credits((MOBY, "Moby"))),
    ("s6", "Why Does It Always Rain", "('Why', 'Moby')", _credits((MOBY, "Moby"))),
    ("s7", "White & Nerdy", "('White & Nerdy', 'W')", _credits((WEIRD_AL, '"Weird Al"'))),
    ("s8", "thank u, next", "('Thank U, Next', 'A')", _credits((ARIANA, "Ariana Grande"))),
]
# Features chosen so that Portishead (s1, s3) averages to round numbers, with ties for key and
# time_signature (the smaller wins), and Moby's key 9 beats 2 two songs to one.
MUSICOSET_FEATURES = [
    ("song_id", "duration_ms", "key", "mode", "time_signature", "acousticness", "danceability")
    + ("energy", "instrumentalness", "liveness", "loudness", "speechiness", "valence", "tempo"),
    ("s1", 300000, 5, 0, 4, 0.2, 0.4, 0.3, 0.5, 0.1, -10, 0.04, 0.2, 80),
    ("s2", 300000, 7, 1, 4, 0.1, 0.8, 0.9, 0, 0.2, -4, 0.1, 0.6, 120),
    ("s3", 300000, 7, 0, 3, 0.4, 0.6, 0.5, 0.1, 0.3, -6, 0.06, 0.4, 100),
    ("s4", 200000, 2, 1, 4, 0.5, 0.5, 0.5, 0.5, 0.1, -8, 0.05, 0.3, 95),
    ("s5", 200000, 9, 1, 4, 0.5, 0.5, 0.5, 0.5, 0.1, -8, 0.05, 0.3, 95),
    ("s6", 200000, 9, 0, 4, 0.5, 0.5, 0.5, 0.5, 0.1, -8, 0.05, 0.3, 95),
    ("s7", 200000, 1, 1, 4, 0.1, 0.8, 0.8, 9.11e-06, 0.1, -5, 0.2, 0.9, 140),
    ("s8", 200000, 1, 1, 4, 0.2, 0.7, 0.6, 0, 0.1, -5, 0.1, 0.4, 107),
]
PORTISHEAD_FEATURES = {
    "danceability": 0.5,
    "energy": 0.4,
    "loudness": -8.0,
    "speechiness": 0.05,
    "acousticness": 0.3,
    "instrumentalness": 0.3,
    "liveness": 0.2,
    "valence": 0.3,
    "tempo": 90.0,
    "time_signature": 3,
    "key": 5,
    "mode": 0,
}
# Last.fm artists 53 "Weird Al", 55 Air, 58 Portishead, 60 Massive Attack, 61 Moby, 62 Zero 7
# match; 55 and 62 have no songs. Their weights in USER_ARTISTS:
MATCHED_WEIGHT = 1000 + 3 + 250 + 600 + (7 + 103) + (8 + 104) + 101
FEATURED_WEIGHT = 1000 + 250 + 600 + (7 + 103) + 101


def _config(home: Path) -> PipelineConfig:
    return PipelineConfig.load(env={"WP_HOME": str(home)})


def _source(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def movielens_dir(tmp_path) -> Path:
    return _source(tmp_path / "ml", {"ratings.csv": RATINGS, "movies.csv": MOVIES})


@pytest.fixture
def hetrec_dir(tmp_path) -> Path:
    return _source(tmp_path / "lfm", {"user_artists.dat": USER_ARTISTS, "artists.dat": ARTISTS})


@pytest.fixture
def musicoset_dir(tmp_path) -> Path:
    folder = tmp_path / "musicoset"
    files = {
        "musicoset_metadata/artists.csv": MUSICOSET_ARTISTS,
        "musicoset_metadata/songs.csv": MUSICOSET_SONGS,
        "musicoset_songfeatures/acoustic_features.csv": MUSICOSET_FEATURES,
    }
    for name, rows in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        # As distributed: tab-separated, unquoted, CRLF line endings.
        text = "".join("\t".join(map(str, row)) + "\n" for row in rows)
        (folder / name).write_text(text, encoding="utf-8", newline="\r\n")
    return folder


def _import_movielens(source: Path, home: Path, **options):
    config = _config(home)
    options.setdefault("history_weeks", HISTORY_WEEKS)
    return config, import_movielens(source, config, WEEK, **options)


def _import_hetrec(source: Path, home: Path, **options):
    config = _config(home)
    options.setdefault("history_weeks", HISTORY_WEEKS)
    return config, import_lastfm_hetrec(source, config, WEEK, **options)


def _events(config: PipelineConfig) -> pd.DataFrame:
    table = ds.dataset(config.raw_events_dir, format="parquet", partitioning="hive").to_table()
    return table.to_pandas()


def _catalog(config: PipelineConfig, name: str) -> pd.DataFrame:
    return pq.read_table(config.catalog_dir / name).to_pandas()


def _held_out(events: pd.DataFrame) -> pd.DataFrame:
    return events[events["ts"] >= EVAL_START]


def _held_out_items(events: pd.DataFrame) -> dict[str, set[str]]:
    held = _held_out(events).groupby("user_id")["track_id"].agg(set)
    return {user: held.get(user, set()) for user in events["user_id"].unique()}


# --------------------------------------------------------------------------------------------
# MovieLens
# --------------------------------------------------------------------------------------------


def test_movielens_holds_out_each_users_last_ratings(movielens_dir, tmp_path):
    config, imported = _import_movielens(movielens_dir, tmp_path / "home")
    events = _events(config)
    assert _held_out_items(events) == MOVIELENS_HELD_OUT
    assert imported.counts["events"] == len(events) == 16
    assert imported.counts["held_out_events"] == 3
    assert imported.counts["history_events"] == 13
    assert imported.counts["users"] == 3
    assert imported.eval_week == WEEK
    assert "chronological" in imported.split


def test_movielens_keeps_each_users_real_order(movielens_dir, tmp_path):
    config, _ = _import_movielens(movielens_dir, tmp_path / "home")
    events = _events(config).sort_values("ts")
    ratings = pd.read_csv(movielens_dir / "ratings.csv").sort_values(["timestamp", "movieId"])
    for user_id, played in events.groupby("user_id", sort=False)["track_id"]:
        rated = ratings[ratings["userId"] == int(user_id.removeprefix("ml-u"))]
        assert list(played) == [f"ml-{movie}" for movie in rated["movieId"]], user_id


@pytest.mark.parametrize(
    "share, expected",
    [(0.0, {"ml-u1": 0, "ml-u2": 0, "ml-u3": 0}), (0.5, {"ml-u1": 5, "ml-u2": 3, "ml-u3": 0})],
)
def test_movielens_hold_out_size_follows_the_share(movielens_dir, tmp_path, share, expected):
    config, _ = _import_movielens(movielens_dir, tmp_path / "home", holdout_share=share)
    held = _held_out_items(_events(config))
    assert {user: len(items) for user, items in held.items()} == expected


def test_event_times_fall_in_their_windows(movielens_dir, hetrec_dir, tmp_path):
    ml_config, _ = _import_movielens(movielens_dir, tmp_path / "ml_home")
    lfm_config, _ = _import_hetrec(hetrec_dir, tmp_path / "lfm_home")
    for config in (ml_config, lfm_config):
        events = _events(config)
        assert events["ts"].between(HISTORY_START, EVAL_END, inclusive="left").all()
        # Each file holds the events of its own day.
        assert (events["ts"].dt.strftime("%Y-%m-%d") == events["date"].astype(str)).all()
        days = sorted(path.name for path in config.raw_events_dir.iterdir())
        assert len(days) == 7 * (HISTORY_WEEKS + 1)
        assert days[0] == f"date={HISTORY_START.date()}" and days[-1] == "date=2025-06-08"

    ml_events = _events(ml_config)
    for user_id, held_items in MOVIELENS_HELD_OUT.items():
        mine = ml_events[ml_events["user_id"] == user_id]
        in_eval_week = mine["ts"] >= EVAL_START
        assert set(mine.loc[in_eval_week, "track_id"]) == held_items
        assert (mine.loc[~in_eval_week, "ts"] < EVAL_START).all()


@pytest.mark.parametrize(
    "rating, ms_played, skipped, reason_end",
    [
        (5.0, 200_000, False, "trackdone"),
        (3.5, 200_000, False, "trackdone"),
        (3.0, 120_000, False, "endplay"),
        (2.5, 120_000, False, "endplay"),
        (2.0, 10_000, True, "fwdbtn"),
        (0.5, 10_000, True, "fwdbtn"),
    ],
)
def test_ratings_become_plays(movielens_dir, tmp_path, rating, ms_played, skipped, reason_end):
    config, _ = _import_movielens(movielens_dir, tmp_path / "home")
    events = _events(config)
    ratings = pd.read_csv(movielens_dir / "ratings.csv")
    ratings["user_id"] = "ml-u" + ratings["userId"].astype(str)
    ratings["track_id"] = "ml-" + ratings["movieId"].astype(str)
    rated = events.merge(ratings[ratings["rating"] == rating], on=["user_id", "track_id"])
    assert len(rated) >= 1
    assert (rated["ms_played"] == ms_played).all()
    assert (rated["skipped"] == skipped).all()
    assert (rated["reason_end"] == reason_end).all()


def test_movielens_catalog(movielens_dir, tmp_path):
    config, imported = _import_movielens(movielens_dir, tmp_path / "home")
    tracks = _catalog(config, "tracks").set_index("track_id")
    artists = _catalog(config, "artists").set_index("artist_id")
    albums = _catalog(config, "albums").set_index("album_id")
    assert len(tracks) == 13 == imported.counts["tracks"]  # unrated movies too
    assert set(_events(config)["track_id"]) <= set(tracks.index)
    assert set(tracks["album_id"]) == set(albums.index)
    assert set(tracks["artist_id"]) == set(artists.index) == set(albums["artist_id"])
    assert tracks.loc["ml-10", "name"] == "American President, The (1995)"
    # A genre combination is an artist.
    assert tracks.loc["ml-3", "artist_id"] == tracks.loc["ml-7", "artist_id"]
    romcom = artists.loc["ml-genre-comedy+romance"]
    assert romcom["name"] == "Comedy / Romance" and list(romcom["genres"]) == ["Comedy", "Romance"]
    assert tracks.loc["ml-11", "artist_id"] == "ml-genre-sci-fi"
    assert tracks.loc["ml-12", "artist_id"] == "ml-genre-none"
    assert list(artists.loc["ml-genre-none", "genres"]) == []
    assert albums.loc["ml-album-comedy+romance", "total_tracks"] == 2
    assert (albums["release_date"] < WEEK - dt.timedelta(days=365)).all()
    assert (tracks["duration_ms"] == 200_000).all() and not tracks["explicit"].any()
    # Popularity from rating counts: movie 1 (two ratings) above movie 3 (one), unrated at 0.
    assert tracks.loc["ml-1", "popularity"] > tracks.loc["ml-3", "popularity"]
    assert tracks.loc["ml-13", "popularity"] == 0 and tracks["popularity"].max() == 100


# --------------------------------------------------------------------------------------------
# Last.fm HetRec 2011
# --------------------------------------------------------------------------------------------


def _held_out_pairs(config: PipelineConfig) -> dict[str, set[str]]:
    return _held_out_items(_events(config))


def test_hetrec_holds_out_a_seeded_random_share_of_each_users_artists(hetrec_dir, tmp_path):
    config, imported = _import_hetrec(hetrec_dir, tmp_path / "home")
    held = _held_out_pairs(config)
    assert {user: len(items) for user, items in held.items()} == HETREC_HELD_OUT_SIZES
    assert imported.counts["held_out_users"] == 2
    assert "seeded random" in imported.split

    events = _events(config)
    # All plays of a (user, artist) pair fall in the same window.
    in_eval_week = (events["ts"] >= EVAL_START).groupby([events["user_id"], events["track_id"]])
    assert (in_eval_week.nunique() == 1).all()

    # The same seed picks the same subset, whatever the play cap; other seeds pick others.
    _import_hetrec(hetrec_dir, tmp_path / "again", max_plays_per_pair=3)
    assert _held_out_pairs(_config(tmp_path / "again")) == held
    subsets = []
    for seed in range(5):
        other = tmp_path / f"seed{seed}"
        _import_hetrec(hetrec_dir, other, seed=seed)
        subsets.append(_held_out_pairs(_config(other))["lfm-u2"])
    assert len({frozenset(subset) for subset in subsets}) > 1


@pytest.mark.parametrize(
    "max_plays, expected",
    [
        (20, {"lfm-52": 1, "lfm-55": 2, "lfm-53": 10, "lfm-51": 14, "lfm-54": 20}),
        (5, {"lfm-52": 1, "lfm-55": 2, "lfm-53": 5, "lfm-51": 5, "lfm-54": 5}),
    ],
)
def test_hetrec_play_counts_are_log_compressed(hetrec_dir, tmp_path, max_plays, expected):
    config, _ = _import_hetrec(hetrec_dir, tmp_path / "home", max_plays_per_pair=max_plays)
    events = _events(config)
    plays = events[events["user_id"] == "lfm-u2"]["track_id"].value_counts()
    assert {track: plays[track] for track in expected} == expected
    assert (events["ms_played"] == 200_000).all()
    assert not events["skipped"].any() and (events["reason_end"] == "trackdone").all()


def test_hetrec_catalog(hetrec_dir, tmp_path):
    config, imported = _import_hetrec(hetrec_dir, tmp_path / "home")
    tracks = _catalog(config, "tracks").set_index("track_id")
    artists = _catalog(config, "artists").set_index("artist_id")
    albums = _catalog(config, "albums").set_index("album_id")
    assert len(tracks) == len(artists) == len(albums) == 13 == imported.counts["tracks"]
    assert set(_events(config)["track_id"]) <= set(tracks.index)
    assert tracks.loc["lfm-53", "artist_id"] == "lfm-artist-53"
    assert tracks.loc["lfm-53", "album_id"] == "lfm-album-53"
    assert artists.loc["lfm-artist-53", "name"] == '"Weird Al" Yankovic'
    assert artists.loc["lfm-artist-54", "name"] == "NA"
    assert artists.loc["lfm-artist-59", "name"] == "Björk"
    # Popularity from listener counts: 51 has three listeners, 60 one, 63 none.
    assert tracks.loc["lfm-51", "popularity"] > tracks.loc["lfm-60", "popularity"]
    assert tracks.loc["lfm-63", "popularity"] == 0


def test_hetrec_borrows_musicoset_features_by_name(hetrec_dir, musicoset_dir, tmp_path):
    config, imported = _import_hetrec(hetrec_dir, tmp_path / "home", features_source=musicoset_dir)
    features = _catalog(config, "audio_features").set_index("track_id")
    # Matched artists with songs only: not Air or Zero 7 (no songs), nor the unmatched.
    assert set(features.index) == {"lfm-53", "lfm-58", "lfm-60", "lfm-61"}
    assert features.loc["lfm-58"].to_dict() == pytest.approx(PORTISHEAD_FEATURES)
    assert features["key"].dtype == "int32"
    # "  massive   ATTACK ": s2 and the collaboration s3.
    assert features.loc["lfm-60", "tempo"] == pytest.approx(110.0)
    assert features.loc["lfm-60", "danceability"] == pytest.approx(0.7)
    # The Moby with three songs, not the more popular one without: key 9 twice out of three.
    assert features.loc["lfm-61", "key"] == 9 and features.loc["lfm-61", "mode"] == 1

    genres = _catalog(config, "artists").set_index("artist_id")["genres"]
    assert list(genres["lfm-artist-58"]) == ["trip hop", "electronica"]
    assert list(genres["lfm-artist-61"]) == ["downtempo"]
    assert list(genres["lfm-artist-53"]) == ["comic", "children's music"]
    assert list(genres["lfm-artist-55"]) == ["french pop"]  # matched without songs
    assert list(genres["lfm-artist-62"]) == []  # matched, MusicOSet lists no genres
    unmatched = ["lfm-artist-51", "lfm-artist-54", "lfm-artist-59", "lfm-artist-63"]
    assert genres[unmatched].isna().all()

    assert imported.counts["matched_artists"] == 6
    assert imported.counts["audio_features"] == 4
    assert imported.counts["play_weight"] == 10_016_332
    assert imported.counts["matched_play_weight"] == MATCHED_WEIGHT
    assert imported.counts["featured_play_weight"] == FEATURED_WEIGHT
    assert "6 of 13 artists matched" in imported.features
    assert "4 of them with songs" in imported.features


def test_hetrec_without_musicoset_is_unchanged(hetrec_dir, musicoset_dir, tmp_path):
    plain, imported = _import_hetrec(hetrec_dir, tmp_path / "plain")
    borrowed, _ = _import_hetrec(hetrec_dir, tmp_path / "borrowed", features_source=musicoset_dir)
    assert imported.features is None
    assert "matched_artists" not in imported.counts and imported.counts["audio_features"] == 0
    assert _catalog(plain, "artists")["genres"].isna().all()
    # Borrowing changes nothing but the genres and the audio features.
    assert _events(plain).equals(_events(borrowed))
    for name in ("tracks", "albums"):
        assert _catalog(plain, name).equals(_catalog(borrowed, name)), name
    without_genres = [
        _catalog(home, "artists").drop(columns="genres") for home in (plain, borrowed)
    ]
    assert without_genres[0].equals(without_genres[1])


def test_cli_imports_lastfm_with_musicoset(
    hetrec_dir, musicoset_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("WP_HOME", str(tmp_path / "home"))
    arguments = ["import", "lastfm", "--source", str(hetrec_dir), "--week", str(WEEK)]
    main([*arguments, "--features", str(musicoset_dir)])
    out = capsys.readouterr().out
    assert "matched_artists 6" in out and "audio_features 4" in out
    assert "features: musicoset by artist name" in out
    assert out.rstrip().endswith(f"--week {WEEK} --dataset lastfm-musicoset")
    with pytest.raises(SystemExit, match="--features is for lastfm only"):
        main(["import", "movielens", "--source", str(hetrec_dir), "--features", "x"])


# --------------------------------------------------------------------------------------------
# Both
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("adapter", ["movielens", "hetrec"])
def test_imports_are_deterministic_with_unique_event_ids(
    adapter, movielens_dir, hetrec_dir, tmp_path
):
    run, source, prefix = {
        "movielens": (_import_movielens, movielens_dir, "ml-"),
        "hetrec": (_import_hetrec, hetrec_dir, "lfm-"),
    }[adapter]
    first, _ = run(source, tmp_path / "first")
    second, _ = run(source, tmp_path / "second")
    assert _events(first).equals(_events(second))
    for name in catalog.TABLES:
        assert _catalog(first, name).equals(_catalog(second, name)), name
    events = _events(first)
    assert events["event_id"].is_unique
    assert events["event_id"].str.startswith(prefix).all()
    assert events["user_id"].str.startswith(f"{prefix}u").all()
    assert (events["event_type"] == raw_events.PLAY).all() and not events["shuffle"].any()
    assert events[["platform", "conn_country", "context"]].isna().all().all()


def test_files_have_the_spark_schemas_and_empty_side_tables(movielens_dir, tmp_path):
    config, imported = _import_movielens(movielens_dir, tmp_path / "home")
    expected = {config.catalog_dir / name: schema for name, schema in catalog.TABLES.items()}
    expected |= {config.controls_dir / name: schema for name, schema in controls.TABLES.items()}
    for folder, schema in expected.items():
        assert pq.read_schema(folder / "part-00000.parquet") == arrow_schema(schema), folder
    for path in config.raw_events_dir.glob("date=*/part-00000.parquet"):
        assert pq.read_schema(path) == arrow_schema(raw_events.SCHEMA), path
    for name in ("audio_features", *controls.TABLES):
        assert imported.counts[name] == 0, name
    assert pq.read_table(config.controls_dir / "follows").num_rows == 0


def test_an_import_replaces_earlier_raw_days(movielens_dir, hetrec_dir, tmp_path):
    home = tmp_path / "home"
    stale = _config(home).raw_events_dir / "date=2001-01-01"
    stale.mkdir(parents=True)
    pq.write_table(pa.table({"event_id": ["old"]}), stale / "part-00000.parquet")
    _import_hetrec(hetrec_dir, home)
    config, imported = _import_movielens(movielens_dir, home, history_weeks=1)
    assert not stale.exists()
    assert len(list(config.raw_events_dir.iterdir())) == 14
    assert len(_events(config)) == imported.counts["events"] == 16


@pytest.mark.parametrize(
    "options, message",
    [
        ({"eval_week": WEEK + dt.timedelta(days=1)}, "Monday"),
        ({"history_weeks": 0}, "history_weeks"),
        ({"holdout_share": 1.0}, "holdout_share"),
    ],
)
def test_bad_arguments_are_refused(movielens_dir, tmp_path, options, message):
    arguments = {"eval_week": WEEK, "history_weeks": 2, "holdout_share": 0.2} | options
    with pytest.raises(ValueError, match=message):
        import_movielens(movielens_dir, _config(tmp_path / "home"), **arguments)


def test_ratings_of_unknown_movies_are_refused(movielens_dir, tmp_path):
    (movielens_dir / "movies.csv").write_text(MOVIES.replace("11,Pirates", "99,Pirates"))
    with pytest.raises(ValueError, match="not in movies.csv"):
        _import_movielens(movielens_dir, tmp_path / "home")


@pytest.mark.spark
def test_spark_ingests_every_imported_event(spark, movielens_dir, tmp_path):
    from jobs.core.tables import read_raw_days
    from jobs.core.weeks import days_before
    from jobs.stages.ingest import parse_events

    config, imported = _import_movielens(movielens_dir, tmp_path / "home")
    tracks = spark.read.schema(catalog.TRACKS).parquet(str(config.catalog_dir / "tracks"))
    artists = spark.read.schema(catalog.ARTISTS).parquet(str(config.catalog_dir / "artists"))
    assert tracks.count() == imported.counts["tracks"]
    assert artists.count() == imported.counts["artists"]
    next_week = WEEK + dt.timedelta(weeks=1)
    days = days_before(next_week, 7 * (HISTORY_WEEKS + 1))
    raw = read_raw_days(spark, config.raw_events_dir, days)
    clean, quarantine = parse_events(raw, tracks, days[0], next_week)
    assert quarantine.count() == 0
    assert clean.count() == imported.counts["events"]
    held_out = clean.where(clean["ts"] >= EVAL_START.to_pydatetime())
    assert held_out.count() == imported.counts["held_out_events"]


# --------------------------------------------------------------------------------------------
# The real datasets (read-only; skipped where absent)
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_movielens_import(tmp_path):
    source = REAL_DATA / "movielens-latest-small"
    if not (source / "ratings.csv").exists():
        pytest.skip(f"{source} is absent")
    imported = import_movielens(source, _config(tmp_path), WEEK)
    assert imported.counts["events"] == 100_836
    assert imported.counts["users"] == imported.counts["held_out_users"] == 610
    assert imported.counts["items"] == 9_724
    # Every user has at least 20 ratings, so at least 4 are held out.
    assert imported.counts["held_out_events"] >= 4 * 610


@pytest.mark.slow
def test_real_lastfm_hetrec_import(tmp_path):
    source = REAL_DATA / "lastfm-hetrec2011"
    if not (source / "user_artists.dat").exists():
        pytest.skip(f"{source} is absent")
    imported = import_lastfm_hetrec(source, _config(tmp_path), WEEK)
    assert imported.counts["users"] == 1_892
    assert imported.counts["tracks"] == imported.counts["items"] == 17_632
    assert 92_834 <= imported.counts["events"] <= 20 * 92_834


@pytest.mark.slow
def test_real_lastfm_hetrec_import_with_musicoset_features(tmp_path):
    source, features = REAL_DATA / "lastfm-hetrec2011", REAL_DATA / "musicoset"
    if not (source / "user_artists.dat").exists() or not (features / "musicoset_metadata").exists():
        pytest.skip(f"{source} or {features} is absent")
    imported = import_lastfm_hetrec(source, _config(tmp_path), WEEK, features_source=features)
    assert imported.counts["matched_artists"] == 3_544
    assert imported.counts["audio_features"] == 1_824
    assert imported.counts["play_weight"] == 69_183_975
    assert imported.counts["matched_play_weight"] / imported.counts["play_weight"] > 0.75


TAG_NAMES = {1: "trip-hop", 2: "new wave", 3: "seen live"}
# (userID, artistID, tagID): user 2 tags most of their artists; 999 is in no artists.dat.
ASSIGNMENTS = [(2, artist, 1) for artist in range(52, 61)] + [
    (2, 51, 2),
    (3, 51, 2),
    (3, 61, 3),
    (4, 999, 1),
]


def test_lastfm_tags_become_artist_tags_without_the_held_out_pairs(
    hetrec_dir, movielens_dir, tmp_path
):
    files = {
        "tags.dat": "tagID\ttagValue\n" + "".join(f"{n}\t{v}\n" for n, v in TAG_NAMES.items()),
        "user_taggedartists.dat": "userID\tartistID\ttagID\tday\tmonth\tyear\n"
        + "".join(f"{u}\t{a}\t{t}\t1\t1\t2009\n" for u, a, t in ASSIGNMENTS),
    }
    for name, text in files.items():
        (hetrec_dir / name).write_text(text, encoding="utf-8")
    config, imported = _import_hetrec(hetrec_dir, tmp_path / "home")

    events = _events(config)
    evaluated = events.loc[events["ts"] >= pd.Timestamp(WEEK, tz="UTC")]
    held_out = set(zip(evaluated["user_id"], evaluated["track_id"]))
    tagged = pq.read_table(config.catalog_dir / "artist_tags").to_pandas()
    expected = sorted(
        (f"lfm-artist-{artist}", TAG_NAMES[tag])
        for user, artist, tag in ASSIGNMENTS
        if artist != 999 and (f"lfm-u{user}", f"lfm-{artist}") not in held_out
    )
    # The tags a listener gave an artist held out for them are leaks: left out.
    assert 0 < len(expected) < len(ASSIGNMENTS) - 1
    assert sorted(zip(tagged["artist_id"], tagged["tag"])) == expected
    assert imported.counts["artist_tags"] == len(expected)
    schema = pq.read_schema(config.catalog_dir / "artist_tags" / "part-00000.parquet")
    assert schema == arrow_schema(catalog.ARTIST_TAGS)

    # A data set without tags, imported into the same home, leaves no stale tags behind.
    import_movielens(movielens_dir, config, WEEK, history_weeks=HISTORY_WEEKS)
    assert not (config.catalog_dir / "artist_tags").exists()
