"""A tiny in-memory object store that applies changesets: the merge oracle.

It knows nothing but the instruction semantics, which makes it the reference
the real store (``studio.core``) must agree with, and what the convergence
tests compare replicas with. It is strict: an instruction that does not fit
the state (a Set on a missing object, a list index out of range) raises
:class:`ModelError`, so a wrong merge shows up as an error
and not as a silently different state.

Representation: ``state.objects`` maps ``(class_name, value_key(pk))`` to a
``dict`` of field values. Embedded objects are plain ``dict``; list properties
``list``; dictionary properties :class:`Dictionary`; set properties
:class:`SetCollection` (keyed by :func:`~studio.sync.values.value_key`).
Collections are created empty on first use, so "missing" and "empty" are the
same collection (:func:`canonical` treats them alike).

Semantics that are idempotent, as in Realm, so merges can keep "the later of
two equal operations" without checking state: CreateObject of an existing
object, EraseObject of a missing one, SetInsert of a present value, SetErase
of an absent one, DictErase of a missing key, Clear of a missing container.
AddInteger on null or a non-integer does nothing; on an integer it wraps at
64 bits.

Erasing an object removes the links to it, as the store (and Realm) does:
to-one links and dictionary values become null, list and set entries
disappear. Writing a link to an object that does not exist is an error.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from studio.primitives.instructions import (
    EMBEDDED,
    AddClass,
    AddInteger,
    AddProperty,
    Changeset,
    Clear,
    CreateObject,
    DictErase,
    DictSet,
    EraseObject,
    Instruction,
    Link,
    ListErase,
    ListInsert,
    ListMove,
    ListSet,
    Path,
    SetErase,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.sync.errors import SyncError
from studio.sync.values import is_int, same_value, value_key, wrap_int64

ObjectKey = tuple[str, Hashable]


class ModelError(SyncError):
    """The reference model was asked to apply an instruction that does not
    fit its state. It means a changeset (or a merge result) is wrong."""


class Dictionary(dict[str, Any]):
    """The value of a dictionary property (distinct from an embedded object)."""


class SetCollection(dict[Hashable, Any]):
    """The value of a set property: ``value_key(v) -> v``."""


@dataclass
class State:
    """A realm's content: schema and objects."""

    classes: dict[str, AddClass] = field(default_factory=dict)
    properties: dict[tuple[str, str], AddProperty] = field(default_factory=dict)
    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    primary_keys: dict[ObjectKey, Any] = field(default_factory=dict)

    def copy(self) -> State:
        return copy.deepcopy(self)

    def get(self, class_name: str, primary_key: Any) -> dict[str, Any] | None:
        return self.objects.get((class_name, value_key(primary_key)))


def apply(state: State, changeset: Changeset | Iterable[Instruction]) -> State:
    """Apply a changeset (or instructions) to ``state`` in place; returns it."""
    instructions = changeset.instructions if isinstance(changeset, Changeset) else changeset
    for n, ins in enumerate(instructions):
        try:
            apply_instruction(state, ins)
        except ModelError as exc:
            raise ModelError(f"instruction {n} {ins!r}: {exc}") from None
    return state


def _new_value(state: State, value: Any) -> Any:
    if value is EMBEDDED:
        return {}
    if (
        type(value) is Link
        and (value.class_name, value_key(value.primary_key)) not in state.objects
    ):
        # A correct merge never writes a link to an object that is gone (a
        # concurrent erase turns such writes into their cascade's effect).
        raise ModelError(f"link to {value.class_name}[{value.primary_key!r}], which does not exist")
    return value


def _unlink(value: Any, target: Link) -> Any:
    """Remove links to ``target`` inside ``value`` (in place), as erasing the
    target does in Realm: to-one links and dictionary values become null, list
    and set entries go away. Returns the replacement for ``value`` itself."""
    t = type(value)
    if t is Link:
        return None if same_value(value, target) else value
    if t is dict or t is Dictionary:
        for name, v in value.items():
            value[name] = _unlink(v, target)
    elif t is list:
        value[:] = [
            _unlink(v, target) for v in value if not (type(v) is Link and same_value(v, target))
        ]
    elif t is SetCollection:
        value.pop(value_key(target), None)
    return value


def _walk(obj: dict[str, Any], path: Path) -> Any:
    """The value at ``path`` (every step must exist)."""
    current: Any = obj
    for n, element in enumerate(path):
        if type(element) is int:
            if type(current) is not list:
                raise ModelError(f"path {path}: step {n} indexes a {type(current).__name__}")
            if not 0 <= element < len(current):
                raise ModelError(f"path {path}: index {element} out of range ({len(current)})")
            current = current[element]
        else:
            if not isinstance(current, dict) or isinstance(current, SetCollection):
                raise ModelError(f"path {path}: step {n} goes into a {type(current).__name__}")
            if element not in current:
                raise ModelError(f"path {path}: {element!r} does not exist")
            current = current[element]
    return current


def _parent(obj: dict[str, Any], path: Path) -> Any:
    return _walk(obj, path[:-1])


def _container(obj: dict[str, Any], path: Path, kind: type, create: bool) -> Any:
    """The list/Dictionary/SetCollection at ``path``, created empty when missing."""
    parent = _parent(obj, path)
    last = path[-1]
    if type(last) is int:
        container = _walk(obj, path)
    else:
        if not isinstance(parent, dict) or isinstance(parent, SetCollection):
            raise ModelError(f"path {path}: the parent is a {type(parent).__name__}")
        container = parent.get(last)
        if container is None:
            if last in parent:
                raise ModelError(f"path {path}: the field holds null, not a collection")
            if not create:
                return None
            container = parent[last] = kind()
    if type(container) is not kind:
        found = type(container).__name__
        raise ModelError(f"path {path}: expected a {kind.__name__}, found {found}")
    return container


def _object(state: State, ins: Any) -> dict[str, Any]:
    obj = state.objects.get((ins.class_name, value_key(ins.primary_key)))
    if obj is None:
        raise ModelError(f"object {ins.class_name}[{ins.primary_key!r}] does not exist")
    return obj


def _set_at(obj: dict[str, Any], path: Path, value: Any) -> None:
    parent = _parent(obj, path)
    last = path[-1]
    if type(last) is int:
        if type(parent) is not list or not 0 <= last < len(parent):
            raise ModelError(f"path {path}: no list element {last}")
        parent[last] = value
    else:
        if not isinstance(parent, dict) or isinstance(parent, SetCollection):
            raise ModelError(f"path {path}: cannot set a field of a {type(parent).__name__}")
        old = parent.get(last)
        if isinstance(old, list | Dictionary | SetCollection):
            raise ModelError(f"path {path}: Set cannot replace a collection")
        parent[last] = value


def _add_at(obj: dict[str, Any], path: Path, delta: int) -> None:
    parent = _parent(obj, path)
    last = path[-1]
    if type(last) is int:
        if type(parent) is not list or not 0 <= last < len(parent):
            raise ModelError(f"path {path}: no list element {last}")
        current = parent[last]
    else:
        if not isinstance(parent, dict) or isinstance(parent, SetCollection):
            raise ModelError(f"path {path}: cannot add to a field of a {type(parent).__name__}")
        current = parent.get(last)
    if is_int(current):
        parent[last] = wrap_int64(current + delta)


def apply_instruction(state: State, ins: Instruction) -> None:
    """Apply one instruction to ``state`` in place."""
    t = type(ins)
    if t is CreateObject or t is EraseObject:
        assert isinstance(ins, CreateObject | EraseObject)
        key = (ins.class_name, value_key(ins.primary_key))
        if t is CreateObject:
            if key not in state.objects:
                state.objects[key] = {}
                state.primary_keys[key] = ins.primary_key
        elif state.objects.pop(key, None) is not None:
            state.primary_keys.pop(key, None)
            target = Link(ins.class_name, ins.primary_key)
            for other in state.objects.values():
                _unlink(other, target)
        return
    if isinstance(ins, AddClass):
        old_class = state.classes.get(ins.class_name)
        if old_class is not None and old_class != ins:
            raise ModelError(f"class {ins.class_name} exists with another definition")
        state.classes[ins.class_name] = ins
        return
    if isinstance(ins, AddProperty):
        prop_key = (ins.class_name, ins.name)
        old_prop = state.properties.get(prop_key)
        if old_prop is not None and old_prop != ins:
            raise ModelError(f"property {ins.class_name}.{ins.name} exists with another definition")
        state.properties[prop_key] = ins
        return
    obj = _object(state, ins)
    if isinstance(ins, SetValue):
        _set_at(obj, ins.path, _new_value(state, ins.value))
    elif isinstance(ins, AddInteger):
        _add_at(obj, ins.path, ins.delta)
    elif isinstance(ins, ListInsert):
        lst = _container(obj, ins.path, list, True)
        if not 0 <= ins.index <= len(lst):
            raise ModelError(f"insert at {ins.index} into a list of {len(lst)}")
        lst.insert(ins.index, _new_value(state, ins.value))
    elif isinstance(ins, ListSet | ListErase):
        lst = _container(obj, ins.path, list, True)
        if not 0 <= ins.index < len(lst):
            raise ModelError(f"index {ins.index} out of range ({len(lst)})")
        if isinstance(ins, ListSet):
            lst[ins.index] = _new_value(state, ins.value)
        else:
            del lst[ins.index]
    elif isinstance(ins, ListMove):
        lst = _container(obj, ins.path, list, True)
        if not (0 <= ins.from_index < len(lst) and 0 <= ins.to_index < len(lst)):
            raise ModelError(f"move {ins.from_index}->{ins.to_index} in a list of {len(lst)}")
        lst.insert(ins.to_index, lst.pop(ins.from_index))
    elif isinstance(ins, Clear):
        target = _parent(obj, ins.path)
        last = ins.path[-1]
        current = _walk(obj, ins.path) if type(last) is int else target.get(last)
        if current is None:
            return
        if not isinstance(current, list | Dictionary | SetCollection):
            raise ModelError(f"Clear of a {type(current).__name__}")
        current.clear()
    elif isinstance(ins, SetInsert | SetErase):
        members = _container(obj, ins.path, SetCollection, isinstance(ins, SetInsert))
        member = value_key(ins.value)
        if isinstance(ins, SetInsert):
            members.setdefault(member, _new_value(state, ins.value))
        elif members is not None:
            members.pop(member, None)
    elif isinstance(ins, DictSet):
        _container(obj, ins.path, Dictionary, True)[ins.key] = _new_value(state, ins.value)
    elif isinstance(ins, DictErase):
        entries = _container(obj, ins.path, Dictionary, False)
        if entries is not None:
            entries.pop(ins.key, None)
    else:  # pragma: no cover - the union is exhaustive
        raise ModelError(f"unknown instruction {ins!r}")


# --------------------------------------------------------------------------- comparison


def _canonical_value(value: Any) -> Any:
    t = type(value)
    if t is dict:
        return ("obj", _canonical_fields(value))
    if t is list:
        return ("list", tuple(_canonical_value(v) for v in value))
    if t is Dictionary:
        return ("dict", tuple(sorted((k, _canonical_value(v)) for k, v in value.items())))
    if t is SetCollection:
        return ("set", tuple(sorted(value, key=repr)))
    return value_key(value)


def _canonical_fields(obj: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        sorted(
            (name, _canonical_value(v))
            for name, v in obj.items()
            # An empty collection is the same as one never touched.
            if not (isinstance(v, list | Dictionary | SetCollection) and not v)
        )
    )


def canonical(state: State) -> tuple[Any, ...]:
    """A hashable, exact form of ``state`` for comparing replicas."""
    return (
        tuple(sorted(state.classes.items())),
        tuple(sorted(state.properties.items())),
        tuple(sorted(((k, _canonical_fields(o)) for k, o in state.objects.items()), key=repr)),
    )


def to_plain(state: State) -> dict[str, dict[Any, Any]]:
    """``{class: {pk: fields}}`` with plain lists/dicts/sets, for messages and docs."""

    def plain(value: Any) -> Any:
        if isinstance(value, SetCollection):
            return sorted(value.values(), key=repr)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    out: dict[str, dict[Any, Any]] = {}
    for key, obj in state.objects.items():
        out.setdefault(key[0], {})[state.primary_keys[key]] = plain(obj)
    return out
