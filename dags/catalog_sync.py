"""
### Catalog sync

Every day, refresh the catalog from the Spotify Web API: metadata of the tracks, albums and
artists it knows, the albums and singles its artists released since the last sync (Release
Radar's input), and audio features while Spotify still serves them to this app.

Credentials come from the Airflow connection `spotify_default` (login: client id, password:
client secret) or from SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET; nothing else holds them.
The result of each sync (requests, rate-limit waits, rows, what was skipped and why) is kept
in `runs/catalog_sync/<date>.json`. See `jobs/sources/catalog_sync.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="catalog_sync",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # two syncs would upsert the same tables
    tags=["catalog", "spotify"],
    doc_md=__doc__,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=15),
        "retry_exponential_backoff": True,
        # A rate limit the client refuses to sit out fails the try; this bounds the rest.
        "execution_timeout": timedelta(hours=2),
    },
)
def catalog_sync():
    @task
    def sync_catalog(data_interval_end=None) -> dict:
        from dataclasses import asdict

        from airflow.exceptions import AirflowNotFoundException
        from airflow.sdk import BaseHook

        from jobs.core.config import PipelineConfig
        from jobs.sources import catalog_sync as sync

        try:  # the connection first; without one, the environment
            connection = BaseHook.get_connection(sync.CONNECTION_ID)
        except AirflowNotFoundException:
            credentials = sync.env_credentials()
        else:
            credentials = sync.connection_credentials(connection.login, connection.password)
        result = sync.run(PipelineConfig.load(), data_interval_end.date(), credentials)
        return asdict(result)

    sync_catalog()


catalog_sync()
