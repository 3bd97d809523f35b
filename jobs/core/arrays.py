"""What the numpy passes over listener batches share (jobs/domain/discover_batch.py for
Discover Weekly, jobs/domain/release_radar.py for Release Radar): ids as codes into a
broadcast vocabulary, pair membership, places within groups, and the catalog's platform
blocks and Discovery Mode campaigns as per-track arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas import controls as controls_schema


def codes(values: pa.Array, vocabulary: pa.Array) -> np.ndarray:
    """Each value's position in `vocabulary`, -1 where absent or null."""
    return pc.fill_null(pc.index_in(values, value_set=vocabulary), -1).to_numpy().astype(np.int64)


def list_codes(lists: pa.ListArray, vocabulary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, code) of every known entry of a batch's id lists."""
    found = codes(lists.flatten(), pa.array(vocabulary, pa.string()))
    rows = lists.value_parent_indices().to_numpy()
    return rows[found >= 0], found[found >= 0]


def in_pairs(
    rows: np.ndarray, columns: np.ndarray, key_rows, key_columns, width: int
) -> np.ndarray:
    """Whether each (rows, columns) pair is one of the (key_rows, key_columns) pairs."""
    return np.isin(rows * width + columns, key_rows * width + key_columns)


def place_within(groups: np.ndarray, key: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """Each row's 0-based place within its group, ordered by `key`, then `tie`."""
    order = np.lexsort((tie, key, groups))
    place = np.empty(groups.size, np.int64)
    starts = np.searchsorted(groups[order], groups[order], side="left")
    place[order] = np.arange(groups.size) - starts
    return place


def blocked_tracks(
    blocks: pa.Table, track_ids: pa.Array, artist: np.ndarray, artist_ids: pa.Array
) -> np.ndarray:
    """Per track: blocked by a platform rule in force (blocks: item_type, item_id), itself or
    its artist (`artist`: each track's code in `artist_ids`, -1 for none)."""

    def hit(item_type: str, items: np.ndarray, vocabulary: pa.Array) -> np.ndarray:
        ids = blocks.filter(pc.equal(blocks.column("item_type"), item_type)).column("item_id")
        listed = np.zeros(len(vocabulary) + 1, bool)
        listed[codes(ids, vocabulary)] = True  # -1 (unknown ids) lands in the spare last cell
        return listed[items]

    return hit(controls_schema.TRACK, np.arange(len(track_ids)), track_ids) | hit(
        controls_schema.ARTIST, artist, artist_ids
    )


@dataclass(frozen=True)
class Campaigns:
    """Discovery Mode per track: the strongest boost in force (0: none) and its campaign."""

    boost: np.ndarray
    campaign: np.ndarray  # campaign code per track, -1 for none
    campaign_ids: np.ndarray  # campaign code -> id

    def ids(self, tracks: np.ndarray, boosted: np.ndarray) -> pa.Array:
        """The campaign id of each boosted row (null where not boosted)."""
        ids = np.full(tracks.size, None, object)
        found = self.campaign[tracks]
        chosen = boosted & (found >= 0)
        ids[chosen] = self.campaign_ids[found[chosen]]
        return pa.array(ids, pa.string())


def track_campaigns(campaigns: pa.Table, track_ids: pa.Array) -> Campaigns:
    """`Campaigns` of the tracks `track_ids` from the campaigns in force (track_id,
    campaign_id, boost)."""
    boost = np.zeros(len(track_ids), np.float32)
    campaign = np.full(len(track_ids), -1, np.int64)
    boosted_tracks = codes(campaigns.column("track_id"), track_ids)
    known = boosted_tracks >= 0
    boost[boosted_tracks[known]] = campaigns.column("boost").to_numpy()[known]
    campaign[boosted_tracks[known]] = np.flatnonzero(known)
    return Campaigns(
        boost=boost,
        campaign=campaign,
        campaign_ids=campaigns.column("campaign_id").to_numpy(zero_copy_only=False),
    )


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row (or a single vector) scaled to length 1, in its own dtype; an all-zero row
    stays zero (it resembles nothing). Scoring and the explorer's nearest tracks share it."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
