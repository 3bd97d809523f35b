"""Great Expectations checks for Spark DataFrames: one call validates one frame against a suite.

Each call builds its own ephemeral GX context (in memory, nothing on disk but the optional
result JSON), so jobs can validate many frames in one process without shared state.
Great Expectations is imported inside the functions: the import costs seconds, and DAG files
and light modules import this one.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.core.config import PipelineConfig
from jobs.core.runlog import run_dir

if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

# How many unexpected values a failure line quotes (SUMMARY results keep up to 20).
_QUOTED_VALUES = 3
_KEY_HASH = "_key_hash"
# Up to this many repeated key hashes are filtered for by value; more go through a join.
_MAX_LISTED_HASHES = 10_000


@dataclass(frozen=True)
class ValidationSummary:
    """The outcome of one suite on one frame; `failed` holds one readable line per failure."""

    suite_name: str
    success: bool
    evaluated: int
    failed: list[str]
    statistics: dict[str, Any]


class ValidationFailed(RuntimeError):
    """A suite did not pass; the message names the suite and every failed expectation."""

    def __init__(self, summary: ValidationSummary) -> None:
        self.summary = summary
        lines = "\n".join(f"  - {line}" for line in summary.failed)
        super().__init__(
            f"suite {summary.suite_name!r}: {len(summary.failed)} of {summary.evaluated} "
            f"expectations failed\n{lines}"
        )


def validate(
    df: DataFrame,
    suite: gx.ExpectationSuite,
    params: dict[str, Any] | None = None,
    results_dir: Path | None = None,
    persist: bool = True,
) -> ValidationSummary:
    """Run `suite` on `df` with the `$PARAMETER` values in `params`.

    Writes the full GX result to `results_dir / "<suite>.json"` when `results_dir` is given,
    then raises `ValidationFailed` if any expectation failed. `persist=False` for a large
    frame read straight from Parquet: a scan of the columns each expectation reads is
    cheaper than caching every row (candidates at the 10M bench: 53 s to cache).
    """
    context = _ephemeral_context()
    whole_frame = [e for e in suite.expectations if _key_columns(e) is None]
    keyed = [e for e in suite.expectations if _key_columns(e) is not None]

    # Every expectation is at least one Spark job over the frame: compute it once. A frame the
    # caller cached stays cached.
    cached_here = persist and not df.is_cached
    if cached_here:
        df.persist()
    try:
        parts = [_run_suite(context, df, suite.name, whole_frame, params)]
        for number, expectation in enumerate(keyed):
            parts.append(
                _run_suite(
                    context,
                    rows_with_repeated_keys(df, _key_columns(expectation)),
                    f"{suite.name}_unique_{number}",
                    [expectation],
                    params,
                )
            )
    finally:
        if cached_here:
            df.unpersist()
    result = _merged(suite.name, parts)

    summary = ValidationSummary(
        suite_name=suite.name,
        success=bool(result.success),
        evaluated=len(result.results),
        failed=[_describe(outcome) for outcome in result.results if not outcome.success],
        statistics=dict(result.statistics),
    )
    if results_dir is not None:
        results_dir.mkdir(parents=True, exist_ok=True)
        path = results_dir / f"{suite.name}.json"
        path.write_text(json.dumps(result.to_json_dict(), indent=2))
        docs = write_data_docs_page(result, data_docs_dir(results_dir.parent))
        logger.info(
            "wrote %s validation result to %s, its Data Docs page to %s", suite.name, path, docs
        )
    if not summary.success:
        raise ValidationFailed(summary)
    logger.info("suite %r passed: %s", suite.name, summary.statistics)
    return summary


def rows_with_repeated_keys(df: DataFrame, columns: list[str]) -> DataFrame:
    """The rows of `df` whose `columns` share their 64-bit hash with another row: every row
    of a repeated key, plus the rare hash collision.

    A uniqueness expectation gives the same verdict on these rows as on the whole frame, and
    quotes the same duplicates. GX checks uniqueness on Spark with a window partitioned by
    the key, a shuffle and sort of every row; this costs one hash aggregation of longs, and
    the window then runs on the few rows left (usually none).
    """
    from pyspark.sql import functions as F

    key_hash = F.xxhash64(*columns)
    repeated = (
        df.groupBy(key_hash.alias(_KEY_HASH)).count().where(F.col("count") > 1).select(_KEY_HASH)
    )
    few = repeated.limit(_MAX_LISTED_HASHES + 1).collect()
    if len(few) <= _MAX_LISTED_HASHES:
        return df.where(key_hash.isin([row[_KEY_HASH] for row in few]))
    # Keys repeat on a large scale (the suite fails): find their rows with a join.
    return df.join(repeated, key_hash == F.col(_KEY_HASH), "left_semi")


def _key_columns(expectation: gx.expectations.Expectation) -> list[str] | None:
    """The key of a uniqueness expectation on every row; None for any other kind (and for a
    uniqueness expectation with `mostly` or a row condition: its share needs the whole frame)."""
    import great_expectations.expectations as gxe

    if isinstance(expectation, gxe.ExpectCompoundColumnsToBeUnique):
        columns = list(expectation.column_list)
    elif isinstance(expectation, gxe.ExpectColumnValuesToBeUnique):
        columns = [expectation.column]
    else:
        return None
    return None if expectation.mostly != 1 or expectation.row_condition else columns


def _ephemeral_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # tqdm bars would flood Airflow task logs with one line per refresh.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _run_suite(
    context,
    df: DataFrame,
    name: str,
    expectations: list,
    params: dict[str, Any] | None,
) -> ExpectationSuiteValidationResult:
    """`expectations` (copies: a GX suite owns its expectations) as suite `name` on `df`."""
    import great_expectations as gx

    run_tag = f"{name}_{uuid.uuid4().hex[:12]}"
    # persist=False: GX would persist the frame itself and never unpersist it; `validate`
    # does both.
    data_source = context.data_sources.add_spark(f"spark_{run_tag}", persist=False)
    asset = data_source.add_dataframe_asset(f"frame_{run_tag}")
    batch_definition = asset.add_batch_definition_whole_dataframe(f"whole_{run_tag}")
    suite = gx.ExpectationSuite(name=name, expectations=[copy.copy(e) for e in expectations])
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=f"validation_{run_tag}", data=batch_definition, suite=context.suites.add(suite)
        )
    )
    return definition.run(
        batch_parameters={"dataframe": df},
        expectation_parameters=params,
        result_format="SUMMARY",
    )


def _merged(
    suite_name: str, parts: list[ExpectationSuiteValidationResult]
) -> ExpectationSuiteValidationResult:
    """One result for the suite from the results of its parts (the whole-frame expectations,
    then each uniqueness expectation)."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
    )
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    results = [outcome for part in parts for outcome in part.results]
    statistics = calc_validation_statistics(results)
    return ExpectationSuiteValidationResult(
        success=statistics.success,
        results=results,
        suite_name=suite_name,
        suite_parameters=parts[0].suite_parameters,
        statistics={
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        },
        meta=parts[0].meta,
    )


def data_docs_dir(run_folder: Path) -> Path:
    return run_folder / "data_docs"


def write_data_docs_page(result, docs_dir: Path) -> Path:
    """GX's own Data Docs page for one validation result, `<suite>.html` in `docs_dir`.

    Rendered straight from the result (the renderers `build_data_docs` uses) rather than
    through a site in a GX project: each validation runs in its own ephemeral context, and
    a run's pages belong in its run folder, failed suites included. The page loads GX's
    stylesheets and scripts from their public CDNs when opened; the run report, which links
    to these pages, is the self-contained view.
    """
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    docs_dir.mkdir(parents=True, exist_ok=True)
    path = docs_dir / f"{result.suite_name}.html"
    path.write_text(DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result)))
    return path


def check_output(
    config: PipelineConfig,
    week: date,
    df: DataFrame,
    suite: gx.ExpectationSuite,
    params: dict[str, Any] | None = None,
    persist: bool = True,
) -> ValidationSummary:
    """`validate` a stage's output, keeping the result in the week's run folder."""
    return validate(df, suite, params, run_dir(config, week) / "validation", persist)


def _describe(outcome: ExpectationValidationResult) -> str:
    """One line for a failed expectation: type, column(s), and what was seen instead."""
    config = outcome.expectation_config
    kwargs = {key: value for key, value in config.kwargs.items() if key != "batch_id"}
    target = kwargs.pop("column", None) or kwargs.pop("column_list", None)
    line = config.type + (f" on {target}" if target is not None else "")
    if kwargs:
        line += " " + ", ".join(f"{key}={value!r}" for key, value in kwargs.items())

    errors = error_messages(outcome.exception_info or {})
    if errors:
        return f"{line}: could not be evaluated: {'; '.join(errors)}"
    result = outcome.result or {}
    if "unexpected_count" in result:
        quoted = result.get("partial_unexpected_list", [])[:_QUOTED_VALUES]
        return (
            f"{line}: {result['unexpected_count']} unexpected of {result.get('element_count')}"
            f" ({result.get('unexpected_percent', 0.0):.2f}%), e.g. {quoted!r}"
        )
    if "observed_value" in result:
        return f"{line}: observed {result['observed_value']!r}"
    return line


def error_messages(exception_info: dict[str, Any]) -> list[str]:
    """The distinct errors behind an expectation that could not be evaluated.

    GX reports an expectation's own error flat and failed metrics (a missing column, say) as
    one entry per metric id, so both shapes are read.
    """
    entries = [exception_info] if "raised_exception" in exception_info else exception_info.values()
    messages = [
        str(entry.get("exception_message"))
        for entry in entries
        if isinstance(entry, dict) and entry.get("raised_exception")
    ]
    return list(dict.fromkeys(messages))
