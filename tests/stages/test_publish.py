from datetime import date

import pytest

from jobs.core.tables import MissingTable
from jobs.stages.publish import swap_in_week

WEEK = date(2026, 11, 23)


def make_week(root, content):
    folder = root / "week=2026-11-23" / "playlist_type=discover_weekly"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").write_text(content)


def test_swap_replaces_the_week_and_leaves_other_weeks(tmp_path):
    staging, table = tmp_path / "staging", tmp_path / "playlists"
    make_week(table, "old")
    (table / "week=2026-11-16").mkdir()
    make_week(staging, "new")
    target = swap_in_week(staging, table, WEEK)
    assert (target / "playlist_type=discover_weekly" / "part-0.parquet").read_text() == "new"
    assert (table / "week=2026-11-16").exists()
    assert not (staging / "week=2026-11-23").exists()
    assert sorted(p.name for p in table.iterdir()) == ["week=2026-11-16", "week=2026-11-23"]


def test_nothing_staged_keeps_the_published_week(tmp_path):
    staging, table = tmp_path / "staging", tmp_path / "playlists"
    make_week(table, "old")
    with pytest.raises(MissingTable, match="nothing staged"):
        swap_in_week(staging, table, WEEK)
    assert (
        table / "week=2026-11-23" / "playlist_type=discover_weekly" / "part-0.parquet"
    ).read_text() == "old"


def test_an_interrupted_swap_is_repaired(tmp_path):
    # A crash between the two renames leaves the old week only in `.replaced-week=...`.
    staging, table = tmp_path / "staging", tmp_path / "playlists"
    make_week(table, "old")
    (table / "week=2026-11-23").rename(table / ".replaced-week=2026-11-23")
    with pytest.raises(MissingTable):
        swap_in_week(staging, table, WEEK)
    assert (table / "week=2026-11-23").exists()
