"""PostgreSQL servers left behind by a test run that was killed.

The tests' PostgreSQL servers run detached (``pg_ctl start``), so when the
test process is SIGKILLed (a CI timeout, a developer's Ctrl+\\) nothing stops
them: they keep their memory, their sockets and their data directory
forever. Each test server's directory records the pid of the test process
that owns it (:func:`claim`); a later run stops the servers of directories
whose owner is gone and removes those directories (:func:`reap_orphans`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

OWNER_FILE = "owner.pid"
PREFIXES = ("studio-pg-tests-", "studio-pg-repl-")


def claim(directory: Path) -> None:
    """Record that this process owns ``directory``'s servers."""
    (directory / OWNER_FILE).write_text(str(os.getpid()))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    # A killed process stays a zombie until its parent reaps it.
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return "Z" not in line.split()[1]
    return True


def _postmaster(pid_file: Path) -> int | None:
    """The postmaster's pid from ``postmaster.pid``, if that process is
    still a PostgreSQL server (not a pid reused by something else)."""
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"postgres" in cmdline else None


def _stop(pid: int) -> None:
    """Immediate shutdown (SIGQUIT), then SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def reap_orphans(root: Path | None = None) -> list[Path]:
    """Stop the servers of test directories whose owner process is gone and
    remove the directories; returns the directories removed. Directories
    without an owner file (being set up right now, or from before this
    module) are left alone."""
    removed = []
    for directory in Path(root or tempfile.gettempdir()).iterdir():
        if not directory.name.startswith(PREFIXES) or not directory.is_dir():
            continue
        try:
            owner = int((directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        for pid_file in directory.rglob("postmaster.pid"):
            pid = _postmaster(pid_file)
            if pid is not None:
                _stop(pid)
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    return removed
