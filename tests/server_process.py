"""The real object server in a subprocess, for every test that needs one (server,
end-to-end and integration tests), with the helpers those tests share. Imported by
module name: ``tests/`` is on ``sys.path`` (its conftest.py is the rootdir's).

The Studio's own ``studio.ui.demo.ServerProcess`` (what ``studio demo`` starts) is
product code, tested as such; this one is the tests' harness.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "admin-pw"
FAST_SCRYPT = 2**10  # tests create many users; production uses 2**14


class ServerProcess:
    """``python -m studio.server`` on a data directory. It can be SIGKILLed and
    restarted on the same directory and port; what it prints is kept in ``output``."""

    def __init__(self, data: Path, *extra: str) -> None:
        self.data = data
        self.extra = list(extra)
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> str:
        """Start (again, on the same port after the first start); returns the URL."""
        args = [
            sys.executable, "-m", "studio.server", "--data", str(self.data),
            "--port", str(self.port), "--admin-password", ADMIN_PASSWORD,
            "--log-level", "warning", "--scrypt-n", str(FAST_SCRYPT), *self.extra,
        ]  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            self.proc = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
            )  # fmt: skip
            line = self._wait_listening()
            if line is not None:
                break
            # The old process's port may linger for a moment after a kill.
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + "".join(self.output[-20:]))
            time.sleep(0.2)
        self.port = int(line.rsplit(":", 1)[1])
        threading.Thread(target=self._drain, daemon=True).start()
        return self.url

    def _wait_listening(self) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if "listening on " in line:
                return line.split("listening on ", 1)[1].strip().rstrip("/")
        self.proc.wait()
        return None

    def _drain(self) -> None:
        proc = self.proc
        if proc is not None and proc.stdout is not None:
            for line in proc.stdout:
                self.output.append(line)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or power cut."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; the exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode


def run(
    coro_fn: Callable[..., Coroutine[Any, Any, None]], *, deadline: float = 90
) -> Callable[..., None]:
    """Run an ``async def`` test on a fresh event loop, with a deadline."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            await asyncio.wait_for(coro_fn(*args, **kwargs), deadline)

        asyncio.run(main())

    return wrapper


async def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``check()`` holds (polling), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
