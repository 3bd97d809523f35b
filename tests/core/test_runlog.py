import json
from dataclasses import replace
from datetime import date

from jobs.core.config import PipelineConfig
from jobs.core.runlog import previous_rows, row_count_bounds, run_dir

WEEK = date(2026, 11, 23)


def test_bounds_are_relative_to_last_week_and_open_without_one():
    assert row_count_bounds(1000, 0.5) == {"min_rows": 500, "max_rows": 1500}
    assert row_count_bounds(None, 0.5) == {"min_rows": 1, "max_rows": None}
    assert row_count_bounds(1, 0.5) == {"min_rows": 1, "max_rows": 2}


def _record_last_week(config: PipelineConfig, stage: str, rows: dict) -> None:
    """A stage record of the week before WEEK, as `stage_record` writes it."""
    stages = run_dir(config, date(2026, 11, 16)) / "stages"
    stages.mkdir(parents=True, exist_ok=True)
    record = {"stage": stage, "rows": rows, "seconds": 1.0}
    (stages / f"{stage}.json").write_text(json.dumps(record))


def test_previous_rows_reads_last_weeks_stage_record(tmp_path):
    config = replace(PipelineConfig.load(env={"WP_HOME": str(tmp_path)}))
    assert previous_rows(config, WEEK, "interactions") == {}
    _record_last_week(config, "interactions", {"interactions": 42})
    assert previous_rows(config, WEEK, "interactions") == {"interactions": 42}
    assert previous_rows(config, WEEK, "candidates") == {}


def test_a_week_that_recorded_no_rows_is_not_a_week_that_never_ran(tmp_path):
    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    _record_last_week(config, "candidates", {"candidates": 0})
    assert previous_rows(config, WEEK, "candidates") == {"candidates": 0}
    assert previous_rows(config, WEEK, "interactions") == {}


def test_a_second_holder_of_the_week_is_refused_and_told_who_holds_it(tmp_path):
    import pytest

    from jobs.core.runlog import WeekBusy, week_lock

    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    with week_lock(config, WEEK, "ingest"):
        with pytest.raises(WeekBusy, match=r"another process \(pid \d+, ingest\)"):
            with week_lock(config, WEEK, "playlists"):
                pass
        with week_lock(config, date(2026, 11, 16), "playlists"):  # another week: no conflict
            pass
    with week_lock(config, WEEK, "playlists"):  # released
        pass


def test_stages_of_one_week_run_side_by_side_but_never_twice_or_beside_a_whole_run(tmp_path):
    import pytest

    from jobs.core.runlog import WeekBusy, week_lock

    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    with week_lock(config, WEEK, "clusters", whole_week=False):
        with week_lock(config, WEEK, "interactions", whole_week=False):  # the DAG's branches
            with pytest.raises(WeekBusy, match=r"\(pid \d+, clusters; pid \d+, interactions\)"):
                with week_lock(config, WEEK, "pipeline"):
                    pass
        with pytest.raises(WeekBusy, match=r"another process \(pid \d+, clusters\)"):
            with week_lock(config, WEEK, "clusters", whole_week=False):
                pass
    with week_lock(config, WEEK, "pipeline"):
        with pytest.raises(WeekBusy, match=r"another process \(pid \d+, pipeline\)"):
            with week_lock(config, WEEK, "ingest", whole_week=False):
                pass


def test_a_second_ingest_waits_for_the_first_instead_of_taking_the_same_days(tmp_path):
    import threading

    from jobs.core.runlog import ingest_lock

    config = PipelineConfig.load(env={"WP_HOME": str(tmp_path)})
    order = []
    first_holds, first_may_finish = threading.Event(), threading.Event()

    def first():
        with ingest_lock(config, date(2026, 11, 16)):
            order.append("first in")
            first_holds.set()
            first_may_finish.wait(10)
            order.append("first out")

    def second():
        first_holds.wait(10)
        with ingest_lock(config, WEEK):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_holds.wait(10)
    threads[1].join(0.5)  # still waiting on the lock
    assert threads[1].is_alive() and order == ["first in"]
    first_may_finish.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first in", "first out", "second in"]
