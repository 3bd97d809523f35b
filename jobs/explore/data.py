"""The explorer's data: DuckDB reads of the warehouse, catalog, controls and run folders, and
the numpy behind its maps and nearest neighbours. No Spark and no Streamlit here: the pages
in `views/` only lay these results out, and tests call these functions directly.

A table, partition, listener or track that is not there raises `NotInWarehouse`, whose
message names it and what writes it; pages show that message instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from jobs.core.arrays import unit_rows
from jobs.core.config import PipelineConfig
from jobs.core.runlog import read_stage_records, run_dir
from jobs.core.tables import table_path
from jobs.core.weeks import week_start
from jobs.reporting.figures import (
    TITLES,
    cluster_sizes_figure,
    histogram_figure,
    source_share_figure,
)
from jobs.reporting.queries import (
    cluster_rows,
    metric_tables,
    model_facts,
    score_histogram,
    source_counts,
    view_week,
)
from jobs.reporting.report import describe_failure
from schemas.controls import ARTIST, DONT_SUGGEST, TRACK
from schemas.playlists import PLAYLIST_TYPES

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class NotInWarehouse(LookupError):
    """What a page asked for is not in the warehouse; the message says what and why."""


# The stage that writes each table a page reads: the hint a missing partition gets.
WRITTEN_BY = {
    "playlists": "publish",
    "interactions": "interactions",
    "track_factors": "train_als",
    "models": "train_als",
    "track_clusters": "clusters",
    "clusters": "clusters",
    "cluster_models": "clusters",
    "taste_profiles": "playlists",
}
CATALOG_TABLES = ("tracks", "artists", "albums")
# Layers of the listener map besides the playlists (whose layers are their titles).
CATALOG, PLAYED, CLUSTER_CENTRE = "catalog", "played", "cluster centre"


# ---- weeks and tables --------------------------------------------------------------------


def weeks_with(config: PipelineConfig, table: str, subfolders: str = "") -> list[date]:
    """The weeks whose partition of `table` holds Parquet files, newest first."""
    return sorted(
        (
            date.fromisoformat(folder.name.removeprefix("week="))
            for folder in table_path(config, table).glob("week=*")
            if any(folder.glob(f"{subfolders}*.parquet"))
        ),
        reverse=True,
    )


def published_weeks(config: PipelineConfig) -> list[date]:
    return weeks_with(config, "playlists", "*/")


def run_weeks(config: PipelineConfig) -> list[date]:
    """Weeks with a run folder or published playlists, newest first."""
    folders = {
        date.fromisoformat(folder.name.removeprefix("week="))
        for folder in config.runs_dir.glob("week=*")
    }
    return sorted(folders | set(published_weeks(config)), reverse=True)


def _view_week(
    con: duckdb.DuckDBPyConnection, view: str, config: PipelineConfig, table: str, week: date
) -> None:
    """`view` over the table's week partition, or `NotInWarehouse` naming what is missing."""
    subfolders = "*/" if table == "playlists" else ""
    if view_week(con, view, table_path(config, table), week, subfolders):
        return
    folder = table_path(config, table) / f"week={week.isoformat()}"
    if table == "playlists":
        raise NotInWarehouse(f"week {week} is not published: {folder} holds no playlists")
    raise NotInWarehouse(
        f"table {table} has no partition week={week} ({folder} holds no Parquet files): "
        f"its {WRITTEN_BY[table]} stage has not run for that week"
    )


def _view_catalog(con: duckdb.DuckDBPyConnection, config: PipelineConfig) -> None:
    """Views `tracks`, `artists` and `albums` over the catalog."""
    for name in CATALOG_TABLES:
        folder = config.catalog_dir / name
        if not any(folder.glob("*.parquet")):
            raise NotInWarehouse(
                f"the catalog has no {name} table ({folder} holds no Parquet files): "
                "`weekly-playlists generate`, an import or the catalog sync writes it"
            )
        con.read_parquet(str(folder / "*.parquet")).create_view(name)


def _view_control(con: duckdb.DuckDBPyConnection, config: PipelineConfig, name: str) -> bool:
    """A view over a controls table; False when the service has no such table (as the
    pipeline reads it: an absent control is an empty one)."""
    folder = config.controls_dir / name
    if not any(folder.glob("*.parquet")):
        return False
    con.read_parquet(str(folder / "*.parquet")).create_view(name)
    return True


def _matrix(column: pa.ChunkedArray, width: int) -> np.ndarray:
    """A list<double> column of fixed-length vectors as one (rows, width) float64 array."""
    values = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    if values.size != len(column) * width:
        raise ValueError(f"vectors of {width} values expected, got {values.size} in all")
    return values.astype(np.float64).reshape(len(column), width)


# ---- listeners ---------------------------------------------------------------------------


def _playlists_connection(config: PipelineConfig, week: date) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _view_week(con, "week_playlists", config, "playlists", week)
    return con


def _first_in_week(config: PipelineConfig, week: date, query: str) -> str:
    """The first value `query` finds in the week's playlists (`week_playlists`)."""
    found = _playlists_connection(config, week).execute(query).fetchall()
    if not found:
        raise NotInWarehouse(f"week {week}'s playlists partition has no rows")
    return found[0][0]


def default_listener(config: PipelineConfig, week: date) -> str:
    """The first listener (by id) with the most playlist types, so both playlists show."""
    return _first_in_week(
        config,
        week,
        "SELECT user_id FROM week_playlists GROUP BY user_id "
        "ORDER BY count(DISTINCT playlist_type) DESC, user_id LIMIT 1",
    )


def find_listeners(config: PipelineConfig, week: date, text: str, limit: int = 20) -> list[str]:
    """Ids of the week's listeners that contain `text` (any case): an exact match first,
    then by id."""
    rows = (
        _playlists_connection(config, week)
        .execute(
            "SELECT user_id FROM week_playlists WHERE contains(lower(user_id), lower(?)) "
            "GROUP BY user_id ORDER BY user_id <> ?, user_id LIMIT ?",
            [text, text, limit],
        )
        .fetchall()
    )
    return [user_id for (user_id,) in rows]


def listener_playlists(config: PipelineConfig, week: date, user_id: str) -> pd.DataFrame:
    """The listener's Discover Weekly and Release Radar, named from the catalog: playlist
    (its title), position, track, artist, album, release_date, source, reason, boosted,
    campaign_id, score, track_id."""
    con = _playlists_connection(config, week)
    _view_catalog(con, config)
    rows = con.execute(
        """
        SELECT p.playlist_type, p.position, coalesce(t.name, p.track_id) AS track,
               coalesce(a.name, p.artist_id) AS artist, al.name AS album, al.release_date,
               p.source, p.reason, p.boosted, p.campaign_id, p.score, p.track_id
        FROM week_playlists p
        LEFT JOIN tracks t ON t.track_id = p.track_id
        LEFT JOIN artists a ON a.artist_id = p.artist_id
        LEFT JOIN albums al ON al.album_id = t.album_id
        WHERE p.user_id = ?
        ORDER BY p.playlist_type, p.position
        """,
        [user_id],
    ).df()
    if rows.empty:
        raise NotInWarehouse(f"listener {user_id!r} has no playlists in week {week}")
    rows.insert(0, "playlist", rows.pop("playlist_type").map(TITLES))
    rows["release_date"] = rows["release_date"].dt.date
    return rows


def cluster_labels(config: PipelineConfig, week: date) -> list[str]:
    """The week's audio-cluster labels in cluster order (charts colour clusters by them)."""
    con = duckdb.connect()
    _view_week(con, "week_clusters", config, "clusters", week)
    rows = con.execute("SELECT label FROM week_clusters ORDER BY cluster").fetchall()
    return [label for (label,) in rows]


def listener_moods(config: PipelineConfig, week: date, user_id: str) -> pd.DataFrame:
    """(cluster, label, share) of the listener's taste profile, largest share first; empty
    for a listener without one (nothing with audio features played in the look-back)."""
    con = duckdb.connect()
    _view_week(con, "week_taste", config, "taste_profiles", week)
    _view_week(con, "week_clusters", config, "clusters", week)
    return con.execute(
        """
        WITH mood AS (SELECT unnest(moods, recursive := true) FROM week_taste WHERE user_id = ?)
        SELECT mood.cluster, coalesce(c.label, 'cluster ' || mood.cluster) AS label, mood.share
        FROM mood LEFT JOIN week_clusters c ON c.cluster = mood.cluster
        ORDER BY mood.share DESC, mood.cluster
        """,
        [user_id],
    ).df()


def played_tracks(config: PipelineConfig, week: date, user_id: str) -> list[str]:
    """Tracks the listener played in the week's look-back window (its interactions)."""
    con = duckdb.connect()
    _view_week(con, "week_interactions", config, "interactions", week)
    rows = con.execute(
        "SELECT track_id FROM week_interactions WHERE user_id = ? AND plays > 0 ORDER BY 1",
        [user_id],
    ).fetchall()
    return [track_id for (track_id,) in rows]


def known_listener(config: PipelineConfig, week: date, user_id: str) -> bool:
    """Whether the listener has playlists in the week or settings in the controls."""
    if week in published_weeks(config) and find_listeners(config, week, user_id, 1) == [user_id]:
        return True
    con = duckdb.connect()
    if not _view_control(con, config, "user_settings"):
        return False
    found = con.execute("SELECT 1 FROM user_settings WHERE user_id = ? LIMIT 1", [user_id])
    return bool(found.fetchall())


# ---- listener controls -------------------------------------------------------------------


@dataclass(frozen=True)
class ListenerControls:
    """What a listener's recommendations must leave out at a week (jobs/domain/rules.py)."""

    explicit_filter: bool = False
    hidden_tracks: frozenset[str] = frozenset()
    hidden_artists: frozenset[str] = frozenset()
    blocked_tracks: frozenset[str] = frozenset()
    blocked_artists: frozenset[str] = frozenset()


def controls_at(config: PipelineConfig, week: date, user_id: str) -> ListenerControls:
    """The listener's controls in force when the week is published (00:00 UTC of its
    Monday), with the semantics of jobs/domain/rules.py: a `hide` postpones its item for
    `hide_days`, a `dont_suggest` lasts until withdrawn; platform rules hold from
    `valid_from` until `valid_until` (exclusive, open when null)."""
    now = week_start(week)
    con = duckdb.connect()
    explicit_filter, hidden, blocked = False, [], []
    if _view_control(con, config, "user_settings"):
        explicit_filter = bool(
            con.execute(
                "SELECT coalesce(bool_or(explicit_filter), false) FROM user_settings "
                "WHERE user_id = ?",
                [user_id],
            ).fetchall()[0][0]
        )
    if _view_control(con, config, "user_hides"):
        hidden = con.execute(
            "SELECT DISTINCT item_type, item_id FROM user_hides "
            "WHERE user_id = ? AND created_at < ? AND (withdrawn_at IS NULL OR withdrawn_at > ?) "
            "AND (kind = ? OR created_at + to_days(?) > ?)",
            [user_id, now, now, DONT_SUGGEST, config.playlists.hide_days, now],
        ).fetchall()
    if _view_control(con, config, "platform_rules"):
        blocked = con.execute(
            "SELECT DISTINCT item_type, item_id FROM platform_rules "
            "WHERE valid_from <= ? AND (valid_until IS NULL OR valid_until > ?)",
            [now, now],
        ).fetchall()

    def of_type(rows: list[tuple[str, str]], item_type: str) -> frozenset[str]:
        return frozenset(item_id for kind, item_id in rows if kind == item_type)

    return ListenerControls(
        explicit_filter,
        of_type(hidden, TRACK),
        of_type(hidden, ARTIST),
        of_type(blocked, TRACK),
        of_type(blocked, ARTIST),
    )


def excluded_by(tracks: pd.DataFrame, controls: ListenerControls) -> np.ndarray:
    """Per row of `tracks` (track_id, artist_id, explicit): whether the controls leave it out."""
    track_ids, artist_ids = tracks["track_id"].to_numpy(), tracks["artist_id"].to_numpy()
    explicit = tracks["explicit"].to_numpy(dtype=bool) & controls.explicit_filter
    return (
        explicit
        | np.isin(track_ids, list(controls.hidden_tracks | controls.blocked_tracks))
        | np.isin(artist_ids, list(controls.hidden_artists | controls.blocked_artists))
    )


# ---- vector spaces -----------------------------------------------------------------------


def nearest(
    directions: np.ndarray, query: np.ndarray, k: int, excluded: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(row indexes, cosine similarities) of the `k` rows of `directions` (unit rows) most
    similar to `query`, best first, ties by index; rows `excluded` never appear."""
    scores = directions @ unit_rows(query)
    if excluded is not None:
        scores = np.where(excluded, -np.inf, scores)
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    candidates = np.argpartition(-scores, k - 1)[:k]
    best = candidates[np.lexsort((candidates, -scores[candidates]))]
    return best, scores[best]


@dataclass(frozen=True, eq=False)
class FeatureSpace:
    """A week's catalog in the clusters stage's min-max scaled audio-feature space
    (`track_clusters.features`, every feature in [0, 1]); row i of `vectors` is `tracks`
    row i. Similarity is cosine around the catalog's mean, `center`: plain cosine of
    all-positive vectors would call "everything low" and "everything high" the same."""

    week: date
    features: tuple[str, ...]
    low: np.ndarray  # the raw value each feature scales to 0 (e.g. tempo in BPM)
    high: np.ndarray  # ... and to 1
    tracks: pd.DataFrame  # track_id, track, artist, artist_id, explicit, cluster, label
    vectors: np.ndarray
    center: np.ndarray
    directions: np.ndarray  # unit_rows(vectors - center)
    clusters: pd.DataFrame  # cluster, label
    centroids: np.ndarray  # row i: clusters row i's centre, in the same space

    def row_of(self, track_id: str) -> int | None:
        found = np.flatnonzero(self.tracks["track_id"].to_numpy() == track_id)
        return int(found[0]) if found.size else None

    def raw(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled feature values back in the catalog's units."""
        return self.low + scaled * (self.high - self.low)


def load_feature_space(config: PipelineConfig, week: date) -> FeatureSpace:
    con = duckdb.connect()
    _view_week(con, "week_track_clusters", config, "track_clusters", week)
    [(clustered,)] = con.execute("SELECT count(*) FROM week_track_clusters").fetchall()
    if not clustered:
        raise NotInWarehouse(
            f"week {week} has no audio clusters: no catalog track has audio features"
        )
    _view_week(con, "week_cluster_models", config, "cluster_models", week)
    _view_week(con, "week_clusters", config, "clusters", week)
    _view_catalog(con, config)
    [(features, low, high)] = con.execute(
        "SELECT features, feature_min, feature_max FROM week_cluster_models LIMIT 1"
    ).fetchall()
    rows = (
        con.sql(
            """
            SELECT tc.track_id, coalesce(t.name, tc.track_id) AS track,
                   coalesce(a.name, t.artist_id) AS artist, t.artist_id,
                   coalesce(t.explicit, false) AS explicit, tc.cluster,
                   coalesce(c.label, 'cluster ' || tc.cluster) AS label, tc.features
            FROM week_track_clusters tc
            LEFT JOIN tracks t ON t.track_id = tc.track_id
            LEFT JOIN artists a ON a.artist_id = t.artist_id
            LEFT JOIN week_clusters c ON c.cluster = tc.cluster
            ORDER BY tc.track_id
            """
        )
        .arrow()
        .read_all()
    )
    clusters = con.sql("SELECT cluster, label, centroid FROM week_clusters ORDER BY cluster")
    clusters = clusters.arrow().read_all()
    vectors = _matrix(rows["features"], len(features))
    center = vectors.mean(axis=0)
    return FeatureSpace(
        week=week,
        features=tuple(features),
        low=np.asarray(low, dtype=np.float64),
        high=np.asarray(high, dtype=np.float64),
        tracks=rows.drop_columns(["features"]).to_pandas(),
        vectors=vectors,
        center=center,
        directions=unit_rows(vectors - center),
        clusters=clusters.drop_columns(["centroid"]).to_pandas(),
        centroids=_matrix(clusters["centroid"], len(features)),
    )


def _ranked(tracks: pd.DataFrame, rows: np.ndarray, scores: np.ndarray, *extra: str):
    ranked = tracks.iloc[rows][["track", "artist", *extra, "track_id"]].reset_index(drop=True)
    ranked.insert(2, "similarity", scores.round(4))
    return ranked


def tracks_like(
    space: FeatureSpace, target: np.ndarray, k: int, excluded: np.ndarray | None = None
) -> pd.DataFrame:
    """The `k` tracks nearest to a point of the scaled feature space (slider values):
    track, artist, similarity, label (cluster), track_id."""
    rows, scores = nearest(space.directions, target - space.center, k, excluded)
    return _ranked(space.tracks, rows, scores, "label")


def sounds_like(space: FeatureSpace, track_id: str, k: int) -> pd.DataFrame:
    """The `k` tracks whose audio features are nearest to the track's (not itself)."""
    row = space.row_of(track_id)
    if row is None:
        raise NotInWarehouse(
            f"track {track_id} has no audio features in week {space.week}'s track_clusters "
            "(the catalog has none for it)"
        )
    itself = np.arange(len(space.tracks)) == row
    return tracks_like(space, space.vectors[row], k, itself)


@dataclass(frozen=True, eq=False)
class FactorSpace:
    """A week's ALS track factors (`track_factors`), as unit rows: cosine of two tracks'
    factors is how alike the listeners who play them are."""

    week: date
    tracks: pd.DataFrame  # track_id, track, artist
    directions: np.ndarray


def load_factor_space(config: PipelineConfig, week: date) -> FactorSpace:
    con = duckdb.connect()
    _view_week(con, "week_track_factors", config, "track_factors", week)
    _view_catalog(con, config)
    rows = (
        con.sql(
            """
            SELECT f.track_id, coalesce(t.name, f.track_id) AS track,
                   coalesce(a.name, t.artist_id) AS artist, f.factors
            FROM week_track_factors f
            LEFT JOIN tracks t ON t.track_id = f.track_id
            LEFT JOIN artists a ON a.artist_id = t.artist_id
            ORDER BY f.track_id
            """
        )
        .arrow()
        .read_all()
    )
    width = len(rows["factors"][0]) if len(rows) else 0
    return FactorSpace(
        week=week,
        tracks=rows.drop_columns(["factors"]).to_pandas(),
        directions=unit_rows(_matrix(rows["factors"], width)),
    )


def also_played(space: FactorSpace, track_id: str, k: int) -> pd.DataFrame:
    """ "Listeners who play this also play": the `k` tracks whose ALS factors are nearest."""
    found = np.flatnonzero(space.tracks["track_id"].to_numpy() == track_id)
    if not found.size:
        raise NotInWarehouse(
            f"track {track_id} has no ALS factors in week {space.week}: nobody played it in "
            "that week's look-back window"
        )
    itself = np.arange(len(space.tracks)) == found[0]
    rows, scores = nearest(space.directions, space.directions[found[0]], k, itself)
    return _ranked(space.tracks, rows, scores)


# ---- tracks ------------------------------------------------------------------------------


def find_tracks(config: PipelineConfig, text: str, limit: int = 50) -> pd.DataFrame:
    """Catalog tracks whose id, name or artist contains `text` (any case): track_id, track,
    artist; an exact id first, then by name."""
    con = duckdb.connect()
    _view_catalog(con, config)
    return con.execute(
        """
        SELECT t.track_id, t.name AS track, a.name AS artist
        FROM tracks t LEFT JOIN artists a ON a.artist_id = t.artist_id
        WHERE contains(lower(t.track_id), lower($text)) OR contains(lower(t.name), lower($text))
           OR contains(lower(a.name), lower($text))
        ORDER BY t.track_id <> $text, t.name, t.track_id
        LIMIT $limit
        """,
        {"text": text, "limit": limit},
    ).df()


def track_details(config: PipelineConfig, track_id: str) -> dict:
    """track, artist, album, release_date, explicit and popularity of a catalog track."""
    con = duckdb.connect()
    _view_catalog(con, config)
    cursor = con.execute(
        """
        SELECT t.name AS track, a.name AS artist, al.name AS album, al.release_date,
               t.explicit, t.popularity
        FROM tracks t
        LEFT JOIN artists a ON a.artist_id = t.artist_id
        LEFT JOIN albums al ON al.album_id = t.album_id
        WHERE t.track_id = ?
        """,
        [track_id],
    )
    found = cursor.fetchall()
    if not found:
        raise NotInWarehouse(f"no track {track_id!r} in the catalog ({config.catalog_dir})")
    return dict(zip([column for column, *_ in cursor.description], found[0]))


def popular_track(config: PipelineConfig, week: date) -> str:
    """The track in the most of the week's playlists: where the track page starts."""
    return _first_in_week(
        config,
        week,
        "SELECT track_id FROM week_playlists GROUP BY track_id "
        "ORDER BY count(*) DESC, track_id LIMIT 1",
    )


# ---- the listener map --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TrackMap:
    """The two principal axes of a feature space (PCA by SVD), and every track on them."""

    center: np.ndarray
    axes: np.ndarray  # (2, features)
    explained: np.ndarray  # share of the catalog's variance along each axis
    points: np.ndarray  # (tracks, 2)

    def project(self, vectors: np.ndarray) -> np.ndarray:
        return (vectors - self.center) @ self.axes.T


def principal_map(vectors: np.ndarray) -> TrackMap:
    center = vectors.mean(axis=0)
    _, singular, components = np.linalg.svd(vectors - center, full_matrices=False)
    axes = components[:2]
    # An SVD's signs are arbitrary: make each axis's largest loading positive so the same
    # catalog is always drawn the same way round.
    axes = axes * np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    variance = singular**2
    explained = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(len(axes))
    return TrackMap(center, axes, explained, (vectors - center) @ axes.T)


def listener_map(
    space: FeatureSpace,
    track_map: TrackMap,
    played: list[str],
    playlists: pd.DataFrame,
    background: int = 3000,
    seed: int = 0,
) -> pd.DataFrame:
    """Points to draw (x, y, layer, track, artist, label): up to `background` catalog tracks
    (a seeded sample, coloured by cluster), the cluster centres, what the listener played
    and each playlist's tracks (layer: its title). Tracks without audio features are not
    on the map."""
    index = pd.Index(space.tracks["track_id"])
    everyone = np.arange(len(index))
    if len(index) > background:
        everyone = np.sort(np.random.default_rng(seed).choice(everyone, background, False))
    layers = [(CATALOG, everyone)]
    layers.append((PLAYED, index.get_indexer(played)))
    for title, rows in playlists.groupby("playlist", sort=False):
        layers.append((title, index.get_indexer(rows["track_id"])))
    frames = []
    for layer, rows in layers:
        rows = rows[rows >= 0]
        frame = space.tracks.iloc[rows][["track", "artist", "label"]].reset_index(drop=True)
        frame[["x", "y"]] = track_map.points[rows]
        frame["layer"] = layer
        frames.append(frame)
    centres = space.clusters[["label"]].assign(track=space.clusters["label"], artist="")
    centres[["x", "y"]] = track_map.project(space.centroids)
    frames.append(centres.assign(layer=CLUSTER_CENTRE))
    return pd.concat(frames, ignore_index=True)[["x", "y", "layer", "track", "artist", "label"]]


# ---- the run of a week -------------------------------------------------------------------


@dataclass(eq=False)
class WeekRun:
    """What the run report reads for a week: its run folder and, on one DuckDB
    connection, the report's views (week_playlists, week_clusters, week_model) and the
    Discovery Mode campaigns (`discovery_mode`, empty where the service has none). Views
    are made up front: DuckDB refuses new relations while a result is half fetched."""

    week: date
    con: duckdb.DuckDBPyConnection
    published: bool
    has_clusters: bool
    has_model: bool


def open_week_run(config: PipelineConfig, week: date) -> WeekRun:
    con = duckdb.connect()
    published = view_week(con, "week_playlists", table_path(config, "playlists"), week, "*/")
    if not published and not run_dir(config, week).exists():
        raise NotInWarehouse(
            f"week {week} has not run: no run folder {run_dir(config, week)} and no "
            "published playlists"
        )
    has_clusters = view_week(con, "week_clusters", table_path(config, "clusters"), week)
    has_model = view_week(con, "week_model", table_path(config, "models"), week)
    if not _view_control(con, config, "discovery_mode"):
        con.execute(
            "CREATE TEMP VIEW discovery_mode AS "
            "SELECT NULL::VARCHAR AS campaign_id, NULL::DOUBLE AS boost WHERE false"
        )
    return WeekRun(week, con, published, has_clusters, has_model)


def model_of(run: WeekRun) -> dict | None:
    return model_facts(run.con) if run.has_model else None


def week_metrics(config: PipelineConfig, week: date) -> dict[str, pd.DataFrame]:
    """The week's offline metrics as the run report tables them, one per dataset."""
    return metric_tables(config, duckdb.connect(), week)


def stage_table(config: PipelineConfig, week: date) -> pd.DataFrame:
    """stage, started (UTC), rows written, seconds: one row per stage record, in run order."""
    records = sorted(read_stage_records(config, week), key=lambda record: record.get("started", 0))
    return pd.DataFrame(
        {
            "stage": [record["stage"] for record in records],
            "started": pd.to_datetime(
                [record.get("started") for record in records], unit="s", utc=True
            ),
            "rows written": [
                ", ".join(f"{name} {count:,}" for name, count in record.get("rows", {}).items())
                for record in records
            ],
            "seconds": [float(record.get("seconds", 0.0)) for record in records],
        }
    )


def validation_table(validations: list[dict]) -> pd.DataFrame:
    """suite, result, expectations, failed, validated: one row per stored GX result."""
    return pd.DataFrame(
        {
            "suite": [result.get("suite_name", "?") for result in validations],
            "result": ["passed" if result["success"] else "FAILED" for result in validations],
            "expectations": [
                result["statistics"]["evaluated_expectations"] for result in validations
            ],
            "failed": [result["statistics"]["unsuccessful_expectations"] for result in validations],
            "validated": [result.get("meta", {}).get("validation_time") for result in validations],
        }
    )


def failures_table(validation: dict) -> pd.DataFrame:
    """The failed expectations of one GX result, as the run report words them."""
    rows = [
        describe_failure(outcome) for outcome in validation["results"] if not outcome["success"]
    ]
    return pd.DataFrame(rows, columns=["expectation", "column", "expected", "observed"])


def campaign_impressions(run: WeekRun) -> pd.DataFrame:
    """Discovery Mode impressions of the published week, per campaign and playlist: campaign,
    playlist, impressions (boosted placements), listeners, tracks, boost (its largest)."""
    if not run.published:
        raise NotInWarehouse(f"week {run.week} is not published: no playlists, no impressions")
    impressions = run.con.execute(
        """
        SELECT p.campaign_id AS campaign, p.playlist_type AS playlist, count(*) AS impressions,
               count(DISTINCT p.user_id) AS listeners, count(DISTINCT p.track_id) AS tracks,
               max(d.boost) AS boost
        FROM week_playlists p
        LEFT JOIN (SELECT campaign_id, max(boost) AS boost FROM discovery_mode GROUP BY 1) d
          ON d.campaign_id = p.campaign_id
        WHERE p.boosted
        GROUP BY ALL
        ORDER BY impressions DESC, campaign, playlist
        """
    ).df()
    impressions["playlist"] = impressions["playlist"].map(TITLES)
    return impressions


def report_figures(run: WeekRun) -> list[tuple[str, Figure]]:
    """The run report's plots of the week (jobs/reporting/figures.py draws them), with their titles:
    score distributions and sources of the published playlists, tracks per cluster."""
    figures = []
    if run.published:
        for kind in PLAYLIST_TYPES:
            histogram = score_histogram(run.con, kind)
            if histogram is not None:
                figures.append((f"{TITLES[kind]} scores", histogram_figure(histogram, kind)))
        figures.append(("Sources", source_share_figure(source_counts(run.con))))
    clusters = cluster_rows(run.con) if run.has_clusters else []
    if clusters:  # none in a week whose catalog has no audio features
        figures.append(("Audio clusters", cluster_sizes_figure(clusters)))
    return figures
