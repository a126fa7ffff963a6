"""Exhaustive pair checks: every pair of list instructions (and instructions on
paths through list elements) on lists of 0..4 elements, every pair from a
universe of field, embedded-object, set and dictionary instructions, and every
pair of link writes against erases of the linked object, in both conflict
orders, must converge: apply(A, B') == apply(B, A')."""

from __future__ import annotations

from typing import Any

import pytest
from oracles import model

from studio.primitives.instructions import (
    EMBEDDED,
    AddInteger,
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
from studio.sync.merge import transform_instructions

C = "Item"


def universe(n: int, tag: str) -> list[Instruction]:
    """Every list instruction on ``items`` (n embedded objects) and on paths
    through its elements; values carry ``tag`` so both sides' are distinct."""
    p = ("items",)
    out: list[Instruction] = [ListInsert(C, 1, p, i, EMBEDDED) for i in range(n + 1)]
    out.append(Clear(C, 1, p))
    for i in range(n):
        out += [
            ListErase(C, 1, p, i),
            ListSet(C, 1, p, i, EMBEDDED),
            SetValue(C, 1, (*p, i, "name"), tag),
            AddInteger(C, 1, (*p, i, "count"), 1),
            ListInsert(C, 1, (*p, i, "tags"), 0, tag),
            Clear(C, 1, (*p, i, "tags")),
        ]
        out += [ListMove(C, 1, p, i, t) for t in range(n) if t != i]
    return out


def base(n: int) -> model.State:
    ins: list[Instruction] = [CreateObject(C, 1)]
    for i in range(n):
        ins += [
            ListInsert(C, 1, ("items",), i, EMBEDDED),
            SetValue(C, 1, ("items", i, "name"), f"e{i}"),
            SetValue(C, 1, ("items", i, "count"), i),
            ListInsert(C, 1, ("items", i, "tags"), 0, f"t{i}"),
        ]
    return model.apply(model.State(), ins)


def run(start: model.State, first: list[Instruction], second: list[Instruction]) -> Any:
    state = start.copy()
    model.apply(state, first)
    model.apply(state, second)
    return model.canonical(state)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_every_pair_of_list_instructions_converges(n: int) -> None:
    start = base(n)
    failures = []
    for a in universe(n, "A"):
        for b in universe(n, "B"):
            for a_first in (True, False):
                a2, b2 = transform_instructions([a], [b], a_first)
                if run(start, [a], b2) != run(start, [b], a2):
                    failures.append((a, b, a_first, a2, b2))
    assert not failures, f"{len(failures)} pairs diverge, e.g. {failures[0]}"


def rich_base() -> model.State:
    ins: list[Instruction] = [
        CreateObject(C, 1),
        SetValue(C, 1, ("n",), 5),
        SetValue(C, 1, ("emb",), EMBEDDED),
        SetValue(C, 1, ("emb", "count"), 1),
        ListInsert(C, 1, ("emb", "tags"), 0, "t"),
        ListInsert(C, 1, ("nums",), 0, 1),
        ListInsert(C, 1, ("nums",), 1, 2),
        SetInsert(C, 1, ("labels",), "x"),
        DictSet(C, 1, ("props",), "k", 1),
        DictSet(C, 1, ("objs",), "k", EMBEDDED),
        SetValue(C, 1, ("objs", "k", "count"), 1),
    ]
    return model.apply(model.State(), ins)


def rich_universe(tag: str, value: int) -> list[Instruction]:
    return [
        CreateObject(C, 1),
        EraseObject(C, 1),
        SetValue(C, 1, ("n",), value),
        SetValue(C, 1, ("n",), None),
        AddInteger(C, 1, ("n",), value),
        SetValue(C, 1, ("emb",), EMBEDDED),
        SetValue(C, 1, ("emb",), None),
        SetValue(C, 1, ("emb", "count"), value),
        AddInteger(C, 1, ("emb", "count"), value),
        ListInsert(C, 1, ("emb", "tags"), 0, tag),
        ListErase(C, 1, ("emb", "tags"), 0),
        Clear(C, 1, ("emb", "tags")),
        ListSet(C, 1, ("nums",), 1, value),
        AddInteger(C, 1, ("nums", 1), value),
        AddInteger(C, 1, ("nums", 0), value),
        SetInsert(C, 1, ("labels",), "x"),
        SetInsert(C, 1, ("labels",), tag),
        SetErase(C, 1, ("labels",), "x"),
        Clear(C, 1, ("labels",)),
        DictSet(C, 1, ("props",), "k", value),
        DictSet(C, 1, ("props",), "new", value),
        DictErase(C, 1, ("props",), "k"),
        AddInteger(C, 1, ("props", "k"), value),
        Clear(C, 1, ("props",)),
        DictSet(C, 1, ("objs",), "k", EMBEDDED),
        DictErase(C, 1, ("objs",), "k"),
        SetValue(C, 1, ("objs", "k", "count"), value),
        AddInteger(C, 1, ("objs", "k", "count"), value),
        Clear(C, 1, ("objs",)),
    ]


def test_every_pair_of_field_set_and_dict_instructions_converges() -> None:
    start = rich_base()
    failures = []
    for a in rich_universe("A", 10):
        for b in rich_universe("B", 100):
            for a_first in (True, False):
                a2, b2 = transform_instructions([a], [b], a_first)
                if run(start, [a], b2) != run(start, [b], a2):
                    failures.append((a, b, a_first, a2, b2))
    assert not failures, f"{len(failures)} pairs diverge, e.g. {failures[0]}"


def link_base() -> model.State:
    ins: list[Instruction] = [CreateObject(C, pk) for pk in (1, 2, 3)]
    ins += [
        SetValue(C, 1, ("ref",), Link(C, 2)),
        ListInsert(C, 1, ("refs",), 0, Link(C, 3)),
        ListInsert(C, 1, ("refs",), 1, Link(C, 1)),
        SetInsert(C, 1, ("friends",), Link(C, 2)),
        DictSet(C, 1, ("byname",), "b", Link(C, 2)),
    ]
    return model.apply(model.State(), ins)


def link_universe(tag: str) -> list[Instruction]:
    l1, l2, l3 = Link(C, 1), Link(C, 2), Link(C, 3)
    out: list[Instruction] = [
        EraseObject(C, 2),
        SetValue(C, 1, ("ref",), l2),
        SetValue(C, 1, ("ref",), l3),
        SetValue(C, 1, ("ref",), None),
        SetInsert(C, 1, ("friends",), l2),
        SetErase(C, 1, ("friends",), l2),
        SetInsert(C, 1, ("friends",), l3),
        DictSet(C, 1, ("byname",), "b", l2),
        DictSet(C, 1, ("byname",), "c", l2),
        DictErase(C, 1, ("byname",), "b"),
        SetValue(C, 2, ("name",), tag),
        SetValue(C, 2, ("ref",), l2),
        ListInsert(C, 2, ("refs",), 0, l2),
        SetValue(C, 3, ("ref",), l2),
        ListMove(C, 1, ("refs",), 0, 1),
    ]
    out += [ListInsert(C, 1, ("refs",), i, link) for i in range(3) for link in (l1, l2)]
    out += [ListSet(C, 1, ("refs",), i, l2) for i in range(2)]
    out += [ListErase(C, 1, ("refs",), i) for i in range(2)]
    return out


def test_every_pair_of_link_and_erase_instructions_converges() -> None:
    start = link_base()
    failures = []
    for a in link_universe("A"):
        for b in link_universe("B"):
            for a_first in (True, False):
                a2, b2 = transform_instructions([a], [b], a_first)
                if run(start, [a], b2) != run(start, [b], a2):
                    failures.append((a, b, a_first, a2, b2))
    assert not failures, f"{len(failures)} pairs diverge, e.g. {failures[0]}"


def test_every_pair_of_two_step_link_edits_converges() -> None:
    # Two instructions per side: catches a dropped link insert whose later
    # instructions (on the same element) would be left dangling.
    start = link_base()
    firsts = [ListInsert(C, 1, ("refs",), i, Link(C, 2)) for i in range(3)]
    firsts.append(ListSet(C, 1, ("refs",), 0, Link(C, 2)))
    seconds = [
        ListMove(C, 1, ("refs",), 0, 2),
        ListMove(C, 1, ("refs",), 2, 0),
        ListErase(C, 1, ("refs",), 0),
        ListSet(C, 1, ("refs",), 1, Link(C, 3)),
        ListInsert(C, 1, ("refs",), 1, Link(C, 3)),
    ]
    others = [
        [EraseObject(C, 2)],
        [EraseObject(C, 2), CreateObject(C, 2)],
        [ListInsert(C, 1, ("refs",), 1, Link(C, 1)), EraseObject(C, 2)],
        [EraseObject(C, 2), ListErase(C, 1, ("refs",), 0)],
    ]
    failures = []
    for first in firsts:
        for second in seconds:
            a = [first, second]
            try:
                run(start, a, [])
            except Exception:
                continue  # not valid on this base
            for b in others:
                for a_first in (True, False):
                    a2, b2 = transform_instructions(a, b, a_first)
                    if run(start, a, b2) != run(start, b, a2):
                        failures.append((a, b, a_first, a2, b2))
    assert not failures, f"{len(failures)} pairs diverge, e.g. {failures[0]}"
