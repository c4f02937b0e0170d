"""Where conversations live between messages: one protocol, a database behind it."""

from __future__ import annotations

from pathlib import Path

from otbot.store.protocol import Outcome, Received, Retention, Session, Store
from otbot.store.sqlite import SqliteStore

__all__ = ["Outcome", "Received", "Retention", "Session", "SqliteStore", "Store", "open_store"]

SQLITE_FILE = "otbot.sqlite3"


def open_store(database_url: str | None, data_dir: Path,
               retention: Retention | None = None) -> Store:
    """PostgreSQL when a postgresql:// URL is given, else the SQLite file in data_dir."""
    if database_url:
        from otbot.store.postgres import PostgresStore

        return PostgresStore(database_url, retention)
    return SqliteStore(data_dir / SQLITE_FILE, retention)
