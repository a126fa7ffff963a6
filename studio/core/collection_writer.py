"""List, set and dictionary edits of a write transaction (a part of :class:`Writer`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from studio.core.errors import ValueTypeError
from studio.core.objects import RealmObject
from studio.primitives import instructions as ins

if TYPE_CHECKING:
    import sqlite3

    from studio.core.classinfo import ClassInfo
    from studio.core.schema import Property
    from studio.core.store import Store

Address = tuple[str, Any, tuple[ins.PathElement, ...]]
"""(top-level class, its primary key, path from it) of an object or a property."""

EMITTED = object()
"""Marks a value whose instructions were recorded already (a new embedded object)."""


class CollectionWriter:
    """Mixed into Writer; the attributes below are the Writer's."""

    __slots__ = ()

    if TYPE_CHECKING:
        store: Store
        instructions: list[ins.Instruction] | None

        @property
        def _conn(self) -> sqlite3.Connection: ...
        def _bump(self) -> None: ...
        def _emit(self, instruction: ins.Instruction) -> None: ...
        def _encoder(self, prop: Property) -> Any: ...
        def _touch(self, info: ClassInfo, key: int, prop_name: str) -> None: ...
        def _recorded_address(self, obj: RealmObject) -> Address | None: ...
        def _store(
            self, prop: Property, value: Any, addr: Address | None, head: Any
        ) -> tuple[Any, int, Any]: ...
        def _delete(self, info: ClassInfo, key: int, record: bool) -> None: ...

    def _fill(self, obj: RealmObject, prop: Property, values: Any, addr: Address | None) -> None:
        if prop.collection == "dictionary":
            if not isinstance(values, Mapping):
                raise ValueTypeError(
                    f"{obj._info.name}.{prop.name} is a dictionary; give a dict, "
                    f"got {type(values).__name__}"
                )
            for key, value in values.items():
                self.dict_set(obj, prop, key, value, _addr=addr)
            return
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
            raise ValueTypeError(
                f"{obj._info.name}.{prop.name} is a {prop.collection}; give a list of values, "
                f"got {type(values).__name__}"
            )
        if prop.collection == "set":
            for value in values:
                self.set_insert(obj, prop, value, _addr=addr)
            return
        items = list(values)
        if prop.type not in ("object", "mixed") and self.instructions is None:
            # Fast path for primitive lists: one executemany.
            enc = self._encoder(prop)
            try:
                rows = [(obj._key, i, enc(v)) for i, v in enumerate(items)]
            except ValueTypeError as exc:
                raise ValueTypeError(f"property {prop.name}: {exc}") from None
            self._conn.executemany(
                f"INSERT INTO {obj._info.collection_table(prop)} (owner, pos, value) "
                "VALUES (?, ?, ?)",
                rows,
            )
            self._bump()
            self._touch(obj._info, obj._key, prop.name)
            return
        for i, value in enumerate(items):
            self.list_insert(obj, prop, i, value, _addr=addr, _size=i)

    def _collection_head(
        self, addr: Address | None, prop: Property, kind: type, *args: Any
    ) -> tuple[Address | None, Any]:
        if addr is None:
            return None, None
        top, pk, path = addr
        prop_path = (*path, prop.name)

        def head(v: Any) -> ins.Instruction:
            return kind(top, pk, prop_path, *args, v)  # type: ignore[no-any-return]

        element = (top, pk, (*prop_path, args[0])) if args else (top, pk, prop_path)
        return element, head

    def _insert_row(self, table: str, cols: str, values: tuple[Any, ...], prop: Property,
                    stored: Any, tag: int) -> None:
        if prop.type == "mixed":
            self._conn.execute(
                f'INSERT INTO {table} ({cols}, value, "value@type") '
                f"VALUES ({', '.join('?' * (len(values) + 2))})",
                (*values, stored, tag),
            )
        else:
            self._conn.execute(
                f"INSERT INTO {table} ({cols}, value) "
                f"VALUES ({', '.join('?' * (len(values) + 1))})",
                (*values, stored),
            )

    def list_insert(
        self,
        obj: RealmObject,
        prop: Property,
        index: int,
        value: Any,
        _addr: Address | None = None,
        _size: int | None = None,
    ) -> None:
        info = obj._info
        table = info.collection_table(prop)
        size = _size if _size is not None else self._list_size(obj, prop)
        if not 0 <= index <= size:
            raise IndexError(f"cannot insert at {index} into a list of {size}")
        addr = _addr if _addr is not None else self._recorded_address(obj)
        element, head = self._collection_head(addr, prop, ins.ListInsert, index)
        stored, tag, instr_value = self._store(prop, value, element, head)
        if index < size:
            self._conn.execute(
                f"UPDATE {table} SET pos = pos + 1 WHERE owner = ? AND pos >= ?", (obj._key, index)
            )
        self._insert_row(table, "owner, pos", (obj._key, index), prop, stored, tag)
        self._bump()
        self._touch(info, obj._key, prop.name)
        if head is not None and instr_value is not EMITTED:
            self._emit(head(instr_value))

    def _list_size(self, obj: RealmObject, prop: Property) -> int:
        row = self._conn.execute(
            f"SELECT count(*) FROM {obj._info.collection_table(prop)} WHERE owner = ?", (obj._key,)
        ).fetchone()
        return int(row[0])

    def _check_index(self, obj: RealmObject, prop: Property, index: int) -> int:
        size = self._list_size(obj, prop)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"list index {index} out of range for a list of {size}")
        return index

    def _embedded_target(self, prop: Property) -> ClassInfo | None:
        if prop.type != "object":
            return None
        target = self.store.info(prop.object_type or "")
        return target if target.embedded else None

    def list_set(self, obj: RealmObject, prop: Property, index: int, value: Any) -> None:
        index = self._check_index(obj, prop, index)
        info = obj._info
        table = info.collection_table(prop)
        embedded = self._embedded_target(prop)
        if embedded is not None:
            (old,) = self._conn.execute(
                f"SELECT value FROM {table} WHERE owner = ? AND pos = ?", (obj._key, index)
            ).fetchone()
            if old is not None:
                self._delete(embedded, old, record=False)
        addr = self._recorded_address(obj)
        element, head = self._collection_head(addr, prop, ins.ListSet, index)
        stored, tag, instr_value = self._store(prop, value, element, head)
        extra = ', "value@type" = ?' if prop.type == "mixed" else ""
        params = (stored, tag) if prop.type == "mixed" else (stored,)
        self._conn.execute(
            f"UPDATE {table} SET value = ?{extra} WHERE owner = ? AND pos = ?",
            (*params, obj._key, index),
        )
        self._bump()
        self._touch(info, obj._key, prop.name)
        if head is not None and instr_value is not EMITTED:
            self._emit(head(instr_value))

    def list_erase(self, obj: RealmObject, prop: Property, index: int) -> None:
        index = self._check_index(obj, prop, index)
        addr = self._recorded_address(obj)
        self._remove_list_row(obj._info, obj._key, prop, index, delete_embedded=True)
        if addr is not None:
            top, pk, path = addr
            self._emit(ins.ListErase(top, pk, (*path, prop.name), index))

    def _remove_list_row(
        self, info: ClassInfo, owner: int, prop: Property, index: int, delete_embedded: bool
    ) -> Any:
        table = info.collection_table(prop)
        embedded = self._embedded_target(prop) if delete_embedded else None
        row = self._conn.execute(
            f"SELECT rowid, value FROM {table} WHERE owner = ? AND pos = ?", (owner, index)
        ).fetchone()
        self._conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (row[0],))
        self._conn.execute(
            f"UPDATE {table} SET pos = pos - 1 WHERE owner = ? AND pos > ?", (owner, index)
        )
        if embedded is not None and row[1] is not None:
            self._delete(embedded, row[1], record=False)
        self._bump()
        self._touch(info, owner, prop.name)
        return row[1]

    def list_move(self, obj: RealmObject, prop: Property, from_index: int, to_index: int) -> None:
        from_index = self._check_index(obj, prop, from_index)
        to_index = self._check_index(obj, prop, to_index)
        if from_index == to_index:
            return
        info = obj._info
        table = info.collection_table(prop)
        key = obj._key
        (rowid,) = self._conn.execute(
            f"SELECT rowid FROM {table} WHERE owner = ? AND pos = ?", (key, from_index)
        ).fetchone()
        if from_index < to_index:
            self._conn.execute(
                f"UPDATE {table} SET pos = pos - 1 WHERE owner = ? AND pos > ? AND pos <= ?",
                (key, from_index, to_index),
            )
        else:
            self._conn.execute(
                f"UPDATE {table} SET pos = pos + 1 WHERE owner = ? AND pos >= ? AND pos < ?",
                (key, to_index, from_index),
            )
        self._conn.execute(f"UPDATE {table} SET pos = ? WHERE rowid = ?", (to_index, rowid))
        self._bump()
        self._touch(info, key, prop.name)
        addr = self._recorded_address(obj)
        if addr is not None:
            top, pk, path = addr
            self._emit(ins.ListMove(top, pk, (*path, prop.name), from_index, to_index))

    def collection_clear(self, obj: RealmObject, prop: Property) -> None:
        info = obj._info
        table = info.collection_table(prop)
        embedded = self._embedded_target(prop)
        if embedded is not None:
            children = self._conn.execute(
                f"SELECT value FROM {table} WHERE owner = ?", (obj._key,)
            ).fetchall()
            for (child,) in children:
                if child is not None:
                    self._delete(embedded, child, record=False)
        self._conn.execute(f"DELETE FROM {table} WHERE owner = ?", (obj._key,))
        self._bump()
        self._touch(info, obj._key, prop.name)
        addr = self._recorded_address(obj)
        if addr is not None:
            top, pk, path = addr
            self._emit(ins.Clear(top, pk, (*path, prop.name)))

    def set_insert(
        self, obj: RealmObject, prop: Property, value: Any, _addr: Address | None = None
    ) -> None:
        info = obj._info
        table = info.collection_table(prop)
        if prop.type == "object" and not isinstance(value, RealmObject):
            raise ValueTypeError(
                f"{info.name}.{prop.name} is a set of {prop.object_type}: add objects, "
                f"got {type(value).__name__}"
            )
        stored, tag, instr_value = self._store(prop, value, None, None)
        if stored is None and self._conn.execute(
            f"SELECT 1 FROM {table} WHERE owner = ? AND value IS NULL", (obj._key,)
        ).fetchone():
            return  # a UNIQUE index lets NULLs repeat; a set holds one null
        if prop.type == "mixed":
            cur = self._conn.execute(
                f'INSERT OR IGNORE INTO {table} (owner, value, "value@type") VALUES (?, ?, ?)',
                (obj._key, stored, tag),
            )
        else:
            cur = self._conn.execute(
                f"INSERT OR IGNORE INTO {table} (owner, value) VALUES (?, ?)", (obj._key, stored)
            )
        if cur.rowcount == 0:
            return
        self._bump()
        self._touch(info, obj._key, prop.name)
        addr = _addr if _addr is not None else self._recorded_address(obj)
        if addr is not None:
            top, pk, path = addr
            self._emit(ins.SetInsert(top, pk, (*path, prop.name), instr_value))

    def set_erase(self, obj: RealmObject, prop: Property, value: Any, missing_ok: bool) -> None:
        info = obj._info
        table = info.collection_table(prop)
        if prop.type == "object" and not isinstance(value, RealmObject):
            if missing_ok:
                return
            raise KeyError(value)
        try:
            stored, tag, instr_value = self._store(prop, value, None, None)
        except ValueTypeError:
            if missing_ok:
                return
            raise
        if prop.type == "mixed":
            cur = self._conn.execute(
                f'DELETE FROM {table} WHERE owner = ? AND value IS ? AND "value@type" = ?',
                (obj._key, stored, tag),
            )
        else:
            cur = self._conn.execute(
                f"DELETE FROM {table} WHERE owner = ? AND value IS ?", (obj._key, stored)
            )
        if cur.rowcount == 0:
            if missing_ok:
                return
            raise KeyError(value)
        self._bump()
        self._touch(info, obj._key, prop.name)
        addr = self._recorded_address(obj)
        if addr is not None:
            top, pk, path = addr
            self._emit(ins.SetErase(top, pk, (*path, prop.name), instr_value))

    def dict_set(
        self,
        obj: RealmObject,
        prop: Property,
        key: str,
        value: Any,
        _addr: Address | None = None,
    ) -> None:
        info = obj._info
        if not isinstance(key, str):
            raise ValueTypeError(f"dictionary keys are strings, got {type(key).__name__}")
        if key.startswith("$") or "." in key:
            raise ValueTypeError(f"dictionary key {key!r} may not start with '$' or contain '.'")
        table = info.collection_table(prop)
        embedded = self._embedded_target(prop)
        if embedded is not None:
            old = self._conn.execute(
                f"SELECT value FROM {table} WHERE owner = ? AND key = ?", (obj._key, key)
            ).fetchone()
            if old is not None and old[0] is not None:
                self._delete(embedded, old[0], record=False)
        addr = _addr if _addr is not None else self._recorded_address(obj)
        element, head = self._collection_head(addr, prop, ins.DictSet, key)
        stored, tag, instr_value = self._store(prop, value, element, head)
        self._conn.execute(
            f"DELETE FROM {table} WHERE owner = ? AND key = ?", (obj._key, key)
        )
        self._insert_row(table, "owner, key", (obj._key, key), prop, stored, tag)
        self._bump()
        self._touch(info, obj._key, prop.name)
        if head is not None and instr_value is not EMITTED:
            self._emit(head(instr_value))

    def dict_erase(self, obj: RealmObject, prop: Property, key: str) -> None:
        info = obj._info
        table = info.collection_table(prop)
        row = self._conn.execute(
            f"SELECT rowid, value FROM {table} WHERE owner = ? AND key = ?", (obj._key, key)
        ).fetchone()
        if row is None:
            raise KeyError(key)
        addr = self._recorded_address(obj)
        self._conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (row[0],))
        embedded = self._embedded_target(prop)
        if embedded is not None and row[1] is not None:
            self._delete(embedded, row[1], record=False)
        self._bump()
        self._touch(info, obj._key, prop.name)
        if addr is not None:
            top, pk, path = addr
            self._emit(ins.DictErase(top, pk, (*path, prop.name), key))
