"""Fixtures of the Realm Core reader tests.

The genuine files live in ``../shared/realm-corpus`` beside the clone (never
copied into the repository). A missing corpus fails the tests loudly: skipping
would hide that the reader was never checked against real files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

CORPUS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "realm-corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.fail(
            f"the Realm Core test corpus is missing: expected it at {CORPUS_DIR} "
            "(shared/realm-corpus beside the clone)",
            pytrace=False,
        )
    return CORPUS_DIR


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[bytes], Path]:
    """Write bytes to a fresh file and return its path."""
    counter = iter(range(1_000_000))

    def write(data: bytes) -> Path:
        path = tmp_path / f"built{next(counter)}.realm"
        path.write_bytes(data)
        return path

    return write
