"""
### Example downstream consumer

Runs whenever `weekly_playlists` announces a published week on the `playlists` asset — no
cron guess, no sensor. The asset event carries the week it published (and its row counts),
so the consumer reads exactly that partition even when a backfill announces an older week
after a newer one. Copy this DAG as the starting point of your own consumer: replace the
body of `read_published_week` with your export, push or report.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task
from assets import PLAYLISTS


@dag(
    dag_id="playlists_consumer",
    schedule=[PLAYLISTS],
    start_date=datetime(2026, 1, 5),
    catchup=False,
    tags=["playlists", "example", "consumer"],
    doc_md=__doc__,
)
def playlists_consumer():
    @task
    def read_published_week(triggering_asset_events=None) -> list[dict]:
        from jobs.core.config import PipelineConfig
        from jobs.reporting.consumers import summarise_announced_weeks

        return summarise_announced_weeks(PipelineConfig.load(), triggering_asset_events[PLAYLISTS])

    read_published_week()


playlists_consumer()
