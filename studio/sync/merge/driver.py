"""The merge's driver: transforms two indexed changesets against each other.

:func:`transform_keyed` runs the pair rules (:mod:`studio.sync.merge.rules`)
over two sides indexed by object (:class:`~studio.sync.merge.index.Keyed`),
in place, visiting only the objects and properties they share (see the index
comment in :mod:`studio.sync.merge.index` for slots and positions).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Final

from studio.primitives.instructions import Instruction
from studio.sync.merge.index import SLOT_MASK, Keyed, is_object, property_of
from studio.sync.merge.rules import GroupItem, one_vs_many, transform_pair


def transform_keyed(a: Keyed, b: Keyed, a_first: bool) -> None:
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
    a: Keyed,
    b: Keyed,
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


def _transform_shared(a: Keyed, b: Keyed, obj: Hashable, a_first: bool) -> None:
    """An object (or schema item) both sides touch and neither erases: the
    plain grid, per property for an object."""
    a_slots, b_slots = a.objects.get(obj), b.objects.get(obj)
    if a_slots is None or b_slots is None:
        return  # emptied (and compacted away) since
    if (len(a_slots) == 1 and len(b_slots) == 1) or not is_object(obj):
        _transform_slots(a, b, a_slots, b_slots, a_first)
        return
    if len(b_slots) == 1:  # one instruction there: only its property matters
        ins = b.flat[b_slots[0]]
        if ins is not None:
            slots = a.by_property(obj).get(property_of(ins))
            if slots is not None:
                _transform_slots(a, b, slots, b_slots, a_first)
        return
    if len(a_slots) == 1:
        ins = a.flat[a_slots[0]]
        if ins is not None:
            slots = b.by_property(obj).get(property_of(ins))
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
    a: Keyed, b: Keyed, a_slots: list[int], b_slots: list[int], a_first: bool
) -> None:
    """The plain grid over the given slots (position order; empty ones are
    skipped): one instruction in, at most one out."""
    fa, fb = a.flat, b.flat
    if len(a_slots) == 1 and len(b_slots) == 1:
        s, t = a_slots[0], b_slots[0]
        x, y = fa[s], fb[t]
        if x is None or y is None:
            return
        x2, y2 = transform_pair(x, y, a_first)
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


def _transform_component(a: Keyed, b: Keyed, objs: list[Hashable], a_first: bool) -> None:
    """The expanding grid over the objects a link ties to an erase."""
    ours = _object_items(a, objs)
    theirs = column = _object_items(b, objs)
    out: list[GroupItem] = []
    for item in ours:
        result, column = one_vs_many(item, column, a_first)
        out.extend(result)
    _redistribute(a, objs, ours, out)
    _redistribute(b, objs, theirs, column)


def _object_items(side: Keyed, objs: list[Hashable]) -> list[GroupItem]:
    """The instructions on ``objs`` in order, as (object, instruction, slot)."""
    flat = side.flat
    items: list[GroupItem] = [(obj, flat[slot], slot) for obj in objs for slot in side.live(obj)]
    if side.positions:
        position = side.position
        items.sort(key=lambda item: position(item[2]))
    else:
        items.sort(key=_slot_of)
    return items


def _slot_of(item: GroupItem) -> int:
    return item[2]


def _redistribute(
    side: Keyed, objs: list[Hashable], before: list[GroupItem], after: list[GroupItem]
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
            side.positions[new] = (side.position(slot) & SLOT_MASK) | side.seq
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
            current, theirs[k] = transform_pair(current, theirs_k, ours_first)
            if current is None:
                break
        ours[n] = current
