"""The adaptive policy's rule (jobs/domain/policy.py): posteriors, Thompson draws within bounds, and
the inverse-propensity estimate against cases with a known answer."""

import math

import numpy as np
import pytest

from jobs.domain import policy

BOUNDS = policy.Bounds(
    min_factor=0.5, max_factor=2.0, min_exploration_share=0.1, max_exploration_share=0.4
)
SOURCES = ["als", "content", "popularity"]


def test_counts_discount_older_weeks():
    counts = policy.discounted_counts(
        segment=np.array(["heavy", "heavy", "new"]),
        arm=np.array(["als", "als", "als"]),
        slots=np.array([2.0, 4.0, 1.0]),
        successes=np.array([1.0, 1.0, 0.0]),
        age_weeks=np.array([0, 2, 1]),
        discount=0.5,
    )
    # heavy: 2 slots (1 won) this week, 4 (1 won) two weeks back at a quarter weight.
    assert counts[("heavy", "als")] == policy.Counts(successes=1.25, failures=1.75)
    assert counts[("new", "als")] == policy.Counts(successes=0.0, failures=0.5)
    assert (counts[("heavy", "als")].alpha, counts[("heavy", "als")].beta) == (2.25, 2.75)


def _confident(rate: float, slots: float = 10_000) -> policy.Counts:
    return policy.Counts(successes=rate * slots, failures=(1 - rate) * slots)


def test_a_clearly_better_source_gets_more_weight_up_to_the_bound():
    counts = {
        "als": _confident(0.30),
        "content": _confident(0.90),  # three times the others: clipped at 2x
        "popularity": _confident(0.30),
        policy.EXPLORATION: _confident(0.02),  # nearly worthless: the lowest share allowed
    }
    logged = {"als": 0.5, "content": 0.15, "popularity": 0.15, policy.EXPLORATION: 0.2}
    choice = policy.choose(counts, SOURCES, 0.2, logged, BOUNDS, np.random.default_rng(1))

    assert choice.factors["content"] == pytest.approx(2.0)
    assert 0.5 <= choice.factors["als"] < 1.0
    assert choice.exploration_share == pytest.approx(0.1)
    assert choice.draws["content"] == pytest.approx(0.9, abs=0.02)


def test_exploration_keeps_its_share_when_it_does_as_well_as_the_blend():
    # Exploration's share scales with its draw relative to the blend's mean draw: as good
    # as the blend keeps the fixed 20%, half again as good gets 30%.
    logged = {"als": 0.5, "content": 0.15, "popularity": 0.15, policy.EXPLORATION: 0.2}
    for exploration_rate, share in ((0.3, 0.2), (0.45, 0.3)):
        counts = {arm: _confident(0.3, 1_000_000) for arm in SOURCES}
        counts[policy.EXPLORATION] = _confident(exploration_rate, 1_000_000)
        choice = policy.choose(counts, SOURCES, 0.2, logged, BOUNDS, np.random.default_rng(3))
        assert choice.exploration_share == pytest.approx(share, rel=0.02)


def test_without_feedback_the_choice_is_seeded_and_within_the_bounds():
    logged = {"als": 0.8, policy.EXPLORATION: 0.2}
    first = policy.choose({}, SOURCES, 0.2, logged, BOUNDS, np.random.default_rng(7))
    again = policy.choose({}, SOURCES, 0.2, logged, BOUNDS, np.random.default_rng(7))
    assert first == again
    assert set(first.factors) == set(SOURCES)
    assert all(0.5 <= factor <= 2.0 for factor in first.factors.values())
    assert 0.1 <= first.exploration_share <= 0.4


def test_the_ips_estimate_of_a_known_policy_is_exact():
    # Ten logged slots in shares als 0.5, content 0.3, exploration 0.2, rewarded at 0.6,
    # 1/3 and 0: the estimate for shares p1 is sum(p1 * reward rate) exactly.
    slots = {"als": 5, "content": 3, policy.EXPLORATION: 2}
    successes = {"als": 3, "content": 1, policy.EXPLORATION: 0}
    new = {"als": 0.7, "content": 0.1, policy.EXPLORATION: 0.2}

    assert policy.ips_estimate(slots, successes, new) == pytest.approx(0.7 * 0.6 + 0.1 / 3)
    # The logging policy itself is estimated by its own mean reward.
    logged = {arm: n / 10 for arm, n in slots.items()}
    assert policy.ips_estimate(slots, successes, logged) == pytest.approx(0.4)
    assert np.isnan(policy.ips_estimate({}, {}, new))


def test_expected_shares_follow_the_factor_changes_and_the_exploration_share():
    logged = {"als": 0.6, "content": 0.2, policy.EXPLORATION: 0.2}
    choice = policy.Choice(draws={}, factors={"als": 1.0, "content": 2.0}, exploration_share=0.3)
    shares = policy.expected_shares(logged, {"content": 1.0}, choice)
    # content's factor doubled: 0.6 : 0.4 of the 70% exploration leaves.
    assert shares == pytest.approx({"als": 0.42, "content": 0.28, policy.EXPLORATION: 0.3})
    # A factor that was already 2 last week does not move the share again.
    same = policy.expected_shares(logged, {"content": 2.0}, choice)
    assert same == pytest.approx({"als": 0.525, "content": 0.175, policy.EXPLORATION: 0.3})


@pytest.mark.spark
def test_a_weeks_policy_is_chosen_from_the_feedback_and_stored(spark, tmp_path, test_config):
    from dataclasses import replace
    from datetime import date

    from jobs.core.config import PipelineConfig
    from jobs.core.tables import table_path, write_partitions
    from schemas import feedback

    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    config = replace(config, spark_master=test_config.spark_master, hive_catalog=False)
    week, logged = date(2026, 11, 23), date(2026, 11, 16)

    def slot(n, segment, source, won, served=logged, kind="discover_weekly"):
        return (f"u{n}", kind, 1, f"t{n}", source, False, segment, 1, True, won, not won)

    rows = [
        # heavy listeners: ALS slots won 3 of 4 times, exploration 0 of 2
        *(slot(n, "heavy", "als", n < 3) for n in range(4)),
        *(slot(n, "heavy", "exploration", False) for n in range(4, 6)),
        slot(6, "heavy", "als", True, kind="release_radar"),  # not Discover Weekly
        slot(7, "new", "popularity", True),
    ]
    frame = spark.createDataFrame([(*row, False, False, logged) for row in rows], feedback.SCHEMA)
    write_partitions(frame, table_path(config, "playlist_feedback"), ("week",))

    chosen = {
        (r["segment"], r["arm"]): r for r in policy.write_policy(spark, config, week).collect()
    }

    arms = policy.blend_sources(config.playlists) + [policy.EXPLORATION]
    assert set(chosen) == {(segment, arm) for segment in ("new", "casual", "heavy") for arm in arms}
    heavy_als, heavy_explore = chosen[("heavy", "als")], chosen[("heavy", "exploration")]
    assert (heavy_als["alpha"], heavy_als["beta"]) == (4.0, 2.0)
    assert (heavy_explore["alpha"], heavy_explore["beta"]) == (1.0, 3.0)
    assert heavy_als["logged_share"] == pytest.approx(4 / 6)
    assert heavy_als["logged_reward"] == pytest.approx(3 / 6)
    # Exploration earned nothing: the estimate is ALS's rate times ALS's expected share.
    assert heavy_als["ips_estimate"] == pytest.approx(0.75 * heavy_als["expected_share"])
    assert 0.1 <= heavy_als["exploration_share"] <= 0.4
    assert heavy_explore["factor"] is None and 0.5 <= heavy_als["factor"] <= 2.0
    # casual listeners had no slots: the prior, no estimate.
    assert chosen[("casual", "als")]["alpha"] == 1.0
    assert math.isnan(chosen[("casual", "als")]["ips_estimate"])
    assert (table_path(config, "policy") / "week=2026-11-23").exists()
