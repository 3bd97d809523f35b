"""`candidate_pool` and `ranker_models`: what Discover Weekly's ranking pass kept of each
listener's candidates, and the weekly ranker that ordered them (jobs/domain/discover.py,
jobs/stages/train_ranker.py).

`candidate_pool` holds, per listener, the shortlist the ranker re-orders (the blend's best
`pool_per_user` main and `explore_window` exploration candidates that the rules allow),
each with the features the ranker saw
(jobs/domain/ranking.py `FEATURES`; null where a source did not propose the track), the blend's
score, the ranker's (null in a week ranked by the blend) and `position` (null unless the
track is in the published Discover Weekly). Next week's ranker trains on it; auditors read
why a track was or was not picked.
"""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from schemas.candidates import SOURCES

if TYPE_CHECKING:
    import great_expectations as gx

SCORE_FEATURES = tuple(f"{source}_score" for source in SOURCES)
RANK_FEATURES = tuple(f"{source}_rank" for source in SOURCES)
FEATURES = (
    *SCORE_FEATURES,
    *RANK_FEATURES,
    "track_popularity",  # log1p(listeners in the look-back window)
    "track_age_days",  # days from the release to the week; NaN when unknown
    "artist_affinity",  # the listener's confidence on the artist / their top artist's
    "artist_share",  # the listener's confidence on the artist / on all their artists
    "track_share_of_artist",  # the track's listeners / those of all its artist's tracks
    # artist_share x track_share_of_artist: how likely the listener's next new track by one
    # of their artists is this one (a tree splits on products poorly; docs/ranking.md)
    "artist_pick_share",
    "cluster_affinity",  # the listener's share of listening in the track's cluster
    "maturity",  # plays in the look-back window / mature_plays, at most 1
    "activity",  # log1p(plays in the look-back window)
    "content_similarity",  # centred cosine of track and taste profile
    "boost_eligible",  # 1 when a Discovery Mode campaign may boost the track for the listener
)

# How a week was ranked (`ranked_by` in the pool and the stage record).
RANKER = "ranker"
BLEND = "blend"

CANDIDATE_POOL = StructType(
    [
        StructField("user_id", StringType(), nullable=False),
        StructField("track_id", StringType(), nullable=False),
        StructField("artist_id", StringType(), nullable=False),
        *(StructField(name, FloatType(), nullable=True) for name in FEATURES),
        StructField("explore", BooleanType(), nullable=False),
        StructField("blend_score", FloatType(), nullable=False),
        StructField("ranker_score", FloatType(), nullable=True),
        StructField("score", FloatType(), nullable=False),
        StructField("source", StringType(), nullable=False),
        StructField("boosted", BooleanType(), nullable=False),
        StructField("campaign_id", StringType(), nullable=True),
        StructField("position", IntegerType(), nullable=True),
        StructField("ranked_by", StringType(), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)

RANKER_MODELS = StructType(
    [
        StructField("ranked_by", StringType(), nullable=False),
        StructField("reason", StringType(), nullable=True),  # why the blend, when it ranks
        StructField("trained_on_week", DateType(), nullable=True),  # the pool's week
        StructField("training_rows", LongType(), nullable=True),
        StructField("training_listeners", LongType(), nullable=True),
        StructField("positives", LongType(), nullable=True),
        StructField("validation_listeners", LongType(), nullable=True),
        StructField("validation_ndcg", DoubleType(), nullable=True),
        StructField("validation_ndcg_blend", DoubleType(), nullable=True),
        StructField("importances", MapType(StringType(), DoubleType()), nullable=True),
        StructField("model_file", StringType(), nullable=True),
        StructField("week", DateType(), nullable=False),
    ]
)


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's pool. Parameters: `max_position` (the playlist length)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    required = [f.name for f in CANDIDATE_POOL.fields if not f.nullable]
    return gx.ExpectationSuite(
        name="candidate_pool",
        expectations=[
            *(gxe.ExpectColumnValuesToNotBeNull(column=name) for name in required),
            gxe.ExpectColumnValuesToBeInSet(column="source", value_set=list(SOURCES)),
            gxe.ExpectColumnValuesToBeInSet(column="ranked_by", value_set=[RANKER, BLEND]),
            gxe.ExpectColumnValuesToBeBetween(
                column="position", min_value=1, max_value={"$PARAMETER": "max_position"}
            ),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "track_id"]),
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
        ],
    )
