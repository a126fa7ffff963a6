"""The state worker process: it follows the server, survives its own death,
and takes turns with the server on a realm file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from studio.server.storage.errors import StorageError
from studio.server.storage.state_worker import StateWorker, WriteLock, open_state, state_stats


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(condition: object, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_the_worker_exits_when_the_server_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from studio.server.storage.state_worker import StateWorker, open_state
        worker = StateWorker()
        worker.call(open_state, {str(tmp_path / "r.realm")!r}, "/r")
        print(worker.call(os.getpid), flush=True)
        time.sleep(60)
    """)
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        worker_pid = int(server.stdout.readline())
        assert worker_pid != server.pid and alive(worker_pid)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    assert wait_until(lambda: not alive(worker_pid)), "the worker outlived the server"


def test_a_dead_worker_is_reported_and_replaced(tmp_path: Path) -> None:
    worker = StateWorker()
    try:
        file = str(tmp_path / "r.realm")
        worker.call(open_state, file, "/r")
        first = worker.call(os.getpid)
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: not alive(first))
        with pytest.raises(StorageError, match="state worker process died"):
            worker.call(os.getpid)
        # The next call starts a new worker, which opens the state again.
        assert worker.call(os.getpid) != first
        assert worker.call(state_stats, file, "/r").state_version == 0
    finally:
        worker.shutdown()


def test_the_server_starts_its_worker_before_any_realm_is_opened(tmp_path: Path) -> None:
    """The worker's start (an interpreter and its imports: seconds under load) must not
    fall on the first realm opened, with its first client waiting."""
    import multiprocessing

    from studio.server.storage.factory import open_storage

    before = set(multiprocessing.active_children())
    storage = open_storage(None, tmp_path / "data")
    try:
        assert set(multiprocessing.active_children()) == before  # not by opening the store
        storage.start_workers()
        assert wait_until(lambda: set(multiprocessing.active_children()) - before, 30)
    finally:
        storage.close()
    # The worker imports its module, not the whole server (aiohttp, the HTTP API).
    code = ("import sys, studio.server.storage.state_worker; "
            "print('aiohttp' in sys.modules, 'studio.server.app' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True).stdout
    assert out.split() == ["False", "False"]


def test_write_locks_on_one_file_exclude_each_other(tmp_path: Path) -> None:
    file = tmp_path / "r.realm"
    ours, theirs = WriteLock(file), WriteLock(file)  # two holders, as two processes have
    order: list[str] = []

    def take() -> None:
        with theirs.held():
            order.append("b")

    with ours.held():
        taker = threading.Thread(target=take)
        taker.start()
        time.sleep(0.3)
        order.append("a")  # still ours: the other holder waits
    taker.join(10)
    assert order == ["a", "b"]
    theirs.close()
    ours.close()
