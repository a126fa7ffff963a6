"""Random, valid instructions for the merge and protocol tests.

:class:`Generator` looks at a replica's :class:`~oracles.model.State`,
picks an instruction that is valid there, applies it and returns it, so a run
of calls is a valid changeset. Small value pools make concurrent clients
collide on the same objects, fields, list positions and set elements.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from oracles import model
from oracles.model import Dictionary, SetCollection, State

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
from studio.primitives.objectid import ObjectId

CLASS = "Item"
PKS = (1, 2, 3)

SCHEMA: tuple[Instruction, ...] = (
    AddClass(CLASS, "_id", "int", False, False),
    AddClass("Part", None, None, False, True),
    AddProperty(CLASS, "n", "int?"),
    AddProperty(CLASS, "s", "mixed"),
    AddProperty(CLASS, "link", "Item?", object_type=CLASS),
    AddProperty(CLASS, "emb", "Part?", object_type="Part"),
    AddProperty(CLASS, "tags", "string[]"),
    AddProperty(CLASS, "nums", "int[]"),
    AddProperty(CLASS, "items", "Part[]", object_type="Part"),
    AddProperty(CLASS, "labels", "mixed<>"),
    AddProperty(CLASS, "props", "int{}"),
    AddProperty(CLASS, "objs", "Part{}", object_type="Part"),
    AddProperty(CLASS, "refs", "Item[]", object_type=CLASS),
    AddProperty(CLASS, "linkset", "Item<>", object_type=CLASS),
    AddProperty(CLASS, "linkmap", "Item{}", object_type=CLASS),
    AddProperty("Part", "name", "string?"),
    AddProperty("Part", "count", "int?"),
    AddProperty("Part", "tags", "string[]"),
)

SCALARS: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    1,
    -7,
    2**63 - 1,
    1.5,
    float("-inf"),
    "a",
    "b",
    "",
    b"\x00\xff",
    datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
    ObjectId("6001c033600510df3bbfd864"),
    uuid.UUID(int=7),
    Decimal("1.10"),
    Decimal("NaN"),
)
KEYS = ("k1", "k2", "k3")


class Generator:
    """Makes random instructions valid for a state (and applies them to it)."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    # ------------------------------------------------------------------ values

    def scalar(self) -> Any:
        return self.rnd.choice(SCALARS)

    def word(self) -> str:
        return self.rnd.choice(("x", "y", "z", "w"))

    def small_int(self) -> int:
        return self.rnd.randint(-3, 3)

    # ------------------------------------------------------------------ driving

    def instruction(self, state: State) -> Instruction:
        """One instruction valid in ``state``; ``state`` is updated."""
        options = self._options(state)
        make = self.rnd.choice(options)
        ins = make()
        model.apply_instruction(state, ins)
        return ins

    def instructions(self, state: State, count: int) -> list[Instruction]:
        return [self.instruction(state) for _ in range(count)]

    def changeset(
        self, state: State, count: int, *, origin: int, client_version: int, timestamp: int
    ) -> Changeset:
        return Changeset(
            origin, client_version, 0, timestamp, tuple(self.instructions(state, count))
        )

    def _options(self, state: State) -> list[Callable[[], Instruction]]:
        rnd = self.rnd
        options: list[Callable[[], Instruction]] = []
        existing = [pk for pk in PKS if state.get(CLASS, pk) is not None]
        missing = [pk for pk in PKS if pk not in existing]
        if missing:
            options += [lambda: CreateObject(CLASS, rnd.choice(missing))] * 3
        if existing:
            options += [lambda: self._erase(state, rnd.choice(existing))] * 2
        options.append(lambda: rnd.choice(SCHEMA))
        links = [Link(CLASS, pk) for pk in existing]
        for pk in existing:
            obj = state.get(CLASS, pk)
            assert obj is not None
            options += self._object_options(pk, obj, links)
        return options

    def _erase(self, state: State, pk: int) -> Instruction:
        """Deleting an object: a store records the removal of list entries that
        link to it explicitly (they shift positions, which concurrent list
        instructions must see); to-one links, set members and dictionary
        values are left to the erase's cascade. So: erase the last such list
        entry, or, when none is left, the object."""
        target = Link(CLASS, pk)
        for other in PKS:
            obj = state.get(CLASS, other)
            refs = (obj or {}).get("refs") or []
            for i in range(len(refs) - 1, -1, -1):
                if refs[i] == target:
                    return ListErase(CLASS, other, ("refs",), i)
        return EraseObject(CLASS, pk)

    # ------------------------------------------------------------------ per object

    def _object_options(
        self, pk: int, obj: dict[str, Any], links: list[Link]
    ) -> list[Callable[[], Instruction]]:
        rnd = self.rnd
        out: list[Callable[[], Instruction]] = [
            lambda: SetValue(CLASS, pk, ("n",), self.small_int()),
            lambda: SetValue(CLASS, pk, ("s",), self.scalar()),
            lambda: SetValue(CLASS, pk, ("link",), rnd.choice((None, *links))),
            lambda: SetValue(CLASS, pk, ("emb",), rnd.choice((EMBEDDED, EMBEDDED, None))),
            lambda: SetInsert(CLASS, pk, ("linkset",), rnd.choice(links)),
            lambda: SetErase(CLASS, pk, ("linkset",), rnd.choice(links)),
            lambda: DictSet(CLASS, pk, ("linkmap",), rnd.choice(KEYS), rnd.choice((None, *links))),
        ]
        out += self._list_options(pk, ("refs",), obj.get("refs") or [], lambda: rnd.choice(links))
        if type(obj.get("n")) is int:
            out += [lambda: AddInteger(CLASS, pk, ("n",), self.small_int())] * 2
        emb = obj.get("emb")
        if isinstance(emb, dict):
            out += self._part_options(pk, ("emb",), emb)
        out += self._list_options(pk, ("tags",), obj.get("tags") or [], self.word)
        nums = obj.get("nums") or []
        out += self._list_options(pk, ("nums",), nums, self.small_int)
        for i, value in enumerate(nums):
            if type(value) is int:
                out.append(
                    lambda i=i: AddInteger(CLASS, pk, ("nums", i), self.small_int())  # type: ignore[misc]
                )
        items = obj.get("items") or []
        out += self._list_options(pk, ("items",), items, lambda: EMBEDDED)
        for i, part in enumerate(items):
            out += self._part_options(pk, ("items", i), part)
        out += self._set_options(pk, ("labels",), obj.get("labels") or SetCollection())
        out += self._dict_options(pk, ("props",), obj.get("props") or Dictionary(), self.small_int)
        props = obj.get("props") or {}
        for key, value in props.items():
            if type(value) is int:
                out.append(
                    lambda key=key: AddInteger(CLASS, pk, ("props", key), 1)  # type: ignore[misc]
                )
        objs = obj.get("objs") or Dictionary()
        out += self._dict_options(pk, ("objs",), objs, lambda: EMBEDDED)
        for key, part in objs.items():
            out += self._part_options(pk, ("objs", key), part)
        return out

    def _part_options(
        self, pk: int, path: Path, part: dict[str, Any]
    ) -> list[Callable[[], Instruction]]:
        out: list[Callable[[], Instruction]] = [
            lambda: SetValue(CLASS, pk, (*path, "name"), self.word()),
            lambda: SetValue(CLASS, pk, (*path, "count"), self.small_int()),
        ]
        if type(part.get("count")) is int:
            out.append(lambda: AddInteger(CLASS, pk, (*path, "count"), self.small_int()))
        out += self._list_options(pk, (*path, "tags"), part.get("tags") or [], self.word)
        return out

    def _list_options(
        self, pk: int, path: Path, lst: list[Any], value: Callable[[], Any]
    ) -> list[Callable[[], Instruction]]:
        rnd = self.rnd
        n = len(lst)
        out: list[Callable[[], Instruction]] = [
            lambda: ListInsert(CLASS, pk, path, rnd.randint(0, n), value()),
            lambda: ListInsert(CLASS, pk, path, n, value()),  # append
        ]
        if n:
            out += [
                lambda: ListSet(CLASS, pk, path, rnd.randrange(n), value()),
                lambda: ListErase(CLASS, pk, path, rnd.randrange(n)),
                lambda: ListMove(CLASS, pk, path, rnd.randrange(n), rnd.randrange(n)),
            ]
            if rnd.random() < 0.3:
                out.append(lambda: Clear(CLASS, pk, path))
        return out

    def _set_options(
        self, pk: int, path: Path, members: SetCollection
    ) -> list[Callable[[], Instruction]]:
        rnd = self.rnd
        out: list[Callable[[], Instruction]] = [
            lambda: SetInsert(CLASS, pk, path, self.scalar()),
            lambda: SetErase(CLASS, pk, path, self.scalar()),
        ]
        if members:
            present = list(members.values())
            out.append(lambda: SetErase(CLASS, pk, path, rnd.choice(present)))
            if rnd.random() < 0.3:
                out.append(lambda: Clear(CLASS, pk, path))
        return out

    def _dict_options(
        self, pk: int, path: Path, entries: dict[str, Any], value: Callable[[], Any]
    ) -> list[Callable[[], Instruction]]:
        rnd = self.rnd
        out: list[Callable[[], Instruction]] = [
            lambda: DictSet(CLASS, pk, path, rnd.choice(KEYS), value()),
        ]
        if entries:
            keys = list(entries)
            out.append(lambda: DictErase(CLASS, pk, path, rnd.choice(keys)))
            if rnd.random() < 0.3:
                out.append(lambda: Clear(CLASS, pk, path))
        return out


def base_state(rnd: random.Random, steps: int = 12) -> tuple[State, list[Instruction]]:
    """A random starting state (all objects exist) and the instructions that made it."""
    state = State()
    instructions: list[Instruction] = list(SCHEMA)
    model.apply(state, instructions)
    for pk in PKS:
        ins = CreateObject(CLASS, pk)
        model.apply_instruction(state, ins)
        instructions.append(ins)
    gen = Generator(rnd)
    instructions += gen.instructions(state, steps)
    return state, instructions
