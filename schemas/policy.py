"""`policy`: the adaptive policy chosen for a week (jobs/domain/policy.py), one row per listener
segment and arm (each Discover Weekly blend source, and exploration). Partitioned by
`week`; written only with `[bandit] enabled = true`."""

from pyspark.sql.types import DateType, DoubleType, StringType, StructField, StructType

POLICY = StructType(
    [
        StructField("segment", StringType(), nullable=False),
        StructField("arm", StringType(), nullable=False),
        # Beta posterior of the arm's reward rate (streamed >= 30 s or saved), and its draw.
        StructField("alpha", DoubleType(), nullable=False),
        StructField("beta", DoubleType(), nullable=False),
        StructField("draw", DoubleType(), nullable=False),
        # Multiplier of the source's fixed weight (null for exploration).
        StructField("factor", DoubleType(), nullable=True),
        StructField("exploration_share", DoubleType(), nullable=False),
        # The arm's share of last week's slots, and the share the chosen policy should give.
        StructField("logged_share", DoubleType(), nullable=False),
        StructField("expected_share", DoubleType(), nullable=False),
        # Per segment: IPS estimate of the chosen policy's reward per slot, and last week's.
        StructField("ips_estimate", DoubleType(), nullable=True),
        StructField("logged_reward", DoubleType(), nullable=True),
        StructField("week", DateType(), nullable=False),
    ]
)
