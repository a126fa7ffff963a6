"""``studio adapter``: usage errors exit 2, an unreachable PostgreSQL exits 1, both
with a line that says what was wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.cli import main


def password_file(tmp_path: Path) -> Path:
    file = tmp_path / "pw"
    file.write_text("secret\n")
    file.chmod(0o600)
    return file


def test_bad_realm_pattern_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["adapter", "--server", "http://127.0.0.1:1", "--password-file",
                   str(password_file(tmp_path)), "--postgres", "dbname=x", "--realms", "^/a/(",
                   "--data", str(tmp_path / "data")])  # fmt: skip
    assert status == 2
    assert "bad --realms pattern '^/a/('" in capsys.readouterr().err


def test_unreachable_postgres_fails_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["adapter", "--server", "http://127.0.0.1:1", "--password-file",
                   str(password_file(tmp_path)), "--postgres",
                   f"host={tmp_path / 'no-such-socket-dir'} dbname=x connect_timeout=2",
                   "--realms", "^/a/", "--data", str(tmp_path / "data")])  # fmt: skip
    assert status == 1
    assert "cannot connect to PostgreSQL" in capsys.readouterr().err
