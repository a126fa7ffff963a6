"""The sync cursors a download stores (``RealmStore.integrate``): the ones it moved,
in the transaction that applies it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from studio.core import Realm
from studio.core.realm import store_of
from studio.core.synced import get_sync_value
from studio.primitives.instructions import Changeset
from studio.sync.client.store import RealmStore
from studio.sync.client_history import ClientHistory
from studio.sync.history import RemoteChangeset
from studio.sync.protocol.events import ClientEvent, RemoteChanges

SCHEMA = [{"name": "Ping", "primaryKey": "_id", "properties": {"_id": "int", "sent": "double"}}]


def _remote_creates(tmp_path: Path, count: int) -> list[Changeset]:
    with Realm.open(tmp_path / "a.realm", schema=SCHEMA, record_history=True) as source:
        for i in range(count):
            with source.write():
                source.create("Ping", {"_id": i, "sent": 0.0})
        return [dataclasses.replace(c, origin_file_ident=2) for c in source.history()[1:]]


def _download(
    history: ClientHistory, changeset: Changeset, server_version: int, ack: int
) -> list[ClientEvent]:
    remote = RemoteChangeset(server_version, ack, changeset)
    changes = history.integrate_download([remote], server_version, ack)
    return [RemoteChanges(1, tuple(changes), server_version)]


def test_a_download_stores_only_the_cursors_it_moved(tmp_path: Path) -> None:
    creates = _remote_creates(tmp_path, 3)
    realm = Realm.open(tmp_path / "b.realm", schema=SCHEMA, record_history=True)
    store = RealmStore(realm, "ws://server", "/realm", "user")
    history = store.load()
    store.pull_local(history)
    schema_version = history.latest_client_version
    inserted: list[tuple[int, ...]] = []
    token = realm.objects("Ping").add_listener(lambda _r, c: inserted.append(c.insertions))
    statements: list[str] = []
    store_of(realm).conn.set_trace_callback(statements.append)
    try:
        # The first download also acknowledges the schema this client uploaded.
        store.integrate(history, lambda: _download(history, creates[0], 5, schema_version))
        assert any("sync.upload_ack" in s for s in statements)
        statements.clear()
        # A client that uploads nothing more: its acknowledgement stays where it is.
        store.integrate(history, lambda: _download(history, creates[1], 7, schema_version))
        store.integrate(history, lambda: _download(history, creates[2], 8, schema_version))
        written: list[Any] = [s for s in statements if "sync." in s and "INSERT" in s]
        assert written and all("sync.upload_ack" not in s for s in written)
    finally:
        store_of(realm).conn.set_trace_callback(None)
    assert inserted == [(0,), (1,), (2,)]
    assert get_sync_value(realm, "server_version") == "8"
    assert get_sync_value(realm, "upload_ack") == str(schema_version)
    reloaded = store.load()  # what a restart would see
    assert reloaded.last_integrated_server_version == 8
    assert reloaded.last_acked_client_version == schema_version
    assert reloaded.pending == []
    token.remove()
    realm.close()
