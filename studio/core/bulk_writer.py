"""The bulk-create fast path of a write transaction: creates of objects with primitive
values only are buffered and written with one ``executemany`` per class, the moment
anything else touches the connection (see ``Store.conn``); a part of
:class:`~studio.core.writer.Writer`."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from studio.core.collection_writer import CollectionWriter
from studio.core.errors import DuplicatePrimaryKeyError, MissingValueError, ValueTypeError
from studio.core.objects import RealmObject
from studio.core.storage import KEY, column
from studio.core.values import DEFAULT_VALUES
from studio.primitives import instructions as ins

if TYPE_CHECKING:
    from studio.core.changes import TransactionChanges
    from studio.core.classinfo import ClassInfo
    from studio.core.store import Store


class BulkCreateWriter(CollectionWriter):
    """Mixed into Writer; the attributes below are the Writer's."""

    # The buffers and key counters of the fast path (Writer.__init__ sets them up).
    __slots__ = ("_buffers", "_known_keys", "_next_keys", "buffered")
    buffered: bool
    _buffers: dict[str, list[list[Any]]]
    _next_keys: dict[str, int]
    # Primary keys created in this transaction, per class whose table was empty before;
    # None for classes that had rows (duplicates are then checked with a query).
    _known_keys: dict[str, set[Any] | None]

    if TYPE_CHECKING:
        store: Store
        instructions: list[ins.Instruction] | None
        changes: TransactionChanges
        fill_defaults: bool

    def flush(self) -> None:
        """Write buffered bulk-created rows."""
        if not self.buffered:
            return
        self.buffered = False
        conn = self.store.sqlite
        for class_name, rows in self._buffers.items():
            if rows:
                info = self.store.info(class_name)
                try:
                    conn.executemany(info.simple_insert_keyed_sql or "", rows)
                except sqlite3.IntegrityError as exc:
                    raise DuplicatePrimaryKeyError(
                        f"{class_name}: two objects with the same primary key ({exc})"
                    ) from None
                finally:
                    rows.clear()

    def _record_simple_create(
        self, info: ClassInfo, values: dict[str, Any], row: list[Any]
    ) -> None:
        # Values are recorded as they read back (floats from ints, aware datetimes...), so a
        # replica that replays them holds exactly what this file holds.
        columns = info.columns
        pk_name = info.schema.primary_key
        normalized: dict[str, Any] = {}
        for (name, _, _), stored in zip(info.simple_encoders, row, strict=True):
            decode = columns[name].decode
            normalized[name] = stored if decode is None or stored is None else decode(stored)
        pk = normalized.get(pk_name) if pk_name is not None else None
        emit = self.instructions
        assert emit is not None
        emit.append(ins.CreateObject(info.name, pk))
        for name, value in normalized.items():
            if name != pk_name and name in values:
                emit.append(ins.Set(info.name, pk, (name,), value))

    def _reserve_key(self, info: ClassInfo) -> int:
        name = info.name
        key = self._next_keys.get(name)
        if key is None:
            conn = self.store.conn
            (highest,) = conn.execute(
                f"SELECT coalesce(max({KEY}), 0) FROM {info.table}"
            ).fetchone()
            seq = conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = ?", (f"class_{name}",)
            ).fetchone()
            key = max(highest, seq[0] if seq else 0) + 1
            self._known_keys[name] = set() if highest == 0 else None
        self._next_keys[name] = key + 1
        return key

    def _create_simple(self, info: ClassInfo, values: dict[str, Any]) -> RealmObject:
        """Bulk-create fast path: primitive columns only."""
        row: list[Any] = []
        for name, encode, optional in info.simple_encoders:
            value = values.get(name)
            if value is None and not optional and name not in values:
                if self.fill_defaults:
                    row.append(encode(DEFAULT_VALUES[info.columns[name].prop.type]))
                    continue
                raise MissingValueError(
                    f"{info.name}.{name} ({info.columns[name].prop.type_string}) is required "
                    "and was not given"
                )
            try:
                row.append(encode(value))
            except ValueTypeError as exc:
                raise ValueTypeError(f"property {name}: {exc}") from None
        pk_name = info.schema.primary_key
        key = self._reserve_key(info)
        if pk_name is not None:
            known = self._known_keys.get(info.name)
            pk_stored = row[info.pk_position]
            duplicate = (
                pk_stored in known
                if known is not None
                else self.store.conn.execute(
                    f"SELECT 1 FROM {info.table} WHERE {column(pk_name)} IS ?", (pk_stored,)
                ).fetchone()
                is not None
            )
            if duplicate:
                self._next_keys[info.name] = key
                raise DuplicatePrimaryKeyError(
                    f"{info.name}: an object with primary key {pk_name} = "
                    f"{values.get(pk_name)!r} already exists; use update=True to change it"
                )
            if known is not None:
                known.add(pk_stored)
        if self.instructions is not None:
            self._record_simple_create(info, values, row)
        row.append(key)
        self._buffers.setdefault(info.name, []).append(row)
        self.buffered = True
        store = self.store
        store.version += 1
        self.changes.insert(info.name, key)
        versions = store.class_versions
        versions[info.name] = versions.get(info.name, 0) + 1
        return RealmObject(store, info, key)
