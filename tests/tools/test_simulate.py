"""The simulation: listeners who react to what was published for them (the reaction model
of jobs/sources/sample/playlist_listens.py), and weeks run in order over it
(jobs/tools/simulate.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jobs.core.config import BanditConfig, PipelineConfig
from jobs.core.tables import table_path
from jobs.sources.sample.playlist_listens import playlist_listens
from jobs.sources.sample.world import build_world
from jobs.tools import pipeline, simulate

WEEK = dt.date(2026, 11, 16)
SLOTS = 30


@pytest.fixture(scope="module")
def world():
    built, _ = build_world(WEEK, users=400, tracks=2000, weeks=2, seed=5)
    return built


def _served(world, genre_of_slot) -> pa.Table:
    """A Discover Weekly of SLOTS tracks of the listener's favourite genre and a Release
    Radar of SLOTS tracks of their least favourite, for every listener; `genre_of_slot`
    picks the genre from the listener's taste ranking."""
    catalog, listeners = world.catalog, world.listeners
    rng = np.random.default_rng(0)
    ranking = np.argsort(-listeners.taste, axis=1)
    users, tracks, kinds, positions = [], [], [], []
    for kind, rank in (("discover_weekly", 0), ("release_radar", -1)):
        for user in range(listeners.size):
            genre = ranking[user, genre_of_slot(rank)]
            pool = np.flatnonzero(catalog.track_genre == genre)
            if pool.size < SLOTS:
                continue
            tracks.extend(rng.choice(pool, SLOTS, replace=False))
            users.extend([user] * SLOTS)
            kinds.extend([kind] * SLOTS)
            positions.extend(range(1, SLOTS + 1))
    return pa.table(
        {
            "user_id": listeners.user_ids.take(pa.array(users)),
            "track_id": catalog.track_ids.take(pa.array(tracks)),
            "playlist_type": pa.array(kinds),
            "position": pa.array(positions, pa.int32()),
        }
    )


def _plays(events: pa.Table) -> pa.Table:
    return events.filter(pc.equal(events["event_type"], "play"))


def test_listeners_skip_tracks_outside_their_taste_more_often(world):
    served = _served(world, lambda rank: rank)
    plays = _plays(playlist_listens(world, served, WEEK, 1).events)
    kind_of = {
        (user, track): kind
        for user, track, kind in zip(
            *(served[name].to_pylist() for name in ("user_id", "track_id", "playlist_type"))
        )
    }
    skipped = {"discover_weekly": [], "release_radar": []}
    for user, track, was_skipped in zip(
        *(plays[name].to_pylist() for name in ("user_id", "track_id", "skipped"))
    ):
        skipped[kind_of[(user, track)]].append(was_skipped)
    favourite, least = (np.mean(skipped[kind]) for kind in ("discover_weekly", "release_radar"))
    assert min(len(values) for values in skipped.values()) > 1000
    assert least > favourite + 0.15, (favourite, least)


def test_listens_stay_within_the_week_and_the_served_slots_and_are_reproducible(world):
    served = _served(world, lambda rank: 0)
    listens = playlist_listens(world, served, WEEK, 1)
    events = listens.events
    start = dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc)
    assert pc.min(events["ts"]).as_py() >= start
    assert pc.max(events["ts"]).as_py() < start + dt.timedelta(weeks=1)
    pairs = set(zip(served["user_id"].to_pylist(), served["track_id"].to_pylist()))
    assert set(zip(events["user_id"].to_pylist(), events["track_id"].to_pylist())) <= pairs
    # Some slots were never reached: listeners do not open every playlist or finish it.
    assert 0 < _plays(events).num_rows < served.num_rows
    kinds = set(events["event_type"].to_pylist())
    assert {"play", "save"} <= kinds
    assert (
        listens.user_hides.num_rows
        == pc.sum(pc.is_in(events["event_type"], pa.array(["hide", "dont_suggest"]))).as_py()
    )

    again = playlist_listens(world, served, WEEK, 1)
    assert again.events.equals(events)
    next_round = playlist_listens(world, served, WEEK, 2).events
    assert not set(next_round["event_id"].to_pylist()) & set(events["event_id"].to_pylist())


def test_an_unknown_listener_is_an_error_that_names_it(world):
    served = _served(world, lambda rank: 0).slice(0, 1)
    served = served.set_column(0, "user_id", pa.array(["nobody"]))
    with pytest.raises(ValueError, match="user_id nobody is not in the generated world"):
        playlist_listens(world, served, WEEK, 1)


@pytest.mark.spark
@pytest.mark.slow
def test_a_simulated_week_learns_from_the_reactions_to_the_week_before(
    spark, tmp_path, test_config
):
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    config = replace(
        config,
        spark_master=test_config.spark_master,
        hive_catalog=False,
        bandit=BanditConfig(enabled=True),
    )
    first = dt.date(2026, 11, 9)

    runs = simulate.simulate(
        config,
        first,
        weeks=1,
        users=120,
        tracks=400,
        history_weeks=3,
        seed=3,
        run_week=lambda week: pipeline.run_week(spark, config, week),
    )

    assert runs == [first, first + dt.timedelta(weeks=1)]
    # The reactions to the first week's playlists are raw events of the week after it.
    listened = sorted(config.raw_events_dir.glob(f"date=*/{simulate.LISTENS_FILE}"))
    assert listened and all(
        "2026-11-09" <= path.parent.name[5:] < "2026-11-16" for path in listened
    )
    assert not any(simulate.organic_dir(config).iterdir())  # every organic day released
    (week, slots, played, streamed, skipped, *_) = simulate.weekly_outcomes(config)[0]
    published = simulate.published_slots(config, first).num_rows
    assert week == first and slots == published
    assert 0 < streamed < played and played == pytest.approx(streamed + skipped)
    assert (table_path(config, "playlists") / "week=2026-11-16").exists()
    # The adaptive policy chose both weeks' shares; the first week's earnings are known.
    assert sorted(path.name for path in table_path(config, "policy").glob("week=*")) == [
        "week=2026-11-09",
        "week=2026-11-16",
    ]
    estimates = simulate.estimates_against_outcomes(config)
    assert {week for week, *_ in estimates} == {first}
    assert all(0 <= earned <= 1 for *_, earned in estimates)


def _write(folder, table: pa.Table, name="part-0.parquet") -> None:
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)


def test_policy_outcomes_count_coverage_and_the_cold_start_tracks_that_found_listeners(tmp_path):
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    assert simulate.policy_outcomes(config) is None  # nothing served yet
    tracks = pa.table({"track_id": [f"t{n}" for n in range(10)]})
    _write(config.catalog_dir / "tracks", tracks)
    first, second = dt.date(2026, 11, 9), dt.date(2026, 11, 16)
    # t1 was played before it was served; t2 only during the week it was first served; t3
    # never; t4 first served in the second week, played in between.
    for day, track in ((dt.date(2026, 11, 2), "t1"), (first, "t2"), (dt.date(2026, 11, 12), "t4")):
        _write(
            table_path(config, "events") / f"date={day}",
            pa.table({"track_id": [track, "t9"], "event_type": ["play", "save"]}),
        )
    feedback = table_path(config, "playlist_feedback")
    slots = {  # week: (track, streamed, saved, skipped)
        first: [("t1", True, True, False), ("t2", False, False, True), ("t3", False, False, False)],
        second: [("t2", True, False, False), ("t4", False, False, True)],
    }
    for week, rows in slots.items():
        track, streamed, saved, skipped = (list(column) for column in zip(*rows))
        _write(
            feedback / f"week={week}",
            pa.table({"track_id": track, "streamed": streamed, "saved": saved, "skipped": skipped}),
        )

    outcomes = simulate.policy_outcomes(config)

    assert outcomes["slots"] == 5
    assert outcomes["stream_rate"] == pytest.approx(2 / 5)
    assert outcomes["save_rate"] == pytest.approx(1 / 5)
    assert outcomes["skip_rate"] == pytest.approx(2 / 5)
    assert outcomes["catalog_coverage"] == pytest.approx(4 / 10)
    # Cold when first served: t2 (its first play came with the serving), t3 (never played);
    # t2 was streamed the second week. t4 was played before its first serving.
    assert outcomes["cold_start_tracks"] == 2
    assert outcomes["cold_start_found"] == pytest.approx(1 / 2)
