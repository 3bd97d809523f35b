"""Offline evaluation of the tag-similarity source (jobs/domain/tags.py) on Last.fm HetRec 2011:
when new artists arrive that nobody has played, which of them go to whom?

Protocol (no Spark; numpy, scipy.sparse, scikit-learn, pandas):

* Held-out artists: a seeded draw (seed 42) of 10% of the artists that have at least one tag
  assignment (user_taggedartists.dat) and at least 5 listeners (user_artists.dat). Every
  listen of a held-out artist is removed from training: to the models they are brand new.
* Listeners evaluated: everyone who listened to at least one held-out artist; the truth is
  those held-out artists. Each method ranks ONLY the held-out artists (the cold-start
  question) and recall@30 and NDCG@30 come from jobs/domain/metrics.py (a listener a method gives
  nothing counts 0).
* Confidence of a training (listener, artist) pair: log1p(min(20, ceil(log2(1 + weight)))),
  the plays jobs/sources/adapters.py makes of a play count, then the pipeline's log1p.

Leakage. Tags are given by users, so a listener who tagged a held-out artist reveals that
they know it, and the tags they chose. Every tag assignment of a held-out artist made by a
user who listened to it - exactly the (listener, artist) pairs of the truth - is dropped
(`leak_free_tags`); tags the same artist got from users who did not list it stay: that is
what a new artist can carry from outside our service (its page, other taggers, the label).
The alternative, dropping every tag by any evaluated listener, would evaluate a different
data set: 95% of the users listen to some held-out artist, so it keeps 4% of the
assignments and leaves tags on a quarter of the held-out artists (docs/tags-evaluation.md). The
evaluated listener's tags on training artists are kept: they were given before, on artists
they played. The `tags (leaky)` row keeps everything, to show what the exclusion is worth.

Methods:
* `tags`: TF-IDF over Last.fm tags (jobs/domain/tags.py), cosine of listener profile and artist;
* `genres`, `tags+genres`: the same with MusicOSet's Spotify genres as terms (matched by
  name as jobs/sources/adapters.py does), alone and added to the tags;
* `audio`: the content source's measure (jobs/domain/taste.py): MusicOSet audio features per artist
  (mean over its songs, as the Last.fm import makes them), min-max scaled over the featured
  artists; profile = confidence-weighted mean of the played artists' vectors; cosine after
  centring both on the featured artists' mean. Artists without features cannot be offered;
* `popularity (taggers)`: one list for everyone, by the number of distinct users who tagged
  the artist in the leak-free tags. A new artist has no plays here, so play counts cannot
  rank it; how many people bothered to tag it is what the data knows of its fame before
  anyone of ours plays it (in a live catalog: Spotify's `popularity` or `followers`);
* `popularity (listeners; leaky)`: by its number of listeners in the full data - that uses
  the held-out plays, so no cold-start system has it: a ceiling for "just recommend the
  famous ones", not a baseline;
* `random`: a seeded random order per listener, the floor (recall about 30 / candidates).

Two candidate sets: every held-out artist, and those with both leak-free tags and audio
features (where the audio method is not handicapped by coverage). Coverage counts come
with the table.

    PYTHONPATH=. python -m jobs.tools.evaluate_tags [DATA_DIR]    # DATA_DIR: ../shared/data
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from sklearn.preprocessing import MinMaxScaler, normalize

from jobs.domain.metrics import ndcg_at_k, recall_at_k
from jobs.domain.tags import (
    TagSpace,
    TopK,
    genre_terms,
    listener_profiles,
    tag_space,
    top_k_similar,
)
from jobs.sources.adapters import (
    LASTFM_HETREC,
    MEAN_FEATURES,
    MUSICOSET,
    musicoset_match,
    read_lastfm_tags,
)

log = logging.getLogger(__name__)

K = 30
SEED = 42
HOLDOUT_SHARE = 0.1
MIN_LISTENERS = 5
MAX_PLAYS = 20  # jobs.sources.adapters.import_lastfm_hetrec's max_plays_per_pair
ALL_HELD_OUT = "all held-out"


@dataclass(frozen=True)
class Lastfm:
    """The HetRec files as frames with integer ids."""

    plays: pd.DataFrame  # user_id, artist_id, weight
    artists: pd.DataFrame  # id, name (artists.dat)
    tags: pd.DataFrame  # user_id, artist_id, tag (text)


@dataclass(frozen=True)
class HoldOut:
    """The held-out artists and the plays split by them."""

    artists: np.ndarray  # sorted artist ids
    eligible: int  # how many artists could have been drawn
    train: pd.DataFrame  # plays of every other artist
    truth: pd.DataFrame  # (user_id, artist_id): the listens of held-out artists


def read_lastfm(source_dir: Path) -> Lastfm:
    """user_artists.dat, artists.dat, and user_taggedartists.dat with tags.dat's text."""
    text = {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False}
    plays = pd.read_csv(source_dir / "user_artists.dat", sep="\t", dtype="int64")
    artists = pd.read_csv(
        source_dir / "artists.dat", usecols=["id", "name"], dtype={"id": "int64"}, **text
    )
    tags = read_lastfm_tags(source_dir)
    if tags is None:
        raise FileNotFoundError(f"{source_dir} has no user_taggedartists.dat and tags.dat")
    return Lastfm(
        plays=plays.rename(columns={"userID": "user_id", "artistID": "artist_id"}),
        artists=artists,
        tags=tags.rename(columns={"userID": "user_id", "artistID": "artist_id"}),
    )


def hold_out_artists(
    plays: pd.DataFrame,
    tagged: np.ndarray,
    share: float = HOLDOUT_SHARE,
    min_listeners: int = MIN_LISTENERS,
    seed: int = SEED,
) -> HoldOut:
    """Holds out a seeded `share` (rounded, at least one) of the artists in `tagged` with
    at least `min_listeners` listeners in `plays` (user_id, artist_id, weight). The draw is
    from the eligible ids in ascending order (groupby sorts its keys), so the same inputs
    give the same split whatever their row order."""
    listeners = plays.groupby("artist_id")["user_id"].nunique()
    eligible = listeners.index[(listeners >= min_listeners) & listeners.index.isin(tagged)]
    eligible = eligible.to_numpy()
    if eligible.size == 0:
        raise ValueError(f"no artist has tags and at least {min_listeners} listeners")
    n = max(1, round(share * eligible.size))
    chosen = np.sort(np.random.default_rng(seed).choice(eligible, size=n, replace=False))
    held = plays["artist_id"].isin(chosen).to_numpy()
    return HoldOut(
        artists=chosen,
        eligible=eligible.size,
        train=plays.loc[~held].reset_index(drop=True),
        truth=plays.loc[held, ["user_id", "artist_id"]].drop_duplicates().reset_index(drop=True),
    )


def leak_free_tags(tags: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """`tags` (user_id, artist_id, tag) without the assignments made by a listener to a
    held-out artist they listened to (the (user_id, artist_id) pairs of `truth`); see the
    module docstring."""
    pair = pd.MultiIndex.from_frame(tags[["user_id", "artist_id"]])
    leaked = pair.isin(pd.MultiIndex.from_frame(truth[["user_id", "artist_id"]]))
    return tags.loc[~leaked].reset_index(drop=True)


def confidence(weight: np.ndarray) -> np.ndarray:
    """log1p of the plays jobs/sources/adapters.py makes of a Last.fm play count."""
    plays = np.minimum(MAX_PLAYS, np.ceil(np.log2(1 + np.asarray(weight, np.float64))))
    return np.log1p(plays)


def user_items(train: pd.DataFrame, user_ids: np.ndarray, artist_ids: np.ndarray) -> csr_matrix:
    """Listeners x artists confidences of the training plays, rows `user_ids`, columns
    `artist_ids` (both sorted; every training id among them)."""
    return csr_matrix(
        (
            confidence(train["weight"].to_numpy()),
            (
                np.searchsorted(user_ids, train["user_id"].to_numpy()),
                np.searchsorted(artist_ids, train["artist_id"].to_numpy()),
            ),
        ),
        shape=(len(user_ids), len(artist_ids)),
        dtype=np.float32,
    )


def audio_space(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(scaled, featured): artists x MEAN_FEATURES, min-max scaled over the artists that
    have every feature (`featured`), as jobs/stages/clusters.py scales the catalog; zero rows for
    the rest."""
    values = features[list(MEAN_FEATURES)].to_numpy(np.float64)
    featured = ~np.isnan(values).any(axis=1)
    scaled = np.zeros_like(values)
    scaled[featured] = MinMaxScaler().fit_transform(values[featured])
    return scaled, featured


def tag_recs(
    space: TagSpace, listened: csr_matrix, candidates: np.ndarray, user_ids: np.ndarray
) -> pd.DataFrame:
    """Top K of the artist rows `candidates` by tag cosine, for every row of `listened`."""
    profiles = listener_profiles(listened, space.matrix)
    top = top_k_similar(profiles, space.matrix[candidates], K)
    return _recs(top, user_ids, space.item_ids[candidates])


def audio_recs(
    scaled: np.ndarray,
    featured: np.ndarray,
    listened: csr_matrix,
    candidates: np.ndarray,
    user_ids: np.ndarray,
    artist_ids: np.ndarray,
) -> pd.DataFrame:
    """Top K of the featured `candidates` by the content source's centred cosine
    (jobs/domain/taste.py): profile = confidence-weighted mean of the played featured artists'
    scaled vectors; both it and the artists centred on the featured artists' mean. Every
    candidate is ranked (floor -inf), as the content source keeps negative cosines; a
    listener who played nothing featured has no profile and gets nothing."""
    mean = scaled[featured].mean(axis=0)
    weights = listened[:, np.flatnonzero(featured)]
    totals = np.asarray(weights.sum(axis=1)).ravel()
    served = totals > 0
    profiles = (weights[served] @ scaled[featured]) / totals[served, None] - mean
    offered = candidates[featured[candidates]]
    top = top_k_similar(
        csr_matrix(normalize(profiles)),
        csr_matrix(normalize(scaled[offered] - mean)),
        K,
        floor=-np.inf,
    )
    return _recs(top, user_ids[served], artist_ids[offered])


def _recs(top: TopK, user_ids: np.ndarray, item_ids: np.ndarray) -> pd.DataFrame:
    """A TopK as the (user_id, track_id, rank) frame jobs/domain/metrics.py reads; artists stand
    in for tracks, as in the Last.fm import."""
    return pd.DataFrame(
        {"user_id": user_ids[top.rows], "track_id": item_ids[top.items], "rank": top.ranks}
    )


def ranked_recs(signal: np.ndarray, user_ids: np.ndarray, item_ids: np.ndarray) -> pd.DataFrame:
    """One list for every listener: the top K of `item_ids` by `signal`, ties by id."""
    top = np.lexsort((item_ids, -signal))[:K]
    return pd.DataFrame(
        {
            "user_id": np.repeat(user_ids, top.size),
            "track_id": np.tile(item_ids[top], user_ids.size),
            "rank": np.tile(np.arange(1, top.size + 1), user_ids.size),
        }
    )


def random_recs(user_ids: np.ndarray, item_ids: np.ndarray, seed: int) -> pd.DataFrame:
    """A seeded random top K of `item_ids` per listener."""
    draws = np.random.default_rng(seed).random((user_ids.size, item_ids.size))
    top = np.argsort(draws, axis=1)[:, :K]
    return pd.DataFrame(
        {
            "user_id": np.repeat(user_ids, top.shape[1]),
            "track_id": item_ids[top].ravel(),
            "rank": np.tile(np.arange(1, top.shape[1] + 1), user_ids.size),
        }
    )


TAGGER_BANDS = ((0, 0), (1, 3), (4, 9), (10, None))  # a held-out artist's leak-free taggers


@dataclass(frozen=True)
class Evaluation:
    results: pd.DataFrame  # one row per (candidate set, method)
    by_taggers: pd.DataFrame  # all held-out: recall by the held-out artist's taggers
    coverage: pd.DataFrame  # one row per candidate set


def evaluate(data: Lastfm, features_source: Path, seed: int = SEED) -> Evaluation:
    """The protocol of the module docstring on `data`, with MusicOSet from
    `features_source` (the folder holding musicoset_metadata/ and musicoset_songfeatures/)."""
    artists = data.artists.sort_values("id", ignore_index=True)
    artist_ids = artists["id"].to_numpy()
    split = hold_out_artists(data.plays, data.tags["artist_id"].unique(), seed=seed)
    user_ids = np.unique(split.truth["user_id"].to_numpy())
    train = split.train.loc[split.train["user_id"].isin(user_ids)]
    listened = user_items(train, user_ids, artist_ids)
    clean = leak_free_tags(data.tags, split.truth)
    borrowed = musicoset_match(artists, features_source)
    genre_artist, genres = genre_terms(artist_ids, borrowed.genres)
    spaces = {
        "tags": tag_space(artist_ids, clean["artist_id"].to_numpy(), clean["tag"].to_numpy()),
        "genres": tag_space(artist_ids, genre_artist, genres),
        "tags+genres": tag_space(
            artist_ids,
            np.concatenate([clean["artist_id"].to_numpy(), genre_artist]),
            np.concatenate([clean["tag"].to_numpy(dtype=object), genres.astype(object)]),
        ),
        "tags (leaky)": tag_space(
            artist_ids, data.tags["artist_id"].to_numpy(), data.tags["tag"].to_numpy()
        ),
    }
    scaled, featured = audio_space(borrowed.features)
    taggers = clean.groupby("artist_id")["user_id"].nunique()
    taggers = taggers.reindex(artist_ids, fill_value=0).to_numpy()
    listeners = data.plays.groupby("artist_id")["user_id"].nunique()
    listeners = listeners.reindex(artist_ids, fill_value=0).to_numpy()
    # Which artists each method can offer at all.
    everyone = np.ones(artist_ids.size, dtype=bool)
    reach = {name: space.has_terms() for name, space in spaces.items()}
    reach |= {"audio": featured, "popularity (taggers)": everyone}
    reach |= {"popularity (listeners; leaky)": everyone, "random": everyone}

    held = np.searchsorted(artist_ids, split.artists)
    tagged = reach["tags"]
    candidate_sets = {
        ALL_HELD_OUT: held,
        "held-out with tags and audio": held[tagged[held] & featured[held]],
    }
    results, coverage, all_recs = [], [], {}
    for set_name, candidates in candidate_sets.items():
        item_ids = artist_ids[candidates]
        truth = split.truth.loc[split.truth["artist_id"].isin(item_ids)]
        truth = truth.rename(columns={"artist_id": "track_id"})
        evaluated = np.isin(user_ids, truth["user_id"].to_numpy())
        users, rows = user_ids[evaluated], listened[evaluated]
        methods = {
            **{
                name: partial(tag_recs, space, rows, candidates, users)
                for name, space in spaces.items()
            },
            "audio": partial(audio_recs, scaled, featured, rows, candidates, users, artist_ids),
            "popularity (taggers)": partial(ranked_recs, taggers[candidates], users, item_ids),
            "popularity (listeners; leaky)": partial(
                ranked_recs, listeners[candidates], users, item_ids
            ),
            "random": partial(random_recs, users, item_ids, seed),
        }
        for method, make in methods.items():
            started = time.perf_counter()
            recs = make()
            seconds = time.perf_counter() - started
            if set_name == ALL_HELD_OUT:
                all_recs[method] = recs
            results.append(
                {
                    "candidates": set_name,
                    "method": method,
                    f"recall@{K}": recall_at_k(truth, recs, K),
                    f"ndcg@{K}": ndcg_at_k(truth, recs, K),
                    "artists_reachable": float(reach[method][candidates].mean()),
                    "listeners_served": recs["user_id"].nunique() / users.size,
                    "seconds": seconds,
                }
            )
        coverage.append(
            {
                "candidates": set_name,
                "artists": candidates.size,
                "with_tags": int(tagged[candidates].sum()),
                "with_genres": int(reach["genres"][candidates].sum()),
                "with_audio": int(featured[candidates].sum()),
                "with_tags_and_audio": int((tagged & featured)[candidates].sum()),
                "listeners": users.size,
                "held_out_listens": len(truth),
            }
        )
    log.info(
        "%s: %d held-out artists of %d eligible; %d of %d tag assignments dropped as leaks",
        LASTFM_HETREC,
        split.artists.size,
        split.eligible,
        len(data.tags) - len(clean),
        len(data.tags),
    )
    truth = split.truth.rename(columns={"artist_id": "track_id"})
    by_taggers = by_tagger_band(truth, all_recs, pd.Series(taggers, index=artist_ids))
    return Evaluation(pd.DataFrame(results), by_taggers, pd.DataFrame(coverage))


def by_tagger_band(
    truth: pd.DataFrame, recs: dict[str, pd.DataFrame], taggers: pd.Series
) -> pd.DataFrame:
    """Recall@K (one column per method) of each method's lists over all held-out artists,
    with the truth cut to
    the held-out artists whose number of leak-free taggers (`taggers`, by artist id) falls
    in each of TAGGER_BANDS: where do tags stop helping?"""
    counts = taggers.reindex(truth["track_id"]).to_numpy()
    rows = []
    for low, high in TAGGER_BANDS:
        inside = (counts >= low) & (counts <= (np.inf if high is None else high))
        band = truth.loc[inside]
        row = {
            "taggers": f"{low}+" if high is None else f"{low}" if low == high else f"{low}-{high}",
            "artists": band["track_id"].nunique(),
            "listeners": band["user_id"].nunique(),
        }
        row |= {method: recall_at_k(band, r, K) for method, r in recs.items()}
        rows.append(row)
    return pd.DataFrame(rows)


SPREAD_SEEDS = (42, 1, 2, 3, 4)


def seed_spread(
    data: Lastfm, features_source: Path, seeds: tuple[int, ...] = SPREAD_SEEDS
) -> pd.DataFrame:
    """Mean, min and max of recall@K and NDCG@K per (candidate set, method) over
    `evaluate` with each of `seeds`: how much of a difference is the draw of artists."""
    runs = pd.concat([evaluate(data, features_source, seed).results for seed in seeds])
    spread = runs.groupby(["candidates", "method"], sort=False)[[f"recall@{K}", f"ndcg@{K}"]]
    table = spread.agg(["mean", "min", "max"])
    table.columns = [f"{metric} {stat}" for metric, stat in table.columns]
    return table.reset_index()


def markdown(frame: pd.DataFrame) -> str:
    """`frame` as a Markdown table, floats to 4 decimals."""
    cells = frame.map(lambda v: f"{v:.4f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Runs `evaluate` (seed 42) on DATA_DIR/lastfm-hetrec2011 and DATA_DIR/musicoset
    (DATA_DIR the one argument, default ../shared/data), then `seed_spread`; prints the
    tables and the runtimes."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = sys.argv[1:] if argv is None else argv
    data_dir = Path(args[0] if args else "../shared/data")
    started = time.perf_counter()
    data = read_lastfm(data_dir / LASTFM_HETREC)
    evaluation = evaluate(data, data_dir / MUSICOSET)
    seconds = time.perf_counter() - started
    for table in (evaluation.results, evaluation.by_taggers, evaluation.coverage):
        print(markdown(table), end="\n\n")
    print(f"seed {SEED}: {seconds:.1f} s (reading the files and matching MusicOSet included)\n")
    started = time.perf_counter()
    print(markdown(seed_spread(data, data_dir / MUSICOSET)), end="\n\n")
    print(f"seeds {SPREAD_SEEDS}: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
