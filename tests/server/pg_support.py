"""A private PostgreSQL server for the tests, started once per test session.

The binaries come from the ``pgserver`` package (in the project's test
extra), so a fresh machine needs nothing else; as root, pgserver runs the
server as an unprivileged ``pgserver`` user it creates. The server listens on
a unix socket in a temporary directory only, and is stopped (its directory
deleted) when the session ends. If it cannot start, the tests that need it
FAIL with the reason: no skipped test stands in for PostgreSQL.

Each test gets a database of its own (:meth:`PostgresForTests.new_database`).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_orphans import claim, reap_orphans


class PostgresForTests:
    def __init__(self) -> None:
        reap_orphans()  # servers of an earlier run that was killed
        self._dir = Path(tempfile.mkdtemp(prefix="studio-pg-tests-"))
        claim(self._dir)
        # pgserver keeps a lock in the user's runtime directory (else a warning)
        runtime = self._dir / "run"
        runtime.mkdir(mode=0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        try:
            import pgserver
        except ImportError as exc:
            pytest.fail(
                f"PostgreSQL for the tests comes from the 'pgserver' package ({exc}): "
                "pip install -e '.[test]'",
                pytrace=False,
            )
        os.chmod(self._dir, 0o755)  # the server runs as another user when we are root
        # after pgserver's own exit handler (registered later, run earlier)
        # has stopped the server and removed its data
        atexit.register(shutil.rmtree, self._dir, True)
        started = time.perf_counter()
        try:
            self._server: Any = pgserver.get_server(self._dir / "pgdata", cleanup_mode="delete")
        except Exception as exc:  # whatever pgserver raises, the tests fail with it
            pytest.fail(f"cannot start PostgreSQL for the tests (pgserver): {exc!r}", pytrace=False)
        self.startup_seconds = time.perf_counter() - started
        uri = urllib.parse.urlsplit(self._server.get_uri())
        self.socket_dir = urllib.parse.parse_qs(uri.query)["host"][0]
        self._names = itertools.count(1)

    def dsn(self, database: str = "postgres") -> str:
        """A libpq key=value connection string for ``database``."""
        return f"host={self.socket_dir} user=postgres dbname={database}"

    def uri(self, database: str) -> str:
        """The same as a postgresql:// URI."""
        return f"postgresql://postgres@/{database}?host={urllib.parse.quote(self.socket_dir)}"

    def new_database(self) -> str:
        """Create an empty database; returns its name."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        self._server.cleanup()


_RUNNING: PostgresForTests | None = None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresForTests]:
    """The session's PostgreSQL (started by the first test that needs it; one
    per session even when several test modules import this fixture)."""
    global _RUNNING
    if _RUNNING is None:
        _RUNNING = PostgresForTests()
    yield _RUNNING
