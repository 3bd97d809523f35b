"""Listeners' audio taste: where in the audio-feature space they listen, and in which moods.

A taste profile is the confidence-weighted mean of the scaled feature vectors
(`track_clusters.features`, every feature in [0, 1]) of the tracks a listener played in the
look-back window; their moods are how that confidence spreads over the audio clusters.
Tracks without features (no cluster) do not count. Listeners none of whose tracks have
features get no profile.

Two candidate sources compare the profile with every clustered track, played or not - so
they reach new releases and the long tail, which ALS (trained on plays) cannot:

* `content` - the tracks nearest the profile within the listener's top moods;
* `exploration` - the tracks nearest the profile within the clusters, not yet the
  listener's, whose centroids lie nearest the profile.

"Nearest" is the cosine between profile and track after centring both on the catalog mean
(see `AudioSpace`). Both are scored in the retrieval pass (jobs/domain/retrieval.py) against the
broadcast track matrix, the allowed clusters a per-listener gate inside the same product:
no listeners x tracks join.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from scipy.sparse import csr_matrix

from jobs.core.config import PlaylistConfig
from jobs.domain.matrix import UserItems


def taste_profiles(likes: UserItems, space: TrackSpace) -> pa.Table:
    """(user_id, profile, moods) from the look-back window's positive confidences (`likes`:
    a track the listener skips is not their taste) and the clustered tracks, in two sparse
    products on the driver. Listeners none of whose tracks is clustered have no row."""
    column = pc.index_in(pa.array(likes.track_ids), value_set=pa.array(space.track_ids))
    column = pc.fill_null(column, -1).to_numpy().astype(np.int64)
    clustered = np.flatnonzero(column >= 0)
    liked = likes.matrix[:, clustered].astype(np.float64)
    features = space.features[column[clustered]]
    weight = np.asarray(liked.sum(axis=1)).ravel()
    users = np.flatnonzero(weight > 0)
    liked, weight = liked[users], weight[users]
    profile = (liked @ features) / weight[:, None]
    per_cluster = csr_matrix(
        (np.ones(clustered.size), (np.arange(clustered.size), space.clusters[column[clustered]])),
        shape=(clustered.size, space.n_clusters),
    )
    shares = (liked @ per_cluster).tocsr()
    shares = csr_matrix(shares.multiply(1.0 / weight[:, None]))
    shares.eliminate_zeros()
    row = np.repeat(np.arange(users.size), np.diff(shares.indptr))
    # Largest share first; ties by cluster number, so the order is reproducible.
    order = np.lexsort((shares.indices, -shares.data, row))
    offsets = pa.array(shares.indptr.astype(np.int32))
    moods = pa.ListArray.from_arrays(
        offsets,
        pa.StructArray.from_arrays(
            [pa.array(shares.indices[order], pa.int32()), pa.array(shares.data[order])],
            ["cluster", "share"],
        ),
    )
    width = features.shape[1]
    return pa.table(
        {
            "user_id": pa.array(likes.user_ids[users], pa.string()),
            "profile": pa.ListArray.from_arrays(
                pa.array(np.arange(users.size + 1, dtype=np.int32) * width),
                pa.array(profile.ravel()),
            ),
            "moods": moods,
        }
    )


@dataclass(frozen=True)
class TrackSpace:
    """The clustered tracks in the scaled audio-feature space; row i is `track_ids[i]`."""

    track_ids: np.ndarray
    clusters: np.ndarray  # each track's cluster
    features: np.ndarray  # tracks x features, every feature in [0, 1]

    @property
    def n_clusters(self) -> int:
        return int(self.clusters.max()) + 1

    @property
    def mean(self) -> np.ndarray:
        """The catalog's mean vector: the origin similarity is measured from."""
        return self.features.mean(axis=0)


def track_space(track_clusters: DataFrame) -> TrackSpace | None:
    """The week's clustered tracks on the driver (they are broadcast to score anyway);
    None when there are none. Raises ValueError on a partition written before `features`."""
    table = track_clusters.select("track_id", "cluster", "features").orderBy("track_id").toArrow()
    if table.num_rows == 0:
        return None
    features = table.column("features").combine_chunks()
    if features.null_count:
        raise ValueError(
            f"{features.null_count} track_clusters rows have no `features`: the partition "
            "predates them; run the clusters stage again for this week"
        )
    return TrackSpace(
        track_ids=table.column("track_id").to_numpy(zero_copy_only=False),
        clusters=table.column("cluster").to_numpy().astype(np.int64),
        features=features.flatten().to_numpy().reshape(table.num_rows, -1),
    )


def _mood_masks(
    moods: pa.ListArray, n_clusters: int, config: PlaylistConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(content, own), each rows x clusters: the clusters content candidates come from, and
    the clusters exploration must leave alone.

    content: the listener's largest `content_moods` moods of share >= `min_mood_share`.
    A listener none of whose moods reaches that share (taste spread thin over many
    clusters) still has a taste: they keep their largest `content_moods` moods, as the
    threshold only exists to drop marginal moods beside strong ones.
    own: every mood of share >= `min_mood_share`, plus the content clusters.
    `moods` lists are largest share first (taste_profiles), so a list position is a rank."""
    rows = moods.value_parent_indices().to_numpy()
    entries = moods.flatten()  # struct_field, unlike .field(), honours slicing
    cluster = pc.struct_field(entries, "cluster").to_numpy()
    share = pc.struct_field(entries, "share").to_numpy()
    position = np.arange(rows.size) - np.searchsorted(rows, rows)
    strong = share >= config.min_mood_share
    has_strong = np.zeros(len(moods), dtype=bool)
    has_strong[rows[strong]] = True
    chosen = (position < config.content_moods) & (strong | ~has_strong[rows])
    content = np.zeros((len(moods), n_clusters), dtype=bool)
    content[rows[chosen], cluster[chosen]] = True
    own = content.copy()
    own[rows[strong], cluster[strong]] = True
    return content, own


@dataclass(frozen=True)
class AudioSpace:
    """What the `content` and `exploration` sources score with: the clustered tracks, the
    clusters' centroids, and which clusters have nothing to explore. Both sources rank the
    tracks of the clusters a listener may be offered by

        sim(p, t) = (p - m) . (t - m) / (|p - m| |t - m|),

    p the taste profile, t the track's scaled features, m the catalog's mean vector;
    tracks the listener played are left out, tracks nobody played are in (jobs/domain/retrieval.py).

    Why centred: scaled features are all in [0, 1], so every vector points into the same
    positive orthant and the raw cosine of any two is typically above 0.8: it ranks by
    how "mid-range" a track is more than by taste. Centred, a vector says how a track
    differs from the typical one (more energetic, less acoustic...), the same reading as
    the cluster labels (jobs/stages/clusters.py `centroid_labels`), and the cosine spans [-1, 1].
    The cosine ignores distance along that direction, on purpose: a profile is a mean, so
    it sits nearer the middle than the tracks it averages, and the nearest points to it by
    Euclidean distance would be the blandest tracks of the mood."""

    space: TrackSpace
    centroids: np.ndarray  # clusters x features (zeros for a cluster without a centroid)
    unexplorable: np.ndarray  # per cluster: no centroid, or no tracks
    settings: PlaylistConfig

    def content_clusters(self, vectors: np.ndarray, moods: pa.ListArray) -> np.ndarray:
        """Rows x clusters: each listener's top moods (`_mood_masks`)."""
        return _mood_masks(moods, self.space.n_clusters, self.settings)[0]

    def exploration_clusters(self, vectors: np.ndarray, moods: pa.ListArray) -> np.ndarray:
        """Rows x clusters: the `exploration_clusters` clusters nearest each profile
        (Euclidean distance to their centroids in the scaled space) that are not the
        listener's own (`_mood_masks`): a listener who only plays one cluster still
        explores its neighbours."""
        _, own = _mood_masks(moods, self.space.n_clusters, self.settings)
        centroid_norms = (self.centroids**2).sum(axis=1)
        # |p - c|^2 = |p|^2 - 2 p . c + |c|^2: one product for the batch.
        distances = (
            (vectors**2).sum(axis=1)[:, None] - 2 * vectors @ self.centroids.T + centroid_norms
        )
        distances[own | self.unexplorable] = np.inf
        nearest = np.argsort(distances, axis=1, kind="stable")[
            :, : self.settings.exploration_clusters
        ]
        allowed = np.zeros_like(own)
        rows = np.arange(len(vectors))[:, None]
        allowed[rows, nearest] = np.isfinite(distances[rows, nearest])
        return allowed


def audio_space(
    track_clusters: DataFrame, clusters: DataFrame, settings: PlaylistConfig
) -> AudioSpace | None:
    """The week's `AudioSpace` from `track_clusters` (track_id, cluster, features) and
    `clusters` (cluster, centroid); None when no track is clustered."""
    space = track_space(track_clusters)
    if space is None:
        return None
    n_clusters = space.n_clusters
    table = clusters.select("cluster", "centroid").toArrow()
    ids = table.column("cluster").to_numpy()
    inside = ids < n_clusters  # a cluster past the last with tracks has none to offer
    centroids = np.zeros((n_clusters, space.features.shape[1]))
    centroids[ids[inside]] = (
        table.column("centroid").combine_chunks().flatten().to_numpy().reshape(len(ids), -1)
    )[inside]
    # Only clusters with a centroid and tracks can be explored.
    unexplorable = np.ones(n_clusters, dtype=bool)
    unexplorable[ids[inside]] = False
    unexplorable |= np.bincount(space.clusters, minlength=n_clusters) == 0
    return AudioSpace(space, centroids, unexplorable, settings)
