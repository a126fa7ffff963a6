"""The real object server as a subprocess, for end-to-end tests of the sync client."""

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

from studio.sync.client import App, SyncConfig

ADMIN_PASSWORD = "e2e-admin-pw"
FAST = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)

SCHEMA = [
    {
        "name": "Message",
        "primaryKey": "_id",
        "properties": {"_id": "string", "text": "string", "author": "string"},
    },
    {
        "name": "Chat",
        "primaryKey": "_id",
        "properties": {"_id": "string", "title": "string?", "messages": "Message[]"},
    },
]


class ServerProcess:
    """``python -m studio.server`` on a data directory; can be SIGKILLed and restarted
    on the same directory and port."""

    def __init__(self, data: Path, *extra: str) -> None:
        self.data = data
        self.extra = list(extra)
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [
            sys.executable, "-m", "studio.server", "--data", str(self.data),
            "--port", str(self.port), "--admin-password", ADMIN_PASSWORD,
            "--log-level", "warning", "--scrypt-n", "1024", *self.extra,
        ]  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            self.proc = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
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

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def run(coro_fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async def`` test on a fresh event loop, with a deadline."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            await asyncio.wait_for(coro_fn(*args, **kwargs), 90)

        asyncio.run(main())

    return wrapper


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def admin_app(server: ServerProcess) -> App:
    app = App(server.url, config=FAST)
    await app.login("admin", ADMIN_PASSWORD)
    return app


async def make_users(
    admin: App, realm: str, levels: dict[str, str], password: str = "pw"
) -> None:
    """Create users (if new) and grant them ``levels[user]`` on ``realm``."""
    existing = {u["username"] for u in await admin.admin.list_users()}
    if realm not in {r["path"] for r in await admin.admin.list_realms()}:
        await admin.admin.create_realm(realm)
    for user, level in levels.items():
        if user not in existing:
            await admin.admin.create_user(user, password)
        await admin.admin.set_permission(realm, user, level)  # type: ignore[arg-type]
