"""Replaying recorded instructions onto a realm (sync's downloads, tests' replicas).

The instructions are those of ``studio.primitives.instructions``, as a write transaction
records them (see ``studio.core.writer``) and ``studio.core.history`` stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from studio.core.errors import RealmError, SchemaError
from studio.core.objects import RealmObject
from studio.core.realm import Realm, store_of
from studio.core.schema import ObjectSchema, parse_object_schema, parse_property
from studio.core.storage import KEY, quote
from studio.primitives import instructions as ins


class ReplayError(RealmError):
    """An instruction does not fit the realm it is applied to."""


def apply_instructions(realm: Realm, instructions: Sequence[ins.Instruction]) -> None:
    """Apply instructions inside the realm's open write transaction.

    Listeners see the result like any local commit. Instructions on objects that
    no longer exist are skipped (a concurrent erase won), as sync requires.
    """
    writer = store_of(realm).current_writer()
    writer.fill_defaults = True
    pending: dict[str, dict[str, Any]] = {}
    applier = _Applier(realm)
    applier.prefetch(instructions)
    try:
        i = 0
        count = len(instructions)
        while i < count:
            instruction = instructions[i]
            if isinstance(instruction, ins.AddClass | ins.AddProperty):
                _collect_schema(realm, pending, instruction)
                i += 1
                continue
            if pending:
                _flush_schema(realm, pending)
                # Classes this changeset just added can be looked up in bulk now.
                applier.prefetch(instructions, i)
            if isinstance(instruction, ins.CreateObject):
                i = applier.create(instructions, i)
                continue
            applier.apply(instruction)
            i += 1
        if pending:
            _flush_schema(realm, pending)
    finally:
        writer.fill_defaults = False


def _collect_schema(
    realm: Realm, pending: dict[str, dict[str, Any]], instruction: ins.AddClass | ins.AddProperty
) -> None:
    if isinstance(instruction, ins.AddClass):
        existing = {c.name: c for c in realm.schema}.get(instruction.class_name)
        if existing is not None:
            if (existing.primary_key, existing.embedded) != (
                instruction.primary_key, instruction.embedded
            ):
                raise SchemaError(
                    f"class {instruction.class_name} already exists with a different primary key "
                    "or embedded flag"
                )
            pending.setdefault(instruction.class_name, existing.to_json())
            return
        props: list[dict[str, Any]] = []
        if instruction.primary_key is not None:
            props.append({
                "name": instruction.primary_key,
                "type": instruction.primary_key_type,
                "optional": instruction.primary_key_optional,
            })
        body: dict[str, Any] = {"name": instruction.class_name, "properties": props}
        if instruction.primary_key is not None:
            body["primaryKey"] = instruction.primary_key
        if instruction.embedded:
            body["embedded"] = True
        pending[instruction.class_name] = body
        return
    found = pending.get(instruction.class_name)
    if found is None:
        existing = {c.name: c for c in realm.schema}.get(instruction.class_name)
        if existing is None:
            raise ReplayError(f"AddProperty for unknown class {instruction.class_name}")
        found = pending[instruction.class_name] = existing.to_json()
    body = found
    spec: dict[str, Any]
    if instruction.type == "linkingObjects":
        spec = {"type": "linkingObjects", "objectType": instruction.object_type,
                "property": instruction.origin_property}
    else:
        spec = {"type": instruction.type, "indexed": instruction.indexed}
    prop = parse_property(instruction.name, spec, instruction.class_name)
    others = [p for p in body["properties"] if p["name"] != instruction.name]
    before = next((p for p in body["properties"] if p["name"] == instruction.name), None)
    if before is not None:
        old = parse_property(before["name"], {k: v for k, v in before.items() if k != "name"},
                             instruction.class_name)
        if old.type_string != prop.type_string:
            raise SchemaError(
                f"property {instruction.class_name}.{instruction.name} exists as "
                f"{old.type_string}, not {prop.type_string}"
            )
        if old.fulltext and not prop.indexed:
            # Sync carries "indexed" as a bool: keep the local full-text index.
            prop = replace(prop, fulltext=True)
    body["properties"] = [*others, prop.to_json()]


def _flush_schema(realm: Realm, pending: dict[str, dict[str, Any]]) -> None:
    classes: list[ObjectSchema] = [parse_object_schema(body) for body in pending.values()]
    pending.clear()
    realm.update_schema(classes)


class _Applier:
    """Applies object instructions, remembering objects found by primary key."""

    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.store = store_of(realm)
        self.writer = self.store.current_writer()
        self.found: dict[tuple[str, Any], RealmObject | None] = {}
        self.prefetched: set[str] = set()

    def find(self, class_name: str, pk: Any) -> RealmObject | None:
        key = (class_name, pk)
        if key in self.found:
            return self.found[key]
        info = self.store.info(class_name)
        if info.pk_column is None:
            raise ReplayError(f"class {class_name} has no primary key; sync needs one")
        obj = self.realm.object_for_primary_key(class_name, pk)
        self.found[key] = obj
        return obj

    def prefetch(self, instructions: Sequence[ins.Instruction], start: int = 0) -> None:
        """Look up every object created from ``start`` on at once, so that buffered bulk
        inserts are not flushed by one existence check per object. Classes looked up
        by an earlier call are skipped."""
        wanted: dict[str, list[Any]] = {}
        done = self.prefetched
        for n in range(start, len(instructions)):
            instruction = instructions[n]
            if isinstance(instruction, ins.CreateObject) and instruction.class_name not in done:
                wanted.setdefault(instruction.class_name, []).append(instruction.primary_key)
        if not wanted:
            return
        store = self.store
        for class_name, pks in wanted.items():
            info = store.infos.get(class_name)
            if info is None or info.pk_column is None or info.pk_column.encode is None:
                continue  # the class comes later in this changeset; found one by one
            done.add(class_name)
            encode = info.pk_column.encode
            stored = {encode(pk): pk for pk in pks if pk is not None}
            for pk in pks:
                self.found[(class_name, pk)] = None
            column = quote(info.pk_column.prop.name)
            keys = list(stored)
            for first in range(0, len(keys), 500):
                chunk = keys[first : first + 500]
                rows = store.conn.execute(
                    f"SELECT {KEY}, {column} FROM {info.table} "
                    f"WHERE {column} IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                for key, value in rows:
                    self.found[(class_name, stored[value])] = RealmObject(store, info, key)
            if None in pks:
                del self.found[(class_name, None)]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, ins.Link):
            return self.find(value.class_name, value.primary_key)
        if isinstance(value, ins.EmbeddedObject):
            return {}
        return value

    def create(self, instructions: Sequence[ins.Instruction], start: int) -> int:
        """Create an object with the plain ``Set``s that follow its ``CreateObject`` in one
        insert (how recorded creates look); returns the index of the next instruction."""
        first = instructions[start]
        assert isinstance(first, ins.CreateObject)
        cls, pk = first.class_name, first.primary_key
        if self.find(cls, pk) is not None:
            return start + 1
        info = self.store.info(cls)
        assert info.schema.primary_key is not None
        values: dict[str, Any] = {info.schema.primary_key: pk}
        columns = info.columns
        set_type, link_type, embedded_type = ins.Set, ins.Link, ins.EmbeddedObject
        end = start + 1
        count = len(instructions)
        while end < count:
            nxt = instructions[end]
            if not isinstance(nxt, set_type):
                break
            path = nxt.path
            value = nxt.value
            if not (
                nxt.class_name == cls
                and nxt.primary_key == pk
                and len(path) == 1
                and path[0] in columns
                and path[0] not in values
                and not isinstance(value, embedded_type)
            ):
                break
            if isinstance(value, link_type):
                # A link to the object itself can only be set once the object exists.
                if (value.class_name, value.primary_key) == (cls, pk):
                    break
                value = self.find(value.class_name, value.primary_key)
            values[str(path[0])] = value
            end += 1
        self.found[(cls, pk)] = self.writer.create(cls, values)
        return end

    def apply(self, instruction: ins.Instruction) -> None:
        _apply_one(self, instruction)


def _walk(realm: Realm, obj: RealmObject, path: Sequence[ins.PathElement]) -> Any:
    """Follow a path from an object to the object or collection that holds its last step."""
    current: Any = obj
    for step in path:
        if current is None:
            return None
        try:
            current = current[step]
        except (IndexError, KeyError):
            return None
    return current


def _apply_one(applier: _Applier, instruction: ins.Instruction) -> None:
    realm = applier.realm
    obj = applier.find(instruction.class_name, instruction.primary_key)  # type: ignore[union-attr]
    if obj is None:
        return
    if isinstance(instruction, ins.EraseObject):
        applier.writer.delete(obj)
        applier.found[(instruction.class_name, instruction.primary_key)] = None
        return
    path = instruction.path  # type: ignore[union-attr]
    holder = _walk(realm, obj, path[:-1])
    if holder is None:
        return
    last = path[-1]
    target = _walk(realm, holder, [last]) if not isinstance(instruction, ins.Set | ins.AddInteger) \
        else None
    if isinstance(instruction, ins.Set):
        holder[last] = applier.resolve(instruction.value)
    elif isinstance(instruction, ins.AddInteger):
        if isinstance(last, int):  # an element of a list of ints
            if last < len(holder) and holder[last] is not None:
                holder[last] = holder[last] + instruction.delta
        else:
            holder.increment(last, instruction.delta)
    elif target is None:
        return
    elif isinstance(instruction, ins.ListInsert):
        index = min(instruction.index, len(target))
        target.insert(index, applier.resolve(instruction.value))
    elif isinstance(instruction, ins.ListSet):
        if instruction.index < len(target):
            target[instruction.index] = applier.resolve(instruction.value)
    elif isinstance(instruction, ins.ListErase):
        if instruction.index < len(target):
            del target[instruction.index]
    elif isinstance(instruction, ins.ListMove):
        size = len(target)
        if instruction.from_index < size and instruction.to_index < size:
            target.move(instruction.from_index, instruction.to_index)
    elif isinstance(instruction, ins.Clear):
        target.clear()
    elif isinstance(instruction, ins.SetInsert):
        value = applier.resolve(instruction.value)
        if value is not None or not isinstance(instruction.value, ins.Link):
            target.add(value)
    elif isinstance(instruction, ins.SetErase):
        target.discard(applier.resolve(instruction.value))
    elif isinstance(instruction, ins.DictSet):
        target[instruction.key] = applier.resolve(instruction.value)
    elif isinstance(instruction, ins.DictErase) and instruction.key in target:
        del target[instruction.key]
