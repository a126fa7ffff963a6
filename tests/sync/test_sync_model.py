"""The reference model: instruction semantics and strictness."""

from __future__ import annotations

import pytest
from oracles import model
from oracles.model import ModelError

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
    SetErase,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue

C = "Item"


def run(*ins: Instruction) -> dict[str, object]:
    state = model.apply(model.State(), [CreateObject(C, 1), *ins])
    return model.to_plain(state)[C][1]  # type: ignore[no-any-return]


def test_fields_lists_sets_dicts_and_embedded_objects() -> None:
    got = run(
        CreateObject(C, 2),
        SetValue(C, 1, ("name",), "x"),
        SetValue(C, 1, ("friend",), Link(C, 2)),
        SetValue(C, 1, ("emb",), EMBEDDED),
        SetValue(C, 1, ("emb", "n"), 1),
        ListInsert(C, 1, ("l",), 0, "a"),
        ListInsert(C, 1, ("l",), 1, "b"),
        ListInsert(C, 1, ("l",), 0, "c"),
        ListMove(C, 1, ("l",), 0, 2),
        ListSet(C, 1, ("l",), 0, "A"),
        ListErase(C, 1, ("l",), 1),
        ListInsert(C, 1, ("parts",), 0, EMBEDDED),
        SetValue(C, 1, ("parts", 0, "name"), "p"),
        SetInsert(C, 1, ("s",), 1),
        SetInsert(C, 1, ("s",), True),
        SetInsert(C, 1, ("s",), 1),
        DictSet(C, 1, ("d",), "k", 1),
        DictSet(C, 1, ("d",), "e", EMBEDDED),
        SetValue(C, 1, ("d", "e", "x"), 2),
    )
    assert got == {
        "name": "x",
        "friend": Link(C, 2),
        "emb": {"n": 1},
        "l": ["A", "c"],
        "parts": [{"name": "p"}],
        "s": [1, True],
        "d": {"k": 1, "e": {"x": 2}},
    }


def test_add_integer_wraps_and_ignores_non_integers() -> None:
    got = run(
        SetValue(C, 1, ("n",), 2**63 - 1),
        AddInteger(C, 1, ("n",), 2),
        SetValue(C, 1, ("b",), True),
        AddInteger(C, 1, ("b",), 1),
        AddInteger(C, 1, ("missing",), 1),
        SetValue(C, 1, ("z",), None),
        AddInteger(C, 1, ("z",), 1),
    )
    assert got == {"n": -(2**63) + 1, "b": True, "z": None}


def test_idempotent_operations() -> None:
    got = run(
        CreateObject(C, 1),
        SetErase(C, 1, ("s",), "absent"),
        DictErase(C, 1, ("d",), "absent"),
        Clear(C, 1, ("never",)),
        EraseObject(C, 99),
    )
    assert got == {}


@pytest.mark.parametrize(
    "ins",
    [
        SetValue(C, 2, ("x",), 1),  # no such object
        SetValue(C, 1, ("emb", "x"), 1),  # no embedded object there
        ListErase(C, 1, ("l",), 0),
        ListInsert(C, 1, ("l",), 1, "x"),
        ListMove(C, 1, ("l",), 0, 0),
        SetValue(C, 1, ("l", 0), "x"),
    ],
)
def test_invalid_instructions_raise(ins: Instruction) -> None:
    with pytest.raises(ModelError):
        run(ins)


def test_collection_kinds_do_not_mix() -> None:
    with pytest.raises(ModelError, match="expected a SetCollection"):
        run(ListInsert(C, 1, ("x",), 0, 1), SetInsert(C, 1, ("x",), 1))
    with pytest.raises(ModelError, match="Set cannot replace a collection"):
        run(ListInsert(C, 1, ("x",), 0, 1), SetValue(C, 1, ("x",), 1))


def test_schema_must_be_additive() -> None:
    state = model.apply(model.State(), [AddClass(C, "_id", "int", False, False)])
    model.apply(state, [AddClass(C, "_id", "int", False, False)])
    with pytest.raises(ModelError):
        model.apply(state, [AddClass(C, None, None, False, True)])
    model.apply(state, [AddProperty(C, "a", "int")])
    with pytest.raises(ModelError):
        model.apply(state, [AddProperty(C, "a", "string")])


def test_canonical_form_is_exact_and_ignores_empty_collections() -> None:
    one = model.apply(model.State(), [CreateObject(C, 1), SetValue(C, 1, ("x",), 1)])
    two = model.apply(model.State(), [CreateObject(C, 1), SetValue(C, 1, ("x",), True)])
    assert model.canonical(one) != model.canonical(two)
    three = model.apply(one.copy(), [ListInsert(C, 1, ("l",), 0, 1), ListErase(C, 1, ("l",), 0)])
    assert model.canonical(three) == model.canonical(one)


def test_apply_accepts_changesets_and_names_the_failing_instruction() -> None:
    state = model.State()
    model.apply(state, Changeset(1, 1, 0, 0, (CreateObject(C, 1),)))
    with pytest.raises(ModelError, match="instruction 1"):
        model.apply(state, [SetValue(C, 1, ("x",), 1), ListErase(C, 1, ("l",), 3)])


def test_erasing_an_object_removes_links_to_it() -> None:
    state = model.apply(
        model.State(),
        [
            CreateObject(C, 1),
            CreateObject(C, 2),
            SetValue(C, 1, ("ref",), Link(C, 2)),
            ListInsert(C, 1, ("refs",), 0, Link(C, 2)),
            ListInsert(C, 1, ("refs",), 1, Link(C, 1)),
            SetInsert(C, 1, ("set",), Link(C, 2)),
            DictSet(C, 1, ("map",), "k", Link(C, 2)),
            SetValue(C, 1, ("emb",), EMBEDDED),
            SetValue(C, 1, ("emb", "ref"), Link(C, 2)),
            EraseObject(C, 2),
        ],
    )
    assert model.to_plain(state)[C][1] == {
        "ref": None,
        "refs": [Link(C, 1)],
        "set": [],
        "map": {"k": None},
        "emb": {"ref": None},
    }


def test_a_link_to_a_missing_object_is_an_error() -> None:
    for ins in (
        SetValue(C, 1, ("ref",), Link(C, 9)),
        ListInsert(C, 1, ("refs",), 0, Link(C, 9)),
        SetInsert(C, 1, ("set",), Link(C, 9)),
        DictSet(C, 1, ("map",), "k", Link(C, 9)),
    ):
        with pytest.raises(ModelError, match="does not exist"):
            run(ins)
    run(SetErase(C, 1, ("set",), Link(C, 9)))  # removing one is fine
