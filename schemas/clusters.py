"""Audio-feature clusters of the catalog, one partition per week (jobs/stages/clusters.py):
`track_clusters` (each track's cluster), `clusters` (what each cluster is) and
`cluster_models` (the fitted scaler and the choice of k, to re-apply or audit a week)."""

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

if TYPE_CHECKING:
    import great_expectations as gx

TRACK_CLUSTERS = StructType(
    [
        StructField("track_id", StringType(), nullable=False),
        StructField("cluster", IntegerType(), nullable=False),
        # Euclidean, in the min-max scaled feature space (every feature in [0, 1]).
        StructField("distance", DoubleType(), nullable=False),
        # The track's min-max scaled audio features (cluster_models.features order): what
        # taste profiles and content candidates compare.
        StructField("features", ArrayType(DoubleType()), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)

CLUSTERS = StructType(
    [
        StructField("cluster", IntegerType(), nullable=False),
        StructField("label", StringType(), nullable=False),  # e.g. "high energy / low acousticness"
        StructField("size", LongType(), nullable=False),
        StructField("centroid", ArrayType(DoubleType()), nullable=False),
        StructField("top_genres", ArrayType(StringType()), nullable=False),
        StructField("top_artists", ArrayType(StringType()), nullable=False),
        StructField("week", DateType(), nullable=False),
    ]
)

K_SCORE = StructType(
    [
        StructField("k", IntegerType(), nullable=False),
        StructField("silhouette", DoubleType(), nullable=False),
        StructField("cost", DoubleType(), nullable=False),  # within-cluster sum of squares
    ]
)

CLUSTER_MODELS = StructType(
    [
        StructField("features", ArrayType(StringType()), nullable=False),
        StructField("feature_min", ArrayType(DoubleType()), nullable=False),
        StructField("feature_max", ArrayType(DoubleType()), nullable=False),
        StructField("k", IntegerType(), nullable=False),
        StructField("scores", ArrayType(K_SCORE), nullable=False),
        StructField("seed", IntegerType(), nullable=False),
        StructField("tracks", LongType(), nullable=False),
        StructField("skipped_tracks", LongType(), nullable=False),  # no or partial features
        StructField("week", DateType(), nullable=False),
    ]
)

TABLES = {
    "track_clusters": TRACK_CLUSTERS,
    "clusters": CLUSTERS,
    "cluster_models": CLUSTER_MODELS,
}


def suite() -> "gx.ExpectationSuite":
    """Checks on a week's track_clusters. Parameters: `max_cluster` (k - 1), `rows` (the
    tracks that had every feature)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="track_clusters",
        expectations=[
            *(gxe.ExpectColumnValuesToNotBeNull(column=f.name) for f in TRACK_CLUSTERS.fields),
            gxe.ExpectColumnValuesToBeUnique(column="track_id"),
            gxe.ExpectColumnValuesToBeBetween(
                column="cluster", min_value=0, max_value={"$PARAMETER": "max_cluster"}
            ),
            # No scaled point is further than sqrt(features) from any centroid.
            gxe.ExpectColumnValuesToBeBetween(column="distance", min_value=0, max_value=3.0),
            gxe.ExpectTableRowCountToEqual(value={"$PARAMETER": "rows"}),
        ],
    )
