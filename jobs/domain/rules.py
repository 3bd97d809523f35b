"""The rules every playlist obeys - listener controls, platform policy, sponsored Discovery
Mode - applied to every candidate of every playlist, and the per-row annotation that proves
a week's playlists obey them before they are published.

Rules are evaluated at the publish moment, 00:00 UTC of the week's Monday. The playlists'
numpy passes (jobs/domain/discover.py, jobs/domain/release_radar.py) drop what the rules forbid and
apply the boosts; validation (`annotate`, here in Spark, written apart from them) flags
every published row against every rule, so a pass that gets a rule wrong stops the week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig, PlaylistConfig
from jobs.core.tables import read_control, read_table
from jobs.core.weeks import release_window, week_start
from jobs.domain.history import played_tracks
from schemas import controls as schema
from schemas import events, playlists
from schemas.raw_events import PLAY


@dataclass(frozen=True)
class Controls:
    """What the rules need to know for one week, each frame reduced to the rows in force."""

    explicit_filtered: DataFrame  # (user_id): listeners with the explicit filter on
    preferred_genres: DataFrame  # (user_id, preferred_genres): listeners who set some
    hides: DataFrame  # (user_id, item_type, item_id)
    blocks: DataFrame  # (item_type, item_id)
    campaigns: DataFrame  # (track_id, campaign_id, boost): the strongest campaign per track
    skipped: DataFrame  # (user_id, track_id): plays the listener skipped before the week
    # (user_id, track_id) played before the week, excluded contexts included: a track heard
    # only on the children's playlist shapes no taste, and is still no discovery.
    played: DataFrame

    @classmethod
    def at(
        cls,
        week: date,
        settings: DataFrame,
        user_hides: DataFrame,
        platform_rules: DataFrame,
        discovery_mode: DataFrame,
        events: DataFrame,
        hide_days: int,
    ) -> "Controls":
        return cls(
            explicit_filtered=settings.where(F.col("explicit_filter")).select("user_id").distinct(),
            preferred_genres=settings.where(F.size("preferred_genres") > 0).select(
                "user_id", "preferred_genres"
            ),
            hides=hides_in_force(user_hides, week, hide_days),
            blocks=blocks_in_force(platform_rules, week),
            campaigns=campaigns_in_force(discovery_mode, week),
            skipped=skipped_tracks(events, week),
            played=played_tracks(events, week),
        )


def read_controls(spark: SparkSession, config: PipelineConfig, week: date) -> Controls:
    """The week's `Controls` from the controls tables and the clean `events`."""
    return Controls.at(
        week,
        *(
            read_control(spark, config, name)
            for name in ("user_settings", "user_hides", "platform_rules", "discovery_mode")
        ),
        read_table(spark, config, "events", events.EVENTS),
        config.playlists.hide_days,
    )


def _moment(week: date) -> Column:
    return F.lit(week_start(week))


def hides_in_force(user_hides: DataFrame, week: date, hide_days: int) -> DataFrame:
    """(user_id, item_type, item_id) hidden at the week: a `hide` for `hide_days` after it
    was made (the "postpone"), a `dont_suggest` until withdrawn."""
    now = _moment(week)
    postponed_until = F.col("created_at") + F.make_dt_interval(F.lit(hide_days))
    return (
        user_hides.where(
            (F.col("created_at") < now)
            & (F.col("withdrawn_at").isNull() | (F.col("withdrawn_at") > now))
            & ((F.col("kind") == schema.DONT_SUGGEST) | (postponed_until > now))
        )
        .select("user_id", "item_type", "item_id")
        .distinct()
    )


def blocks_in_force(platform_rules: DataFrame, week: date) -> DataFrame:
    """(item_type, item_id) blocked by a platform rule valid at the week."""
    now = _moment(week)
    return (
        platform_rules.where(
            (F.col("valid_from") <= now)
            & (F.col("valid_until").isNull() | (F.col("valid_until") > now))
        )
        .select("item_type", "item_id")
        .distinct()
    )


def campaigns_in_force(discovery_mode: DataFrame, week: date) -> DataFrame:
    """(track_id, campaign_id, boost) of campaigns running at the week; a track in several
    gets the largest boost (ties: the campaign id that sorts first)."""
    now = _moment(week)
    ranked = Window.partitionBy("track_id").orderBy(F.desc("boost"), F.asc("campaign_id"))
    return (
        discovery_mode.where((F.col("starts_at") <= now) & (F.col("ends_at") > now))
        .withColumn("_n", F.row_number().over(ranked))
        .where(F.col("_n") == 1)
        .select("track_id", "campaign_id", "boost")
    )


def skipped_tracks(events: DataFrame, week: date) -> DataFrame:
    """(user_id, track_id) the listener skipped at least once before the week."""
    return (
        events.where(
            (F.col("event_type") == PLAY) & F.col("skipped") & (F.col("date") < F.lit(week))
        )
        .select("user_id", "track_id")
        .distinct()
    )


def _flag(frame: DataFrame, keys: list[str], flag: str) -> DataFrame:
    return frame.select(*keys).distinct().withColumn(flag, F.lit(True))


def _with_control_flags(rows: DataFrame, controls: Controls) -> DataFrame:
    """`rows` (user_id, track_id, artist_id, explicit, ...) plus boolean columns
    `_explicit_filtered`, `_hidden` and `_blocked`: the rules no playlist row may break."""

    def of_type(frame: DataFrame, item_type: str, key: str) -> DataFrame:
        return frame.where(F.col("item_type") == item_type).withColumnRenamed("item_id", key)

    hides, blocks = controls.hides, controls.blocks
    joined = (
        rows.join(_flag(controls.explicit_filtered, ["user_id"], "_filter_on"), "user_id", "left")
        .join(
            _flag(of_type(hides, schema.TRACK, "track_id"), ["user_id", "track_id"], "_hid_t"),
            ["user_id", "track_id"],
            "left",
        )
        .join(
            _flag(of_type(hides, schema.ARTIST, "artist_id"), ["user_id", "artist_id"], "_hid_a"),
            ["user_id", "artist_id"],
            "left",
        )
        .join(
            _flag(of_type(blocks, schema.TRACK, "track_id"), ["track_id"], "_blk_t"),
            "track_id",
            "left",
        )
        .join(
            _flag(of_type(blocks, schema.ARTIST, "artist_id"), ["artist_id"], "_blk_a"),
            "artist_id",
            "left",
        )
    )

    def set_(column: str) -> Column:
        return F.coalesce(F.col(column), F.lit(False))

    return joined.withColumns(
        {
            "_explicit_filtered": F.col("explicit") & set_("_filter_on"),
            "_hidden": set_("_hid_t") | set_("_hid_a"),
            "_blocked": set_("_blk_t") | set_("_blk_a"),
        }
    ).drop("_filter_on", "_hid_t", "_hid_a", "_blk_t", "_blk_a")


def annotate(
    rows: DataFrame,
    tracks: DataFrame,
    albums: DataFrame,
    controls: Controls,
    week: date,
    config: PlaylistConfig,
) -> DataFrame:
    """The week's playlist rows plus one `violates_<rule>` column per rule in
    `schemas.playlists.RULES`: null where the row obeys it, else what it breaks."""
    first, last = release_window(week, config.release_radar_days, config.release_radar_weekday)
    playlist = Window.partitionBy("user_id", "playlist_type")
    discover = F.col("playlist_type") == playlists.DISCOVER_WEEKLY
    radar = F.col("playlist_type") == playlists.RELEASE_RADAR
    released = tracks.select("track_id", "album_id", "explicit").join(
        albums.select("album_id", "release_date"), "album_id", "left"
    )
    pair = ["user_id", "track_id"]

    def listed(history: DataFrame) -> DataFrame:
        # Only the listed pairs matter: Spark filters the events by them before it makes
        # them distinct (10M bench: the annotation 35-45 s -> 18-20 s).
        return history.join(rows.select(pair), pair, "left_semi")

    described = (
        rows.drop("album_id")
        .join(released, "track_id", "left")
        .join(_flag(listed(controls.played), pair, "_played"), pair, "left")
        .join(_flag(listed(controls.skipped), pair, "_skipped"), pair, "left")
        .join(
            controls.campaigns.select("track_id", F.col("campaign_id").alias("_campaign_in_force")),
            "track_id",
            "left",
        )
        .withColumns(
            {
                "_per_artist": F.count("*").over(
                    Window.partitionBy("user_id", "playlist_type", "artist_id")
                ),
                "_per_album": F.count("*").over(
                    Window.partitionBy("user_id", "playlist_type", "album_id")
                ),
                "_length": F.count("*").over(playlist),
                "_boosted": F.count(F.when(F.col("boosted"), 1)).over(playlist),
            }
        )
    )
    flagged = _with_control_flags(described, controls)
    where = F.format_string(
        "%s of %s, position %d, track %s", "playlist_type", "user_id", "position", "track_id"
    )

    def violation(condition: Column, what: str | Column) -> Column:
        what = F.lit(what) if isinstance(what, str) else what
        return F.when(F.coalesce(condition, F.lit(False)), F.concat(where, F.lit(": "), what))

    checks = {
        "explicit_filter": violation(F.col("_explicit_filtered"), "explicit, filter on"),
        "hidden": violation(F.col("_hidden"), "hidden by the listener"),
        "blocked": violation(F.col("_blocked"), "blocked by a platform rule"),
        "already_played": violation(discover & F.col("_played"), "already played"),
        "artist_cap": violation(
            discover & (F.col("_per_artist") > config.max_tracks_per_artist),
            F.format_string(
                f"artist %s listed more than {config.max_tracks_per_artist} times", "artist_id"
            ),
        ),
        "release_cap": violation(radar & (F.col("_per_album") > 1), "release listed twice"),
        "positions": violation(F.col("position") > F.col("_length"), "gap in positions"),
        "release_window": violation(
            radar
            & (
                F.col("release_date").isNull()
                | (F.col("release_date") < F.lit(first))
                | (F.col("release_date") > F.lit(last))
            ),
            f"not released in {first}..{last}",
        ),
        "boost_cap": violation(
            F.col("boosted") & (F.col("_boosted") > config.max_boosted_per_playlist),
            f"more than {config.max_boosted_per_playlist} boosted tracks",
        ),
        "boost_campaign": violation(
            F.col("boosted")
            & (
                F.col("_campaign_in_force").isNull()
                | (F.col("_campaign_in_force") != F.col("campaign_id"))
            ),
            "boosted without a campaign in force",
        ),
        "boost_after_skip": violation(
            F.col("boosted") & F.col("_skipped"), "boosted after the listener skipped it"
        ),
    }
    missing = set(playlists.RULES) ^ set(checks)
    if missing:
        raise AssertionError(f"rules without a check (or checks without a rule): {missing}")
    return flagged.withColumns({f"violates_{rule}": check for rule, check in checks.items()})
