"""The synthetic sample data: shape, determinism, schemas Spark can read, and listening
structure a recommender can learn from."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from jobs.core.config import PipelineConfig
from jobs.core.parquet import arrow_schema
from jobs.sources.sample.world import generate
from schemas import catalog, controls, raw_events

WEEK = dt.date(2025, 6, 2)  # a Monday
USERS, TRACKS, WEEKS = 200, 400, 2
WINDOW_START = pd.Timestamp(WEEK - dt.timedelta(weeks=WEEKS), tz="UTC")
WINDOW_END = pd.Timestamp(WEEK, tz="UTC")
PUBLISH = WINDOW_END  # platform rules are judged at 00:00 UTC of the week's Monday


def _generate(home, seed=42) -> tuple[PipelineConfig, dict[str, int]]:
    config = PipelineConfig.load(env={"WP_HOME": str(home)})
    return config, generate(config, WEEK, users=USERS, tracks=TRACKS, weeks=WEEKS, seed=seed)


def _read_events(config: PipelineConfig) -> pa.Table:
    return ds.dataset(config.raw_events_dir, format="parquet", partitioning="hive").to_table()


def _read_tables(config: PipelineConfig) -> dict[str, pa.Table]:
    tables = {"events": _read_events(config)}
    for folder, names in (
        (config.catalog_dir, catalog.TABLES),
        (config.controls_dir, controls.TABLES),
    ):
        tables.update({name: pq.read_table(folder / name) for name in names})
    return tables


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    config, counts = _generate(tmp_path_factory.mktemp("sample"))
    tables = {name: table.to_pandas() for name, table in _read_tables(config).items()}
    return config, counts, tables


def test_counts_match_the_written_rows(sample):
    _, counts, tables = sample
    assert counts["users"] == USERS
    assert counts["tracks"] == TRACKS
    for name, frame in tables.items():
        assert counts[name] == len(frame), name
    assert counts["events"] > USERS * WEEKS * 20
    assert counts["user_settings"] == USERS
    # ~2% of tracks have no audio features, as in real catalogs.
    assert 0.9 * TRACKS < counts["audio_features"] < TRACKS


def test_same_seed_same_rows_other_seed_other_rows(tmp_path):
    first, _ = _generate(tmp_path / "first")
    again, _ = _generate(tmp_path / "again")
    other, _ = _generate(tmp_path / "other", seed=7)
    first_tables, again_tables = _read_tables(first), _read_tables(again)
    for name, table in first_tables.items():
        assert table.equals(again_tables[name]), name
    other_tables = _read_tables(other)
    assert not first_tables["events"].equals(other_tables["events"])
    assert not first_tables["tracks"].equals(other_tables["tracks"])


def test_files_have_the_spark_schemas(sample):
    config, _, _ = sample
    expected = {config.catalog_dir / name: schema for name, schema in catalog.TABLES.items()}
    expected |= {config.controls_dir / name: schema for name, schema in controls.TABLES.items()}
    for folder, schema in expected.items():
        assert pq.read_schema(folder / "part-00000.parquet") == arrow_schema(schema), folder
    day_files = sorted(config.raw_events_dir.glob("date=*/part-00000.parquet"))
    assert len(day_files) == 7 * WEEKS
    for path in day_files:
        assert pq.read_schema(path) == arrow_schema(raw_events.SCHEMA), path


def test_arrow_schema_converts_spark_types():
    schema = arrow_schema(catalog.ARTISTS)
    assert schema.field("artist_id").type == pa.string()
    assert not schema.field("artist_id").nullable
    assert schema.field("genres").type.value_type == pa.string()
    assert schema.field("followers").type == pa.int64()
    assert arrow_schema(catalog.ALBUMS).field("release_date").type == pa.date32()
    assert arrow_schema(raw_events.SCHEMA).field("ts").type == pa.timestamp("us", tz="UTC")


def test_events_lie_inside_the_window_in_their_day_folder(sample):
    _, _, tables = sample
    events = tables["events"]
    assert events["ts"].min() >= WINDOW_START
    assert events["ts"].max() < WINDOW_END
    folder_day = pd.to_datetime(events["date"].astype(str)).dt.date
    assert (events["ts"].dt.date == folder_day).all()
    assert events["event_id"].is_unique
    assert set(events["event_type"]) <= set(raw_events.EVENT_TYPES)
    assert set(events["reason_start"].dropna()) <= set(raw_events.REASONS_START)
    assert set(events["reason_end"].dropna()) <= set(raw_events.REASONS_END)
    assert set(events["platform"].dropna()) <= set(raw_events.PLATFORMS)


def test_timestamps_are_microseconds_in_utc(sample):
    config, _, _ = sample
    path = next(config.raw_events_dir.glob("date=*/part-00000.parquet"))
    ts_type = pq.read_schema(path).field("ts").type
    assert ts_type == pa.timestamp("us", tz="UTC")
    logical = json.loads(pq.ParquetFile(path).schema.column(1).logical_type.to_json())
    assert logical["timeUnit"] == "microseconds" and logical["isAdjustedToUTC"]


def test_ids_refer_to_existing_rows(sample):
    _, _, tables = sample
    tracks, artists, albums = tables["tracks"], tables["artists"], tables["albums"]
    assert tracks["track_id"].is_unique and artists["artist_id"].is_unique
    assert (tracks["track_id"].str.len() == 22).all()
    assert tables["events"]["track_id"].isin(tracks["track_id"]).all()
    assert tables["events"]["user_id"].isin(tables["user_settings"]["user_id"]).all()
    assert tracks["album_id"].isin(albums["album_id"]).all()
    assert albums["artist_id"].isin(artists["artist_id"]).all()
    assert tables["audio_features"]["track_id"].isin(tracks["track_id"]).all()
    assert tables["follows"]["artist_id"].isin(artists["artist_id"]).all()
    hides = tables["user_hides"]
    hidden_tracks = hides[hides["item_type"] == controls.TRACK]["item_id"]
    hidden_artists = hides[hides["item_type"] == controls.ARTIST]["item_id"]
    assert hidden_tracks.isin(tracks["track_id"]).all()
    assert hidden_artists.isin(artists["artist_id"]).all()
    total_tracks = albums.set_index("album_id")["total_tracks"]
    assert (total_tracks == tracks.groupby("album_id").size().reindex(total_tracks.index)).all()


def test_catalog_values_are_in_spotify_ranges(sample):
    _, _, tables = sample
    features = tables["audio_features"]
    for column in (
        "danceability",
        "energy",
        "speechiness",
        "acousticness",
        "instrumentalness",
        "liveness",
        "valence",
    ):
        assert features[column].between(0, 1).all(), column
    assert features["loudness"].between(-60, 0).all()
    assert features["tempo"].between(50, 210).all()
    assert features["time_signature"].between(3, 5).all()
    assert features["key"].between(0, 11).all()
    assert set(features["mode"]) <= {0, 1}
    tracks = tables["tracks"]
    assert tracks["duration_ms"].between(30_000, 900_000).all()
    assert tracks["popularity"].between(0, 100).all()
    assert tables["artists"]["genres"].map(len).between(1, 3).all()


def test_genres_shape_the_audio_features(sample):
    _, _, tables = sample
    genre = tables["artists"].set_index("artist_id")["genres"].str[0]
    features = tables["audio_features"].merge(tables["tracks"], on="track_id")
    by_genre = (
        features.assign(genre=features["artist_id"].map(genre))
        .groupby("genre")
        .mean(numeric_only=True)
    )
    assert by_genre.loc["classical", "acousticness"] > by_genre.loc["metal", "acousticness"]
    assert by_genre.loc["metal", "energy"] > by_genre.loc["classical", "energy"]
    assert by_genre.loc["hip-hop", "speechiness"] > by_genre.loc["rock", "speechiness"]


def test_new_releases_come_from_artists_with_listeners(sample):
    _, _, tables = sample
    albums, events = tables["albums"], tables["events"]
    released = pd.to_datetime(albums["release_date"])
    last_week = albums[released >= pd.Timestamp(WEEK - dt.timedelta(days=7))]
    assert len(last_week) >= 0.02 * len(albums)
    assert (released < pd.Timestamp(WEEK)).all()
    earlier = events[events["ts"] < WINDOW_END - pd.Timedelta(days=7)]
    artist_of = tables["tracks"].set_index("track_id")["artist_id"]
    listened_artists = set(earlier["track_id"].map(artist_of))
    assert set(last_week["artist_id"]) <= listened_artists | set(tables["follows"]["artist_id"])
    # Nobody plays a track before its album is out.
    release_of = (
        tables["tracks"]
        .set_index("track_id")["album_id"]
        .map(albums.set_index("album_id")["release_date"])
    )
    event_day = events["ts"].dt.date
    assert (event_day >= events["track_id"].map(release_of)).all()


def test_skips_are_mostly_short_and_reactions_have_no_play_time(sample):
    _, _, tables = sample
    events = tables["events"]
    plays = events[events["event_type"] == raw_events.PLAY]
    skips = plays[plays["skipped"]]
    assert 0.1 < len(skips) / len(plays) < 0.4
    assert (skips["ms_played"] < 30_000).mean() > 0.75
    assert (skips["reason_end"].isin(["fwdbtn", "backbtn"])).all()
    done = plays[plays["reason_end"] == "trackdone"]
    duration = done["track_id"].map(tables["tracks"].set_index("track_id")["duration_ms"])
    assert ((duration - done["ms_played"]).between(0, 1_500)).all()
    reactions = events[events["event_type"] != raw_events.PLAY]
    assert len(reactions) > 0 and (reactions["ms_played"] == 0).all()
    assert (plays["event_type"] == raw_events.PLAY).mean() > 0.9


def test_controls_are_consistent_with_events(sample):
    _, _, tables = sample
    settings, follows, hides = tables["user_settings"], tables["follows"], tables["user_hides"]
    assert settings["user_id"].is_unique
    assert 0.02 < settings["explicit_filter"].mean() < 0.25
    assert 0.05 < settings["preferred_genres"].notna().mean() < 0.4
    assert follows["followed_at"].max() < WINDOW_END
    assert not follows.duplicated(["user_id", "artist_id"]).any()
    assert hides["created_at"].between(WINDOW_START, WINDOW_END, inclusive="left").all()
    assert set(hides["kind"]) <= {controls.HIDE, controls.DONT_SUGGEST}
    events = tables["events"]
    hide_events = events[events["event_type"].isin([raw_events.HIDE, raw_events.DONT_SUGGEST])]
    assert len(hides) == len(hide_events) > 0
    assert set(zip(hides["user_id"], hides["created_at"])) == set(
        zip(hide_events["user_id"], hide_events["ts"])
    )


def test_only_some_dont_suggest_are_withdrawn_inside_the_window(sample):
    _, _, tables = sample
    hides = tables["user_hides"]
    assert hides[hides["kind"] == controls.HIDE]["withdrawn_at"].isna().all()
    dont_suggest = hides[hides["kind"] == controls.DONT_SUGGEST]
    withdrawn = dont_suggest[dont_suggest["withdrawn_at"].notna()]
    assert 0 < len(withdrawn) < 0.5 * len(dont_suggest)
    assert (withdrawn["withdrawn_at"] > withdrawn["created_at"]).all()
    assert (withdrawn["withdrawn_at"] < WINDOW_END).all()


def _in_force(starts: pd.Series, ends: pd.Series) -> pd.Series:
    """In force at the publish moment: started, and open-ended or ending later (exclusive)."""
    return (starts <= PUBLISH) & (ends.isna() | (ends > PUBLISH))


def test_platform_rules_cover_every_state_at_the_publish_moment(sample):
    _, _, tables = sample
    rules, tracks = tables["platform_rules"], tables["tracks"]
    assert not rules.duplicated(["item_type", "item_id"]).any()
    on_track = rules["item_type"] == controls.TRACK
    assert on_track.any() and (rules["item_type"] == controls.ARTIST).any()
    assert rules[on_track]["item_id"].isin(tracks["track_id"]).all()
    assert rules[~on_track]["item_id"].isin(tables["artists"]["artist_id"]).all()
    assert set(rules[on_track]["reason"]) <= {"rights_expired", "legal_takedown"}
    assert set(rules[~on_track]["reason"]) == {"policy"}
    ends = rules["valid_until"]
    assert (ends.isna() | (ends > rules["valid_from"])).all()

    in_force = _in_force(rules["valid_from"], ends)
    assert (in_force & ends.isna()).any() and (in_force & ends.notna()).any()
    assert (ends <= PUBLISH).any()  # lifted already
    assert (rules["valid_from"] > PUBLISH).any()  # not yet in force

    # Blocks hit tracks people play, so that they change playlists.
    events = tables["events"]
    plays = events[events["event_type"] == raw_events.PLAY]["track_id"].value_counts()
    plays = plays.reindex(tracks["track_id"], fill_value=0)
    assert plays[rules[on_track]["item_id"]].median() > plays.median()
    assert plays[rules[on_track & in_force]["item_id"]].sum() > 0


def test_discovery_mode_campaigns_promote_catalog_tracks_around_the_publish_moment(sample):
    _, _, tables = sample
    campaigns, tracks = tables["discovery_mode"], tables["tracks"]
    assert campaigns["campaign_id"].str.fullmatch(r"dm-\d{4}").all()
    assert not campaigns.duplicated(["campaign_id", "track_id"]).any()
    assert campaigns["track_id"].isin(tracks["track_id"]).all()
    assert ((campaigns["boost"] > 0) & (campaigns["boost"] <= 1)).all()
    assert (campaigns["starts_at"] < campaigns["ends_at"]).all()

    # Each campaign: one artist, 1-5 of their tracks, one boost and one period.
    artist_of = tracks.set_index("track_id")["artist_id"]
    by_campaign = campaigns.assign(artist_id=campaigns["track_id"].map(artist_of)).groupby(
        "campaign_id"
    )
    assert (by_campaign[["artist_id", "boost", "starts_at", "ends_at"]].nunique() == 1).all().all()
    assert by_campaign.size().between(1, 5).all()
    # Only tracks out 30 days before the campaign starts, as Spotify requires.
    release = pd.to_datetime(
        tracks.set_index("track_id")["album_id"].map(
            tables["albums"].set_index("album_id")["release_date"]
        )
    ).dt.tz_localize("UTC")
    released = campaigns["track_id"].map(release)
    assert (released <= campaigns["starts_at"] - pd.Timedelta(days=30)).all()

    periods = by_campaign[["starts_at", "ends_at"]].first()
    running = _in_force(periods["starts_at"], periods["ends_at"])
    assert len(periods) >= 3
    assert running.sum() >= len(periods) - 2
    assert (periods["ends_at"] <= PUBLISH).any() and (periods["starts_at"] > PUBLISH).any()

    # No campaign promotes music the platform blocks, in force or not.
    rules = tables["platform_rules"]
    ruled = set(rules["item_id"])
    assert not (set(campaigns["track_id"]) | set(campaigns["track_id"].map(artist_of))) & ruled


def test_plays_concentrate_on_each_listeners_genres(sample):
    _, _, tables = sample
    main_genre = tables["artists"].set_index("artist_id")["genres"].str[0]
    track_genre = tables["tracks"].set_index("track_id")["artist_id"].map(main_genre)
    events = tables["events"]
    plays = events[events["event_type"] == raw_events.PLAY]
    per_genre = (
        plays.groupby(["user_id", plays["track_id"].map(track_genre)]).size().unstack(fill_value=0)
    )
    top_share = per_genre.max(axis=1) / per_genre.sum(axis=1)
    largest_catalog_share = track_genre.value_counts(normalize=True).max()
    assert top_share.mean() > 0.5
    assert top_share.mean() > 2.5 * largest_catalog_share


def test_last_weeks_discoveries_follow_earlier_taste(sample):
    """Tracks a listener plays for the first time in the last week mostly come from the genre
    they played most before, far above that genre's share of the catalog."""
    _, _, tables = sample
    main_genre = tables["artists"].set_index("artist_id")["genres"].str[0]
    track_genre = tables["tracks"].set_index("track_id")["artist_id"].map(main_genre)
    events = tables["events"]
    plays = events[(events["event_type"] == raw_events.PLAY) & ~events["skipped"]]
    cutoff = WINDOW_END - pd.Timedelta(days=7)
    before, last = plays[plays["ts"] < cutoff], plays[plays["ts"] >= cutoff]
    seen = set(zip(before["user_id"], before["track_id"]))
    fresh = last[[pair not in seen for pair in zip(last["user_id"], last["track_id"])]]
    top_genre = before.groupby("user_id")["track_id"].agg(lambda t: t.map(track_genre).mode()[0])
    fresh = fresh[fresh["user_id"].isin(top_genre.index)]
    in_top = fresh["track_id"].map(track_genre) == fresh["user_id"].map(top_genre)
    catalog_share = track_genre.value_counts(normalize=True)
    expected_by_chance = fresh["user_id"].map(top_genre).map(catalog_share).mean()
    assert len(fresh) > 500
    assert in_top.mean() > 0.4
    assert in_top.mean() > 3 * expected_by_chance


def test_rerun_replaces_only_its_own_day_folders(tmp_path):
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    inside = config.raw_events_dir / f"date={WEEK - dt.timedelta(days=3)}"
    outside = config.raw_events_dir / f"date={WEEK - dt.timedelta(days=30)}"
    for folder in (inside, outside):
        folder.mkdir(parents=True)
        (folder / "part-99999.parquet").write_bytes(b"stale")
    generate(config, WEEK, users=20, tracks=60, weeks=1)
    assert [p.name for p in inside.iterdir()] == ["part-00000.parquet"]
    assert (outside / "part-99999.parquet").exists()
    counts = generate(config, WEEK, users=20, tracks=60, weeks=1)
    day_files = sorted(config.raw_events_dir.glob("date=*/part-00000.parquet"))
    assert sum(pq.read_metadata(path).num_rows for path in day_files) == counts["events"]


def test_tiny_sizes_still_make_a_consistent_dataset(tmp_path):
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    counts = generate(config, WEEK, users=1, tracks=1, weeks=1)
    assert counts["tracks"] == counts["artists"] == counts["albums"] == 1
    events = _read_events(config)
    assert events.num_rows == counts["events"] > 0
    assert set(events.column("track_id").to_pylist()) <= set(
        pq.read_table(config.catalog_dir / "tracks").column("track_id").to_pylist()
    )


@pytest.mark.parametrize(
    "week, users, tracks, weeks, message",
    [
        (dt.date(2025, 6, 3), 10, 10, 1, "Monday"),
        (WEEK, 0, 10, 1, "users"),
        (WEEK, 10, 0, 1, "tracks"),
        (WEEK, 10, 10, 0, "weeks"),
    ],
)
def test_bad_arguments_raise(tmp_path, week, users, tracks, weeks, message):
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    with pytest.raises(ValueError, match=message):
        generate(config, week, users=users, tracks=tracks, weeks=weeks)
    assert not config.raw_events_dir.exists()


@pytest.mark.spark
def test_spark_reads_the_files_with_the_pipeline_schemas(spark, tmp_path):
    config, counts = _generate(tmp_path)
    events = spark.read.schema(raw_events.SCHEMA).parquet(str(config.raw_events_dir))
    assert events.count() == counts["events"]
    assert set(events.columns) == set(raw_events.SCHEMA.fieldNames()) | {"date"}
    bounds = events.selectExpr("unix_micros(min(ts)) AS first", "unix_micros(max(ts)) AS last")
    first, last = bounds.first()
    assert WINDOW_START.value // 1000 <= first <= last < WINDOW_END.value // 1000
    for folder, tables in (
        (config.catalog_dir, catalog.TABLES),
        (config.controls_dir, controls.TABLES),
    ):
        for name, schema in tables.items():
            frame = spark.read.schema(schema).parquet(str(folder / name))
            assert frame.count() == counts[name], name
            # Spark reads every file column as nullable; names and types must match.
            assert [(f.name, f.dataType) for f in frame.schema] == [
                (f.name, f.dataType) for f in schema
            ], name
