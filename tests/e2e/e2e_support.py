"""Helpers of the end-to-end tests of the sync client (the server process and the
shared helpers are tests/server_process.py)."""

from __future__ import annotations

import asyncio

from server_process import ADMIN_PASSWORD, ServerProcess

from studio.core import Realm
from studio.sync.client import App, SyncConfig, SyncedRealm

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


def texts(realm: Realm) -> list[str]:
    chat = realm.object_for_primary_key("Chat", "c")
    return [] if chat is None else [m.text for m in chat.messages]


class Writer:
    """A client posting messages in a loop; remembers each message's client version."""

    def __init__(self, name: str, realm: SyncedRealm) -> None:
        self.name = name
        self.realm = realm
        self.versions: dict[str, int] = {}
        self.stop = False

    def post(self, n: int) -> None:
        key = f"{self.name}-{n}"
        with self.realm.write():
            chat = self.realm.object_for_primary_key("Chat", "c") or self.realm.create(
                "Chat", {"_id": "c"}
            )
            chat.messages.append(
                self.realm.create("Message", {"_id": key, "text": key, "author": self.name})
            )
        # The commit is still in the history: nothing is acknowledged synchronously.
        self.versions[key] = self.realm.history()[-1].client_version

    async def run(self) -> None:
        n = 0
        while not self.stop:
            self.post(n)
            n += 1
            await asyncio.sleep(0.004)

    def acknowledged(self) -> set[str]:
        acked = self.realm.sync_session.history.last_acked_client_version
        return {key for key, version in self.versions.items() if version <= acked}
