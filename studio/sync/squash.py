"""History compaction's squash: a run of integrated changesets folded into the
state they build, and that state written out again as a few plain changesets
(the *snapshot* a new client bootstraps from; see ServerHistory.compact and
docs/sync.md "History compaction").

The fold applies each instruction to an in-memory state with the semantics of
the store (and of the merge oracle tests/oracles/model.py, which the property
tests compare it with): creating an existing object and erasing a missing one
do nothing, erasing an object removes the links to it (to-one links and
dictionary values become null, list and set entries go away), AddInteger on a
non-integer does nothing and wraps at 64 bits. It is strict otherwise: an
instruction that does not fit the state raises :class:`CompactionError`, so
compaction stops and the history stays as it was instead of a snapshot that
differs from what the clients have.

What comes out holds only the end state: an object created and erased again
is not in it, a field set many times appears once with its last value, a list
is its elements in order. Schema first, then every object's creation (so a
link never points to an object not created yet), then the objects' fields; the
instruction sequence is cut into changesets of at most ``max_instructions``
(any cut is fine: each applies after the one before it).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

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
from studio.sync.errors import CompactionError
from studio.sync.values import is_int, same_value, value_key, wrap_int64

ObjectKey = tuple[str, Hashable]

DEFAULT_SNAPSHOT_INSTRUCTIONS: Final = 2000
"""Instructions per snapshot changeset: small enough for a download batch,
large enough that a realm of many objects is a few hundred changesets."""


class _Dictionary(dict[str, Any]):
    """A dictionary property's value (a plain ``dict`` is an embedded object)."""


class _Members(dict[Hashable, Any]):
    """A set property's value: ``value_key(v) -> v``."""


_COLLECTIONS: Final = frozenset({list, _Dictionary, _Members})
# Values that are not one column of the object's row: written as instructions.
_NOT_PLAIN: Final = frozenset({Link, dict, list, _Dictionary, _Members})


@dataclass
class SquashedState:
    """A realm's content as the history up to some version built it."""

    classes: dict[str, AddClass] = field(default_factory=dict)
    properties: dict[tuple[str, str], AddProperty] = field(default_factory=dict)
    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    primary_keys: dict[ObjectKey, Any] = field(default_factory=dict)
    latest_timestamp_ms: int = 0
    """The latest timestamp of the changesets folded in."""
    # Objects that may hold a link to the key (never pruned but on erase: a
    # stale holder only costs a look), so an erase does not scan every object.
    _holders: dict[ObjectKey, set[ObjectKey]] = field(default_factory=dict)

    def fold(self, changesets: Iterable[Changeset]) -> SquashedState:
        """Apply ``changesets`` in order; returns self."""
        for changeset in changesets:
            self.latest_timestamp_ms = max(self.latest_timestamp_ms, changeset.timestamp_ms)
            for n, ins in enumerate(changeset.instructions):
                try:
                    self._apply(ins)
                except CompactionError as exc:
                    raise CompactionError(
                        f"changeset {changeset.client_version} of client "
                        f"{changeset.origin_file_ident}, instruction {n} ({ins!r}): {exc}"
                    ) from None
        return self

    # ------------------------------------------------------------------ applying

    def _apply(self, ins: Instruction) -> None:
        t = type(ins)
        if t is SetValue:  # the most common by far: a plain value into a top-level field
            assert isinstance(ins, SetValue)
            path, value = ins.path, ins.value
            if len(path) == 1 and type(value) is not Link and value is not EMBEDDED:
                obj = self.objects.get((ins.class_name, value_key(ins.primary_key)))
                name = path[0]
                if obj is not None and type(name) is str \
                        and type(obj.get(name)) not in _COLLECTIONS:
                    obj[name] = value  # what _set_at does here, without its walk
                    return
        if t is CreateObject or t is EraseObject:
            assert isinstance(ins, CreateObject | EraseObject)
            key = (ins.class_name, value_key(ins.primary_key))
            if t is CreateObject:
                if key not in self.objects:
                    self.objects[key] = {}
                    self.primary_keys[key] = ins.primary_key
            elif self.objects.pop(key, None) is not None:
                del self.primary_keys[key]
                target = Link(ins.class_name, ins.primary_key)
                for holder in self._holders.pop(key, ()):
                    obj = self.objects.get(holder)
                    if obj is not None:
                        _unlink(obj, target)
            return
        if isinstance(ins, AddClass):
            self.classes.setdefault(ins.class_name, ins)
            return
        if isinstance(ins, AddProperty):
            self.properties.setdefault((ins.class_name, ins.name), ins)
            return
        owner = (ins.class_name, value_key(ins.primary_key))
        obj = self.objects.get(owner)
        if obj is None:
            raise CompactionError(f"object {ins.class_name}[{ins.primary_key!r}] does not exist")
        if isinstance(ins, SetValue):
            _set_at(obj, ins.path, self._new_value(owner, ins.value))
        elif isinstance(ins, AddInteger):
            _add_at(obj, ins.path, ins.delta)
        elif isinstance(ins, ListInsert):
            lst = _container(obj, ins.path, list, True)
            if not 0 <= ins.index <= len(lst):
                raise CompactionError(f"insert at {ins.index} into a list of {len(lst)}")
            lst.insert(ins.index, self._new_value(owner, ins.value))
        elif isinstance(ins, ListSet | ListErase):
            lst = _container(obj, ins.path, list, True)
            if not 0 <= ins.index < len(lst):
                raise CompactionError(f"index {ins.index} out of range ({len(lst)})")
            if isinstance(ins, ListSet):
                lst[ins.index] = self._new_value(owner, ins.value)
            else:
                del lst[ins.index]
        elif isinstance(ins, ListMove):
            lst = _container(obj, ins.path, list, True)
            if not (0 <= ins.from_index < len(lst) and 0 <= ins.to_index < len(lst)):
                raise CompactionError(
                    f"move {ins.from_index}->{ins.to_index} in a list of {len(lst)}"
                )
            lst.insert(ins.to_index, lst.pop(ins.from_index))
        elif isinstance(ins, Clear):
            parent = _walk(obj, ins.path[:-1])
            last = ins.path[-1]
            current = _walk(obj, ins.path) if type(last) is int else parent.get(last)
            if current is None:
                return
            if not isinstance(current, list | _Dictionary | _Members):
                raise CompactionError(f"Clear of a {type(current).__name__}")
            current.clear()
        elif isinstance(ins, SetInsert):
            members = _container(obj, ins.path, _Members, True)
            members.setdefault(value_key(ins.value), self._new_value(owner, ins.value))
        elif isinstance(ins, SetErase):
            members = _container(obj, ins.path, _Members, False)
            if members is not None:
                members.pop(value_key(ins.value), None)
        elif isinstance(ins, DictSet):
            entries = _container(obj, ins.path, _Dictionary, True)
            entries[ins.key] = self._new_value(owner, ins.value)
        elif isinstance(ins, DictErase):
            entries = _container(obj, ins.path, _Dictionary, False)
            if entries is not None:
                entries.pop(ins.key, None)
        else:  # pragma: no cover - the union is exhaustive
            raise CompactionError(f"unknown instruction {ins!r}")

    def _new_value(self, owner: ObjectKey, value: Any) -> Any:
        if value is EMBEDDED:
            return {}
        if type(value) is Link:
            target = (value.class_name, value_key(value.primary_key))
            if target not in self.objects:
                raise CompactionError(
                    f"link to {value.class_name}[{value.primary_key!r}], which does not exist"
                )
            self._holders.setdefault(target, set()).add(owner)
        return value

    # ------------------------------------------------------------------ writing out

    def instructions(self) -> Iterator[Instruction]:
        """Instructions that build this state from an empty realm."""
        yield from self.classes.values()
        yield from self.properties.values()
        for class_name, _ in self.objects:
            yield CreateObject(class_name, self.primary_keys[(class_name, _)])
        for key, obj in self.objects.items():
            class_name, pk = key[0], self.primary_keys[key]
            for name, value in obj.items():
                yield from _write_value(class_name, pk, (name,), value)

    def rows(self) -> tuple[list[Instruction], dict[str, list[dict[str, Any]]], list[Instruction]]:
        """The state for a bulk write: the schema instructions; per class with a
        primary key, one dict per object of its primary key and plain fields (what
        ``Realm.create_many`` takes); and the instructions of everything else (links,
        embedded objects, collections), which apply once every object exists. The
        three together build the same state as :meth:`instructions`."""
        schema: list[Instruction] = [*self.classes.values(), *self.properties.values()]
        rows: dict[str, list[dict[str, Any]]] = {}
        creates: list[Instruction] = []  # of classes without a primary key
        rest: list[Instruction] = []
        pk_names = {name: c.primary_key for name, c in self.classes.items()}
        for key, obj in self.objects.items():
            class_name, pk = key[0], self.primary_keys[key]
            pk_name = pk_names.get(class_name)
            if pk_name is None:  # no primary key: created by instructions, as in a replay
                creates.append(CreateObject(class_name, pk))
                for name, value in obj.items():
                    rest.extend(_write_value(class_name, pk, (name,), value))
                continue
            row: dict[str, Any] = {pk_name: pk}
            for name, value in obj.items():
                if type(value) in _NOT_PLAIN:
                    rest.extend(_write_value(class_name, pk, (name,), value))
                else:
                    row[name] = value
            rows.setdefault(class_name, []).append(row)
        return schema, rows, creates + rest

    def changesets(
        self, max_instructions: int = DEFAULT_SNAPSHOT_INSTRUCTIONS, max_changesets: int = 0
    ) -> list[tuple[Instruction, ...]]:
        """:meth:`instructions` cut into runs of at most ``max_instructions``
        (more per run if that would make more than ``max_changesets`` runs,
        when that is > 0)."""
        instructions = list(self.instructions())
        per = max(1, max_instructions)
        if max_changesets > 0:
            per = max(per, -(-len(instructions) // max_changesets))
        return [tuple(instructions[i : i + per]) for i in range(0, len(instructions), per)]


def squash(
    changesets: Iterable[Changeset],
    max_instructions: int = DEFAULT_SNAPSHOT_INSTRUCTIONS,
    max_changesets: int = 0,
) -> tuple[list[tuple[Instruction, ...]], int]:
    """The snapshot of what ``changesets`` build (see :meth:`SquashedState.changesets`)
    and the latest timestamp among them."""
    state = SquashedState().fold(changesets)
    return state.changesets(max_instructions, max_changesets), state.latest_timestamp_ms


def _write_value(class_name: str, pk: Any, path: Path, value: Any) -> Iterator[Instruction]:
    t = type(value)
    if t is dict:
        yield SetValue(class_name, pk, path, EMBEDDED)
        for name, inner in value.items():
            yield from _write_value(class_name, pk, (*path, name), inner)
    elif t is list:
        for index, element in enumerate(value):
            if type(element) is dict:
                yield ListInsert(class_name, pk, path, index, EMBEDDED)
                for name, inner in element.items():
                    yield from _write_value(class_name, pk, (*path, index, name), inner)
            else:
                yield ListInsert(class_name, pk, path, index, element)
    elif t is _Dictionary:
        for key, element in value.items():
            if type(element) is dict:
                yield DictSet(class_name, pk, path, key, EMBEDDED)
                for name, inner in element.items():
                    yield from _write_value(class_name, pk, (*path, key, name), inner)
            else:
                yield DictSet(class_name, pk, path, key, element)
    elif t is _Members:
        for element in value.values():
            yield SetInsert(class_name, pk, path, element)
    else:
        yield SetValue(class_name, pk, path, value)


# --------------------------------------------------------------------------- paths


def _unlink(value: Any, target: Link) -> Any:
    """Remove the links to ``target`` inside ``value`` (in place); returns the
    replacement for ``value`` itself."""
    t = type(value)
    if t is Link:
        return None if same_value(value, target) else value
    if t is dict or t is _Dictionary:
        for name, inner in value.items():
            value[name] = _unlink(inner, target)
    elif t is list:
        value[:] = [
            _unlink(v, target) for v in value if not (type(v) is Link and same_value(v, target))
        ]
    elif t is _Members:
        value.pop(value_key(target), None)
    return value


def _walk(obj: dict[str, Any], path: Sequence[Any]) -> Any:
    current: Any = obj
    for n, element in enumerate(path):
        if type(element) is int:
            if type(current) is not list or not 0 <= element < len(current):
                raise CompactionError(f"path {tuple(path)}: no list element at step {n}")
            current = current[element]
        else:
            if not isinstance(current, dict) or isinstance(current, _Members):
                raise CompactionError(
                    f"path {tuple(path)}: step {n} goes into a {type(current).__name__}"
                )
            if element not in current:
                raise CompactionError(f"path {tuple(path)}: {element!r} does not exist")
            current = current[element]
    return current


def _container(obj: dict[str, Any], path: Path, kind: type, create: bool) -> Any:
    """The list/dictionary/set at ``path``, created empty when missing."""
    last = path[-1]
    if type(last) is int:
        container = _walk(obj, path)
    else:
        parent = _walk(obj, path[:-1])
        if not isinstance(parent, dict) or isinstance(parent, _Members):
            raise CompactionError(f"path {path}: the parent is a {type(parent).__name__}")
        container = parent.get(last)
        if container is None:
            if last in parent:
                raise CompactionError(f"path {path}: the field holds null, not a collection")
            if not create:
                return None
            container = parent[last] = kind()
    if type(container) is not kind:
        raise CompactionError(
            f"path {path}: expected a {kind.__name__.strip('_').lower()}, "
            f"found a {type(container).__name__.strip('_').lower()}"
        )
    return container


def _set_at(obj: dict[str, Any], path: Path, value: Any) -> None:
    parent = _walk(obj, path[:-1])
    last = path[-1]
    if type(last) is int:
        if type(parent) is not list or not 0 <= last < len(parent):
            raise CompactionError(f"path {path}: no list element {last}")
        parent[last] = value
        return
    if not isinstance(parent, dict) or isinstance(parent, _Members):
        raise CompactionError(f"path {path}: cannot set a field of a {type(parent).__name__}")
    if isinstance(parent.get(last), list | _Dictionary | _Members):
        raise CompactionError(f"path {path}: Set cannot replace a collection")
    parent[last] = value


def _add_at(obj: dict[str, Any], path: Path, delta: int) -> None:
    parent = _walk(obj, path[:-1])
    last = path[-1]
    if type(last) is int:
        if type(parent) is not list or not 0 <= last < len(parent):
            raise CompactionError(f"path {path}: no list element {last}")
        current = parent[last]
    else:
        if not isinstance(parent, dict) or isinstance(parent, _Members):
            raise CompactionError(
                f"path {path}: cannot add to a field of a {type(parent).__name__}"
            )
        current = parent.get(last)
    if is_int(current):
        parent[last] = wrap_int64(current + delta)
