"""Ending a write transaction (commit, rollback) and catching up with other connections.

The change log (``CHANGES_TABLE``) is how connections of other processes learn what a
commit changed: each commit appends its changes, and ``collect_external_changes``
reads what others appended since this connection last looked.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import TYPE_CHECKING

from studio.core.changes import TransactionChanges
from studio.core.history import encode_instructions
from studio.core.migration import load_stored_schema
from studio.core.storage import CHANGES_TABLE, HISTORY_TABLE
from studio.primitives.instructions import Changeset

if TYPE_CHECKING:
    from studio.core.store import Store
    from studio.core.writer import Writer

CHANGE_LOG_KEEP = 1000
RECENT_RECORDED_KEEP = 1000
"""Recorded commits kept in memory for ``Realm.history``; beyond, it reads the table."""


def commit(store: Store, writer: Writer) -> None:
    """Write the change log and the recorded history of ``writer``'s transaction, and commit."""
    conn = store.conn
    changes = writer.changes
    if changes:
        cur = conn.execute(
            f"INSERT INTO {CHANGES_TABLE} (changes) VALUES (?)", (changes.to_json(),)
        )
        version = cur.lastrowid or 0
        if version % 100 == 0:
            conn.execute(
                f"DELETE FROM {CHANGES_TABLE} WHERE version <= ?", (version - CHANGE_LOG_KEEP,)
            )
        store.seen_change = version
    recorded: Changeset | None = None
    if writer.instructions:
        server_version = store.server_version()
        timestamp_ms = int(time.time() * 1000)
        cur = conn.execute(
            f"INSERT INTO {HISTORY_TABLE} "
            "(timestamp_ms, last_integrated_server_version, instructions) VALUES (?, ?, ?)",
            (timestamp_ms, server_version, encode_instructions(writer.instructions)),
        )
        recorded = Changeset(
            store.file_ident,
            cur.lastrowid or 0,
            server_version,
            timestamp_ms,
            tuple(writer.instructions),
        )
    conn.execute("COMMIT")
    if changes.schema_changed:
        store.next_keys = {}
        store.forget_meta()
    else:
        store.next_keys = writer.next_keys()
    if recorded is not None:
        recent = store.recent_recorded
        if len(recent) >= RECENT_RECORDED_KEEP:
            recent.clear()  # nobody takes them: Realm.history reads the table
        recent.append(recorded)


def rollback(store: Store, writer: Writer) -> None:
    """Undo ``writer``'s transaction and start reading again."""
    with contextlib.suppress(sqlite3.Error):
        store.sqlite.execute("ROLLBACK")
    store.next_keys = {}
    store.forget_meta()
    if writer.changes.schema_changed:
        store.install_schema(load_stored_schema(store))
        store.schema_generation = int(store.meta("schema_generation") or 0)
    # Objects and results cached rows from inside the transaction; drop them all.
    store.reset_version += 1
    store.version += 1
    store.begin_read()


def collect_external_changes(store: Store) -> TransactionChanges | None:
    """Changes committed by other connections since this one last looked."""
    conn = store.conn
    # SQLite bumps data_version only for commits of other connections: when it has not
    # moved, neither the schema generation nor the change log can have, and one pragma
    # replaces reading both (the common case of a connection that mostly writes).
    (data_version,) = conn.execute("PRAGMA data_version").fetchone()
    if data_version == store.data_version:
        return None
    store.data_version = data_version
    store.forget_meta()  # others may have written sync cursors
    generation = int(store.meta("schema_generation") or 0)
    rows = conn.execute(
        f"SELECT version, changes FROM {CHANGES_TABLE} WHERE version > ? ORDER BY version",
        (store.seen_change,),
    ).fetchall()
    if not rows and generation == store.schema_generation:
        return None
    store.next_keys = {}  # others may have created objects since
    changes = TransactionChanges()
    if generation != store.schema_generation:
        store.schema_generation = generation
        store.install_schema(load_stored_schema(store))
        changes.schema_changed = True
    if rows:
        if rows[0][0] != store.seen_change + 1:
            changes.full_reset = True
        for _version, text in rows:
            changes.merge(TransactionChanges.from_json(text))
        store.seen_change = rows[-1][0]
    store.version += 1
    for name in changes.classes:
        store.class_changed(name)
    if changes.full_reset:
        store.reset_version += 1
    return changes
