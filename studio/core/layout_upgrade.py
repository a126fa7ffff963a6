"""Upgrades of the storage layout (the ``format`` of ``_studio_meta``) of files written by
earlier versions, run when such a file is opened for writing.

studio-1 -> studio-2: float and double columns of class tables and collection tables
lose their REAL affinity (declared with no type), so that -0.0 keeps its sign. SQLite
cannot change a column's type in place: each table with such a column is rebuilt
(created anew, rows copied with their keys, indexes, full-text tables and the object
key sequence kept). A REAL column held integral values as integers and read them back
as floats; the copy reads them as floats, so every old value is what it was. A -0.0
written under studio-1 was already stored as 0.0 and stays 0.0.

The upgrade is one transaction under the write lock: another process that opens the
file at the same time finds it upgraded or waits. Schema, history and change log are
not touched (the values do not change), so nothing is synced and no listener fires.
A version of studio that reads only studio-1 refuses an upgraded file with a clear
message (``Realm.open``'s format check).
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING

from studio.core.migration import load_stored_schema, rebuild_class_table
from studio.core.schema import ObjectSchema, Property
from studio.core.storage import FORMAT, META_TABLE, collection_table, collection_table_ddl, quote

if TYPE_CHECKING:
    from studio.core.store import Store

_FLOATS = ("float", "double")


def upgrade_layout(store: Store) -> str:
    """Bring the file's layout up to :data:`FORMAT`; the format it had before."""
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the lock: another process may have upgraded the file meanwhile.
        before = str(store.meta("format"))
        if before == "studio-1":
            _floats_without_affinity(store)
        conn.execute(f"UPDATE {META_TABLE} SET value = ? WHERE key = 'format'", (FORMAT,))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return before


def _floats_without_affinity(store: Store) -> None:
    for cls in load_stored_schema(store):
        if any(_is_float_column(p) for p in cls.persisted_properties):
            rebuild_class_table(store, cls, cls)
        for prop in cls.persisted_properties:
            if prop.collection is not None and prop.type in _FLOATS:
                _rebuild_collection_table(store, cls, prop)


def _is_float_column(prop: Property) -> bool:
    return prop.collection is None and prop.type in _FLOATS


def _rebuild_collection_table(store: Store, cls: ObjectSchema, prop: Property) -> None:
    """Recreate a collection's side table with the current DDL, rows (and rowids) kept."""
    conn = store.conn
    table = collection_table(cls.name, prop)
    temp = quote(f"{prop.collection}:{cls.name}.{prop.name}@old")
    for (index_name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL",
        (f"{prop.collection}:{cls.name}.{prop.name}",),
    ).fetchall():
        conn.execute(f"DROP INDEX {quote(index_name)}")
    conn.execute(f"ALTER TABLE {table} RENAME TO {temp}")
    for stmt in collection_table_ddl(cls.name, prop):
        conn.execute(stmt)
    columns = ", ".join(
        quote(name) for (_, name, *_) in conn.execute(f"PRAGMA table_info({temp})").fetchall()
    )
    conn.execute(f"INSERT INTO {table} (rowid, {columns}) SELECT rowid, {columns} FROM {temp}")
    conn.execute(f"DROP TABLE {temp}")
