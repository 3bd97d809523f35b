"""Catalog tables: artists, albums, tracks and their audio features (one row per id)."""

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

ARTISTS = StructType(
    [
        StructField("artist_id", StringType(), nullable=False),
        StructField("name", StringType(), nullable=False),
        StructField("genres", ArrayType(StringType()), nullable=True),
        StructField("popularity", IntegerType(), nullable=True),
        StructField("followers", LongType(), nullable=True),
    ]
)

ALBUMS = StructType(
    [
        StructField("album_id", StringType(), nullable=False),
        StructField("artist_id", StringType(), nullable=False),
        StructField("name", StringType(), nullable=False),
        StructField("album_type", StringType(), nullable=True),
        StructField("release_date", DateType(), nullable=False),
        StructField("total_tracks", IntegerType(), nullable=True),
    ]
)

TRACKS = StructType(
    [
        StructField("track_id", StringType(), nullable=False),
        StructField("name", StringType(), nullable=False),
        StructField("album_id", StringType(), nullable=False),
        StructField("artist_id", StringType(), nullable=False),
        StructField("duration_ms", IntegerType(), nullable=False),
        StructField("explicit", BooleanType(), nullable=False),
        StructField("popularity", IntegerType(), nullable=True),
    ]
)

# Spotify's audio-features fields. Kept apart from `tracks` because the Web API no longer
# serves them to new apps: a catalog may have tracks without features.
AUDIO_FEATURE_COLUMNS = (
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
)
AUDIO_FEATURES = StructType(
    [StructField("track_id", StringType(), nullable=False)]
    + [StructField(name, DoubleType(), nullable=True) for name in AUDIO_FEATURE_COLUMNS]
    + [
        StructField("time_signature", IntegerType(), nullable=True),
        StructField("key", IntegerType(), nullable=True),
        StructField("mode", IntegerType(), nullable=True),
    ]
)

# User tags on artists (Last.fm's user_taggedartists.dat): one row per assignment, a vote.
# Optional: a catalog from the Spotify Web API has genres (`artists.genres`) and no tags.
ARTIST_TAGS = StructType(
    [
        StructField("artist_id", StringType(), nullable=False),
        StructField("tag", StringType(), nullable=False),
    ]
)
OPTIONAL_TABLES = {"artist_tags": ARTIST_TAGS}

TABLES = {
    "artists": ARTISTS,
    "albums": ALBUMS,
    "tracks": TRACKS,
    "audio_features": AUDIO_FEATURES,
}
# Every catalog table, the optional ones too.
ALL_TABLES = {**TABLES, **OPTIONAL_TABLES}
