"""The one typed configuration of the pipeline.

Built once per process from an optional TOML file (`--config` or `WP_CONFIG`) and the
environment; transforms receive it as an argument and never read files or env vars.
Every location derives from one working folder, `WP_HOME` (default: `./var`), unless the
file or a `WP_*_DIR` variable points it elsewhere (shared storage on a real cluster).
"""

from __future__ import annotations

import calendar
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping


@dataclass(frozen=True)
class AlsConfig:
    """Implicit-feedback ALS hyper-parameters, shared by both backends."""

    backend: str = "implicit"  # implicit (driver, CG) | spark (MLlib, executors)
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 2.0
    iterations: int = 15
    seed: int = 42
    num_threads: int = 0  # 0: all cores the process has


@dataclass(frozen=True)
class InteractionsConfig:
    """How events become confidence values (see docs/design.md, "Confidence")."""

    lookback_weeks: int = 8
    half_life_days: float = 21.0
    skip_ms: int = 30_000
    skip_penalty: float = 1.0
    save_weight: float = 3.0
    playlist_add_weight: float = 3.0


def _default_source_weights() -> dict[str, float]:
    # Keys are the candidate `source` values (schemas/candidates.py). A mature listener's.
    # `content` earns nothing here: NDCG@30 of next-week discoveries (bench data, 1M
    # events) fell monotonically with its weight, 0.0625 at 0 to 0.0497 at 0.3
    # (docs/performance-history.md, "Source weights"); it serves new listeners, and the
    # exploration slots carry audio discovery for everyone. `tags` is blended at 0 until
    # measured the same way (its offline recall: docs/tags-evaluation.md).
    return {
        "als": 1.0,
        "listeners_like_you": 0.1,
        "popularity": 0.2,
        "content": 0.0,
        "tags": 0.0,
        "item_item": 1.0,
    }


def _default_new_listener_weights() -> dict[str, float]:
    # A listener with no plays yet: what is popular and what sounds like their first plays.
    return {
        "als": 0.2,
        "listeners_like_you": 0.0,
        "popularity": 1.0,
        "content": 1.0,
        "tags": 0.0,
        "item_item": 0.5,
    }


@dataclass(frozen=True)
class PlaylistConfig:
    """Candidate sources and playlist assembly (see jobs/domain/source_models.py and
    jobs/stages/playlists.py)."""

    length: int = 30
    # Each source's top K per listener. 100, not 300: on the 1M bench week NDCG@30 0.0875
    # against 0.0868, and a third of the lists to rank (docs/ranking.md).
    candidates_per_user: int = 100
    # A hard cap; `[ranking] artist_penalty` spreads the picks below it. 4 with a penalty,
    # not a cap of 2: +9% NDCG@30 at more artists per track (docs/ranking.md).
    max_tracks_per_artist: int = 4
    release_radar_days: int = 7
    scoring_batch_rows: int = 2048
    neighbours: int = 50  # "listeners like you": nearest users by cosine over ALS factors
    cold_start_plays: int = 5  # fewer plays in the look-back window: popularity candidates
    # The item-item source (jobs/domain/neighbours.py): "auto" is EASE up to `ease_max_tracks`
    # played tracks (its dense inverse grows as tracks^2 in memory, tracks^3 in time),
    # RP3beta past that; "ease" or "rp3beta" force one. Top `item_item_neighbours` per track.
    item_item_method: str = "auto"
    item_item_neighbours: int = 200
    ease_max_tracks: int = 20_000
    # Weight of each candidate source in Discover Weekly's blend; a source without a
    # weight (or weight 0) is left out.
    source_weights: dict[str, float] = field(default_factory=_default_source_weights)
    # Listener controls and platform rules (see docs/design.md, "Rules every playlist obeys").
    hide_days: int = 30  # a "hide" postpones a track this long; "dont_suggest" until withdrawn
    preferred_genre_boost: float = 0.5  # score x (1 + this) for a listener's preferred genres
    max_boosted_per_playlist: int = 2  # Discovery Mode slots at most per playlist
    # Release Radar covers the `release_radar_days` days up to and including the last
    # `release_radar_weekday` before the week: "sunday" (default) is the week just ended;
    # "friday" is Spotify's own cut, the week of releases that came out by Friday.
    release_radar_weekday: str = "sunday"
    similar_artists: int = 20  # per newly released artist, by ALS factors pooled per artist
    # Exploration (see docs/design.md, "Beyond the comfort zone"). Weights move from
    # `new_listener_weights` to `source_weights` as a listener's plays in the look-back
    # window grow to `mature_plays`.
    new_listener_weights: dict[str, float] = field(default_factory=_default_new_listener_weights)
    mature_plays: int = 50
    content_moods: int = 3  # content candidates come from the listener's top moods
    min_mood_share: float = 0.1  # a cluster is one of the listener's moods from this share
    exploration_clusters: int = 2  # nearby clusters, not yet the listener's, explored
    exploration_share: float = 0.2  # of Discover Weekly's slots, kept for exploration
    # Upper bounds that rarely bind: the artist penalty spreads the picks. Tighter, they cost
    # accuracy: 2 per album and half the slots per cluster gave NDCG@30 0.0832 at 0.747
    # artists per track, 4 and 0.7 (same penalty) 0.0868 at 0.742 (docs/ranking.md).
    max_tracks_per_album: int = 4
    max_cluster_share: float = 0.7  # of Discover Weekly's slots, from any one cluster

    def __post_init__(self) -> None:
        weekdays = [calendar.day_name[d].lower() for d in range(7)]
        if self.release_radar_weekday not in weekdays:
            raise ValueError(
                f"release_radar_weekday must be one of {', '.join(weekdays)}, "
                f"got {self.release_radar_weekday!r}"
            )


@dataclass(frozen=True)
class ClusteringConfig:
    """Audio-feature clustering of the catalog (see jobs/stages/clusters.py)."""

    k_values: tuple[int, ...] = (4, 6, 8, 10, 12)  # tried; the best silhouette wins
    max_iterations: int = 20
    seed: int = 42


@dataclass(frozen=True)
class FeedbackConfig:
    """How `playlist_feedback` segments listeners (schemas/feedback.py)."""

    lookback_weeks: int = 4
    new_listener_days: int = 14
    heavy_weekly_plays: int = 100


@dataclass(frozen=True)
class BanditConfig:
    """The adaptive policy over Discover Weekly's source weights and exploration share
    (jobs/domain/policy.py); off, the fixed `[playlists]` values apply."""

    enabled: bool = False
    history_weeks: int = 8  # feedback weeks the posteriors count
    discount: float = 0.8  # per week of age
    min_factor: float = 0.5  # of a source's fixed weight
    max_factor: float = 2.0
    min_exploration_share: float = 0.1
    max_exploration_share: float = 0.4
    seed: int = 42


@dataclass(frozen=True)
class RerankerConfig:
    """The likeability re-ranker (jobs/stages/rerank.py): an MLP predicting a completed play
    rather than an early skip. Off by default: it moved no accuracy figure on the 1M bench
    world (docs/quality.md, "Why the likeability re-ranker is off")."""

    enabled: bool = False
    hidden_layers: tuple[int, ...] = (32, 16)
    max_iterations: int = 200
    validation_share: float = 0.2  # of listeners, held out to report accuracy and AUC
    max_training_rows: int = 200_000
    seed: int = 42


@dataclass(frozen=True)
class RankingConfig:
    """Discover Weekly's ranking pass (jobs/domain/discover.py) and its weekly LightGBM ranker
    (jobs/domain/ranking.py)."""

    ranker: bool = True  # False: the blend of `[playlists]` source weights ranks every week
    # 100, not 200: held-out NDCG@30 0.3816 against 0.3786 on the 1M week, half the time.
    rounds: int = 100  # boosting rounds
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 50
    validation_share: float = 0.2  # of last week's listeners with a positive, held out
    # Fewer listeners with a positive and the blend ranks: on Last.fm 15 listeners trained
    # a ranker that 4 held-out ones said beat the blend, and it published NDCG@30 0.104
    # (docs/ranking.md, "Too few listeners"). A 1M-event week has about 2,200.
    min_listeners: int = 200
    # A larger pool is sampled by listener. 10,000: at 10M events and 100 rounds, 12.3 s
    # against 24.7 s for 20,000, both 1.15x the blend's NDCG on held-out listeners
    # (docs/ranking.md, "What the ranker costs").
    max_training_listeners: int = 10_000
    seed: int = 42
    # The shortlist the ranker re-orders, the greedy pick chooses from and candidate_pool
    # keeps: the blend's best main and exploration candidates per listener.
    pool_per_user: int = 100
    explore_window: int = 50
    # One more than the artist cap, so that a capped artist's next track can stand in.
    shortlist_per_artist: int = 5
    # Relevance (each listener's scores scaled to [0, 1]) lost per track of the same
    # artist, and of the same audio cluster, already picked; the caps stay upper bounds.
    # 0.125: the most accurate setting measured whose playlists are at least as varied as
    # the defaults before it made them (0.720 artists per track; docs/ranking.md, "The
    # variety bounds, measured again"): 0.1 gave NDCG@30 0.0900 at 0.709, 0.125 0.0885 at 0.739.
    artist_penalty: float = 0.125
    cluster_penalty: float = 0.0


@dataclass(frozen=True)
class SpotifyConfig:
    """The Spotify Web API catalog sync (see jobs/sources/catalog_sync.py). Credentials are never
    here: they come from the Airflow connection `spotify_default` or the environment."""

    api_url: str = "https://api.spotify.com/v1/"
    token_url: str = "https://accounts.spotify.com/api/token"
    # True: one request per 50 tracks / 50 artists / 20 albums (extended quota). False: one
    # request per id, for Development-Mode apps that lost the batch endpoints in Feb 2026.
    batch_requests: bool = True
    market: str | None = None
    timeout_s: float = 10.0
    max_attempts: int = 5  # per request, for 429 and 5xx answers and dropped connections
    backoff_s: float = 1.0  # first wait after a 5xx; doubles each attempt
    # A 429 asking for a longer wait than this fails the sync (saying so) instead of
    # blocking a worker slot: Spotify sometimes answers Retry-After: 3600.
    max_retry_after_s: float = 120.0
    release_groups: str = "album,single"
    # The first sync looks this far back for new releases; later ones start at the last.
    first_sync_lookback_days: int = 28


EMPTY_WEEK_ACTIONS = ("fail", "skip")


@dataclass(frozen=True)
class PipelineConfig:
    home: Path
    raw_events_dir: Path
    catalog_dir: Path
    controls_dir: Path
    warehouse_dir: Path
    runs_dir: Path
    checkpoint_dir: Path
    # Spark's shuffle and spill files (`spark.local.dir`): a large week needs tens of GB
    # here, so it is a location to put on a big local disk, not the system's /tmp.
    scratch_dir: Path
    spark_master: str = "local[*]"
    spark_driver_memory: str = "4g"
    # Partitions per shuffle before adaptive execution merges the small ones (toward 64 MB
    # each): a small week ends up with a few, and at 50M events the candidates' uniqueness
    # checks over 296M rows no longer spill (in 8: 457 s each, in 200: 324 s).
    shuffle_partitions: int = 200
    hive_catalog: bool = True
    # Ingest fails (keeping the rejected rows) when more of a week than this is malformed.
    max_quarantine_share: float = 0.05
    # A raw file that is not readable Parquet fails the run (naming it) unless this is set:
    # then it is recorded in events_quarantine and the readable files are ingested.
    skip_unreadable_raw_files: bool = False
    # A stage's output row count may differ from last week's by this share before its
    # suite fails (events are compared per ingested day).
    row_count_tolerance: float = 0.5
    # The share of skipped plays may move this far (absolute) from last week's before the
    # events suite fails: a jump means a client or logging change, not a change of taste.
    skip_share_tolerance: float = 0.15
    # A week whose raw days hold no rows: "fail" the run, or "skip" it (every task after
    # the check skipped, nothing published, last week's playlists stay). Never published.
    empty_week: str = "fail"
    seed: int = 42
    als: AlsConfig = field(default_factory=AlsConfig)
    interactions: InteractionsConfig = field(default_factory=InteractionsConfig)
    playlists: PlaylistConfig = field(default_factory=PlaylistConfig)
    clustering: ClusteringConfig = field(default_factory=ClusteringConfig)
    spotify: SpotifyConfig = field(default_factory=SpotifyConfig)
    reranker: RerankerConfig = field(default_factory=RerankerConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    bandit: BanditConfig = field(default_factory=BanditConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)

    def __post_init__(self) -> None:
        if self.empty_week not in EMPTY_WEEK_ACTIONS:
            raise ValueError(
                f"empty_week = {self.empty_week!r}: expected one of {', '.join(EMPTY_WEEK_ACTIONS)}"
            )

    @classmethod
    def load(
        cls, config_file: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
    ) -> "PipelineConfig":
        env = os.environ if env is None else env
        config_file = config_file or env.get("WP_CONFIG")
        settings: dict[str, Any] = {}
        if config_file:
            with open(config_file, "rb") as handle:
                settings = tomllib.load(handle)
        # A location is taken out of the file's settings whether or not a WP_* variable
        # overrides it: left in, the file's value would replace the variable's below.
        from_file = settings.pop("home", None)
        home = Path(env.get("WP_HOME") or from_file or Path.cwd() / "var").resolve()

        def location(name: str, default: Path) -> Path:
            from_file = settings.pop(name, None)
            return Path(env.get(f"WP_{name.upper()}") or from_file or default).resolve()

        config = cls(
            home=home,
            raw_events_dir=location("raw_events_dir", home / "raw" / "events"),
            catalog_dir=location("catalog_dir", home / "catalog"),
            controls_dir=location("controls_dir", home / "controls"),
            warehouse_dir=location("warehouse_dir", home / "warehouse"),
            runs_dir=location("runs_dir", home / "runs"),
            checkpoint_dir=location("checkpoint_dir", home / "checkpoints"),
            scratch_dir=location("scratch_dir", home / "scratch"),
        )
        nested = {
            "als": AlsConfig,
            "interactions": InteractionsConfig,
            "playlists": PlaylistConfig,
            "clustering": ClusteringConfig,
            "spotify": SpotifyConfig,
            "reranker": RerankerConfig,
            "feedback": FeedbackConfig,
            "bandit": BanditConfig,
            "ranking": RankingConfig,
        }
        scalars = {}
        for key, value in settings.items():
            if key in nested:
                scalars[key] = _build(nested[key], value, key)
            elif key in {f.name for f in fields(cls)}:
                scalars[key] = value
            else:
                raise ValueError(f"{config_file}: unknown setting {key!r}")
        if "WP_SPARK_MASTER" in env:
            scalars["spark_master"] = env["WP_SPARK_MASTER"]
        return replace(config, **scalars)


def _build(kind: type, values: Mapping[str, Any], section: str):
    known = {f.name for f in fields(kind)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown setting(s) in [{section}]: {', '.join(sorted(unknown))}")
    return kind(**values)
