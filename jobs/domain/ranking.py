"""Discover Weekly's ranking: one feature row per candidate, a LightGBM lambdarank model
learned every week from last week's pool, and the greedy pick of a playlist under
variety penalties and hard caps. Whole-array numpy: the Discover Weekly pass
(jobs/domain/discover_batch.py) calls these on one batch of listeners at a time.

* Features (`FEATURES`): every source's score and rank (NaN where the source did not
  propose the track: LightGBM learns what missing means), the track's popularity and age,
  the listener's affinity to the track's artist and audio cluster, the listener's maturity
  and activity, the audio similarity of track and taste profile, and whether a
  Discovery Mode campaign boosts it.
* The blend (`blend_scores`): the hand-set weighted sum of rank scores that ranked the
  pool before the ranker, and still does when no model can be trained (a first week, a
  pool with no positives) or a stored one cannot be read.
* The ranker (`train_ranker`): lambdarank on last week's pool, each listener a query,
  labelled 1 for the tracks the listener then first played past the skip threshold.
  Listeners are split into training and held-out ones; the held-out NDCG@k of the
  ranker and of the blend on the same pool say whether the model is worth using.
* The pick (`pick_playlists`): `length` tracks per listener, greedily by relevance minus
  a penalty per track of the same artist and of the same cluster already picked (MMR
  style), never past the hard caps per artist, album and cluster, with exploration's
  share of the slots.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.domain.metrics import ndcg_at_k
from schemas import candidates as sources
from schemas.pool import FEATURES, RANK_FEATURES

log = logging.getLogger(__name__)

COLUMN = {name: i for i, name in enumerate(FEATURES)}


class RankerUnavailable(RuntimeError):
    """No usable ranker for the week: the message says why; the blend ranks instead."""


def rank_scores(ranks: np.ndarray, depth: int) -> np.ndarray:
    """max(0, 1 - (rank - 1) / depth): 1 for a source's first pick, 0 past `depth` or where
    the source has no rank (NaN)."""
    return np.nan_to_num(np.clip(1.0 - (ranks - 1.0) / depth, 0.0, None), nan=0.0)


def source_weights(
    maturity: np.ndarray, mature: dict[str, float], new: dict[str, float]
) -> np.ndarray:
    """rows x sources: `mature` weights for a listener of maturity 1, `new` for maturity 0,
    in proportion between."""
    unknown = (set(mature) | set(new)) - set(sources.SOURCES)
    if unknown:
        raise ValueError(
            f"source weights name unknown source(s) {sorted(unknown)}; "
            f"known: {', '.join(sources.SOURCES)}"
        )
    mature_w = np.array([mature.get(s, 0.0) for s in sources.SOURCES], np.float32)
    new_w = np.array([new.get(s, 0.0) for s in sources.SOURCES], np.float32)
    m = np.nan_to_num(maturity, nan=0.0)[:, None]
    return mature_w * m + new_w * (1.0 - m)


def blend_contributions(
    features: np.ndarray, mature: dict[str, float], new: dict[str, float], depth: int
) -> np.ndarray:
    """rows x sources: w_s(listener) * rank_score_s(row), the blend's terms."""
    ranks = features[:, [COLUMN[name] for name in RANK_FEATURES]]
    weights = source_weights(features[:, COLUMN["maturity"]], mature, new)
    return weights * rank_scores(ranks, depth)


def blend_scores(
    features: np.ndarray, mature: dict[str, float], new: dict[str, float], depth: int
) -> np.ndarray:
    """score = sum_s w_s(maturity) * max(0, 1 - (rank_s - 1) / depth): ranks, not raw
    scores, because the sources' scales do not compare and their orders do."""
    return blend_contributions(features, mature, new, depth).sum(axis=1)


def main_source(
    features: np.ndarray, mature: dict[str, float], new: dict[str, float], depth: int
) -> np.ndarray:
    """Index into `sources.SOURCES` of each row's largest blend contribution (why it was
    picked); a row no weighted source proposed goes to the source that ranked it best."""
    contributions = blend_contributions(features, mature, new, depth)
    ranks = features[:, [COLUMN[name] for name in RANK_FEATURES]]
    best_ranked = np.argmin(np.nan_to_num(ranks, nan=np.inf), axis=1)
    return np.where(contributions.max(axis=1) > 0, contributions.argmax(axis=1), best_ranked)


@dataclass(frozen=True)
class TrainedRanker:
    """A week's ranker and what it was measured to do on held-out listeners."""

    model_text: str  # LightGBM's own text format (Booster.model_to_string)
    importances: dict[str, float]  # total gain per feature
    training_rows: int
    training_listeners: int
    positives: int
    validation_listeners: int
    validation_ndcg: float  # the ranker's NDCG@k on the held-out listeners' pools
    validation_ndcg_blend: float  # the blend's, on the same pools

    @property
    def beats_blend(self) -> bool:
        return self.validation_ndcg >= self.validation_ndcg_blend


def _query_sizes(listeners: np.ndarray) -> np.ndarray:
    """Rows per listener, for rows sorted by listener."""
    _, sizes = np.unique(listeners, return_counts=True)
    return sizes


def pool_ndcg(listeners: np.ndarray, labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    """NDCG@k of ranking each listener's pool by `scores` against its labels, over the
    listeners with at least one positive (jobs.domain.metrics.ndcg_at_k)."""
    order = np.lexsort((-scores, listeners))
    ranked = pd.DataFrame({"user_id": listeners[order], "track_id": order})
    ranked["rank"] = ranked.groupby("user_id").cumcount() + 1
    truth = ranked.loc[labels[order] > 0, ["user_id", "track_id"]]
    if truth.empty:
        return float("nan")
    return ndcg_at_k(truth, ranked, k)


def train_ranker(
    features: np.ndarray,
    labels: np.ndarray,
    listeners: np.ndarray,
    blend: np.ndarray,
    params: dict,
    rounds: int,
    validation_share: float,
    k: int,
    seed: int,
    min_listeners: int,
) -> TrainedRanker:
    """Lambdarank over `features` (rows x FEATURES), one query per listener (`listeners`:
    any integer codes), relevance `labels` (0/1). A `validation_share` of the listeners
    with a positive is held out, chosen by a seeded permutation; `blend` is the blend's
    score of the same rows, for comparison. Raises RankerUnavailable when there is
    nothing to learn from: no positive at all, or fewer than `min_listeners` listeners with
    one (a model of a handful of listeners, checked on fewer, only looks better than the
    blend)."""
    import lightgbm as lgb

    if features.shape[0] != labels.shape[0] or features.shape[1] != len(FEATURES):
        raise ValueError(
            f"features {features.shape} and labels {labels.shape} do not match {len(FEATURES)} "
            "features"
        )
    positives = int((labels > 0).sum())
    if positives == 0:
        raise RankerUnavailable(
            f"last week's pool ({features.shape[0]:,} rows) has no positive: no listener "
            "first played any of its tracks in the week since"
        )
    with_positive = np.unique(listeners[labels > 0])
    if with_positive.size < max(4, min_listeners):
        raise RankerUnavailable(
            f"only {with_positive.size} listener(s) of last week's pool played one of its "
            f"tracks since: too few to train and validate a ranker (at least "
            f"{max(4, min_listeners)}: [ranking] min_listeners)"
        )
    held_out = np.random.default_rng(seed).permutation(with_positive)
    held_out = held_out[: max(1, int(round(validation_share * with_positive.size)))]
    validating = np.isin(listeners, held_out)
    # Listeners without a positive give lambdarank no pair to learn from.
    training = ~validating & np.isin(listeners, with_positive)
    order = np.flatnonzero(training)
    order = order[np.argsort(listeners[order], kind="stable")]
    dataset = lgb.Dataset(
        features[order],
        label=labels[order],
        group=_query_sizes(listeners[order]),
        feature_name=list(FEATURES),
        free_raw_data=True,
    )
    booster = lgb.train(
        {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [k],
            "lambdarank_truncation_level": k,
            "seed": seed,
            "deterministic": True,
            "num_threads": 1,
            "verbosity": -1,
            **params,
        },
        dataset,
        num_boost_round=rounds,
    )
    valid_rows = np.flatnonzero(validating)
    gains = booster.feature_importance(importance_type="gain")
    return TrainedRanker(
        model_text=booster.model_to_string(),
        importances={name: float(gain) for name, gain in zip(FEATURES, gains)},
        training_rows=int(order.size),
        training_listeners=int(np.unique(listeners[order]).size),
        positives=positives,
        validation_listeners=int(held_out.size),
        validation_ndcg=pool_ndcg(
            listeners[valid_rows],
            labels[valid_rows],
            booster.predict(features[valid_rows], num_threads=1),
            k,
        ),
        validation_ndcg_blend=pool_ndcg(
            listeners[valid_rows], labels[valid_rows], blend[valid_rows], k
        ),
    )


class Ranker:
    """A stored LightGBM model, ready to score feature rows."""

    def __init__(self, model_text: str, source: str) -> None:
        import lightgbm as lgb

        self.text = model_text
        try:
            self._booster = lgb.Booster(model_str=model_text)
        except lgb.basic.LightGBMError as error:
            raise RankerUnavailable(f"the ranker in {source} cannot be read: {error}") from None
        names = tuple(self._booster.feature_name())
        if names != FEATURES:
            raise RankerUnavailable(
                f"the ranker in {source} was trained on other features ({len(names)}: "
                f"{', '.join(names[:3])}, ...) than this code computes ({len(FEATURES)})"
            )

    @classmethod
    def load(cls, path: Path) -> "Ranker":
        if not path.is_file():
            raise RankerUnavailable(f"no ranker file at {path}")
        return cls(path.read_text(), str(path))

    def scores(self, features: np.ndarray) -> np.ndarray:
        if features.shape[0] == 0:
            return np.zeros(0)
        return self._booster.predict(features, num_threads=1)


def positive_scores(scores: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
    """exp(score - the row's best): the ranker's scores on a positive scale, each listener's
    best at 1, so boosts can multiply them as they multiply the blend's."""
    best = np.full(n_rows, -np.inf)
    np.maximum.at(best, rows, scores)
    return np.exp(scores - best[rows])


def boost_discovery_mode(
    rows: np.ndarray,
    scores: np.ndarray,
    boosts: np.ndarray,
    eligible: np.ndarray,
    max_boosted: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores x (1 + boost) for at most `max_boosted` eligible rows per listener (those best
    after boosting); returns (scores, boosted). `eligible`: a campaign in force and the
    listener never skipped the track."""
    boosted_scores = scores * (1.0 + np.where(eligible, boosts, 0.0))
    order = np.lexsort((-boosted_scores, ~eligible, rows))
    starts = np.searchsorted(rows[order], rows[order], side="left")
    place = np.arange(order.size) - starts
    boosted = np.zeros(rows.size, dtype=bool)
    boosted[order] = eligible[order] & (place < max_boosted)
    return np.where(boosted, boosted_scores, scores), boosted


@dataclass(frozen=True)
class Variety:
    """How `pick_playlists` trades relevance for variety."""

    length: int
    max_per_artist: int
    max_per_album: int
    max_per_cluster: int
    artist_penalty: float  # relevance lost per track of the same artist already picked
    cluster_penalty: float  # ... per track of the same cluster already picked


def _dense(
    rows: np.ndarray, n_rows: int, values: np.ndarray, fill
) -> tuple[np.ndarray, np.ndarray]:
    """Flat per-row values (rows sorted) as an n_rows x width matrix, padded with `fill`;
    also the flat index of every cell (-1 in padding)."""
    counts = np.bincount(rows, minlength=n_rows)
    width = max(1, int(counts.max(initial=0)))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    column = np.arange(rows.size) - starts[rows]
    dense = np.full((n_rows, width), fill, dtype=np.asarray(values).dtype)
    dense[rows, column] = values
    index = np.full((n_rows, width), -1, dtype=np.int64)
    index[rows, column] = np.arange(rows.size)
    return dense, index


def slot_kinds(length: int, exploration_slots: np.ndarray) -> np.ndarray:
    """rows x length: whether each slot of each listener's playlist is exploration's. The
    k-th of n slots of a kind sits at (k - 0.5) / n of the playlist, so the two kinds
    interleave evenly (the main kind first where they tie)."""
    kinds = np.zeros((exploration_slots.size, length), dtype=bool)
    for slots in np.unique(exploration_slots):
        slots = int(np.clip(slots, 0, length))
        at = np.concatenate(
            [
                (np.arange(length - slots) + 0.5) / max(length - slots, 1),
                (np.arange(slots) + 0.5) / max(slots, 1),
            ]
        )
        explore = np.arange(length) >= length - slots
        kinds[exploration_slots == slots] = explore[np.lexsort((explore, at))]
    return kinds


def pick_playlists(
    rows: np.ndarray,
    relevance: np.ndarray,
    artist: np.ndarray,
    album: np.ndarray,
    cluster: np.ndarray,
    explore: np.ndarray,
    exploration_slots: np.ndarray,
    n_rows: int,
    variety: Variety,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy playlists, slot by slot. Each slot belongs to exploration or to the main
    ranking (`slot_kinds`: the listener's `exploration_slots` of `length`, interleaved);
    the listener takes the candidate of that kind with the highest

        relevance - artist_penalty x (same artist picked) - cluster_penalty x (same cluster picked)

    among those still under every cap (artist, album, cluster; -1 is none and never
    capped). When the slot's kind has none left, the other kind fills it. `relevance` is
    compared within a kind only, so the kinds' scales need not agree; an earlier slot wins
    a cap over a later one whatever its kind. Rows must be sorted by listener. Returns
    (picked: flat row indices, position: 1-based, `_interleaved_positions`)."""
    if rows.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    value0, index = _dense(rows, n_rows, relevance.astype(np.float64), -np.inf)
    codes = [_dense(rows, n_rows, c.astype(np.int64), -1)[0] for c in (artist, album, cluster)]
    is_explore = _dense(rows, n_rows, explore, False)[0]
    caps = (variety.max_per_artist, variety.max_per_album, variety.max_per_cluster)
    same = [np.zeros(value0.shape, np.int32) for _ in codes]
    open_ = np.isfinite(value0)
    kinds = slot_kinds(variety.length, exploration_slots)
    everyone = np.arange(n_rows)
    picks, slots = [], []
    for slot in range(variety.length):
        under_caps = open_.copy()
        for count, cap, code in zip(same, caps, codes):
            under_caps &= (count < cap) | (code < 0)
        value = value0 - variety.artist_penalty * same[0] - variety.cluster_penalty * same[2]
        wanted = np.where(under_caps & (is_explore == kinds[:, slot : slot + 1]), value, -np.inf)
        anyway = np.where(under_caps, value, -np.inf)
        best = wanted.argmax(axis=1)
        other_kind = ~np.isfinite(wanted[everyone, best])
        best = np.where(other_kind, anyway.argmax(axis=1), best)
        found = np.isfinite(anyway[everyone, best])
        if not found.any():
            break
        who, where = everyone[found], best[found]
        picks.append(index[who, where])
        slots.append(np.full(who.size, slot))
        open_[who, where] = False
        for count, code in zip(same, codes):
            chosen = code[who, where]
            count[who] += (code[who] == chosen[:, None]) & (chosen[:, None] >= 0)
    picked = np.concatenate(picks)
    return picked, _interleaved_positions(rows[picked], explore[picked], np.concatenate(slots))


def _interleaved_positions(rows: np.ndarray, explore: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """1-based positions of each listener's picks, the kinds interleaved evenly by the
    counts actually picked (a kind that ran short leaves no gap): the k-th of n picks of
    a kind sits at (k - 0.5) / n, the main kind first where they tie."""
    by_kind = np.lexsort((slot, explore, rows))
    key = rows[by_kind] * 2 + explore[by_kind]
    first = np.searchsorted(key, key, side="left")
    last = np.searchsorted(key, key, side="right")
    at = np.empty(rows.size)
    at[by_kind] = (np.arange(rows.size) - first + 0.5) / (last - first)
    order = np.lexsort((slot, explore, at, rows))
    position = np.empty(rows.size, np.int64)
    starts = np.searchsorted(rows[order], rows[order], side="left")
    position[order] = np.arange(rows.size) - starts + 1
    return position
