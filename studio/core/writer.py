"""Everything a write transaction does to the file: creates, sets, deletes, collection edits.

One :class:`Writer` exists per open write transaction. Its parts: ``bulk_writer``
(the buffered fast path of creates), ``delete_writer`` (deletes and the links they
undo), ``collection_writer`` (list, set and dictionary edits); this module has the
rest (creates, sets, and the addresses and values that sync records). It tracks what changed
(for notifications) and, on realms that record history for sync, the
instructions of the transaction (see ``studio.primitives.instructions``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from studio.core.bulk_writer import BulkCreateWriter, with_defaults
from studio.core.changes import TransactionChanges
from studio.core.classinfo import ClassInfo, mixed_link_text
from studio.core.collection_writer import EMITTED, Address
from studio.core.delete_writer import DeleteWriter
from studio.core.errors import (
    DuplicatePrimaryKeyError,
    MissingValueError,
    SchemaError,
    UnknownPropertyError,
    ValueTypeError,
)
from studio.core.objects import RealmObject, decode_mixed
from studio.core.schema import Property
from studio.core.storage import KEY, column, tag_column
from studio.core.values import (
    DEFAULT_VALUES,
    MixedTag,
    encode_mixed_primitive,
    make_decoder,
    make_encoder,
)
from studio.primitives import instructions as ins

if TYPE_CHECKING:
    from studio.core.store import Store

_EMITTED = EMITTED


class Writer(BulkCreateWriter, DeleteWriter):
    __slots__ = (
        "_encoders",
        "_update_mode",
        "changes",
        "fill_defaults",
        "instructions",
        "store",
    )

    def __init__(self, store: Store, record: bool) -> None:
        self.store = store
        self.changes = TransactionChanges()
        self.instructions: list[ins.Instruction] | None = [] if record else None
        self._encoders: dict[tuple[str, bool], Any] = {}
        # Replaying sync instructions creates objects first and sets their values after.
        self.fill_defaults = False
        self._update_mode = False
        # The bulk-create fast path's state (see bulk_writer.py).
        self.buffered = False
        self._buffers = {}
        # Carried over from this connection's last commit (Store.next_keys); the
        # duplicate check then asks the table (no _known_keys for those classes).
        self._next_keys = dict(store.next_keys)
        self._known_keys = {}

    # -- helpers ----------------------------------------------------------------------------

    @property
    def _conn(self) -> sqlite3.Connection:
        return self.store.conn

    def _bump(self) -> None:
        self.store.version += 1

    def _emit(self, instruction: ins.Instruction) -> None:
        if self.instructions is not None:
            self.instructions.append(instruction)

    def _encoder(self, prop: Property) -> Any:
        key = (prop.type, prop.optional)
        enc = self._encoders.get(key)
        if enc is None:
            enc = self._encoders[key] = make_encoder(prop.type, prop.optional)
        return enc

    def _touch(self, info: ClassInfo, key: int, prop_name: str) -> None:
        """Mark a property modified; a change inside an embedded object modifies its parents."""
        self.changes.modify(info.name, key, prop_name)
        self.store.class_changed(info.name)
        if info.embedded:
            parent = self._parent_of(info, key)
            if parent is not None:
                parent_info, parent_key, parent_prop, _ = parent
                self._touch(parent_info, parent_key, parent_prop.name)

    def _parent_of(
        self, info: ClassInfo, key: int
    ) -> tuple[ClassInfo, int, Property, ins.PathElement | None] | None:
        """The object, property and list index or dict key that holds an embedded object."""
        store = self.store
        for link in info.incoming:
            src = store.info(link.class_name)
            prop = link.prop
            if prop.collection is None:
                row = self._conn.execute(
                    f"SELECT {KEY} FROM {src.table} WHERE {column(prop.name)} = ?", (key,)
                ).fetchone()
                if row is not None:
                    return src, row[0], prop, None
            else:
                where = "pos" if prop.collection == "list" else "key"
                row = self._conn.execute(
                    f"SELECT owner, {where} FROM {src.collection_table(prop)} WHERE value = ?",
                    (key,),
                ).fetchone()
                if row is not None:
                    return src, row[0], prop, row[1]
        return None

    def address(self, info: ClassInfo, key: int) -> Address:
        """Where sync finds an object: top-level (class, pk) and the path to it."""
        if not info.embedded:
            pk_col = info.pk_column
            pk = None
            if pk_col is not None:
                obj = RealmObject(self.store, info, key)
                pk = obj[pk_col.prop.name]
            return info.name, pk, ()
        parent = self._parent_of(info, key)
        if parent is None:
            raise SchemaError(f"embedded {info.name} object {key} has no parent")
        parent_info, parent_key, prop, where = parent
        top, pk, path = self.address(parent_info, parent_key)
        extra: tuple[ins.PathElement, ...] = (prop.name,) if where is None else (prop.name, where)
        return top, pk, path + extra

    def _recorded_address(self, obj: RealmObject) -> Address | None:
        if self.instructions is None:
            return None
        return self.address(obj._info, obj._key)

    # -- storing one value ------------------------------------------------------------------

    def _store(
        self,
        prop: Property,
        value: Any,
        addr: Address | None,
        head: Any,
    ) -> tuple[Any, int, Any]:
        """Check and convert ``value`` for ``prop``: (stored value, mixed tag, instruction value).

        ``head(value)`` builds the instruction that places a value (Set, ListInsert, ...);
        it is emitted here, before its fields, when the value is a new embedded object.
        """
        if prop.type == "object":
            return self._store_link(prop, value, addr, head)
        if prop.type == "mixed":
            if isinstance(value, RealmObject):
                self._check_same_realm(value)
                if value._info.embedded:
                    raise ValueTypeError("a mixed property cannot hold an embedded object")
                text = mixed_link_text(value._info.name, value._key)
                link = None
                if self.instructions is not None:
                    _, pk, _ = self.address(value._info, value._key)
                    link = ins.Link(value._info.name, pk)
                return text, int(MixedTag.LINK), link
            if isinstance(value, Mapping | list):
                raise ValueTypeError(
                    f"property {prop.name}: a mixed value cannot be a {type(value).__name__}"
                )
            stored, tag = encode_mixed_primitive(value)
            if self.instructions is not None and tag:
                return stored, tag, decode_mixed(self.store, stored, tag)
            return stored, tag, value
        try:
            stored = self._encoder(prop)(value)
        except ValueTypeError as exc:
            raise ValueTypeError(f"property {prop.name}: {exc}") from None
        instr_value = value
        if self.instructions is not None and stored is not None:
            decode = make_decoder(prop.type)
            instr_value = stored if decode is None else decode(stored)
        return stored, 0, instr_value

    def _check_same_realm(self, obj: RealmObject) -> None:
        if obj.realm is not self.store.realm:
            raise ValueTypeError(
                "the object belongs to another Realm instance; look it up in this realm "
                "(object_for_primary_key) before linking to it"
            )

    def _store_link(
        self, prop: Property, value: Any, addr: Address | None, head: Any
    ) -> tuple[Any, int, Any]:
        if value is None:
            return None, 0, None
        target = self.store.info(prop.object_type or "")
        if isinstance(value, RealmObject):
            self._check_same_realm(value)
            if value._info is not target:
                raise ValueTypeError(
                    f"property {prop.name} links to {target.name}, got a {value._info.name}"
                )
            if target.embedded:
                raise ValueTypeError(
                    f"property {prop.name} holds an embedded {target.name}: assign a dict of its "
                    "values, an existing embedded object cannot be shared"
                )
            value._load_row()
            link = None
            if self.instructions is not None:
                _, pk, _ = self.address(target, value._key)
                link = ins.Link(target.name, pk)
            return value._key, 0, link
        if isinstance(value, Mapping):
            if target.embedded:
                if self.instructions is not None and addr is not None:
                    self._emit(head(ins.EMBEDDED))
                child = self.create(
                    target.name, value, update=False, _embedded_addr=addr or ("", None, ())
                )
                return child._key, 0, _EMITTED
            obj = self.create(target.name, value, update=self._update_mode)
            link = None
            if self.instructions is not None:
                _, pk, _ = self.address(target, obj._key)
                link = ins.Link(target.name, pk)
            return obj._key, 0, link
        raise ValueTypeError(
            f"property {prop.name} links to {target.name}: expected a {target.name} object, "
            f"a dict or None, got {type(value).__name__}"
        )

    # -- create -----------------------------------------------------------------------------

    def create(
        self,
        class_name: str,
        values: Mapping[str, Any],
        update: bool = False,
        _embedded_addr: Address | None = None,
    ) -> RealmObject:
        store = self.store
        info = store.info(class_name)
        defaults = store.defaults.get(class_name)
        if defaults and not update and not self.fill_defaults:
            values = with_defaults(values, defaults)
        if (
            info.simple_insert_sql is not None
            and not update
            and type(values) is dict
            and info.simple_property_names.issuperset(values)
        ):
            return self._create_simple(info, values)
        schema = info.schema
        if info.embedded and _embedded_addr is None:
            raise SchemaError(
                f"{class_name} is an embedded class: create it by assigning a dict to a property "
                "of its parent object"
            )
        if not isinstance(values, Mapping):
            raise ValueTypeError(
                f"create({class_name!r}, ...) takes a dict of property values, "
                f"got {type(values).__name__}"
            )
        for name in values:
            if schema.get(name) is None:
                raise UnknownPropertyError(
                    f"class {class_name!r} has no property {name!r}; its properties are: "
                    + ", ".join(p.name for p in schema.properties)
                )
            if name in info.backlinks:
                raise SchemaError(f"{class_name}.{name} is computed (linkingObjects); don't set it")
        pk_name = schema.primary_key
        pk_value: Any = None
        if pk_name is not None:
            pk_prop = info.columns[pk_name].prop
            if pk_name not in values and not pk_prop.optional:
                raise MissingValueError(
                    f"{class_name} needs its primary key {pk_name!r} ({pk_prop.type_string})"
                )
            pk_value = values.get(pk_name)
            if update:
                pk_stored = self._store(pk_prop, pk_value, None, None)[0]
                row = self._conn.execute(
                    f"SELECT {KEY} FROM {info.table} WHERE {column(pk_name)} IS ?", (pk_stored,)
                ).fetchone()
                if row is not None:
                    return self._update_existing(RealmObject(store, info, row[0]), values)
        if defaults and update and not self.fill_defaults:
            values = with_defaults(values, defaults)  # a new object after all
        nested = _has_nested(info, values)
        if nested:
            self._conn.execute("SAVEPOINT studio_create")
        saved_mode = self._update_mode
        self._update_mode = update
        emitted_before = len(self.instructions) if self.instructions is not None else 0
        try:
            obj = self._insert(info, values, pk_name, pk_value, _embedded_addr)
        except BaseException:
            if nested:
                self._conn.execute("ROLLBACK TO studio_create")
                self._conn.execute("RELEASE studio_create")
            if self.instructions is not None:
                del self.instructions[emitted_before:]
            raise
        finally:
            self._update_mode = saved_mode
        if nested:
            self._conn.execute("RELEASE studio_create")
        return obj

    def _update_existing(self, existing: RealmObject, values: Mapping[str, Any]) -> RealmObject:
        """The ``update=True`` upsert of an object that exists: all values or none, and
        nested objects with a primary key are upserted too (as in Realm)."""
        pk_name = existing._info.schema.primary_key
        self._conn.execute("SAVEPOINT studio_update")
        saved_mode = self._update_mode
        self._update_mode = True
        emitted_before = len(self.instructions) if self.instructions is not None else 0
        try:
            for name, value in values.items():
                if name != pk_name:
                    self.set_value(existing, name, value)
        except BaseException:
            self._conn.execute("ROLLBACK TO studio_update")
            self._conn.execute("RELEASE studio_update")
            if self.instructions is not None:
                del self.instructions[emitted_before:]
            raise
        finally:
            self._update_mode = saved_mode
        self._conn.execute("RELEASE studio_update")
        return existing

    def _insert(
        self,
        info: ClassInfo,
        values: Mapping[str, Any],
        pk_name: str | None,
        pk_value: Any,
        embedded_addr: Address | None,
    ) -> RealmObject:
        record = self.instructions is not None
        addr: Address = embedded_addr if embedded_addr is not None else (info.name, pk_value, ())
        if record and embedded_addr is None:
            self._emit(ins.CreateObject(info.name, self._normalized_pk(info, pk_value)))
            addr = (info.name, self._normalized_pk(info, pk_value), ())
        names: list[str] = []
        row: list[Any] = []
        later: list[tuple[Property, Any]] = []
        top, pk, path = addr
        for name, col in info.columns.items():
            prop = col.prop
            if name not in values:
                if prop.optional or prop.type in ("object", "mixed"):
                    continue
                if self.fill_defaults:
                    values = {**values, name: DEFAULT_VALUES[prop.type]}
                else:
                    raise MissingValueError(
                        f"{info.name}.{name} ({prop.type_string}) is required and was not given"
                    )
            value = values[name]
            if prop.type == "object" and isinstance(value, Mapping) and self.store.info(
                prop.object_type or ""
            ).embedded:
                later.append((prop, value))  # embedded children need the parent's key first
                continue
            stored, tag, instr_value = self._store(prop, value, None, None)
            names.append(column(name))
            row.append(stored)
            if prop.type == "mixed":
                names.append(tag_column(name))
                row.append(tag)
            if record and name != pk_name and instr_value is not _EMITTED:
                self._emit(ins.Set(top, pk, (*path, name), instr_value))
        if names:
            sql = (
                f"INSERT INTO {info.table} ({', '.join(names)}) "
                f"VALUES ({', '.join('?' * len(row))})"
            )
        else:
            sql = f"INSERT INTO {info.table} DEFAULT VALUES"
        try:
            key = self._conn.execute(sql, row).lastrowid
        except sqlite3.IntegrityError:
            raise DuplicatePrimaryKeyError(
                f"{info.name}: an object with primary key {pk_name} = {pk_value!r} already "
                "exists; use update=True to change it"
            ) from None
        assert key is not None
        if info.name in self._next_keys:
            # Keep the bulk path's key counter and duplicate set in step with this insert.
            self._next_keys[info.name] = max(self._next_keys[info.name], key + 1)
            known = self._known_keys.get(info.name)
            if known is not None and info.pk_position >= 0 and pk_name is not None:
                known.add(self._store(info.columns[pk_name].prop, pk_value, None, None)[0])
        self._bump()
        self.changes.insert(info.name, key)
        self.store.class_changed(info.name)
        obj = RealmObject(self.store, info, key)
        for prop, value in later:
            self._set_link_column(obj, prop, value, addr)
        for name, prop in info.collections.items():
            if name in values:
                self._fill(obj, prop, values[name], addr)
        return obj

    def _normalized_pk(self, info: ClassInfo, pk_value: Any) -> Any:
        if info.pk_column is None or pk_value is None:
            return pk_value
        return self._store(info.pk_column.prop, pk_value, None, None)[2]

    # -- set --------------------------------------------------------------------------------

    def set_value(self, obj: RealmObject, name: str, value: Any) -> None:
        info = obj._info
        obj._load_row()
        col = info.columns.get(name)
        if col is not None:
            if name == info.schema.primary_key:
                raise SchemaError(
                    f"{info.name}.{name} is the primary key and cannot be changed; "
                    "create a new object instead"
                )
            addr = self._recorded_address(obj)
            self._set_link_column(obj, col.prop, value, addr) if col.prop.type == "object" \
                else self._set_scalar(obj, col.prop, value, addr)
            return
        prop = info.collections.get(name)
        if prop is not None:
            addr = self._recorded_address(obj)
            self.collection_clear(obj, prop)
            self._fill(obj, prop, value, addr)
            return
        if name in info.backlinks:
            raise SchemaError(f"{info.name}.{name} is computed (linkingObjects) and read-only")
        info.schema.get_property(name)  # raises UnknownPropertyError

    def _set_scalar(
        self, obj: RealmObject, prop: Property, value: Any, addr: Address | None
    ) -> None:
        stored, tag, instr_value = self._store(prop, value, None, None)
        info = obj._info
        if prop.type == "mixed":
            self._conn.execute(
                f"UPDATE {info.table} SET {column(prop.name)} = ?, {tag_column(prop.name)} = ? "
                f"WHERE {KEY} = ?",
                (stored, tag, obj._key),
            )
        else:
            self._conn.execute(
                f"UPDATE {info.table} SET {column(prop.name)} = ? WHERE {KEY} = ?",
                (stored, obj._key),
            )
        self._bump()
        self._touch(info, obj._key, prop.name)
        if addr is not None:
            top, pk, path = addr
            self._emit(ins.Set(top, pk, (*path, prop.name), instr_value))

    def _set_link_column(
        self, obj: RealmObject, prop: Property, value: Any, addr: Address | None
    ) -> None:
        info = obj._info
        target = self.store.info(prop.object_type or "")
        if target.embedded:
            old = obj._load_row()[info.columns[prop.name].index]
            if old is not None:
                self._delete(target, old, record=False)
        top, pk, path = addr if addr is not None else ("", None, ())
        prop_path = (*path, prop.name)

        def head(v: Any) -> ins.Instruction:
            return ins.Set(top, pk, prop_path, v)

        stored, _, instr_value = self._store(prop, value, (top, pk, prop_path), head)
        self._conn.execute(
            f"UPDATE {info.table} SET {column(prop.name)} = ? WHERE {KEY} = ?", (stored, obj._key)
        )
        self._bump()
        self._touch(info, obj._key, prop.name)
        if addr is not None and instr_value is not _EMITTED:
            self._emit(head(instr_value))

    def add_integer(self, obj: RealmObject, name: str, delta: int) -> None:
        info = obj._info
        col = info.columns.get(name)
        if col is None or col.prop.type != "int":
            raise ValueTypeError(f"{info.name}.{name} is not an int property; cannot increment")
        if not isinstance(delta, int) or isinstance(delta, bool):
            raise ValueTypeError(f"increment takes an int, got {type(delta).__name__}")
        if obj[name] is None:
            raise ValueTypeError(f"{info.name}.{name} is null; set it before incrementing")
        addr = self._recorded_address(obj)
        self._conn.execute(
            f"UPDATE {info.table} SET {column(name)} = {column(name)} + ? WHERE {KEY} = ?",
            (delta, obj._key),
        )
        self._bump()
        self._touch(info, obj._key, name)
        if addr is not None:
            top, pk, path = addr
            self._emit(ins.AddInteger(top, pk, (*path, name), delta))


def _has_nested(info: ClassInfo, values: Mapping[str, Any]) -> bool:
    """True when creating these values creates other rows (collections, nested objects)."""
    for name, value in values.items():
        if name in info.collections:
            return True
        if isinstance(value, Mapping):
            return True
    return False

