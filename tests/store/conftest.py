"""Every store test runs on both backends: SQLite (embedded) and PostgreSQL (replicas)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pgtest import fresh_database

from otbot.store import Retention, SqliteStore, Store

Opener = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Open a store by name: the same name reopens the same database, another name a new one."""
    databases: dict[str, str] = {}
    opened: list[Store] = []

    def opener(name: str = "otbot", retention: Retention | None = None) -> Store:
        store: Store
        if request.param == "sqlite":
            store = SqliteStore(tmp_path / f"{name}.sqlite3", retention)
        else:
            from otbot.store.postgres import PostgresStore

            if name not in databases:
                databases[name] = fresh_database()
            store = PostgresStore(databases[name], retention, pool_size=2)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        with contextlib.suppress(Exception):  # closed by the test already
            store.close()
