"""A real object server in a subprocess, devices, and a notifier factory for the tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from server_process import ADMIN_PASSWORD, ServerProcess

from studio.integrations import Notifier
from studio.sync.client import App, SyncConfig, SyncedRealm

FAST = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)

SCHEMA = [
    {
        "name": "Coupon",
        "primaryKey": "_id",
        "properties": {"_id": "string", "code": "string", "valid": "bool?", "uses": "int"},
    },
    {"name": "Note", "primaryKey": "_id", "properties": {"_id": "string", "text": "string"}},
]


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
