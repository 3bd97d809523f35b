"""The adaptive policy (`[bandit] enabled = true`): each week, per listener segment (new /
casual / heavy, schemas/feedback.py), Discover Weekly's source weights and exploration
share are chosen by Thompson sampling from what the slots of the weeks before earned,
within configured bounds; an inverse-propensity estimate says beforehand what the chosen
policy would have earned on last week's logged slots. Off (the default), the fixed weights
and share of `[playlists]` apply and nothing here runs.

The rule, per segment:

* Reward of a Discover Weekly slot: streamed >= 30 s or saved (playlist_feedback). Every
  arm (each blend source, and exploration) has a Beta(1 + s, 1 + f) posterior over its
  slots' reward rate, s and f the successes and failures of the last `history_weeks`
  weeks, each week's counts discounted by `discount` per week of age (the posterior
  follows an audience that drifts).
* Thompson sampling: one rate drawn per arm from its posterior (seeded by seed, week and
  segment).
* Each blend source's weight is multiplied by its factor, its draw / the mean draw of the
  blend sources weighted by their share of last week's slots, clipped to
  [min_factor, max_factor]; the exploration share is the fixed share times exploration's
  draw / that same mean, clipped to [min_exploration_share, max_exploration_share].
  Without feedback every draw comes from the uniform prior and the factors scatter around
  1 within the bounds.

IPS: last week's slots of the segment came from each arm a in shares p0(a) under the
policy then; the chosen policy is expected to give shares p1(a): each blend source's share
scaled by how its factor changed, exploration's set to the new share, renormalised. The
estimate of the reward per slot of the chosen policy is sum over logged slots of
reward * p1(arm) / p0(arm), over the number of slots. It is stored beside the policy, and
the week's own feedback (derived a week later) says what then happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.config import PipelineConfig, PlaylistConfig
from jobs.core.tables import read_parquet, read_week, table_path, write_week
from schemas import feedback as feedback_schema
from schemas.feedback import SEGMENTS
from schemas.playlists import DISCOVER_WEEKLY, SOURCE_EXPLORATION
from schemas.policy import POLICY

EXPLORATION = SOURCE_EXPLORATION


@dataclass(frozen=True)
class Counts:
    """Discounted successes and failures of one (segment, arm)."""

    successes: float = 0.0
    failures: float = 0.0

    @property
    def alpha(self) -> float:
        return 1.0 + self.successes

    @property
    def beta(self) -> float:
        return 1.0 + self.failures


def discounted_counts(
    segment: np.ndarray,
    arm: np.ndarray,
    slots: np.ndarray,
    successes: np.ndarray,
    age_weeks: np.ndarray,
    discount: float,
) -> dict[tuple[str, str], Counts]:
    """Counts per (segment, arm) from per-week totals (one entry per segment, arm and
    week), each week weighing discount ** age_weeks (age 0: the latest feedback week)."""
    weight = np.power(discount, age_weeks.astype(float))
    segments, segment_index = np.unique(segment.astype(str), return_inverse=True)
    arms, arm_index = np.unique(arm.astype(str), return_inverse=True)
    key = segment_index * arms.size + arm_index
    cells = segments.size * arms.size
    trials = np.bincount(key, weights=weight * slots, minlength=cells)
    won = np.bincount(key, weights=weight * successes, minlength=cells)
    return {
        (str(segments[cell // arms.size]), str(arms[cell % arms.size])): Counts(
            float(won[cell]), float(trials[cell] - won[cell])
        )
        for cell in np.flatnonzero(trials > 0)
    }


@dataclass(frozen=True)
class Bounds:
    min_factor: float
    max_factor: float
    min_exploration_share: float
    max_exploration_share: float


@dataclass(frozen=True)
class Choice:
    """One segment's chosen policy and the draws it came from."""

    draws: dict[str, float]  # arm -> sampled reward rate
    factors: dict[str, float]  # blend source -> multiplier of its fixed weight
    exploration_share: float


def choose(
    counts: dict[str, Counts],
    sources: list[str],
    fixed_share: float,
    logged_shares: dict[str, float],
    bounds: Bounds,
    rng: np.random.Generator,
) -> Choice:
    """One segment's factors and exploration share by the module's rule. `counts` and
    `logged_shares` are by arm; an arm without counts has the uniform prior."""
    arms = [*sorted(sources), EXPLORATION]
    draws = {}
    for arm in arms:
        posterior = counts.get(arm, Counts())
        draws[arm] = float(rng.beta(posterior.alpha, posterior.beta))
    blend = arms[:-1]
    shares = np.array([logged_shares.get(arm, 0.0) for arm in blend])
    values = np.array([draws[arm] for arm in blend])
    mean = float(values @ shares / shares.sum()) if shares.sum() > 0 else float(values.mean())
    factors = np.clip(values / mean, bounds.min_factor, bounds.max_factor)
    share = fixed_share * draws[EXPLORATION] / mean
    return Choice(
        draws=draws,
        factors={arm: float(factor) for arm, factor in zip(blend, factors)},
        exploration_share=float(
            np.clip(share, bounds.min_exploration_share, bounds.max_exploration_share)
        ),
    )


def expected_shares(
    logged_shares: dict[str, float], logged_factors: dict[str, float], choice: Choice
) -> dict[str, float]:
    """The arm shares the chosen policy is expected to give: each blend source's logged
    share scaled by new factor / logged factor (1 for a factor not logged), renormalised to
    the slots the new exploration share leaves; exploration gets that share if it was
    logged at all (an arm never logged cannot be estimated)."""
    scaled = {
        arm: share * choice.factors.get(arm, 1.0) / logged_factors.get(arm, 1.0)
        for arm, share in logged_shares.items()
        if arm != EXPLORATION
    }
    total = sum(scaled.values())
    explored = choice.exploration_share if logged_shares.get(EXPLORATION) else 0.0
    shares = {arm: (1.0 - explored) * value / total for arm, value in scaled.items()}
    if explored:
        shares[EXPLORATION] = explored
    return shares


def ips_estimate(
    slots: dict[str, float], successes: dict[str, float], new_shares: dict[str, float]
) -> float:
    """Inverse-propensity estimate of the reward per slot under arm shares `new_shares`,
    from one week's logged slots (per arm: slots and rewarded slots); the logging shares
    p0 are the arms' shares of those slots. NaN without slots."""
    total = sum(slots.values())
    if not total:
        return float("nan")
    return (
        sum(
            successes[arm] * new_shares.get(arm, 0.0) / (slots[arm] / total)
            for arm in slots
            if slots[arm]
        )
        / total
    )


# ---- one week's policy from the feedback tables ------------------------------------------


def seed_for(seed: int, week: date, segment: str) -> np.random.Generator:
    return np.random.default_rng([seed, week.toordinal(), *segment.encode()])


def choose_week(
    totals: pa.Table,
    logged_factors: dict[tuple[str, str], float],
    week: date,
    sources: list[str],
    fixed_share: float,
    segments: tuple[str, ...],
    bounds: Bounds,
    discount: float,
    seed: int,
) -> list[dict]:
    """The policy rows of `week` (schemas/policy.py POLICY, without `week`), one per
    segment and arm, from `totals` (week, segment, arm, slots, successes: Discover Weekly
    feedback of the weeks before) and the factors the logged week used."""
    latest = week - timedelta(weeks=1)
    weeks = totals["week"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
    age = ((np.datetime64(latest) - weeks) // np.timedelta64(7, "D")).astype(int)
    segment = totals["segment"].to_numpy(zero_copy_only=False)
    arm = totals["arm"].to_numpy(zero_copy_only=False)
    slots = totals["slots"].to_numpy().astype(float)
    successes = totals["successes"].to_numpy().astype(float)
    counts = discounted_counts(segment, arm, slots, successes, age, discount)
    rows = []
    for name in segments:
        logged = (age == 0) & (segment == name)
        logged_slots = dict(zip(arm[logged].astype(str), slots[logged]))
        logged_wins = dict(zip(arm[logged].astype(str), successes[logged]))
        total = sum(logged_slots.values())
        shares = {a: n / total for a, n in logged_slots.items()} if total else {}
        choice = choose(
            {a: c for (s, a), c in counts.items() if s == name},
            sources,
            fixed_share,
            shares,
            bounds,
            seed_for(seed, week, name),
        )
        factors_then = {a: f for (s, a), f in logged_factors.items() if s == name}
        expected = expected_shares(shares, factors_then, choice) if total else {}
        estimate = ips_estimate(logged_slots, logged_wins, expected)
        for arm_name, drawn in choice.draws.items():
            posterior = counts.get((name, arm_name), Counts())
            rows.append(
                {
                    "segment": name,
                    "arm": arm_name,
                    "alpha": posterior.alpha,
                    "beta": posterior.beta,
                    "draw": drawn,
                    "factor": choice.factors.get(arm_name),
                    "exploration_share": choice.exploration_share,
                    "logged_share": float(shares.get(arm_name, 0.0)),
                    "expected_share": float(expected.get(arm_name, 0.0)),
                    "ips_estimate": float(estimate),
                    "logged_reward": float(sum(logged_wins.values()) / total)
                    if total
                    else float("nan"),
                }
            )
    return rows


# ---- Spark: the week's policy table, and each listener's share of it ----------------------


def feedback_totals(feedback: DataFrame, week: date, history_weeks: int) -> DataFrame:
    """(week, segment, arm, slots, successes) of the Discover Weekly slots published in the
    `history_weeks` weeks before `week`; a success is a slot streamed >= 30 s or saved."""
    first = week - timedelta(weeks=history_weeks)
    return (
        feedback.where(
            (F.col("week") >= F.lit(first))
            & (F.col("week") < F.lit(week))
            & (F.col("playlist_type") == DISCOVER_WEEKLY)
        )
        .groupBy("week", "segment", F.col("source").alias("arm"))
        .agg(
            F.count(F.lit(1)).alias("slots"),
            F.sum((F.col("streamed") | F.col("saved")).cast("long")).alias("successes"),
        )
    )


def blend_sources(config: PlaylistConfig) -> list[str]:
    """The sources Discover Weekly blends: a positive weight for mature or new listeners."""
    weights = (config.source_weights, config.new_listener_weights)
    return sorted({source for table in weights for source, weight in table.items() if weight > 0})


def write_policy(spark: SparkSession, config: PipelineConfig, week: date) -> DataFrame:
    """Choose and write the `policy` rows of `week` from the feedback so far; returns them."""
    feedback_table = table_path(config, "playlist_feedback")
    if feedback_table.exists():
        feedback = read_parquet(spark, feedback_table, feedback_schema.SCHEMA)
        totals = feedback_totals(feedback, week, config.bandit.history_weeks).toArrow()
    else:
        totals = pa.table(
            {
                "week": pa.array([], pa.date32()),
                **{name: pa.array([], pa.string()) for name in ("segment", "arm")},
                **{name: pa.array([], pa.int64()) for name in ("slots", "successes")},
            }
        )
    logged_week = week - timedelta(weeks=1)
    logged_factors = {}
    if (table_path(config, "policy") / f"week={logged_week.isoformat()}").exists():
        logged = read_week(spark, config, "policy", POLICY, logged_week)
        logged_factors = {
            (row["segment"], row["arm"]): row["factor"]
            for row in logged.where(F.col("factor").isNotNull()).collect()
        }
    settings = config.bandit
    rows = choose_week(
        totals,
        logged_factors,
        week,
        blend_sources(config.playlists),
        config.playlists.exploration_share,
        SEGMENTS,
        Bounds(
            settings.min_factor,
            settings.max_factor,
            settings.min_exploration_share,
            settings.max_exploration_share,
        ),
        settings.discount,
        settings.seed,
    )
    chosen = spark.createDataFrame(
        [tuple({**row, "week": week}[field.name] for field in POLICY.fields) for row in rows],
        POLICY,
    )
    write_week(chosen, table_path(config, "policy"), week)
    return read_week(spark, config, "policy", POLICY, week)


def listener_policy(policy: DataFrame, segments: DataFrame) -> DataFrame:
    """(user_id, factors: source -> factor, exploration_share) of every listener in
    `segments` (user_id, segment), from their segment's `policy` rows."""
    per_segment = policy.groupBy("segment").agg(
        F.map_from_entries(
            F.collect_list(F.when(F.col("factor").isNotNull(), F.struct("arm", "factor")))
        ).alias("factors"),
        F.first("exploration_share").alias("exploration_share"),
    )
    return segments.join(per_segment, "segment").drop("segment")
