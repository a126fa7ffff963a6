"""Operational transformation of concurrent changesets (pure functions).

Two changesets ``A`` and ``B`` are *concurrent* when each was made without
seeing the other, i.e. both apply to the same state ``S``.
``transform(A, B) -> (A', B')`` rewrites them so that

    apply(apply(S, A), B')  ==  apply(apply(S, B), A')

for every state ``S`` where both apply (the "TP1" property; together with the
server being the single point that orders changesets, it is all a star-shaped
sync topology needs). The rules follow Realm Sync's (see ``docs/sync.md``);
conflicts are decided by :func:`order_key`, ``(timestamp_ms,
origin_file_ident)``: the changeset with the larger key is "later" and wins
last-writer-wins conflicts.

Instructions on different objects only interfere through links (a link
written to an object the other side erases), so the transformation groups
both instruction lists by object (schema instructions by class or property),
joins the groups a link ties to an erase, and runs the classic pairwise grid
only inside each group (within an object, per property unless it is erased).
Each changeset is indexed once by the objects it touches (see "the index"
below), so a pair costs what the two share, and :class:`ConcurrentChangesets`
(what ``transform_against``, ``rebase`` and the histories use) lets a
changeset meet only the changesets of a sequence it can interact with.
``studio.sync.merge_reference`` keeps the plain driver as the tests' oracle.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import operator
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Final

from studio.core.instructions import (
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
from studio.core.instructions import Set as SetValue
from studio.core.objectid import ObjectId
from studio.sync.errors import MergeError
from studio.sync.values import is_int, same_value, value_key, wrap_int64


class _AnyElement:
    """Path element standing for "some element of this container": the footprint
    of an instruction that works on a container as a whole (insert, move,
    clear, set insert/erase). It equals only itself, never a name or index."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<any element>"


_ANY: Final = _AnyElement()

Footprint = tuple[object, ...]


def order_key(changeset: Changeset) -> tuple[int, int]:
    """Conflict order: the changeset with the larger key is the later one."""
    return (changeset.timestamp_ms, changeset.origin_file_ident)


# --------------------------------------------------------------------------- helpers


def _footprint(ins: Any) -> Footprint:
    """The location an instruction reads or writes, relative to its object.

    Set/AddInteger: their path. ListSet/ListErase: the element. DictSet/
    DictErase: the entry. Container-wide instructions: ``path + (_ANY,)``.
    """
    t = type(ins)
    if t is SetValue or t is AddInteger:
        return ins.path  # type: ignore[no-any-return]
    if t is ListSet or t is ListErase:
        return (*ins.path, ins.index)
    if t is DictSet or t is DictErase:
        return (*ins.path, ins.key)
    return (*ins.path, _ANY)


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


def _pair(a: Any, b: Any, a_first: bool) -> tuple[Instruction | None, Instruction | None]:
    """Transform one instruction of each side (same object or same schema item)."""
    t = type(a)
    if t is AddClass or t is AddProperty:
        if a == b:
            return None, None  # the same schema change: it is already there
        raise _schema_mismatch(a, b)
    return _adjust(a, b, a_first), _adjust(b, a, not a_first)


# --------------------------------------------------------------------------- links

_LINK_WRITERS: Final = (SetValue, DictSet, ListSet, ListInsert, SetInsert, SetErase)


def _object_key(ins: Any) -> Hashable:
    return (ins.class_name, value_key(ins.primary_key))


def _link_target(ins: Any) -> Hashable | None:
    """The object ``ins`` writes a link to, if it writes a Link value."""
    if type(ins) in _LINK_WRITERS:
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


_Item = tuple[Hashable, Any, int]
"""An instruction in a merged group: (object key, instruction, original position)."""


def _cross(a: _Item, b: _Item, a_first: bool) -> tuple[list[_Item], list[_Item]]:
    """Transform one instruction of each side in a merged group (see
    :func:`_link_groups`): same object as usual; different objects only
    interact when one writes a link to the object the other erases."""
    ka, ia, na = a
    kb, ib, nb = b
    if ka == kb:
        a2, b2 = _pair(ia, ib, a_first)
        return ([] if a2 is None else [(ka, a2, na)]), ([] if b2 is None else [(kb, b2, nb)])
    if type(ib) is EraseObject and _link_target(ia) == kb:
        rest, explicit = _against_erase(ia)
        return [(ka, i, na) for i in rest], [*((ka, e, nb) for e in explicit), b]
    if type(ia) is EraseObject and _link_target(ib) == ka:
        rest, explicit = _against_erase(ib)
        return [*((kb, e, na) for e in explicit), a], [(kb, i, nb) for i in rest]
    return [a], [b]


def _one_vs_many(a: _Item, bs: list[_Item], a_first: bool) -> tuple[list[_Item], list[_Item]]:
    if len(bs) == 1:
        return _cross(a, bs[0], a_first)
    current = [a]
    out: list[_Item] = []
    for n, b in enumerate(bs):
        if not current:
            out.extend(bs[n:])
            break
        current, b_out = _many_vs_one(current, b, a_first)
        out.extend(b_out)
    return current, out


def _many_vs_one(items: list[_Item], b: _Item, a_first: bool) -> tuple[list[_Item], list[_Item]]:
    if len(items) == 1:
        return _cross(items[0], b, a_first)
    current = [b]
    out: list[_Item] = []
    for n, a in enumerate(items):
        if not current:
            out.extend(items[n:])
            break
        a_out, current = _one_vs_many(a, current, a_first)
        out.extend(a_out)
    return out, current


def _link_groups(
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


def _bucket(ins: Any) -> Hashable:
    """The group an instruction is transformed in: its object, or its schema item."""
    t = type(ins)
    if t is AddClass:
        return ("#class", ins.class_name)
    if t is AddProperty:
        return ("#property", ins.class_name, ins.name)
    return (ins.class_name, value_key(ins.primary_key))


def _transform_merged_group(
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
    column: list[_Item] = [(their_keys[j], theirs[j], j) for j in their_indexes]
    for n in our_indexes:
        result, column = _one_vs_many((our_keys[n], ours[n], n), column, ours_first)
        out_ours[n] = [ins for _, ins, _ in result]
    for j in their_indexes:
        out_theirs[j] = []
    for _, ins, j in column:
        out_theirs[j].append(ins)


def _with_instructions(changeset: Changeset, instructions: list[Instruction]) -> Changeset:
    old = changeset.instructions
    if len(old) == len(instructions) and all(
        a is b for a, b in zip(old, instructions, strict=True)
    ):
        return changeset
    return dataclasses.replace(changeset, instructions=tuple(instructions))


# --------------------------------------------------------------------------- the index
#
# A changeset being transformed is kept indexed by object: each object (and
# each schema item, which stands for itself) maps to the slots of its
# instructions. Transforming two changesets only looks at the objects they
# have in common, and only at the instructions that can interact there
# (see :func:`_adjust`): instructions on different properties of an object,
# and CreateObject against anything but CreateObject, leave each other
# alone, so a shared object is split by property (lazily, once per object)
# unless one side erases it (an erase meets everything inside the object).
# Objects a link written on one side ties to an erase on the other go through
# the expanding grid of :func:`_transform_merged_group` together. So the cost
# of a pair no longer grows with what the two do not share, and a sequence of
# changesets (:class:`ConcurrentChangesets`) indexes which changesets touch
# which objects, so a changeset transformed against it only meets the ones
# it can interact with. The results are those of the plain grid
# (``studio.sync.merge_reference``), as the tests check.
#
# Slots and positions: slot ``n`` holds the n-th instruction as given, at
# position ``n << 32 | _ORIGINAL``. The only rule that turns one instruction
# into several is an EraseObject meeting a link (:func:`_against_erase`): the
# explicit list erases it gains go right before it, in new slots at positions
# ``n << 32 | s`` with ``s`` from a per-changeset counter, so they sort after
# those it gained earlier and before the erase itself. A dropped instruction
# leaves its slot empty (None); slot lists skip empty slots as they go.

_ORIGINAL: Final = 0xFFFFFFFF
_SLOT: Final = ~0xFFFFFFFF
_LINK_WRITER_TYPES: Final = frozenset(_LINK_WRITERS)


def _pk_key(pk: Any) -> Hashable:
    """``value_key(pk)``, with the common cases first."""
    t = type(pk)
    if t is ObjectId:
        return ("o", pk.binary)
    if t is str:
        return ("s", pk)
    if t is int:
        return ("i", pk)
    return value_key(pk)


def _property(ins: Any) -> Any:
    """What an instruction on an object works on: the first name of its path
    (None for CreateObject and EraseObject)."""
    t = type(ins)
    if t is CreateObject or t is EraseObject:
        return None
    path = ins.path
    return path[0] if path else None


# The index of a changeset's instructions, by the identity of their tuple:
# ``id -> (instructions, objects, erased, writers, schema)``. The tuple is kept
# alive with it (so its id cannot be reused while cached) and never changes,
# so neither does its index; ``_Keyed`` copies ``objects`` (a transformation
# rebinds its entries but never changes a slot list in place) and shares the
# rest, which is never changed. Oldest entries go first.
_IndexEntry = tuple[
    tuple[Instruction, ...],
    dict[Hashable, list[int]],
    set[Hashable],
    dict[Hashable, set[Hashable]],
    bool,
]
# OrderedDict: dropping the oldest is O(1) (``del d[next(iter(d))]`` on a
# dict scans every slot deleted before it, so it grows with the evictions).
_INDEX_CACHE: Final[OrderedDict[int, _IndexEntry]] = OrderedDict()
_INDEX_CACHE_SIZE: Final = 8192


def _index(instructions: tuple[Instruction, ...]) -> _IndexEntry:
    """The (cached) index of ``instructions``; treat it as read-only."""
    cache = _INDEX_CACHE
    cached = cache.get(id(instructions))
    if cached is not None and cached[0] is instructions:
        return cached
    keyed = _Keyed(list(instructions), None)
    if len(cache) >= _INDEX_CACHE_SIZE:
        cache.popitem(last=False)
    entry = cache[id(instructions)] = (
        instructions,
        keyed.objects,
        keyed.erased,
        keyed.writers,
        keyed.schema,
    )
    return entry


_Keys = tuple[set[Hashable], set[Hashable], set[Hashable]]
_KEYS_CACHE: Final[OrderedDict[int, tuple[tuple[Instruction, ...], _Keys]]] = OrderedDict()


def interaction_keys(
    instructions: tuple[Instruction, ...],
) -> tuple[Iterable[Hashable], Iterable[Hashable], Iterable[Hashable]]:
    """What ``instructions`` can interact with another changeset through:
    ``(touched, erased, link_targets)``: the objects and schema items they
    have instructions on, the objects they erase, the objects they write
    links to. Two changesets interact in a transformation exactly when one
    touches what the other touches, or erases what the other links to.

    The keys of the full index (see :func:`_index`), without building it:
    most changesets are only ever asked this (the server's fast path)."""
    indexed = _INDEX_CACHE.get(id(instructions))
    if indexed is not None and indexed[0] is instructions:
        return indexed[1].keys(), indexed[2], indexed[3].keys()
    cached = _KEYS_CACHE.get(id(instructions))
    if cached is not None and cached[0] is instructions:
        return cached[1]
    touched: set[Hashable] = set()
    erased: set[Hashable] = set()
    targets: set[Hashable] = set()
    link_writers = _LINK_WRITER_TYPES
    last_pk: Any = _ANY
    last_class: Any = None
    obj: Hashable = None
    for ins in instructions:
        t = type(ins)
        if t is AddClass:
            touched.add(("#class", ins.class_name))
            continue
        if t is AddProperty:
            touched.add(("#property", ins.class_name, ins.name))  # type: ignore[union-attr]
            continue
        pk = ins.primary_key  # type: ignore[union-attr]
        if pk is not last_pk or ins.class_name != last_class:
            last_pk, last_class = pk, ins.class_name
            obj = (last_class, _pk_key(pk))
            touched.add(obj)
        if t is EraseObject:
            erased.add(obj)
        elif t in link_writers:
            value = ins.value  # type: ignore[union-attr]
            if type(value) is Link:
                target = (value.class_name, _pk_key(value.primary_key))
                if target != obj:
                    targets.add(target)
    keys = (touched, erased, targets)
    if len(_KEYS_CACHE) >= _INDEX_CACHE_SIZE:
        _KEYS_CACHE.popitem(last=False)
    _KEYS_CACHE[id(instructions)] = (instructions, keys)
    return keys


def _is_object(key: Any) -> bool:
    """An object's key ``(class, value key)``, not a schema item's."""
    return len(key) == 2 and type(key[1]) is tuple


class _Keyed:
    """One side of a transformation, indexed by object (see above).

    ``flat[s]`` is the instruction in slot ``s`` (None once dropped);
    ``objects`` maps each object or schema item to its slots in position
    order (empty slots included until the list is next compacted); ``props``
    caches the slots of an object by property."""

    __slots__ = (
        "changed",
        "changeset",
        "count",
        "erased",
        "flat",
        "instructions",
        "key",
        "new_keys",
        "objects",
        "positions",
        "props",
        "schema",
        "seq",
        "writers",
    )

    def __init__(self, instructions: Sequence[Instruction], changeset: Changeset | None) -> None:
        self.changeset = changeset
        self.instructions = instructions
        self.flat: list[Instruction | None] = list(instructions)
        self.count = len(instructions)
        self.positions: dict[int, int] = {}
        self.key = (
            (changeset.timestamp_ms, changeset.origin_file_ident) if changeset is not None else None
        )
        self.changed = False
        self.seq = 0
        # Objects this side gained (explicit list erases of an erased link target).
        self.new_keys: list[Hashable] = []
        self.props: dict[Hashable, dict[Any, list[int]]] = {}
        if type(instructions) is tuple:
            # The same changeset is indexed again and again (a history entry,
            # once per upload it is concurrent to): reuse its index.
            _, objects, self.erased, self.writers, self.schema = _index(instructions)
            self.objects = dict(objects)  # the slot lists are never changed in place
        else:
            self._build(instructions)

    def _build(self, instructions: Sequence[Instruction]) -> None:
        """Index ``instructions`` by object (``objects``, ``erased``,
        ``writers``, ``schema``)."""
        objects: dict[Hashable, list[int]] = {}
        # Objects erased, and link targets -> the objects holding the links.
        # Both only ever shrink under transformation, so they are computed once
        # (a stale entry only groups instructions that then do not interact).
        erased: set[Hashable] = set()
        writers: dict[Hashable, set[Hashable]] = {}
        link_writers = _LINK_WRITER_TYPES
        # Consecutive instructions mostly address one object (one pk object).
        last_pk: Any = _ANY
        last_class: Any = None
        last_obj: Hashable = None
        last_slots: list[int] = []
        self.schema = False  # has schema instructions
        for n, ins in enumerate(instructions):
            t = type(ins)
            if t is AddClass or t is AddProperty:
                self.schema = True
                if t is AddClass:
                    item: Hashable = ("#class", ins.class_name)
                else:
                    item = ("#property", ins.class_name, ins.name)  # type: ignore[union-attr]
                slots = objects.get(item)
                if slots is None:
                    objects[item] = [n]
                else:
                    slots.append(n)
                continue
            pk = ins.primary_key  # type: ignore[union-attr]
            if pk is last_pk and ins.class_name == last_class:
                obj = last_obj
                last_slots.append(n)
            else:
                last_pk, last_class = pk, ins.class_name
                obj = last_obj = (last_class, _pk_key(pk))
                slots = objects.get(obj)
                if slots is None:
                    last_slots = objects[obj] = [n]
                else:
                    last_slots = slots
                    slots.append(n)
            if t is EraseObject:
                erased.add(obj)
            elif t in link_writers:
                value = ins.value  # type: ignore[union-attr]
                if type(value) is Link:
                    target = (value.class_name, _pk_key(value.primary_key))
                    if target != obj:
                        holders = writers.get(target)
                        if holders is None:
                            writers[target] = {obj}
                        else:
                            holders.add(obj)
        self.objects = objects
        self.erased = erased
        self.writers = writers

    def position(self, slot: int) -> int:
        if slot < self.count:
            return slot << 32 | _ORIGINAL
        return self.positions[slot]

    def live(self, obj: Hashable) -> list[int]:
        """The slots of ``obj`` still holding an instruction (compacts its list)."""
        slots = self.objects.get(obj)
        if slots is None:
            return []
        flat = self.flat
        for slot in slots:
            if flat[slot] is None:
                break
        else:
            return slots
        slots = [slot for slot in slots if flat[slot] is not None]
        if slots:
            self.objects[obj] = slots
        else:
            del self.objects[obj]
            self.props.pop(obj, None)
        return slots

    def first(self, obj: Hashable) -> int | None:
        """The position of the first instruction on ``obj``, if any."""
        slots = self.live(obj)
        return self.position(slots[0]) if slots else None

    def by_property(self, obj: Hashable) -> dict[Any, list[int]]:
        """The slots of ``obj`` by the property they work on (CreateObject
        under None); empty slots may remain in them."""
        props = self.props.get(obj)
        if props is None:
            props = self.props[obj] = {}
            flat = self.flat
            for slot in self.objects[obj]:
                ins: Any = flat[slot]
                if ins is None:
                    continue
                prop = _property(ins)
                slots = props.get(prop)
                if slots is None:
                    props[prop] = [slot]
                else:
                    slots.append(slot)
        return props

    def current(self) -> Sequence[Instruction]:
        """The instructions as they are now, in order."""
        if self.changed:
            flat = self.flat
            if self.positions:
                slots = [s for s, ins in enumerate(flat) if ins is not None]
                slots.sort(key=self.position)
                self.instructions = tuple([flat[s] for s in slots])  # type: ignore[misc]
            else:
                self.instructions = tuple([ins for ins in flat if ins is not None])
            self.changed = False
        return self.instructions

    def result(self) -> Changeset:
        old = self.changeset
        assert old is not None
        instructions = self.current()
        if instructions is not old.instructions:
            assert isinstance(instructions, tuple)
            old = self.changeset = Changeset(
                old.origin_file_ident,
                old.client_version,
                old.last_integrated_server_version,
                old.timestamp_ms,
                instructions,
            )
        return old


def _transform_keyed(a: _Keyed, b: _Keyed, a_first: bool) -> None:
    """:func:`transform_instructions` on two indexed sides, in place."""
    ao, bo = a.objects, b.objects
    links: list[tuple[Hashable, Hashable]] = []
    erasing: list[Hashable] = []
    if b.erased:
        if a.writers:
            _link_pairs(a.writers, b.erased, links)
        erasing = [obj for obj in b.erased if obj in ao]
    if a.erased:
        if b.writers:
            _link_pairs(b.writers, a.erased, links)
        b_erased = b.erased
        erasing += [obj for obj in a.erased if obj in bo and obj not in b_erased]
    if links or erasing:
        _transform_grouped(a, b, links, erasing, a_first)
        return
    if len(ao) <= len(bo):
        common = [obj for obj in ao if obj in bo]
    else:
        common = [obj for obj in bo if obj in ao]
    if not common:
        return
    if len(common) > 1 and a.schema and b.schema:
        # The order of the plain grid: only which schema mismatch is raised
        # first depends on it (objects with nothing left on our side go last).
        common.sort(key=lambda obj: _NEVER if (first := a.first(obj)) is None else first)
    for obj in common:
        _transform_shared(a, b, obj, a_first)


_NEVER: Final = 1 << 80  # after every position


def _link_pairs(
    writers: dict[Hashable, set[Hashable]],
    erased: set[Hashable],
    out: list[tuple[Hashable, Hashable]],
) -> None:
    if len(erased) <= len(writers):
        for target in erased:
            holders = writers.get(target)
            if holders:
                out.extend((holder, target) for holder in holders)
    else:
        for target, holders in writers.items():
            if target in erased:
                out.extend((holder, target) for holder in holders)


def _transform_grouped(
    a: _Keyed,
    b: _Keyed,
    links: list[tuple[Hashable, Hashable]],
    erasing: list[Hashable],
    a_first: bool,
) -> None:
    """A pair where one side erases objects the other touches, or writes links
    to them: such an object is transformed as a whole, and the objects a link
    ties to an erase as one expanding group."""
    parent: dict[Hashable, Hashable] = {}

    def find(key: Hashable) -> Hashable:
        while parent.get(key, key) != key:
            key = parent[key]
        return key

    for holder, target in links:
        root_a, root_b = find(holder), find(target)
        if root_a != root_b:
            parent[root_a] = root_b
    components: dict[Hashable, list[Hashable]] = {}
    for obj in parent:
        components.setdefault(find(obj), []).append(obj)
    linked = set(parent)
    for root, objs in components.items():
        objs.append(root)
        linked.add(root)
    covered = linked.union(erasing)
    ao, bo = a.objects, b.objects
    # (first position on our side, kind, what): the plain grid's group order.
    groups: list[tuple[int, int, Any]] = []
    small, large = (ao, bo) if len(ao) <= len(bo) else (bo, ao)
    for obj in [obj for obj in small if obj in large and obj not in covered]:
        first = a.first(obj)
        if first is not None:
            groups.append((first, 0, obj))
    for obj in dict.fromkeys(erasing):
        if obj not in linked:
            first = a.first(obj)
            if first is not None and b.live(obj):
                groups.append((first, 1, obj))
    for objs in components.values():
        firsts = [first for obj in objs if (first := a.first(obj)) is not None]
        if firsts and any(b.live(obj) for obj in objs):
            groups.append((min(firsts), 2, objs))
    groups.sort(key=_first)
    for _, kind, what in groups:
        if kind == 0:
            _transform_shared(a, b, what, a_first)
        elif kind == 1:
            _transform_slots(a, b, a.live(what), b.live(what), a_first)
        else:
            _transform_component(a, b, what, a_first)


def _first(item: Sequence[Any]) -> int:
    return item[0]  # type: ignore[no-any-return]


def _transform_shared(a: _Keyed, b: _Keyed, obj: Hashable, a_first: bool) -> None:
    """An object (or schema item) both sides touch and neither erases: the
    plain grid, per property for an object."""
    a_slots, b_slots = a.objects.get(obj), b.objects.get(obj)
    if a_slots is None or b_slots is None:
        return  # emptied (and compacted away) since
    if (len(a_slots) == 1 and len(b_slots) == 1) or not _is_object(obj):
        _transform_slots(a, b, a_slots, b_slots, a_first)
        return
    if len(b_slots) == 1:  # one instruction there: only its property matters
        ins = b.flat[b_slots[0]]
        if ins is not None:
            slots = a.by_property(obj).get(_property(ins))
            if slots is not None:
                _transform_slots(a, b, slots, b_slots, a_first)
        return
    if len(a_slots) == 1:
        ins = a.flat[a_slots[0]]
        if ins is not None:
            slots = b.by_property(obj).get(_property(ins))
            if slots is not None:
                _transform_slots(a, b, a_slots, slots, a_first)
        return
    ours, theirs = a.by_property(obj), b.by_property(obj)
    if len(ours) > len(theirs):
        common = [prop for prop in theirs if prop in ours]
    else:
        common = [prop for prop in ours if prop in theirs]
    for prop in common:
        _transform_slots(a, b, ours[prop], theirs[prop], a_first)


def _transform_slots(
    a: _Keyed, b: _Keyed, a_slots: list[int], b_slots: list[int], a_first: bool
) -> None:
    """The plain grid over the given slots (position order; empty ones are
    skipped): one instruction in, at most one out."""
    fa, fb = a.flat, b.flat
    if len(a_slots) == 1 and len(b_slots) == 1:
        s, t = a_slots[0], b_slots[0]
        x, y = fa[s], fb[t]
        if x is None or y is None:
            return
        x2, y2 = _pair(x, y, a_first)
        if x2 is not x:
            fa[s] = x2
            a.changed = True
        if y2 is not y:
            fb[t] = y2
            b.changed = True
        return
    a_slots = [s for s in a_slots if fa[s] is not None]
    out_a = [fa[s] for s in a_slots]
    out_b = [fb[t] for t in b_slots]
    _grid(out_a, out_b, range(len(out_a)), range(len(out_b)), a_first)
    for s, ins in zip(a_slots, out_a, strict=True):
        if ins is not fa[s]:
            fa[s] = ins
            a.changed = True
    for t, ins in zip(b_slots, out_b, strict=True):
        if ins is not fb[t]:
            fb[t] = ins
            b.changed = True


def _transform_component(a: _Keyed, b: _Keyed, objs: list[Hashable], a_first: bool) -> None:
    """The expanding grid over the objects a link ties to an erase."""
    ours = _object_items(a, objs)
    theirs = column = _object_items(b, objs)
    out: list[_Item] = []
    for item in ours:
        result, column = _one_vs_many(item, column, a_first)
        out.extend(result)
    _redistribute(a, objs, ours, out)
    _redistribute(b, objs, theirs, column)


def _object_items(side: _Keyed, objs: list[Hashable]) -> list[_Item]:
    """The instructions on ``objs`` in order, as (object, instruction, slot)."""
    flat = side.flat
    items: list[_Item] = [(obj, flat[slot], slot) for obj in objs for slot in side.live(obj)]
    if side.positions:
        position = side.position
        items.sort(key=lambda item: position(item[2]))
    else:
        items.sort(key=_slot_of)
    return items


def _slot_of(item: _Item) -> int:
    return item[2]


def _redistribute(
    side: _Keyed, objs: list[Hashable], before: list[_Item], after: list[_Item]
) -> None:
    """Store a group's transformed instructions (``before`` -> ``after``) back.

    Instructions that came from one instruction share its slot: all but the
    last (the erase that gained explicit list erases) get new slots."""
    flat = side.flat
    fresh: dict[Hashable, list[int]] = {}
    kept: set[int] = set()
    last = len(after) - 1
    for n, (obj, ins, slot) in enumerate(after):
        if n < last and after[n + 1][2] == slot:
            new = len(flat)
            flat.append(ins)
            side.positions[new] = (side.position(slot) & _SLOT) | side.seq
            side.seq += 1
            slot = new
            side.changed = True
        elif flat[slot] is not ins:
            flat[slot] = ins
            side.changed = True
        kept.add(slot)
        slots = fresh.get(obj)
        if slots is None:
            fresh[obj] = [slot]
        else:
            slots.append(slot)
    for _, _, slot in before:
        if slot not in kept:
            flat[slot] = None
            side.changed = True
    objects, props = side.objects, side.props
    for obj in dict.fromkeys([*objs, *fresh]):
        slots = fresh.get(obj)
        old = objects.get(obj)
        if slots is None:
            if old is not None:
                del objects[obj]
                props.pop(obj, None)
        elif old != slots:
            if old is None:
                side.new_keys.append(obj)
            objects[obj] = slots
            props.pop(obj, None)


def _grid(
    ours: list[Instruction | None],
    theirs: list[Instruction | None],
    our_indexes: range,
    their_indexes: range,
    ours_first: bool,
) -> None:
    for n in our_indexes:
        current = ours[n]
        for k in their_indexes:
            theirs_k = theirs[k]
            if theirs_k is None:
                continue
            current, theirs[k] = _pair(current, theirs_k, ours_first)
            if current is None:
                break
        ours[n] = current


# --------------------------------------------------------------------------- sequences


def transform_instructions(
    ours: Sequence[Instruction], theirs: Sequence[Instruction], ours_first: bool
) -> tuple[list[Instruction], list[Instruction]]:
    """The instruction-level transformation behind :func:`transform`.

    ``ours_first`` says whether ``ours`` is the earlier side. Returns
    ``(ours', theirs')``: ours' applies after theirs, theirs' after ours.
    """
    if not ours or not theirs:
        return list(ours), list(theirs)
    a, b = _Keyed(ours, None), _Keyed(theirs, None)
    _transform_keyed(a, b, ours_first)
    return list(a.current()), list(b.current())


def _same_order_key(changeset: Changeset) -> MergeError:
    return MergeError(
        f"cannot order two concurrent changesets with the same timestamp "
        f"({changeset.timestamp_ms}) and origin ({changeset.origin_file_ident})"
    )


def transform(ours: Changeset, theirs: Changeset) -> tuple[Changeset, Changeset]:
    """Transform two concurrent changesets: returns ``(ours', theirs')`` where
    ``ours'`` applies after ``theirs`` and ``theirs'`` after ``ours``, and both
    orders give the same state. Raises :class:`MergeError` for schema changes
    that disagree."""
    our_key, their_key = order_key(ours), order_key(theirs)
    if our_key == their_key:
        raise _same_order_key(ours)
    if not ours.instructions or not theirs.instructions:
        return ours, theirs
    a, b = _Keyed(ours.instructions, ours), _Keyed(theirs.instructions, theirs)
    _transform_keyed(a, b, our_key < their_key)
    return a.result(), b.result()


class ConcurrentChangesets:
    """A sequence of changesets (each applying after the ones before it) that
    other changesets, concurrent to all of it, are transformed against one by
    one: what the server's history and a client's pending list are.

    Each changeset is indexed once by the objects it touches, so transforming
    a changeset against the sequence only visits the changesets it can
    interact with, and the sequence stays indexed as it is rewritten.
    ``transform_against(c, others)`` is ``ConcurrentChangesets(others)``
    then :meth:`transform`; :func:`rebase` is one :meth:`transform` per
    changeset. After an error (:class:`MergeError`) the sequence is in no
    defined state.
    """

    __slots__ = ("_erasers", "_items", "_links", "_objects", "_order", "_unindexed")

    def __init__(self, changesets: Iterable[Changeset] = ()) -> None:
        # A changeset as appended until it is first transformed (most never
        # are), then its _Keyed; None once discarded.
        self._items: list[_Keyed | Changeset | None] = []
        # Appended but not indexed yet (indexing waits for a transform).
        self._unindexed: list[Changeset] = list(changesets)
        # Indexes (ascending) of the changesets with instructions on an object
        # or schema item, erasing an object, writing links to an object. They
        # may name changesets whose instructions there were dropped since:
        # that only costs a look.
        self._objects: dict[Hashable, list[int]] = {}
        self._erasers: dict[Hashable, list[int]] = {}
        self._links: dict[Hashable, list[int]] = {}
        # order key -> indexes (two changesets of one origin never meet, but a
        # broken client could send them, and transform() refuses the pair).
        self._order: dict[Hashable, list[int]] = {}

    def __len__(self) -> int:
        return sum(1 for item in self._items if item is not None) + len(self._unindexed)

    def append(self, changeset: Changeset) -> None:
        """Add a changeset at the end (it applies after the others)."""
        self._unindexed.append(changeset)

    def _index_appended(self) -> None:
        objects, erasers, links, order = self._objects, self._erasers, self._links, self._order
        items = self._items
        for changeset in self._unindexed:
            n = len(items)
            items.append(changeset)
            _, item_objects, item_erased, item_writers, _ = _index(changeset.instructions)
            for obj in item_objects:
                indexes = objects.get(obj)
                if indexes is None:
                    objects[obj] = [n]
                else:
                    indexes.append(n)
            for obj in item_erased:
                erasers.setdefault(obj, []).append(n)
            for target in item_writers:
                links.setdefault(target, []).append(n)
            order.setdefault((changeset.timestamp_ms, changeset.origin_file_ident), []).append(n)
        self._unindexed = []

    def discard_through(self, client_version: int) -> None:
        """Forget the changesets with a client version up to ``client_version``
        (a client's own changesets the server has integrated)."""
        items = self._items
        for n, item in enumerate(items):
            if item is not None:
                changeset = item if type(item) is Changeset else item.changeset  # type: ignore[union-attr]
                assert changeset is not None
                if changeset.client_version <= client_version:
                    items[n] = None
        self._unindexed = [c for c in self._unindexed if c.client_version > client_version]

    def changesets(self) -> list[Changeset]:
        """The sequence as it is now (rewritten to apply after every changeset
        transformed against it so far)."""
        return [
            item if type(item) is Changeset else item.result()  # type: ignore[union-attr]
            for item in self._items
            if item is not None
        ] + self._unindexed

    def transform(self, changeset: Changeset) -> Changeset:
        """Transform ``changeset`` (concurrent to the whole sequence) against
        it: returns ``changeset'``, which applies after the sequence, and
        rewrites the sequence to apply after ``changeset``. Raises
        :class:`MergeError` where :func:`transform` would."""
        if self._unindexed:
            self._index_appended()
        items = self._items
        if not items:
            return changeset
        key = (changeset.timestamp_ms, changeset.origin_file_ident)
        tie: int | None = None
        for n in self._order.get(key, ()):
            if items[n] is not None:
                tie = n
                break
        stop = len(items) if tie is None else tie
        # The changesets we can interact with: those on the same objects (or
        # schema items), those erasing what we link to, those linking to what
        # we erase.
        instructions = changeset.instructions
        if type(instructions) is tuple:
            _, row_objects, row_erased, row_writers, _ = _index(instructions)
            row = None
        else:  # not hashable by identity for the cache
            row = _Keyed(instructions, changeset)
            row_objects, row_erased, row_writers = row.objects, row.erased, row.writers
        seen: set[int] = set()
        objects, erasers, links = self._objects, self._erasers, self._links
        for obj in row_objects:
            found = objects.get(obj)
            if found is not None:
                seen.update(found)
        if erasers:
            for target in row_writers:
                found = erasers.get(target)
                if found is not None:
                    seen.update(found)
        for obj in row_erased:
            found = links.get(obj)
            if found is not None:
                seen.update(found)
        if not seen:
            if tie is not None:
                raise _same_order_key(changeset)
            return changeset
        if row is None:
            row = _Keyed(instructions, changeset)
        queue = sorted([n for n in seen if n < stop and items[n] is not None])
        # Ascending order; a heap only once the row gains buckets (rare).
        heap = False
        at = 0
        while True:
            if heap:
                if not queue:
                    break
                n = heapq.heappop(queue)
            else:
                if at == len(queue):
                    break
                n = queue[at]
                at += 1
            other = items[n]
            if type(other) is not _Keyed:
                assert isinstance(other, Changeset)
                other = items[n] = _Keyed(other.instructions, other)
            assert other.key is not None
            _transform_keyed(row, other, key < other.key)
            if other.new_keys:
                for obj in other.new_keys:
                    _insert(objects.setdefault(obj, []), n)
                other.new_keys.clear()
            if row.new_keys:
                if not heap:
                    queue = queue[at:]
                    heap = True
                for obj in row.new_keys:
                    for m in objects.get(obj, ()):
                        if n < m < stop and m not in seen and items[m] is not None:
                            seen.add(m)
                            heapq.heappush(queue, m)
                row.new_keys.clear()
        if tie is not None:
            raise _same_order_key(changeset)
        return row.result()


def _insert(indexes: list[int], n: int) -> None:
    """Add ``n`` to an ascending list unless it is there."""
    i = bisect.bisect_left(indexes, n)
    if i == len(indexes) or indexes[i] != n:
        indexes.insert(i, n)


def transform_against(
    changeset: Changeset, others: Sequence[Changeset]
) -> tuple[Changeset, list[Changeset]]:
    """Transform ``changeset`` against a *sequence* of changesets concurrent to it
    (``others[k]`` applies after ``others[:k]``).

    Returns ``(changeset', others')``: ``changeset'`` applies after all of
    ``others``; ``others'`` is the sequence rewritten to apply after ``changeset``.
    (To transform several changesets against one sequence, keep a
    :class:`ConcurrentChangesets`: it indexes the sequence once.)
    """
    sequence = ConcurrentChangesets(others)
    return sequence.transform(changeset), sequence.changesets()


def rebase(
    ours: Sequence[Changeset], theirs: Sequence[Changeset]
) -> tuple[list[Changeset], list[Changeset]]:
    """Transform two concurrent sequences against each other (the full grid):
    ``ours'`` applies after ``theirs`` and ``theirs'`` after ``ours``."""
    sequence = ConcurrentChangesets(theirs)
    out = [sequence.transform(changeset) for changeset in ours]
    return out, sequence.changesets()
