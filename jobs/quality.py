"""Great Expectations checks for Spark DataFrames: one call validates one frame against a suite.

Each call builds its own ephemeral GX context (in memory, nothing on disk but the optional
result JSON), so jobs can validate many frames in one process without shared state.
Great Expectations is imported inside the functions: the import costs seconds, and DAG files
and light modules import this one.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.config import PipelineConfig
from jobs.runlog import run_dir

if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

# How many unexpected values a failure line quotes (SUMMARY results keep up to 20).
_QUOTED_VALUES = 3


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
) -> ValidationSummary:
    """Run `suite` on `df` with the `$PARAMETER` values in `params`.

    Writes the full GX result to `results_dir / "<suite>.json"` when `results_dir` is given,
    then raises `ValidationFailed` if any expectation failed.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # tqdm bars would flood Airflow task logs with one line per refresh.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    run_tag = f"{suite.name}_{uuid.uuid4().hex[:12]}"
    # persist=False: GX would persist the frame itself and never unpersist it; we do both below.
    data_source = context.data_sources.add_spark(f"spark_{run_tag}", persist=False)
    asset = data_source.add_dataframe_asset(f"frame_{run_tag}")
    batch_definition = asset.add_batch_definition_whole_dataframe(f"whole_{run_tag}")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=f"validation_{run_tag}",
            data=batch_definition,
            suite=context.suites.add(suite),
        )
    )

    # Every expectation is at least one Spark job over the frame: compute it once. A frame the
    # caller cached stays cached.
    cached_here = not df.is_cached
    if cached_here:
        df.persist()
    try:
        result = definition.run(
            batch_parameters={"dataframe": df},
            expectation_parameters=params,
            result_format="SUMMARY",
        )
    finally:
        if cached_here:
            df.unpersist()

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
) -> ValidationSummary:
    """`validate` a stage's output, keeping the result in the week's run folder."""
    return validate(df, suite, params, run_dir(config, week) / "validation")


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
