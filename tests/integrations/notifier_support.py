"""A real object server in a subprocess, devices, and a notifier factory for the tests."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from studio.integrations import Notifier
from studio.sync.client import App, SyncConfig, SyncedRealm

ADMIN_PASSWORD = "notifier-admin-pw"
FAST = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)
ROOT = Path(__file__).resolve().parents[2]

SCHEMA = [
    {
        "name": "Coupon",
        "primaryKey": "_id",
        "properties": {"_id": "string", "code": "string", "valid": "bool?", "uses": "int"},
    },
    {"name": "Note", "primaryKey": "_id", "properties": {"_id": "string", "text": "string"}},
]


class ServerProcess:
    """``python -m studio.server`` on a data directory."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self) -> None:
        args = [
            sys.executable, "-m", "studio.server", "--data", str(self.data), "--port", "0",
            "--admin-password", ADMIN_PASSWORD, "--log-level", "warning", "--scrypt-n", "1024",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if "listening on " in line:
                self.url = line.split("listening on ", 1)[1].strip().rstrip("/")
                break
        else:
            raise RuntimeError("the server did not start:\n" + "".join(self.output[-20:]))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        proc = self.proc
        if proc is not None and proc.stdout is not None:
            for line in proc.stdout:
                self.output.append(line)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run(coro_fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async def`` test on a fresh event loop, with a deadline."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            await asyncio.wait_for(coro_fn(*args, **kwargs), 60)

        asyncio.run(main())

    return wrapper


async def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def make_notifier(server: ServerProcess, data: Path, **options: Any) -> Notifier:
    options.setdefault("retry_initial", 0.02)
    options.setdefault("retry_max", 0.05)
    options.setdefault("rescan_interval", 0.5)
    return Notifier(
        server.url, username="admin", password=ADMIN_PASSWORD, data_dir=data,
        sync_config=FAST, **options,
    )  # fmt: skip


class Device:
    """A device: its own App (another client file) logged in as admin."""

    def __init__(self, server: ServerProcess, base: Path) -> None:
        self.app = App(server.url, config=FAST, base_dir=base)

    async def open(self, path: str) -> SyncedRealm:
        user = self.app.current_user or await self.app.login("admin", ADMIN_PASSWORD)
        return await self.app.open_realm(user, path, schema=SCHEMA)

    async def close(self) -> None:
        await self.app.close()


async def commit(realm: SyncedRealm, change: Callable[[SyncedRealm], Any]) -> None:
    """One write transaction, uploaded before returning."""
    with realm.write():
        change(realm)
    await realm.sync_session.wait_for_upload_completion(15)
