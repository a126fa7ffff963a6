"""The schema check of uploads (studio.sync.upload_check): every kind of
instruction that does not fit the schema is refused with a message naming
the changeset, the instruction, the class/property and what was expected;
instructions that fit (as the core writes them) pass."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

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
    Set,
    SetErase,
    SetInsert,
)
from studio.primitives.objectid import ObjectId
from studio.sync.errors import ClockSkewError, MergeError, SchemaViolationError
from studio.sync.upload_check import SchemaIndex, check_changesets, check_object_instruction

SCHEMA: tuple[Instruction, ...] = (
    AddClass("Person", "_id", "int", False, False),
    AddClass("Dog", "_id", "string", False, False),
    AddClass("Cat", "_id", "objectId", True, False),
    AddClass("Address", None, None, False, True),
    AddProperty("Person", "name", "string"),
    AddProperty("Person", "nick", "string?"),
    AddProperty("Person", "age", "int"),
    AddProperty("Person", "score", "double"),
    AddProperty("Person", "born", "date?"),
    AddProperty("Person", "photo", "data?"),
    AddProperty("Person", "oid", "objectId?"),
    AddProperty("Person", "uid", "uuid?"),
    AddProperty("Person", "money", "decimal128?"),
    AddProperty("Person", "flag", "bool"),
    AddProperty("Person", "any", "mixed"),
    AddProperty("Person", "dog", "Dog?", object_type="Dog"),
    AddProperty("Person", "dogs", "Dog[]", object_type="Dog"),
    AddProperty("Person", "tags", "string[]"),
    AddProperty("Person", "numbers", "int?[]"),
    AddProperty("Person", "labels", "string<>"),
    AddProperty("Person", "extra", "mixed{}"),
    AddProperty("Person", "pets", "Dog{}", object_type="Dog"),
    AddProperty("Person", "home", "Address?", object_type="Address"),
    AddProperty("Person", "homes", "Address[]", object_type="Address"),
    AddProperty("Address", "street", "string"),
    AddProperty("Address", "number", "int?"),
    AddProperty("Dog", "owners", "linkingObjects", object_type="Person", origin_property="dogs"),
)


def schema() -> SchemaIndex:
    return SchemaIndex.from_changesets([cs(*SCHEMA)])


def cs(*instructions: Instruction, version: int = 1, ts: int = 1_000) -> Changeset:
    return Changeset(7, version, 0, ts, instructions)


def check(*instructions: Instruction) -> SchemaIndex:
    return check_changesets(schema(), [cs(*instructions)])


def refused(*instructions: Instruction, error: type[Exception] = SchemaViolationError) -> str:
    with pytest.raises(error) as info:
        check(*instructions)
    return str(info.value)


P = ("Person", 1)


def test_instructions_that_fit_pass() -> None:
    when = datetime(2024, 1, 2, tzinfo=UTC)
    check(
        CreateObject(*P),
        Set(*P, ("name",), "Ann"),
        Set(*P, ("nick",), None),
        Set(*P, ("age",), 3),
        Set(*P, ("score",), 2.5),
        Set(*P, ("score",), 2),  # an int is a valid double (the core converts it)
        Set(*P, ("born",), when),
        Set(*P, ("photo",), b"\x00"),
        Set(*P, ("oid",), ObjectId(b"x" * 12)),
        Set(*P, ("uid",), uuid.uuid4()),
        Set(*P, ("money",), Decimal("1.5")),
        Set(*P, ("flag",), True),
        Set(*P, ("any",), "text"),
        Set(*P, ("any",), Link("Dog", "rex")),
        Set(*P, ("any",), None),
        Set(*P, ("dog",), Link("Dog", "rex")),
        Set(*P, ("dog",), None),
        AddInteger(*P, ("age",), 2),
        ListInsert(*P, ("dogs",), 0, Link("Dog", "rex")),
        ListSet(*P, ("tags",), 0, "a"),
        ListInsert(*P, ("numbers",), 0, None),
        ListMove(*P, ("tags",), 0, 1),
        ListErase(*P, ("tags",), 0),
        Set(*P, ("tags", 0), "b"),
        AddInteger(*P, ("numbers", 0), 1),
        SetInsert(*P, ("labels",), "x"),
        SetErase(*P, ("labels",), "x"),
        DictSet(*P, ("extra",), "k", 1.5),
        DictSet(*P, ("pets",), "k", Link("Dog", "rex")),
        DictSet(*P, ("pets",), "k", None),
        DictErase(*P, ("extra",), "k"),
        Clear(*P, ("labels",)),
        Clear(*P, ("extra",)),
        Set(*P, ("home",), EMBEDDED),
        Set(*P, ("home", "street"), "Main"),
        ListInsert(*P, ("homes",), 0, EMBEDDED),
        Set(*P, ("homes", 0, "number"), 4),
        CreateObject("Cat", None),  # optional primary key
        EraseObject(*P),
    )


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        (CreateObject("Horse", 1), "class Horse does not exist"),
        (Set("Horse", 1, ("name",), "x"), "class Horse does not exist"),
        (Set(*P, ("height",), 1), "class Person has no property 'height'"),
        (Set(*P, ("name",), 5), "Person.name is string: expected a string, got int 5"),
        (Set(*P, ("age",), "5"), "Person.age is int: expected a int, got str '5'"),
        (Set(*P, ("age",), True), "Person.age is int: expected a int, got bool True"),
        (Set(*P, ("name",), None), "Person.name is string, not nullable: null is not allowed"),
        (ListInsert(*P, ("name",), 0, "x"), "Person.name is string, not a list (a single value)"),
        (SetInsert(*P, ("tags",), "x"), "Person.tags is string[], not a set"),
        (ListInsert(*P, ("labels",), 0, "x"), "Person.labels is string<>, not a list"),
        (DictSet(*P, ("tags",), "k", "x"), "Person.tags is string[], not a dictionary"),
        (Clear(*P, ("age",)), "Person.age is int, not a collection"),
        (Set(*P, ("dog",), Link("Person", 2)), "Person.dog is Dog?: a link to Person does not fit"),
        (ListInsert(*P, ("dogs",), 0, Link("Person", 2)), "a link to Person does not fit"),
        (Set(*P, ("dog",), Link("Dog", 3)), "the primary key of Dog is string"),
        (Set(*P, ("any",), Link("Horse", 3)), "links to class Horse, which does not exist"),
        (CreateObject("Person", "1"), "primary key '1' (str) does not fit Person"),
        (CreateObject("Person", None), "whose primary key is int"),
        (EraseObject("Dog", 1), "primary key 1 (int) does not fit Dog"),
        (CreateObject("Address", None), "Address is an embedded class"),
        (Set(*P, ("tags",), "x"), "Person.tags is a list (string[]): Set cannot replace it"),
        (Set(*P, ("_id",), 2), "Person._id is the primary key"),
        (AddInteger(*P, ("name",), 1), "Person.name is string: AddInteger needs an int"),
        (ListInsert(*P, ("dogs",), 0, None), "Person.dogs element is Dog[], not nullable"),
        (ListInsert(*P, ("tags",), 0, None), "Person.tags element is string[], not nullable"),
        (Set(*P, ("home",), "x"), "Person.home is Address?: expected a link to Address"),
        (Set(*P, ("dog",), EMBEDDED), "Person.dog is Dog?: it does not hold an embedded object"),
        (Set(*P, ("home", "color"), "red"), "class Address has no property 'color'"),
        (Set(*P, ("name", "x"), 1), "Person.name is string: a path can only go into embedded"),
        (Set(*P, ("tags", "x"), 1), "Person.tags is a list: path step 1 must be an index"),
        (Set(*P, ("labels", 0), 1), "Person.labels is a set: a path cannot go into it"),
        (Set(*P, ("homes", 0, "street"), 5), "Address.street is string: expected a string"),
        (ListErase(*P, ("tags", 0), 0), "the path reaches one element"),
        (Set("Dog", "rex", ("owners",), None), "Dog.owners is computed"),
    ],
)
def test_each_kind_of_misfit_is_refused(instruction: Instruction, expected: str) -> None:
    message = refused(CreateObject(*P), instruction)
    assert expected in message
    assert "changeset 1, instruction 1 (" in message
    assert "nothing of it was stored" in message


def test_the_uploads_own_schema_counts_in_order() -> None:
    index = schema()
    upload = [
        cs(AddClass("Horse", "_id", "uuid", False, False), version=1),
        cs(
            AddProperty("Horse", "name", "string"),
            CreateObject("Horse", uuid.UUID(int=1)),
            Set("Horse", uuid.UUID(int=1), ("name",), "Bo"),
            version=2,
        ),
    ]
    after = check_changesets(index, upload)
    assert "Horse" in after.classes and "Horse" not in index.classes  # the input is untouched
    # Used before it is added: refused.
    with pytest.raises(SchemaViolationError, match="class Horse has no property 'name'"):
        check_changesets(
            index,
            [
                cs(
                    AddClass("Horse", "_id", "uuid", False, False),
                    Set("Horse", uuid.UUID(int=1), ("name",), "Bo"),
                    AddProperty("Horse", "name", "string"),
                )
            ],
        )
    assert check_changesets(index, [cs(CreateObject(*P))]) is index  # no copy without schema


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        (AddProperty("Person", "age", "string"), "Person.age already exists as int"),
        (AddProperty("Person", "_id", "string"), "Person._id already exists as int"),
        (AddClass("Person", "_id", "string", False, False), "class Person already exists"),
    ],
)
def test_schema_changes_that_conflict_are_refused(instruction: Instruction, expected: str) -> None:
    message = refused(instruction, error=MergeError)
    assert expected in message and "additive" in message


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        (AddProperty("Horse", "name", "string"), "class Horse does not exist"),
        (AddProperty("Person", "x", "int<<"), "type 'int<<' cannot be read"),
        (AddProperty("Person", "pal", "Horse?", object_type="Horse"), "class 'Horse'"),
        (AddClass("Horse", "_id", "double", False, False), "primary key type 'double'"),
        (AddClass("Saddle", "_id", "int", False, True), "embedded class Saddle cannot have"),
    ],
)
def test_bad_schema_instructions_are_refused(instruction: Instruction, expected: str) -> None:
    assert expected in refused(instruction)


def test_identical_schema_instructions_are_fine() -> None:
    assert check(*SCHEMA[:6]).classes.keys() == schema().classes.keys()


def test_timestamps_too_far_ahead_are_refused() -> None:
    index = schema()
    ok = [cs(CreateObject(*P), ts=10_000 + 5_000)]
    check_changesets(index, ok, now_ms=10_000, max_clock_skew_ms=5_000)
    ahead = [cs(CreateObject(*P), ts=10_000 + 5_001, version=4)]
    with pytest.raises(ClockSkewError, match="changeset 4 is stamped 5 s ahead") as info:
        check_changesets(index, ahead, now_ms=10_000, max_clock_skew_ms=5_000)
    assert info.value.code == 241 and not info.value.try_again
    check_changesets(index, ahead)  # no clock given: no timestamp rule


def test_errors_carry_their_protocol_codes() -> None:
    with pytest.raises(SchemaViolationError) as info:
        check(CreateObject("Horse", 1))
    assert info.value.code == 240 and not info.value.try_again
    with pytest.raises(MergeError) as conflict:
        check(AddProperty("Person", "age", "string"))
    assert conflict.value.code == 226


def test_many_changesets_name_the_culprit() -> None:
    good = [cs(CreateObject("Person", n), version=n) for n in range(1, 4)]
    bad = cs(CreateObject(*P), Set(*P, ("age",), "old"), version=9)
    with pytest.raises(SchemaViolationError, match=r"changeset 9, instruction 1 \(Set Person\[1\]"):
        check_changesets(schema(), [*good, bad])


def _values() -> list[Any]:
    return [None, True, 1, 1.5, "s", b"b", datetime(2020, 1, 1, tzinfo=UTC)]


def test_mixed_takes_every_primitive_but_not_embedded() -> None:
    for value in _values():
        check(CreateObject(*P), Set(*P, ("any",), value))
    assert "does not hold an embedded object" in refused(Set(*P, ("any",), EMBEDDED))


def test_the_fast_path_agrees_with_the_full_check() -> None:
    """CreateObject and single-field Sets take a fast path; random ones of
    every class, property and value kind get the same verdict from both."""
    import random

    rng = random.Random(12)
    index = schema()
    values = [*_values(), ObjectId(b"y" * 12), uuid.UUID(int=5), Decimal("2"), EMBEDDED,
              Link("Dog", "rex"), Link("Dog", 1), Link("Person", 1), Link("Horse", 1), [1]]
    pks = [1, "1", None, ObjectId(b"z" * 12), True, 1.0]
    classes = ["Person", "Dog", "Cat", "Address", "Horse"]
    names = ["name", "nick", "age", "score", "born", "photo", "oid", "uid", "money", "flag",
             "any", "dog", "dogs", "tags", "labels", "extra", "home", "_id", "owners",
             "street", "nope", 0]
    for _ in range(3000):
        cls, pk = rng.choice(classes), rng.choice(pks)
        ins: Instruction = (
            CreateObject(cls, pk) if rng.random() < 0.2
            else Set(cls, pk, (rng.choice(names),), rng.choice(values))
        )
        try:
            check_object_instruction(index, ins)
            full = None
        except SchemaViolationError as exc:
            full = exc.message
        try:
            check_changesets(index, [cs(ins)])
            fast = None
        except SchemaViolationError as exc:
            fast = exc.message
        assert (full is None) == (fast is None), (ins, full, fast)
        if full is not None:
            assert fast is not None and full in fast
