"""The PostgreSQL adapter tests: a schema with every property type, devices, SQL helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psycopg
from notifier_support import FAST
from server_process import ADMIN_PASSWORD, ServerProcess

from studio.integrations.adapter import PostgresAdapter
from studio.sync.client import App, SyncedRealm

# fmt: off
SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Item",
        "primaryKey": "_id",
        "properties": {
            "_id": "string", "count": "int", "flag": "bool?", "ratio": "double",
            "small": "float?", "price": "decimal128?", "oid": "objectId?", "uid": "uuid?",
            "when": "date?", "blob": "data?", "any": "mixed", "tags": "string[]",
            "nums": "int<>", "attrs": "double{}", "owner": "Person?", "friends": "Person[]",
            "address": "Address?",
        },
    },
    {"name": "Person", "primaryKey": "_id", "properties": {"_id": "objectId", "name": "string"}},
    {"name": "Address", "embedded": True, "properties": {"street": "string", "city": "string?"}},
    {"name": "Note", "primaryKey": "_id", "properties": {"_id": "int", "text": "string"}},
]
# fmt: on


def make_adapter(server: ServerProcess, data: Path, dsn: str, **options: Any) -> PostgresAdapter:
    options.setdefault("realms", r"^/adapt/")
    options.setdefault("poll_interval", 0.2)
    options.setdefault("rescan_interval", 0.5)
    options.setdefault("retry_initial", 0.02)
    options.setdefault("retry_max", 0.2)
    return PostgresAdapter(server.url, username="admin", password=ADMIN_PASSWORD,
                           data_dir=data, dsn=dsn, sync_config=FAST, **options)  # fmt: skip


class Device:
    """A device with its own client files, logged in as admin."""

    def __init__(self, server: ServerProcess, base: Path) -> None:
        self.app = App(server.url, config=FAST, base_dir=base)

    async def open(self, path: str, schema: list[dict[str, Any]] | None = None) -> SyncedRealm:
        user = self.app.current_user or await self.app.login("admin", ADMIN_PASSWORD)
        return await self.app.open_realm(user, path, schema=SCHEMA if schema is None else schema)

    async def close(self) -> None:
        await self.app.close()


def sql(dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement as another SQL client (autocommit); returns its rows."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


async def asql(dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    """:func:`sql` in a thread: a statement that waits for a lock the adapter
    holds must not block the event loop the adapter runs on."""
    return await asyncio.to_thread(sql, dsn, query, params)
