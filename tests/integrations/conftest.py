"""Fixtures of the integration tests: one real object server per module, PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import ServerProcess

# The session's PostgreSQL (the dequeuer's queue) comes from the server tests' support.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from pg_support import postgres  # noqa: F401 (the fixture)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server") / "data")
    proc.start()
    yield proc
    proc.stop()


# The adapter tests use the session's PostgreSQL of the server tests (one server
# per session, whichever suite starts it first).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
