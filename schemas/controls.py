"""Listener controls: who follows whom, listener settings and what they hid."""

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

FOLLOWS = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("artist_id", StringType(), nullable=False),
        StructField("followed_at", TimestampType(), nullable=False),
    ]
)

USER_SETTINGS = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("explicit_filter", BooleanType(), nullable=False),
        StructField("preferred_genres", ArrayType(StringType()), nullable=True),
    ]
)

HIDE = "hide"
DONT_SUGGEST = "dont_suggest"
TRACK = "track"
ARTIST = "artist"
USER_HIDES = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("item_type", StringType(), nullable=False),  # track | artist
        StructField("item_id", StringType(), nullable=False),
        StructField("kind", StringType(), nullable=False),  # hide | dont_suggest
        StructField("created_at", TimestampType(), nullable=False),
    ]
)

# Contexts (playlist/album/radio ids, as in the events' `context`) whose plays must not
# shape the listener's taste profile - a sleep playlist, the children's playlist.
TASTE_PROFILE_EXCLUSIONS = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("context", StringType(), nullable=False),
        StructField("created_at", TimestampType(), nullable=False),
    ]
)

TABLES = {
    "follows": FOLLOWS,
    "taste_profile_exclusions": TASTE_PROFILE_EXCLUSIONS,
    "user_settings": USER_SETTINGS,
    "user_hides": USER_HIDES,
}
