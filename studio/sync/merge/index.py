"""The merge's index of a changeset by the objects it touches.

The cached index of an instruction tuple (:func:`cached_index`), the keys a
changeset can interact through (:func:`interaction_keys`, the server's fast
path), and :class:`Keyed`, one side of a transformation indexed by object,
which :mod:`studio.sync.merge.driver` transforms in place.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, Final

from studio.primitives.instructions import (
    AddClass,
    AddProperty,
    Changeset,
    CreateObject,
    EraseObject,
    Instruction,
    Link,
)
from studio.primitives.objectid import ObjectId
from studio.sync.merge.rules import ANY_ELEMENT, LINK_WRITERS
from studio.sync.values import value_key

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
# the expanding grid of :func:`transform_merged_group` together. So the cost
# of a pair no longer grows with what the two do not share, and a sequence of
# changesets (:class:`ConcurrentChangesets`) indexes which changesets touch
# which objects, so a changeset transformed against it only meets the ones
# it can interact with. The results are those of the plain grid
# (``tests/oracles/merge_reference.py``), as the tests check.
#
# Slots and positions: slot ``n`` holds the n-th instruction as given, at
# position ``n << 32 | _ORIGINAL``. The only rule that turns one instruction
# into several is an EraseObject meeting a link (:func:`_against_erase`): the
# explicit list erases it gains go right before it, in new slots at positions
# ``n << 32 | s`` with ``s`` from a per-changeset counter, so they sort after
# those it gained earlier and before the erase itself. A dropped instruction
# leaves its slot empty (None); slot lists skip empty slots as they go.

_ORIGINAL: Final = 0xFFFFFFFF
SLOT_MASK: Final = ~0xFFFFFFFF
_LINK_WRITER_TYPES: Final = frozenset(LINK_WRITERS)


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


def property_of(ins: Any) -> Any:
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
# so neither does its index; ``Keyed`` copies ``objects`` (a transformation
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


def cached_index(instructions: tuple[Instruction, ...]) -> _IndexEntry:
    """The (cached) index of ``instructions``; treat it as read-only."""
    cache = _INDEX_CACHE
    cached = cache.get(id(instructions))
    if cached is not None and cached[0] is instructions:
        return cached
    keyed = Keyed(list(instructions), None)
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

    The keys of the full index (see :func:`cached_index`), without building it:
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
    last_pk: Any = ANY_ELEMENT
    last_class: Any = None
    obj: Hashable = None
    for ins in instructions:
        t = type(ins)
        if t is AddClass or t is AddProperty:
            touched.add(_schema_key(ins))
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
                target = _link_key(value)
                if target != obj:
                    targets.add(target)
    keys = (touched, erased, targets)
    if len(_KEYS_CACHE) >= _INDEX_CACHE_SIZE:
        _KEYS_CACHE.popitem(last=False)
    _KEYS_CACHE[id(instructions)] = (instructions, keys)
    return keys


def _schema_key(ins: Any) -> Hashable:
    """The key a schema instruction is indexed by (it stands for itself)."""
    if type(ins) is AddClass:
        return ("#class", ins.class_name)
    return ("#property", ins.class_name, ins.name)


def _link_key(link: Link) -> Hashable:
    """The key of the object a link points to."""
    return (link.class_name, _pk_key(link.primary_key))


def is_object(key: Any) -> bool:
    """An object's key ``(class, value key)``, not a schema item's."""
    return len(key) == 2 and type(key[1]) is tuple


class Keyed:
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
            _, objects, self.erased, self.writers, self.schema = cached_index(instructions)
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
        last_pk: Any = ANY_ELEMENT
        last_class: Any = None
        last_obj: Hashable = None
        last_slots: list[int] = []
        self.schema = False  # has schema instructions
        for n, ins in enumerate(instructions):
            t = type(ins)
            if t is AddClass or t is AddProperty:
                self.schema = True
                item = _schema_key(ins)
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
                    target = _link_key(value)
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
                prop = property_of(ins)
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
