"""Warehouse tables other DAGs and teams can schedule on. Events carry the week they hold."""

from airflow.sdk import Asset

PLAYLISTS = Asset(name="weekly_playlists.playlists", group="warehouse")
