"""Listener controls (who follows whom, listener settings, what they hid, what must not shape
their taste) and platform rules (policy blocks, sponsored Discovery Mode campaigns).

Every rule is evaluated at the moment a week is published: 00:00 UTC of its Monday.
"""

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
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
        # When the listener took it back; null while it stands.
        StructField("withdrawn_at", TimestampType(), nullable=True),
    ]
)
# A `hide` postpones an item for `hide_days` (config, 30); a `dont_suggest` lasts until withdrawn.

# Contexts (playlist/album/radio ids, as in the events' `context`) whose plays must not
# shape the listener's taste profile - a sleep playlist, the children's playlist.
TASTE_PROFILE_EXCLUSIONS = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("context", StringType(), nullable=False),
        StructField("created_at", TimestampType(), nullable=False),
    ]
)

# Tracks or artists the platform must not recommend (rights, legal, policy) while in force.
PLATFORM_RULES = StructType(
    [
        StructField("item_type", StringType(), nullable=False),  # track | artist
        StructField("item_id", StringType(), nullable=False),
        StructField("reason", StringType(), nullable=False),
        StructField("valid_from", TimestampType(), nullable=False),
        StructField("valid_until", TimestampType(), nullable=True),  # exclusive; null: open
    ]
)

# Sponsored "Discovery Mode": while a campaign runs, its track's score in algorithmic
# playlists is multiplied by (1 + boost) - until the listener skips the track.
DISCOVERY_MODE = StructType(
    [
        StructField("campaign_id", StringType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("boost", DoubleType(), nullable=False),
        StructField("starts_at", TimestampType(), nullable=False),
        StructField("ends_at", TimestampType(), nullable=False),  # exclusive
    ]
)

TABLES = {
    "follows": FOLLOWS,
    "taste_profile_exclusions": TASTE_PROFILE_EXCLUSIONS,
    "user_settings": USER_SETTINGS,
    "user_hides": USER_HIDES,
    "platform_rules": PLATFORM_RULES,
    "discovery_mode": DISCOVERY_MODE,
}
