"""The bulk-create fast path of a write transaction: creates of objects with primitive
values only are buffered and written with a few multi-row INSERTs per class, the
moment anything else touches the connection (see ``Store.conn``); ``create_many``
runs a whole iterable through that path in one loop. A part of
:class:`~studio.core.writer.Writer`."""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from studio.core.collection_writer import CollectionWriter
from studio.core.errors import DuplicatePrimaryKeyError, MissingValueError, ValueTypeError
from studio.core.objects import CreatedObjects, RealmObject
from studio.core.storage import KEY, column
from studio.core.values import DEFAULT_VALUES, ENCODERS
from studio.primitives import instructions as ins

if TYPE_CHECKING:
    from studio.core.changes import TransactionChanges
    from studio.core.classinfo import ClassInfo
    from studio.core.store import Store

# Rows per INSERT statement when buffered rows are written. One statement of many
# rows costs a third of executemany's per-row statement steps (measured: 100k rows of
# 7 columns, 430k rows/s against 270k/s); more rows per statement gain nothing more.
ROWS_PER_STATEMENT: Final = 256
_END: Final = object()


class BulkCreateWriter(CollectionWriter):
    """Mixed into Writer; the attributes below are the Writer's."""

    # The buffers and key counters of the fast path (Writer.__init__ sets them up).
    __slots__ = ("_buffers", "_known_keys", "_next_keys", "buffered")
    buffered: bool
    # Per class, the buffered rows one after the other in one flat list (each row is
    # the class's simple_encoders values, then the object key).
    _buffers: dict[str, list[Any]]
    _next_keys: dict[str, int]
    # Primary keys created in this transaction, per class whose table was empty before;
    # None for classes that had rows (duplicates are then checked with a query).
    _known_keys: dict[str, set[Any] | None]

    if TYPE_CHECKING:
        store: Store
        instructions: list[ins.Instruction] | None
        changes: TransactionChanges
        fill_defaults: bool

        def create(
            self, class_name: str, values: Mapping[str, Any], update: bool = False
        ) -> RealmObject: ...

    def flush(self) -> None:
        """Write buffered bulk-created rows."""
        if not self.buffered:
            return
        self.buffered = False
        conn = self.store.sqlite
        for class_name, flat in self._buffers.items():
            if flat:
                info = self.store.info(class_name)
                try:
                    self._write_rows(conn, info, flat)
                except sqlite3.IntegrityError as exc:
                    raise DuplicatePrimaryKeyError(
                        f"{class_name}: two objects with the same primary key ({exc})"
                    ) from None
                finally:
                    flat.clear()

    def _write_rows(self, conn: sqlite3.Connection, info: ClassInfo, flat: list[Any]) -> None:
        width = len(info.simple_encoders) + 1
        per, sql = self._statement_for(conn, info, width)
        step = per * width
        full = len(flat) - len(flat) % step
        for start in range(0, full, step):
            conn.execute(sql, flat[start : start + step])
        if full < len(flat):
            conn.executemany(
                info.simple_insert_keyed_sql or "",
                [flat[i : i + width] for i in range(full, len(flat), width)],
            )

    def _statement_for(
        self, conn: sqlite3.Connection, info: ClassInfo, width: int
    ) -> tuple[int, str]:
        found = info.rows_insert
        if found is None:
            # SQLite builds before 3.32 allow only 999 parameters per statement.
            limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            per = max(1, min(ROWS_PER_STATEMENT, limit // width))
            head, _, marks = (info.simple_insert_keyed_sql or "").rpartition(" VALUES ")
            found = info.rows_insert = (per, f"{head} VALUES {', '.join([marks] * per)}")
        return found

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

    def next_keys(self) -> dict[str, int]:
        """Per class used so far, the key the next created object would get."""
        return self._next_keys

    def _next_key(self, info: ClassInfo) -> int:
        """The key the next object of the class gets (the counter starts on first use)."""
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
            key = self._next_keys[name] = max(highest, seq[0] if seq else 0) + 1
            self._known_keys[name] = set() if highest == 0 else None
        return key

    def _simple_row(self, info: ClassInfo, values: Mapping[str, Any]) -> list[Any]:
        """The stored values of a fast-path object, in simple_encoders order (checked)."""
        assert info.encode_row is not None
        return info.encode_row(values, self._required_missing)

    def _required_missing(self, class_name: str, name: str, given_none: bool) -> Any:
        """A required property without a value: its default when sync replays, else the
        error ``create`` gives (None given, or nothing)."""
        info = self.store.info(class_name)
        prop = info.columns[name].prop
        if given_none:
            raise ValueTypeError(
                f"property {name}: a value of type {prop.type} is required, got None"
            )
        if self.fill_defaults:
            return ENCODERS[prop.type](DEFAULT_VALUES[prop.type])
        raise MissingValueError(
            f"{info.name}.{name} ({prop.type_string}) is required and was not given"
        )

    def _duplicate(self, info: ClassInfo, values: Mapping[str, Any]) -> DuplicatePrimaryKeyError:
        pk_name = info.schema.primary_key
        return DuplicatePrimaryKeyError(
            f"{info.name}: an object with primary key {pk_name} = "
            f"{values.get(pk_name or '')!r} already exists; use update=True to change it"
        )

    def _create_simple(self, info: ClassInfo, values: dict[str, Any]) -> RealmObject:
        """Bulk-create fast path: primitive columns only."""
        row = self._simple_row(info, values)
        pk_name = info.schema.primary_key
        key = self._next_key(info)
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
                raise self._duplicate(info, values)
            if known is not None:
                known.add(pk_stored)
        self._next_keys[info.name] = key + 1
        if self.instructions is not None:
            self._record_simple_create(info, values, row)
        row.append(key)
        self._buffers.setdefault(info.name, []).extend(row)
        self.buffered = True
        store = self.store
        store.version += 1
        self.changes.insert(info.name, key)
        versions = store.class_versions
        versions[info.name] = versions.get(info.name, 0) + 1
        return RealmObject(store, info, key)

    # -- create_many ------------------------------------------------------------------------

    def create_many(
        self, class_name: str, objects: Iterable[Mapping[str, Any]], update: bool = False
    ) -> CreatedObjects:
        """``[create(class_name, values, update) for values in objects]``, with the same
        checks, errors, notifications and sync instructions, in one loop: objects of
        primitive values go straight into the buffer, anything else (nested objects,
        collections, ``update=True``) through ``create``."""
        if isinstance(objects, Mapping | str | bytes) or not isinstance(objects, Iterable):
            raise ValueTypeError(
                f"create_many({class_name!r}, ...) takes an iterable of dicts of property "
                f"values, got {type(objects).__name__}"
            )
        info = self.store.info(class_name)
        keys: array[int] = array("q")
        if info.simple_insert_sql is None or update:
            create = self.create
            keys.extend(create(class_name, values, update)._key for values in objects)
            return CreatedObjects(self.store, info, keys)
        pending = iter(objects)
        while True:
            other = self._create_run(info, pending, keys)
            if other is _END:
                return CreatedObjects(self.store, info, keys)
            keys.append(self.create(class_name, other)._key)

    def _create_run(self, info: ClassInfo, pending: Iterator[Any], created: array[int]) -> Any:
        """Create objects from ``pending`` on the fast path until one needs ``create``;
        return that one (or _END). What a loop of ``_create_simple`` does per object is
        done once per run where no one can tell the difference: the change set is
        updated at the end of the run (whatever ends it), cache versions step when the
        run starts and after each flush."""
        name = info.name
        store = self.store
        defaults = None if self.fill_defaults else store.defaults.get(name)
        simple_keys = info.simple_property_names
        first = key = self._next_key(info)
        pk_position = info.pk_position if info.schema.primary_key is not None else -1
        known = self._known_keys.get(name)
        if pk_position >= 0 and known is None:
            # Earlier rows of the class are looked up in the table, this run's in a set.
            self.flush()
            pk_column = column(info.schema.primary_key or "")
            pk_query = f"SELECT 1 FROM {info.table} WHERE {pk_column} IS ?"
            known = set()
            in_table = store.sqlite.execute
        else:
            pk_query = ""
            in_table = None
        buffer = self._buffers.setdefault(name, [])
        record = self.instructions is not None
        next_keys = self._next_keys
        versions = store.class_versions
        encode_row = info.encode_row
        assert encode_row is not None
        missing = self._required_missing
        end: Any = _END
        # Cached results and rows are stamped with these versions: one step makes every
        # cache taken before the run stale (the objects are new: no row of an existing
        # object changes), and each flush during the run is followed by another.
        self.buffered = True
        store.version += 1
        versions[name] = versions.get(name, 0) + 1
        try:
            for values in pending:
                if defaults:
                    values = with_defaults(values, defaults)
                if type(values) is not dict or not simple_keys.issuperset(values):
                    end = values
                    break
                row = encode_row(values, missing)
                if pk_position >= 0:
                    assert known is not None
                    pk_stored = row[pk_position]
                    if pk_stored in known or (
                        in_table is not None
                        and in_table(pk_query, (pk_stored,)).fetchone() is not None
                    ):
                        raise self._duplicate(info, values)
                    known.add(pk_stored)
                next_keys[name] = key + 1
                if record:
                    self._record_simple_create(info, values, row)
                row.append(key)
                buffer.extend(row)
                key += 1
                if not self.buffered:
                    # Something read the realm meanwhile (a default's function, the
                    # caller's generator): its caches must not outlive what follows.
                    self.buffered = True
                    store.version += 1
                    versions[name] = versions.get(name, 0) + 1
        finally:
            if key > first:
                self.changes.insert_many(name, range(first, key))
        created.extend(range(first, key))
        return end


def with_defaults(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> Mapping[str, Any]:
    """``values`` with the schema's defaults for what it does not give (a
    function as default is called for each object)."""
    missing = [name for name in defaults if name not in values]
    if not missing:
        return values
    out = dict(values)
    for name in missing:
        default = defaults[name]
        out[name] = default() if callable(default) else default
    return out
