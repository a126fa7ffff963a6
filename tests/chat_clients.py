"""Chat clients for the tests and benchmarks that write through real App
clients: the schema, a client posting messages in a loop, the messages a
realm holds. Imported by module name: ``tests/`` is on ``sys.path``."""

from __future__ import annotations

import asyncio
from typing import Any

from studio.core import Realm
from studio.sync.client import SyncedRealm

SCHEMA: list[dict[str, Any]] = [
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

    async def run(self, interval: float = 0.004) -> None:
        n = 0
        while not self.stop:
            self.post(n)
            n += 1
            await asyncio.sleep(interval)

    @property
    def acked(self) -> int:
        """The latest client version the server acknowledged."""
        return self.realm.sync_session.history.last_acked_client_version

    def acknowledged(self) -> set[str]:
        acked = self.acked
        return {key for key, version in self.versions.items() if version <= acked}
