"""What the sync client needs from a realm: applying remote changes, its cursors,
rewriting and trimming the local history. Kept out of ``Realm`` so that the core
API stays the one apps use."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from studio.core.errors import WrongTransactionStateError
from studio.core.history import encode_instructions
from studio.core.realm import store_of
from studio.core.replay import apply_instructions
from studio.core.storage import HISTORY_TABLE, META_TABLE
from studio.core.transactions import collect_external_changes
from studio.primitives import instructions as ins

if TYPE_CHECKING:
    from studio.core.realm import Realm

_PREFIX = "sync."


def get_sync_value(realm: Realm, key: str, default: str | None = None) -> str | None:
    """A sync cursor or setting stored in the realm file (e.g. ``server_version``)."""
    value = store_of(realm).meta(_PREFIX + key)
    return default if value is None else str(value)


def set_sync_values(realm: Realm, values: Mapping[str, str | int]) -> None:
    """Store cursors; inside a write transaction they commit with it."""
    store = store_of(realm)
    conn = store.conn
    own = store.writer is None
    if own:
        store.end_read()
        conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?)",
        [(_PREFIX + k, str(v)) for k, v in values.items()],
    )
    store.forget_meta()
    if own:
        conn.execute("COMMIT")
        store.begin_read()


def apply_remote(
    realm: Realm,
    instructions: Sequence[ins.Instruction],
    cursors: Mapping[str, str | int] | None = None,
    rewritten_local: Mapping[int, Sequence[ins.Instruction]] | None = None,
) -> None:
    """Apply a changeset that came from the server, in one write transaction that is not
    recorded as a local change; listeners fire as for any commit (with ``local=False``).

    ``cursors`` (e.g. the new server version) and ``rewritten_local`` (local changesets
    not yet acknowledged, transformed against this one: client version -> instructions)
    are stored in the same transaction, so a crash never separates them.

    Inside an open ``realm.write(record=False)`` it joins that transaction (the sync
    client reads the local history and applies a download under one write lock, so no
    commit of another process can slip in between).
    """
    writer = store_of(realm).writer
    if writer is not None and writer.instructions is not None:
        raise WrongTransactionStateError(
            "apply_remote inside a recording write transaction would record the server's "
            "changes as local ones; open it with realm.write(record=False)"
        )
    with contextlib.nullcontext() if writer is not None else realm.write(record=False):
        apply_instructions(realm, instructions)
        if cursors:
            set_sync_values(realm, cursors)
        if rewritten_local:
            store_of(realm).recent_recorded.clear()
            store_of(realm).conn.executemany(
                f"UPDATE {HISTORY_TABLE} SET instructions = ? WHERE client_version = ?",
                [(encode_instructions(v), k) for k, v in rewritten_local.items()],
            )


def store_sync_state(
    realm: Realm, values: Mapping[str, str | int], trim_through: int = 0
) -> None:
    """Store cursors and forget the local changesets up to ``trim_through`` (0: none),
    in one transaction of their own that changes no objects: no write transaction,
    no listeners for it (a download that only acknowledges uploads).

    Commits of other connections it comes across are delivered, as ``refresh`` does
    (the read snapshot moves past them)."""
    store = store_of(realm)
    store.check_open()
    if store.writer is not None:
        raise WrongTransactionStateError(
            "store_sync_state runs outside write transactions; inside one use "
            "set_sync_values and trim_history"
        )
    conn = store.conn
    store.end_read()
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?)",
            [(_PREFIX + k, str(v)) for k, v in values.items()],
        )
        store.forget_meta()
        if trim_through > 0:
            conn.execute(
                f"DELETE FROM {HISTORY_TABLE} WHERE client_version <= ?", (trim_through,)
            )
            store.recent_recorded.clear()
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        store.begin_read()
        raise
    store.begin_read()
    external = collect_external_changes(store)
    if external:
        store.notifier.deliver(external, local=False)


def trim_history(realm: Realm, upto_client_version: int) -> None:
    """Forget local changesets the server acknowledged (client versions up to the given one)."""
    store = store_of(realm)
    conn = store.conn
    own = store.writer is None
    if own:
        store.end_read()
        conn.execute("BEGIN IMMEDIATE")
    conn.execute(f"DELETE FROM {HISTORY_TABLE} WHERE client_version <= ?", (upto_client_version,))
    store.recent_recorded.clear()
    if own:
        conn.execute("COMMIT")
        store.begin_read()



def discard_recorded(realm: Realm) -> None:
    """Forget the instructions recorded so far in the open write transaction: what
    follows is recorded, what came before commits without becoming a local change
    (a client reset adopts the server's state, then records the recovered changes,
    in one transaction)."""
    writer = store_of(realm).current_writer()
    if writer.instructions is not None:
        writer.instructions.clear()


def record_instructions(realm: Realm, instructions: Sequence[ins.Instruction]) -> None:
    """Add instructions to the open recording write transaction's changeset as they
    are, without applying them (schema the server must learn about)."""
    writer = store_of(realm).current_writer()
    if writer.instructions is None:
        raise WrongTransactionStateError(
            "record_instructions needs a recording write transaction (realm.write())"
        )
    writer.instructions.extend(instructions)


def clear_history(realm: Realm) -> None:
    """Forget every recorded local changeset (inside the open write transaction).
    Client versions go on counting up from where they were."""
    store = store_of(realm)
    store.conn.execute(f"DELETE FROM {HISTORY_TABLE}")
    store.recent_recorded.clear()


def history_row_count(realm: Realm) -> int:
    """How many local changesets the file keeps (the unacknowledged ones)."""
    row = store_of(realm).conn.execute(f"SELECT COUNT(*) FROM {HISTORY_TABLE}").fetchone()
    return int(row[0])


def write_backup(realm: Realm, destination: str) -> None:
    """Copy the realm file, as it is committed now, to ``destination`` (SQLite's
    online backup: consistent while the realm stays open and in WAL mode)."""
    # A connection of its own: the realm's keeps a read snapshot that may be older.
    source = sqlite3.connect(store_of(realm).path)
    target = sqlite3.connect(destination)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
