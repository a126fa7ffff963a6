"""File descriptors: the state worker keeps a bounded number of realm files
open (least recently used and long unused ones are closed, and opened again
when needed), and running out of descriptors is reported as such, not as a
damaged file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from studio.server.storage.state_worker import (
    StateWorker,
    configure_cache,
    open_state,
    open_state_files,
    state_stats,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_keeps_at_most_so_many_realm_files_open(tmp_path: Path) -> None:
    worker = StateWorker(max_open=3)
    try:
        files = [str(tmp_path / f"r{n}.realm") for n in range(5)]
        for n, file in enumerate(files):
            worker.call(open_state, file, f"/r{n}")
        assert worker.call(open_state_files) == files[2:]
        # Using one again moves it to the end; a closed one is opened again.
        worker.call(state_stats, files[2], "/r2")
        assert worker.call(state_stats, files[0], "/r0").state_version == 0
        assert worker.call(open_state_files) == [files[4], files[2], files[0]]
    finally:
        worker.shutdown()


def test_the_worker_closes_realm_files_unused_for_a_while(tmp_path: Path) -> None:
    worker = StateWorker(max_open=10)
    try:
        worker.call(configure_cache, 10, 0.3)
        files = [str(tmp_path / f"r{n}.realm") for n in range(3)]
        worker.call(open_state, files[0], "/r0")
        worker.call(open_state, files[1], "/r1")
        time.sleep(0.5)
        worker.call(open_state, files[2], "/r2")
        assert worker.call(open_state_files) == [files[2]]
    finally:
        worker.shutdown()


def test_running_out_of_file_descriptors_says_so(tmp_path: Path) -> None:
    # In a child process: it lowers its own descriptor limit and uses them up.
    script = textwrap.dedent(f"""
        import os, resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from studio.server.storage.errors import TooManyOpenFiles
        from studio.server.storage.sqlite import SqliteServerStorage

        storage = SqliteServerStorage(Path({str(tmp_path)!r}), state_in_process=True)
        storage.create_realm("/shared/a", None)
        storage.create_realm("/shared/b", None)
        storage.open_realm("/shared/a").close()  # the state worker thread is running
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        hoard = []
        try:
            while True:
                hoard.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        for path in ("/shared/a", "/shared/b"):
            try:
                storage.open_realm(path)
            except TooManyOpenFiles as exc:
                print("refused:", exc)
            else:
                print("opened", path)
        for fd in hoard[:40]:
            os.close(fd)
        storage.open_realm("/shared/b").close()
        print("opened after closing some")
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout
    for line in lines[:2]:
        assert line.startswith("refused:"), line
        assert "too many open files" in line and "ulimit -n" in line, line
        assert "not a realm file" not in line, line
    assert lines[2] == "opened after closing some"
