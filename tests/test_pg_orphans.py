"""The tests' PostgreSQL servers of a killed run are stopped and removed by
the next run (tests/pg_orphans.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pg_orphans import OWNER_FILE, claim, reap_orphans


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _sleeper(*args: str) -> subprocess.Popen[bytes]:
    """A process that sleeps, once it runs: Popen returns as soon as exec
    begins, and until the new program is set up /proc shows no command line."""
    code = "import time; print(flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc


def _fake_postmaster(directory: Path) -> subprocess.Popen[bytes]:
    """A process whose command line says postgres, recorded as a data
    directory's postmaster."""
    proc = _sleeper("postgres")
    data = directory / "primary" / "data"
    data.mkdir(parents=True)
    (data / "postmaster.pid").write_text(f"{proc.pid}\n{data}\n")
    return proc


def test_a_dead_owners_server_is_stopped_and_its_directory_removed(tmp_path: Path) -> None:
    orphan = tmp_path / "studio-pg-repl-orphan"
    orphan.mkdir()
    (orphan / OWNER_FILE).write_text(str(_dead_pid()))
    server = _fake_postmaster(orphan)
    try:
        assert reap_orphans(tmp_path) == [orphan]
        assert server.wait(10) is not None
        assert not orphan.exists()
    finally:
        server.kill()
        server.wait()


def test_a_live_owners_directory_and_an_unclaimed_one_are_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / "studio-pg-tests-mine"
    mine.mkdir()
    claim(mine)
    assert (mine / OWNER_FILE).read_text() == str(os.getpid())
    starting = tmp_path / "studio-pg-tests-starting"  # no owner file yet
    starting.mkdir()
    other = tmp_path / "something-else"
    other.mkdir()
    (other / OWNER_FILE).write_text(str(_dead_pid()))
    server = _fake_postmaster(mine)
    try:
        assert reap_orphans(tmp_path) == []
        assert server.poll() is None
        assert mine.exists() and starting.exists() and other.exists()
    finally:
        server.kill()
        server.wait()


def test_a_reused_pid_that_is_not_postgres_is_not_killed(tmp_path: Path) -> None:
    orphan = tmp_path / "studio-pg-tests-orphan"
    orphan.mkdir()
    (orphan / OWNER_FILE).write_text(str(_dead_pid()))
    bystander = _sleeper()
    data = orphan / "pgdata"
    data.mkdir()
    (data / "postmaster.pid").write_text(f"{bystander.pid}\n")
    try:
        assert reap_orphans(tmp_path) == [orphan]
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_an_owner_killed_but_not_yet_reaped_counts_as_gone(tmp_path: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    owner.kill()
    status = Path(f"/proc/{owner.pid}/status")
    while "zombie" not in status.read_text():  # dead, not waited for: a zombie
        time.sleep(0.01)
    orphan = tmp_path / "studio-pg-tests-zombie"
    orphan.mkdir()
    (orphan / OWNER_FILE).write_text(str(owner.pid))
    try:
        assert reap_orphans(tmp_path) == [orphan]
    finally:
        owner.wait()
