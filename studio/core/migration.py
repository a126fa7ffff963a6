"""Bringing a file's schema in line with the schema an app opens it with.

Additive changes (new classes, new properties, index changes) are applied
directly. Anything else (a removed property, a changed type or primary key)
needs a higher ``schema_version``; then tables are rebuilt keeping object keys
and the values of unchanged properties, and the migration callback runs with a
read-only copy of the old realm and the new realm inside the write transaction.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from studio.core.changes import TransactionChanges
from studio.core.errors import MigrationError, SchemaError, SchemaMismatchError
from studio.core.property_types import PROPERTY_TYPES
from studio.core.schema import ObjectSchema, Property, parse_object_schema, validate_schema
from studio.core.storage import (
    CHANGES_TABLE,
    FORMAT,
    HISTORY_TABLE,
    KEY,
    META_TABLE,
    SCHEMA_TABLE,
    class_table,
    class_table_ddl,
    collection_table,
    collection_table_ddl,
    column,
    drop_fulltext_ddl,
    new_file_ident,
    property_index_ddl,
    quote,
    tag_column,
)
from studio.primitives import instructions as ins

if TYPE_CHECKING:
    from studio.core.realm import MigrationCallback, Realm
    from studio.core.store import Store
    from studio.core.writer import Writer

    Snapshot = Callable[[Store, Sequence[ObjectSchema]], Realm]
    """Makes the read-only copy of the realm as it was that a migration callback gets."""


# The SQL literal a required column of each primitive type is filled with when added.
_DEFAULTS: dict[str, str] = {name: t.sql_default for name, t in PROPERTY_TYPES.items()}


@dataclass
class SchemaDiff:
    added_classes: list[ObjectSchema] = field(default_factory=list)
    added_properties: list[tuple[ObjectSchema, Property]] = field(default_factory=list)
    index_changes: list[tuple[ObjectSchema, Property]] = field(default_factory=list)
    breaking: list[str] = field(default_factory=list)
    rebuild: set[str] = field(default_factory=set)

    @property
    def additive(self) -> bool:
        return bool(self.added_classes or self.added_properties or self.index_changes)


def diff_schema(stored: Sequence[ObjectSchema], wanted: Sequence[ObjectSchema]) -> SchemaDiff:
    diff = SchemaDiff()
    old = {c.name: c for c in stored}
    for cls in wanted:
        before = old.get(cls.name)
        if before is None:
            diff.added_classes.append(cls)
            continue
        if before.primary_key != cls.primary_key:
            diff.breaking.append(
                f"the primary key of {cls.name} changed from {before.primary_key!r} "
                f"to {cls.primary_key!r}"
            )
            diff.rebuild.add(cls.name)
        if before.embedded != cls.embedded:
            diff.breaking.append(f"{cls.name} changed embedded from {before.embedded} "
                                 f"to {cls.embedded}")
            diff.rebuild.add(cls.name)
        for prop in before.persisted_properties:
            now = cls.get(prop.name)
            if now is None or now.is_backlink:
                diff.breaking.append(f"property {cls.name}.{prop.name} was removed")
                diff.rebuild.add(cls.name)
            elif now.type_string != prop.type_string:
                diff.breaking.append(
                    f"property {cls.name}.{prop.name} changed type from {prop.type_string} "
                    f"to {now.type_string}"
                )
                diff.rebuild.add(cls.name)
            elif (now.indexed, now.fulltext) != (prop.indexed, prop.fulltext) and (
                not now.is_primary_key
            ):
                diff.index_changes.append((cls, now))
        for prop in cls.persisted_properties:
            if before.get(prop.name) is None:
                diff.added_properties.append((cls, prop))
    return diff


def load_stored_schema(store: Store) -> list[ObjectSchema]:
    rows = store.conn.execute(f"SELECT json FROM {SCHEMA_TABLE} ORDER BY position").fetchall()
    return [parse_object_schema(json.loads(text)) for (text,) in rows]


def _merge(stored: Sequence[ObjectSchema], wanted: Sequence[ObjectSchema]) -> list[ObjectSchema]:
    """The realm's schema: the wanted classes, then stored classes the app did not name."""
    names = {c.name for c in wanted}
    return [*wanted, *(c for c in stored if c.name not in names)]


def _check_sync_schema(classes: Sequence[ObjectSchema]) -> None:
    for cls in classes:
        if not cls.embedded and cls.primary_key is None:
            raise SchemaError(
                f"class {cls.name} has no primary key; every class of a synced realm needs one "
                "(e.g. \"_id\": \"objectId\" with primaryKey \"_id\")"
            )


def reconcile_schema(
    store: Store,
    wanted: list[ObjectSchema] | None,
    schema_version: int | None,
    migration: MigrationCallback | None,
    record_history: bool,
    snapshot: Snapshot,
) -> None:
    conn = store.conn
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (META_TABLE,)
    ).fetchone()
    if not exists:
        _create_file(store, wanted or [], schema_version or 0, record_history)
        return
    stored = load_stored_schema(store)
    store.file_ident = int(store.meta("file_ident") or 0)
    store.schema_generation = int(store.meta("schema_generation") or 0)
    store.seen_change = int(
        conn.execute(f"SELECT coalesce(max(version), 0) FROM {CHANGES_TABLE}").fetchone()[0]
    )
    recording = record_history or store.meta("sync") == "1"
    store.recording = recording and not store.read_only
    stored_version = int(store.meta("schema_version") or 0)
    if wanted is None:
        store.install_schema(stored)
        return
    if schema_version is not None and schema_version < stored_version:
        raise SchemaMismatchError(
            f"{store.path} has schema version {stored_version}; the given schema_version "
            f"{schema_version} is lower. Open it with schema_version >= {stored_version}"
        )
    merged = _merge(stored, wanted)
    validate_schema(merged)
    if recording:
        _check_sync_schema(merged)
    diff = diff_schema(stored, wanted)
    bumped = schema_version is not None and schema_version > stored_version
    if diff.breaking and not bumped:
        raise SchemaMismatchError(
            "the schema differs from the one in "
            f"{store.path} (schema version {stored_version}): " + "; ".join(diff.breaking)
            + f". Open it with schema_version > {stored_version} and a migration function"
        )
    if not diff.breaking and not diff.additive and not bumped:
        if recording and store.meta("sync") != "1":
            _set_meta(store, "sync", "1")
        store.install_schema(merged)
        return
    if store.read_only:
        raise SchemaMismatchError(
            f"{store.path} is opened read-only but its schema differs from the given one: "
            + "; ".join(diff.breaking or ["classes or properties were added"])
        )
    if diff.breaking:
        _migrate(store, stored, merged, diff, schema_version or 0, migration, snapshot)
        return
    # The snapshot is taken before the write lock: a backup inside it never finishes.
    old_realm = snapshot(store, stored) if bumped and migration else None
    conn.execute("BEGIN IMMEDIATE")
    try:
        _apply_diff(store, diff, merged)
        if bumped:
            _set_meta(store, "schema_version", str(schema_version))
        if recording:
            _set_meta(store, "sync", "1")
        store.install_schema(merged)
        if old_realm is not None and migration is not None:
            _run_migration(store, old_realm, migration)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    finally:
        if old_realm is not None:
            old_realm.close()


def _create_file(
    store: Store, classes: list[ObjectSchema], schema_version: int, record_history: bool
) -> None:
    if record_history:
        _check_sync_schema(classes)
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value)")
        conn.execute(
            f"CREATE TABLE {SCHEMA_TABLE} (position INTEGER PRIMARY KEY, name TEXT UNIQUE, "
            "json TEXT NOT NULL)"
        )
        conn.execute(
            f"CREATE TABLE {CHANGES_TABLE} (version INTEGER PRIMARY KEY AUTOINCREMENT, "
            "changes TEXT NOT NULL)"
        )
        conn.execute(
            f"CREATE TABLE {HISTORY_TABLE} (client_version INTEGER PRIMARY KEY AUTOINCREMENT, "
            "timestamp_ms INTEGER NOT NULL, last_integrated_server_version INTEGER, "
            "instructions TEXT NOT NULL)"
        )
        ident = new_file_ident()
        meta = {
            "format": FORMAT,
            "schema_version": str(schema_version),
            "file_ident": str(ident),
            "sync": "1" if record_history else "0",
            "schema_generation": "1",
            "created": str(int(time.time())),
        }
        conn.executemany(f"INSERT INTO {META_TABLE} VALUES (?, ?)", meta.items())
        for cls in classes:
            _create_class(store, cls)
        if record_history and classes:
            _record_schema(store, classes, [])
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    store.file_ident = ident
    store.schema_generation = 1
    store.recording = record_history
    store.install_schema(classes)


def _set_meta(store: Store, key: str, value: str) -> None:
    store.conn.execute(f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?)", (key, value))
    store.forget_meta()


def _bump_generation(store: Store) -> None:
    generation = int(store.meta("schema_generation") or 0) + 1
    _set_meta(store, "schema_generation", str(generation))
    store.schema_generation = generation


def _create_class(store: Store, cls: ObjectSchema) -> None:
    for stmt in class_table_ddl(cls):
        store.conn.execute(stmt)
    _store_class(store, cls)


def _store_class(store: Store, cls: ObjectSchema) -> None:
    text = json.dumps(cls.to_json(), separators=(",", ":"))
    cur = store.conn.execute(f"UPDATE {SCHEMA_TABLE} SET json = ? WHERE name = ?",
                             (text, cls.name))
    if cur.rowcount == 0:
        store.conn.execute(f"INSERT INTO {SCHEMA_TABLE} (name, json) VALUES (?, ?)",
                           (cls.name, text))


def _add_property(store: Store, cls: ObjectSchema, prop: Property) -> None:
    conn = store.conn
    if prop.collection is not None:
        for stmt in collection_table_ddl(cls.name, prop):
            conn.execute(stmt)
        return
    table = class_table(cls.name)
    if prop.type == "mixed":
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column(prop.name)}")
        conn.execute(
            f"ALTER TABLE {table} ADD COLUMN {tag_column(prop.name)} INTEGER NOT NULL DEFAULT 0"
        )
    else:
        from studio.core.values import SQL_TYPES

        default = ""
        if not prop.optional and prop.type in _DEFAULTS:
            default = f" DEFAULT {_DEFAULTS[prop.type]}"
        conn.execute(
            f"ALTER TABLE {table} ADD COLUMN {column(prop.name)} {SQL_TYPES[prop.type]}{default}"
        )
    for stmt in property_index_ddl(cls, prop):
        conn.execute(stmt)


def _apply_diff(store: Store, diff: SchemaDiff, merged: Sequence[ObjectSchema]) -> None:
    conn = store.conn
    for cls in diff.added_classes:
        _create_class(store, cls)
    for cls, prop in diff.added_properties:
        _add_property(store, cls, prop)
    for cls, prop in diff.index_changes:
        name = quote(f"index:{cls.name}.{prop.name}")
        conn.execute(f"DROP INDEX IF EXISTS {name}")
        for stmt in drop_fulltext_ddl(cls, prop):
            conn.execute(stmt)
        for stmt in property_index_ddl(cls, prop):
            conn.execute(stmt)
    for cls in merged:
        _store_class(store, cls)
    if store.recording:
        stored_names = {c.name for c in diff.added_classes}
        _record_schema(
            store,
            diff.added_classes,
            [(c, p) for c, p in diff.added_properties if c.name not in stored_names],
        )
    _bump_generation(store)


def _record_schema(
    store: Store,
    classes: Sequence[ObjectSchema],
    properties: Sequence[tuple[ObjectSchema, Property]],
) -> None:
    from studio.core.history import encode_instructions

    out: list[ins.Instruction] = []
    for cls in classes:
        pk = cls.get(cls.primary_key) if cls.primary_key else None
        out.append(
            ins.AddClass(
                cls.name,
                cls.primary_key,
                pk.type if pk else None,
                pk.optional if pk else False,
                cls.embedded,
            )
        )
        properties = [*properties, *((cls, p) for p in cls.properties if not p.is_primary_key)]
    for cls, prop in properties:
        out.append(
            ins.AddProperty(
                cls.name, prop.name, prop.type_string, prop.indexed, prop.object_type,
                prop.origin_property,
            )
        )
    if not out:
        # A schema the realm already has (e.g. a download's AddClass of a class
        # it declared too): an empty changeset would be uploaded for nothing.
        return
    store.conn.execute(
        f"INSERT INTO {HISTORY_TABLE} (timestamp_ms, instructions) VALUES (?, ?)",
        (int(time.time() * 1000), encode_instructions(out)),
    )


def apply_additive(store: Store, classes: Sequence[ObjectSchema], writer: Writer) -> None:
    """Add classes and properties inside an open write transaction (the Studio's editor)."""
    stored = list(store.schema)
    merged_by_name = {c.name: c for c in stored}
    for cls in classes:
        merged_by_name[cls.name] = cls
    diff = diff_schema(stored, classes)
    if diff.breaking:
        raise SchemaMismatchError(
            "only additive schema changes are possible here: " + "; ".join(diff.breaking)
        )
    merged = [merged_by_name[c.name] for c in stored] + [
        c for c in classes if c.name not in {s.name for s in stored}
    ]
    validate_schema(merged)
    _apply_diff(store, diff, merged)
    store.install_schema(merged)
    writer.changes.schema_changed = True


def _migrate(
    store: Store,
    stored: list[ObjectSchema],
    merged: list[ObjectSchema],
    diff: SchemaDiff,
    schema_version: int,
    migration: MigrationCallback | None,
    snapshot: Snapshot,
) -> None:
    conn = store.conn
    old_realm = snapshot(store, stored)
    conn.execute("BEGIN IMMEDIATE")
    try:
        old_by_name = {c.name: c for c in stored}
        for cls in merged:
            if cls.name in diff.rebuild:
                rebuild_class_table(store, old_by_name[cls.name], cls)
        rest = SchemaDiff(
            added_classes=diff.added_classes,
            added_properties=[(c, p) for c, p in diff.added_properties
                              if c.name not in diff.rebuild],
            index_changes=[(c, p) for c, p in diff.index_changes if c.name not in diff.rebuild],
        )
        _apply_diff(store, rest, merged)
        _set_meta(store, "schema_version", str(schema_version))
        store.install_schema(merged)
        if migration is not None:
            _run_migration(store, old_realm, migration)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    finally:
        old_realm.close()


def _run_migration(store: Store, old_realm: Realm, migration: MigrationCallback) -> None:
    """Run the callback inside the caller's write transaction, which also changed the
    schema: as in Realm, a failing migration leaves the file as it was."""
    from studio.core.writer import Writer

    writer = Writer(store, record=False)
    store.writer = writer
    try:
        migration(old_realm, store.realm)
        writer.flush()
        changes = TransactionChanges()
        changes.full_reset = True
        store.sqlite.execute(
            f"INSERT INTO {CHANGES_TABLE} (changes) VALUES (?)", (changes.to_json(),)
        )
    except BaseException as exc:
        raise MigrationError(f"the migration function failed: {exc!r}") from exc
    finally:
        store.writer = None
        store.version += 1
        store.reset_version += 1


def rebuild_class_table(store: Store, old: ObjectSchema, new: ObjectSchema) -> None:
    """Recreate a class table for a new schema, keeping keys and unchanged columns."""
    conn = store.conn
    table = class_table(old.name)
    # Object keys are never reused: the new table continues the old one's key sequence.
    sequence = conn.execute(
        "SELECT seq FROM sqlite_sequence WHERE name = ?", (f"class_{old.name}",)
    ).fetchone()
    temp = quote(f"class_{old.name}@old")
    for prop in old.persisted_properties:
        if prop.fulltext:  # the new table's DDL recreates the ones it keeps
            for stmt in drop_fulltext_ddl(old, prop):
                conn.execute(stmt)
    for (index_name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL",
        (f"class_{old.name}",),
    ).fetchall():
        conn.execute(f"DROP INDEX {quote(index_name)}")
    conn.execute(f"ALTER TABLE {table} RENAME TO {temp}")
    kept_collections: set[str] = set()
    for prop in old.persisted_properties:
        if prop.collection is None:
            continue
        now = new.get(prop.name)
        if now is not None and now.type_string == prop.type_string:
            kept_collections.add(prop.name)
        else:
            conn.execute(f"DROP TABLE {collection_table(old.name, prop)}")
    conn.execute(class_table_ddl(new)[0])
    for prop in new.persisted_properties:
        if prop.collection is None:
            for stmt in property_index_ddl(new, prop):
                conn.execute(stmt)
        elif prop.name not in kept_collections:
            for stmt in collection_table_ddl(new.name, prop):
                conn.execute(stmt)
    copied = [KEY]
    fills: list[str] = []
    for prop in new.persisted_properties:
        if prop.collection is not None:
            continue
        before = old.get(prop.name)
        same = before is not None and before.type == prop.type and before.collection is None \
            and before.object_type == prop.object_type
        if same:
            copied.append(column(prop.name))
            if prop.type == "mixed":
                copied.append(tag_column(prop.name))
        if not prop.optional and prop.type in _DEFAULTS:
            fills.append(
                f"UPDATE {table} SET {column(prop.name)} = {_DEFAULTS[prop.type]} "
                f"WHERE {column(prop.name)} IS NULL"
            )
    cols = ", ".join(copied)
    conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {temp}")
    for stmt in fills:
        conn.execute(stmt)
    conn.execute(f"DROP TABLE {temp}")
    if sequence is not None:
        conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
            (sequence[0], f"class_{new.name}"),
        )
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
            "(SELECT 1 FROM sqlite_sequence WHERE name = ?)",
            (f"class_{new.name}", sequence[0], f"class_{new.name}"),
        )

