"""The merge's rules for pairs of concurrent instructions (pure functions).

How one instruction is rewritten to apply after a concurrent one (list
positions, last-writer-wins, erases, clears, schema agreement), links written
to an object the other side erases, the bucket an instruction is transformed
in, and the expanding grid of a group where links meet erases. Used by
:mod:`studio.sync.merge.driver` and the tests' oracle ``tests/oracles/merge_reference.py``.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final

from studio.primitives.instructions import (
    OBJECT_INSTRUCTIONS,
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
    SetErase,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.sync.errors import MergeError
from studio.sync.values import is_int, same_value, value_key, wrap_int64


class _AnyElement:
    """Path element standing for "some element of this container": the footprint
    of an instruction that works on a container as a whole (insert, move,
    clear, set insert/erase). It equals only itself, never a name or index."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<any element>"


ANY_ELEMENT: Final = _AnyElement()

Footprint = tuple[object, ...]

# --------------------------------------------------------------------------- helpers


def _footprint(ins: Any) -> Footprint:
    """The location an instruction reads or writes, relative to its object.

    Set/AddInteger: their path. ListSet/ListErase: the element. DictSet/
    DictErase: the entry. Container-wide instructions: ``path + (ANY_ELEMENT,)``.
    """
    t = type(ins)
    if t is SetValue or t is AddInteger:
        return ins.path  # type: ignore[no-any-return]
    if t is ListSet or t is ListErase:
        return (*ins.path, ins.index)
    if t is DictSet or t is DictErase:
        return (*ins.path, ins.key)
    return (*ins.path, ANY_ELEMENT)


def _strictly_under(inner: Footprint, outer: Footprint) -> bool:
    n = len(outer)
    return len(inner) > n and inner[:n] == outer


# Rebuilding instructions directly: dataclasses.replace() costs several times
# more and dominated the contended-merge benchmark. Per type: its fields' getter
# and their names.
_FIELDS: Final[dict[type, tuple[Callable[[Any], tuple[Any, ...]], tuple[str, ...]]]] = {
    cls: (operator.attrgetter(*names), names)
    for cls in OBJECT_INSTRUCTIONS
    for names in [tuple(f.name for f in dataclasses.fields(cls))]
}


def _rebuild(ins: Any, name: str, value: Any) -> Instruction:
    """``ins`` with field ``name`` set to ``value``."""
    cls = type(ins)
    getter, names = _FIELDS[cls]
    fields = list(getter(ins))
    fields[names.index(name)] = value
    return cls(*fields)  # type: ignore[no-any-return]


def _map_position(x: Any, pos: int) -> int | None:
    """Where the element at ``pos`` is after the list instruction ``x`` (None: erased)."""
    t = type(x)
    if t is ListInsert:
        return pos + 1 if pos >= x.index else pos
    if t is ListErase:
        j = x.index
        if pos == j:
            return None
        return pos - 1 if pos > j else pos
    # ListMove: the element leaves from_index and lands on to_index.
    f, t_ = x.from_index, x.to_index
    if pos == f:
        return t_  # type: ignore[no-any-return]
    p1 = pos - 1 if pos > f else pos
    return p1 + 1 if p1 >= t_ else p1


# --------------------------------------------------------------------------- list rules


def _insert_after(y: ListInsert, x: Any, y_first: bool) -> Instruction:
    """Concurrent insert ``y`` on the list ``x`` changes the shape of."""
    i = y.index
    t = type(x)
    if t is ListInsert:
        j = x.index
        # Same gap: the earlier changeset's element goes first, so concurrent
        # appends come out in time order.
        new = i if i < j or (i == j and y_first) else i + 1
    elif t is ListErase:
        new = i - 1 if i > x.index else i
    else:
        # Move = erase at from_index, then insert at to_index. Look at the gap
        # in the list without the moved element; ties go to the earlier one.
        f, to = x.from_index, x.to_index
        i1 = i - 1 if i > f else i
        new = i1 + 1 if to < i1 or (to == i1 and not y_first) else i1
    return y if new == i else ListInsert(y.class_name, y.primary_key, y.path, new, y.value)


def _move_after(y: ListMove, x: Any, y_first: bool) -> Instruction | None:
    """Concurrent move ``y`` on the list ``x`` changes the shape of.

    ``to_index`` is the final position of the element (Python: ``lst.insert(to,
    lst.pop(frm))``). The merged list places the moved element(s) in the gaps
    they were moved to, computed on the list without the moved elements, with
    ties going to the earlier changeset. A move that becomes a no-op is dropped.
    """
    f, t = y.from_index, y.to_index
    tx = type(x)
    if tx is ListInsert:
        i = x.index
        i1 = i - 1 if i > f else i
        nf = f + 1 if i <= f else f
        nt = t + 1 if i1 < t or (i1 == t and not y_first) else t
    elif tx is ListErase:
        j = x.index
        if j == f:
            return None  # erase vs move of the same element: the erase wins
        nf = f - 1 if j < f else f
        j1 = j - 1 if j > f else j
        nt = t - 1 if j1 < t else t
    else:
        fx, tox = x.from_index, x.to_index
        if fx == f:
            # Both moved the same element: the later move wins.
            if y_first:
                return None
            nf, nt = tox, t
        else:
            q = fx - 1 if fx > f else fx  # x's element in the list without y's
            gy = t - 1 if q < t else t  # y's target gap without both elements
            qx = f - 1 if f > fx else f
            gx = tox - 1 if qx < tox else tox
            moved = _map_position(x, f)
            assert moved is not None
            nf = moved
            nt = gy + 1 if gx < gy or (gx == gy and not y_first) else gy
    if nf == nt:
        return None
    if nf == f and nt == t:
        return y
    return ListMove(y.class_name, y.primary_key, y.path, nf, nt)


def _after_list_change(y: Any, x: Any, y_first: bool) -> Instruction | None:
    """``y`` after the list insert/erase/move ``x``: shift every list index of
    ``y`` that points into the list ``x`` changed. (This is the hot path of a
    contended merge, hence the footprint logic spelled out on the path.)"""
    path = x.path
    ypath = y.path
    d = len(path)
    if len(ypath) > d:
        # y works inside an element of the list (or on an element of it).
        if ypath[:d] != path:
            return y  # type: ignore[no-any-return]
        pos = ypath[d]
        if type(pos) is not int:
            return y  # type: ignore[no-any-return]
        new = _map_position(x, pos)
        if new is None:
            return None  # the element y works on (or inside) was erased
        if new == pos:
            return y  # type: ignore[no-any-return]
        return _rebuild(y, "path", (*ypath[:d], new, *ypath[d + 1 :]))
    if ypath != path:
        return y  # type: ignore[no-any-return]
    ty = type(y)
    if ty is ListInsert:
        return _insert_after(y, x, y_first)
    if ty is ListMove:
        return _move_after(y, x, y_first)
    if ty is ListSet or ty is ListErase:
        pos = y.index
        new = _map_position(x, pos)
        if new is None:
            return None
        return y if new == pos else _rebuild(y, "index", new)
    return y  # type: ignore[no-any-return]  # Clear: not affected by positions


# --------------------------------------------------------------------------- pair rules

_WRITES: Final = (SetValue, ListSet, DictSet)


def _add_to_write(y: Any, delta: int) -> Instruction:
    """A Set that an AddInteger happened after: fold the add into its value.

    Realm does the same; a non-integer value (null, a string in a mixed field)
    ignores the add, exactly as applying AddInteger to it would.
    """
    if not is_int(y.value):
        return y  # type: ignore[no-any-return]
    return _rebuild(y, "value", wrap_int64(y.value + delta))


def _same_location(y: Any, x: Any, y_first: bool) -> Instruction | None:
    """``y`` after ``x`` when both work on exactly the same field/element/entry."""
    ty, tx = type(y), type(x)
    if ty in _WRITES:
        if tx in _WRITES or tx is DictErase:
            return None if y_first else y  # last writer wins
        if tx is AddInteger:
            return _add_to_write(y, x.delta) if y_first else y
        return y  # type: ignore[no-any-return]
    if ty is AddInteger:
        if tx in _WRITES:
            return None if y_first else y  # a later Set overrides earlier adds
        if tx is DictErase:
            return None
        return y  # type: ignore[no-any-return]  # adds commute
    if ty is DictErase:
        if tx in _WRITES or tx is DictErase:
            return None if y_first else y
        return y  # type: ignore[no-any-return]  # erase beats AddInteger
    if (
        (ty is SetInsert or ty is SetErase)
        and (tx is SetInsert or tx is SetErase)
        and same_value(x.value, y.value)
    ):
        # Same element of a set: the later instruction decides membership.
        # Both are idempotent, so keeping the later one is enough on each side.
        return None if y_first else y
    return y  # type: ignore[no-any-return]


def _adjust(y: Any, x: Any, y_first: bool) -> Instruction | None:
    """``y`` rewritten to apply after ``x``; both address the same object.

    ``y_first``: y's changeset is the earlier one. Returns None when y has no
    effect any more (it lost a conflict, or what it worked on is gone).
    """
    tx, ty = type(x), type(y)
    if tx is EraseObject:
        if ty is EraseObject:
            # Keep the later erase, so an old erase cannot cancel a newer
            # erase-and-recreate (Realm's rule).
            return None if y_first else y
        return None  # erase wins over everything inside, even a CreateObject
    if ty is EraseObject:
        return y  # type: ignore[no-any-return]
    if tx is CreateObject:
        return None if ty is CreateObject else y  # one object, created once
    if ty is CreateObject:
        return y  # type: ignore[no-any-return]
    if tx is ListInsert or tx is ListErase or tx is ListMove:
        return _after_list_change(y, x, y_first)
    if tx is Clear:
        if ty is Clear and y.path == x.path:
            return None if y_first else y  # the later clear wins
        # Clear wins over every concurrent operation inside the container,
        # whatever the timestamps (as in Realm): an element inserted after the
        # clear cannot be told apart from the old ones without knowing the length.
        if _strictly_under(_footprint(y), x.path):
            return None
        return y  # type: ignore[no-any-return]
    fx, fy = _footprint(x), _footprint(y)
    if (tx in _WRITES or tx is DictErase) and _strictly_under(fy, fx):
        # x replaced or removed the value y works inside (an embedded object,
        # a dictionary entry): y's target no longer exists.
        return None
    if fx != fy:
        return y  # type: ignore[no-any-return]
    return _same_location(y, x, y_first)


def _schema_mismatch(a: AddClass | AddProperty, b: AddClass | AddProperty) -> MergeError:
    fields = [f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)]
    diffs = "; ".join(
        f"{f} is {getattr(a, f)!r} on one side, {getattr(b, f)!r} on the other" for f in fields
    )
    if isinstance(a, AddClass):
        what = f"class {a.class_name!r}"
    else:
        what = f"property {a.class_name}.{a.name}"
    return MergeError(
        f"schema mismatch: {what} was added concurrently with different definitions ({diffs}); "
        "schema changes of a synced realm must agree on every device"
    )


def transform_pair(a: Any, b: Any, a_first: bool) -> tuple[Instruction | None, Instruction | None]:
    """Transform one instruction of each side (same object or same schema item)."""
    t = type(a)
    if t is AddClass or t is AddProperty:
        if a == b:
            return None, None  # the same schema change: it is already there
        raise _schema_mismatch(a, b)
    return _adjust(a, b, a_first), _adjust(b, a, not a_first)


# --------------------------------------------------------------------------- links

LINK_WRITERS: Final = (SetValue, DictSet, ListSet, ListInsert, SetInsert, SetErase)


def _object_key(ins: Any) -> Hashable:
    return (ins.class_name, value_key(ins.primary_key))


def _link_target(ins: Any) -> Hashable | None:
    """The object ``ins`` writes a link to, if it writes a Link value."""
    if type(ins) in LINK_WRITERS:
        value = ins.value
        if type(value) is Link:
            return (value.class_name, value_key(value.primary_key))
    return None


def _against_erase(ins: Any) -> tuple[list[Instruction], list[Instruction]]:
    """``ins`` writes a link to an object that a concurrent EraseObject removes.

    Erasing an object removes the links to it (to-one links and dictionary
    values become null, list and set entries disappear, as in Realm and the
    store). Returns ``(ins', explicit)``: ``ins'`` to apply after the erase,
    with the effect the erase's cascade has on ``ins`` where ``ins`` came
    first; and the list entries ``ins`` created, which the erase must remove
    explicitly on that side. The explicit ListErase goes into the erasing
    changeset, so the writing side's later instructions on that element are
    transformed against it (dropped, or shifted), exactly as if its own store
    had recorded the removal. (Without this rule, an erase-and-recreate of
    the target leaves a link to the new object on one replica only.)
    """
    t = type(ins)
    if t is SetValue or t is DictSet:
        return [_rebuild(ins, "value", None)], []
    if t is ListInsert:
        return [], [ListErase(ins.class_name, ins.primary_key, ins.path, ins.index)]
    if t is ListSet:
        erase = ListErase(ins.class_name, ins.primary_key, ins.path, ins.index)
        return [erase], [erase]
    return [], []  # SetInsert / SetErase of the link: the cascade leaves nothing


GroupItem = tuple[Hashable, Any, int]
"""An instruction in a merged group: (object key, instruction, original position)."""


def _cross(a: GroupItem, b: GroupItem, a_first: bool) -> tuple[list[GroupItem], list[GroupItem]]:
    """Transform one instruction of each side in a merged group (see
    :func:`link_groups`): same object as usual; different objects only
    interact when one writes a link to the object the other erases."""
    ka, ia, na = a
    kb, ib, nb = b
    if ka == kb:
        a2, b2 = transform_pair(ia, ib, a_first)
        return ([] if a2 is None else [(ka, a2, na)]), ([] if b2 is None else [(kb, b2, nb)])
    if type(ib) is EraseObject and _link_target(ia) == kb:
        rest, explicit = _against_erase(ia)
        return [(ka, i, na) for i in rest], [*((ka, e, nb) for e in explicit), b]
    if type(ia) is EraseObject and _link_target(ib) == ka:
        rest, explicit = _against_erase(ib)
        return [*((kb, e, na) for e in explicit), a], [(kb, i, nb) for i in rest]
    return [a], [b]


def one_vs_many(
    a: GroupItem, bs: list[GroupItem], a_first: bool
) -> tuple[list[GroupItem], list[GroupItem]]:
    if len(bs) == 1:
        return _cross(a, bs[0], a_first)
    current = [a]
    out: list[GroupItem] = []
    for n, b in enumerate(bs):
        if not current:
            out.extend(bs[n:])
            break
        current, b_out = _many_vs_one(current, b, a_first)
        out.extend(b_out)
    return current, out


def _many_vs_one(
    items: list[GroupItem], b: GroupItem, a_first: bool
) -> tuple[list[GroupItem], list[GroupItem]]:
    if len(items) == 1:
        return _cross(items[0], b, a_first)
    current = [b]
    out: list[GroupItem] = []
    for n, a in enumerate(items):
        if not current:
            out.extend(items[n:])
            break
        a_out, current = one_vs_many(a, current, a_first)
        out.extend(a_out)
    return out, current


def link_groups(
    ours: Sequence[Instruction],
    theirs: Sequence[Instruction],
    our_keys: list[Hashable],
    their_keys: list[Hashable],
) -> dict[Hashable, Hashable]:
    """Buckets to merge: a link written on one side to an object erased on the
    other ties the link holder's bucket to the erased object's, so the two
    meet in the same grid (in the right order). Returns bucket -> representative."""
    parent: dict[Hashable, Hashable] = {}

    def find(key: Hashable) -> Hashable:
        while parent.get(key, key) != key:
            key = parent[key]
        return key

    for writers, writer_keys, erasers in ((ours, our_keys, theirs), (theirs, their_keys, ours)):
        erased = {_object_key(i) for i in erasers if type(i) is EraseObject}
        if not erased:
            continue
        for ins, key in zip(writers, writer_keys, strict=True):
            target = _link_target(ins)
            if target in erased and target != key:
                root_a, root_b = find(key), find(target)
                if root_a != root_b:
                    parent[root_a] = root_b
    return {key: find(key) for key in parent}


# --------------------------------------------------------------------------- buckets


def bucket_of(ins: Any) -> Hashable:
    """The group an instruction is transformed in: its object, or its schema item."""
    t = type(ins)
    if t is AddClass:
        return ("#class", ins.class_name)
    if t is AddProperty:
        return ("#property", ins.class_name, ins.name)
    return (ins.class_name, value_key(ins.primary_key))


def transform_merged_group(
    ours: Sequence[Instruction],
    theirs: Sequence[Instruction],
    our_keys: list[Hashable],
    their_keys: list[Hashable],
    our_indexes: list[int],
    their_indexes: list[int],
    ours_first: bool,
    out_ours: list[list[Instruction]],
    out_theirs: list[list[Instruction]],
) -> None:
    """The grid for a group where links meet erases: instructions may expand."""
    column: list[GroupItem] = [(their_keys[j], theirs[j], j) for j in their_indexes]
    for n in our_indexes:
        result, column = one_vs_many((our_keys[n], ours[n], n), column, ours_first)
        out_ours[n] = [ins for _, ins, _ in result]
    for j in their_indexes:
        out_theirs[j] = []
    for _, ins, j in column:
        out_theirs[j].append(ins)


def with_instructions(changeset: Changeset, instructions: list[Instruction]) -> Changeset:
    old = changeset.instructions
    if len(old) == len(instructions) and all(
        a is b for a, b in zip(old, instructions, strict=True)
    ):
        return changeset
    return dataclasses.replace(changeset, instructions=tuple(instructions))
