"""One test per merge rule (docs/sync.md, section 2; summed up in docs/design.md).

Every test states a base, two concurrent changesets A and B, and which one is
later; ``merge`` checks that A-then-B' and B-then-A' give the same state for
both argument orders of ``transform`` and returns the merged objects.
Tests parametrized over ``later`` run with each side being the later one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from oracles import model

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
from studio.sync.errors import MergeError
from studio.sync.merge import order_key, rebase, transform, transform_against

C = "Item"
BOTH = pytest.mark.parametrize("later", ["a", "b"])


def obj(*fields: tuple[Any, ...], pk: int = 1) -> list[Instruction]:
    """CreateObject plus Sets, ListInserts (lists given as Python lists), ..."""
    out: list[Instruction] = [CreateObject(C, pk)]
    for name, value in fields:
        if isinstance(value, list):
            out += [ListInsert(C, pk, (name,), i, v) for i, v in enumerate(value)]
        elif isinstance(value, dict):
            out += [DictSet(C, pk, (name,), k, v) for k, v in value.items()]
        elif isinstance(value, set):
            out += [SetInsert(C, pk, (name,), v) for v in sorted(value)]
        else:
            out.append(SetValue(C, pk, (name,), value))
    return out


def merge(
    base: Sequence[Instruction],
    a: Sequence[Instruction],
    b: Sequence[Instruction],
    *,
    later: str = "b",
) -> dict[Any, Any]:
    a_time, b_time = (20, 10) if later == "a" else (10, 20)
    cs_a = Changeset(1, 1, 0, a_time, tuple(a))
    cs_b = Changeset(2, 1, 0, b_time, tuple(b))
    start = model.apply(model.State(), base)
    # Both sides must apply to the base (the tests are about concurrent changes).
    model.apply(start.copy(), cs_a)
    model.apply(start.copy(), cs_b)
    results = []
    for ours, theirs in ((cs_a, cs_b), (cs_b, cs_a)):
        ours2, theirs2 = transform(ours, theirs)
        one = model.apply(model.apply(start.copy(), ours), theirs2)
        two = model.apply(model.apply(start.copy(), theirs), ours2)
        results += [one, two]
    first = model.canonical(results[0])
    for other in results[1:]:
        assert model.canonical(other) == first, (
            f"diverged:\n{model.to_plain(results[0])}\n{model.to_plain(other)}"
        )
    return model.to_plain(results[0]).get(C, {})


def item(result: dict[Any, Any], pk: int = 1) -> dict[str, Any]:
    return result[pk]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- fields


@BOTH
def test_set_vs_set_same_field_later_wins(later: str) -> None:
    got = merge(
        obj(("name", "old")),
        [SetValue(C, 1, ("name",), "A")],
        [SetValue(C, 1, ("name",), "B")],
        later=later,
    )
    assert item(got)["name"] == later.upper()


@BOTH
def test_set_vs_set_different_fields_both_apply(later: str) -> None:
    got = merge(obj(), [SetValue(C, 1, ("x",), 1)], [SetValue(C, 1, ("y",), 2)], later=later)
    assert item(got) == {"x": 1, "y": 2}


@BOTH
def test_add_integer_commutes_with_add_integer(later: str) -> None:
    got = merge(
        obj(("n", 10)),
        [AddInteger(C, 1, ("n",), 5), AddInteger(C, 1, ("n",), 1)],
        [AddInteger(C, 1, ("n",), -3)],
        later=later,
    )
    assert item(got)["n"] == 13


def test_later_set_overrides_earlier_adds() -> None:
    got = merge(
        obj(("n", 10)), [AddInteger(C, 1, ("n",), 5)], [SetValue(C, 1, ("n",), 100)], later="b"
    )
    assert item(got)["n"] == 100


def test_later_add_applies_on_top_of_earlier_set() -> None:
    # The Realm rule: an add that happened after a concurrent set still counts.
    got = merge(
        obj(("n", 10)), [AddInteger(C, 1, ("n",), 5)], [SetValue(C, 1, ("n",), 100)], later="a"
    )
    assert item(got)["n"] == 105


def test_later_add_on_top_of_earlier_set_to_null_is_ignored() -> None:
    got = merge(
        obj(("n", 10)), [AddInteger(C, 1, ("n",), 5)], [SetValue(C, 1, ("n",), None)], later="a"
    )
    assert item(got)["n"] is None


def test_add_integer_wraps_at_64_bits() -> None:
    got = merge(
        obj(("n", 2**63 - 1)),
        [AddInteger(C, 1, ("n",), 1)],
        [SetValue(C, 1, ("n",), 2**63 - 2)],
        later="a",
    )
    assert item(got)["n"] == 2**63 - 1


# --------------------------------------------------------------------------- objects


@BOTH
def test_erase_object_wins_over_set_inside(later: str) -> None:
    got = merge(
        obj(("name", "x"), pk=1) + obj(pk=2),
        [EraseObject(C, 1)],
        [SetValue(C, 1, ("name",), "y"), SetValue(C, 2, ("name",), "z")],
        later=later,
    )
    assert 1 not in got
    assert got[2] == {"name": "z"}


@BOTH
def test_erase_object_wins_over_concurrent_create(later: str) -> None:
    # B deletes and recreates the object while A deletes it: A's erase wins
    # over B's create when A is later; an older erase cannot undo a newer
    # erase-and-recreate.
    got = merge(
        obj(("name", "x")),
        [EraseObject(C, 1)],
        [EraseObject(C, 1), CreateObject(C, 1), SetValue(C, 1, ("name",), "new")],
        later=later,
    )
    if later == "a":
        assert got == {}
    else:
        assert got == {1: {"name": "new"}}


@BOTH
def test_erase_object_wins_over_list_and_dict_edits_inside(later: str) -> None:
    got = merge(
        obj(("tags", ["t"]), ("props", {"k": 1})),
        [EraseObject(C, 1)],
        [
            ListInsert(C, 1, ("tags",), 0, "u"),
            DictSet(C, 1, ("props",), "k", 2),
            AddInteger(C, 1, ("props", "k"), 1),
        ],
        later=later,
    )
    assert got == {}


@BOTH
def test_create_same_object_twice_is_one_object(later: str) -> None:
    got = merge(
        [],
        [CreateObject(C, 7), SetValue(C, 7, ("a",), 1)],
        [CreateObject(C, 7), SetValue(C, 7, ("b",), 2)],
        later=later,
    )
    assert got == {7: {"a": 1, "b": 2}}


@BOTH
def test_erase_vs_erase_of_same_object_is_one_erase(later: str) -> None:
    got = merge(obj(pk=1) + obj(pk=2), [EraseObject(C, 1)], [EraseObject(C, 1)], later=later)
    assert got == {2: {}}


# --------------------------------------------------------------------------- lists


@BOTH
def test_concurrent_appends_come_out_in_time_order(later: str) -> None:
    got = merge(
        obj(("tags", ["x"])),
        [ListInsert(C, 1, ("tags",), 1, "A")],
        [ListInsert(C, 1, ("tags",), 1, "B")],
        later=later,
    )
    assert item(got)["tags"] == (["x", "B", "A"] if later == "a" else ["x", "A", "B"])


@BOTH
def test_concurrent_inserts_at_same_index_ordered_by_key(later: str) -> None:
    got = merge(
        obj(("tags", ["x", "y"])),
        [ListInsert(C, 1, ("tags",), 0, "A1"), ListInsert(C, 1, ("tags",), 1, "A2")],
        [ListInsert(C, 1, ("tags",), 0, "B")],
        later=later,
    )
    expected = ["B", "A1", "A2", "x", "y"] if later == "a" else ["A1", "A2", "B", "x", "y"]
    assert item(got)["tags"] == expected


@BOTH
def test_list_insert_shifts_other_indices(later: str) -> None:
    got = merge(
        obj(("tags", ["a", "b", "c"])),
        [ListInsert(C, 1, ("tags",), 0, "new")],
        [ListSet(C, 1, ("tags",), 2, "C!"), ListErase(C, 1, ("tags",), 1)],
        later=later,
    )
    assert item(got)["tags"] == ["new", "a", "C!"]


@BOTH
def test_list_erase_vs_erase_of_same_element_is_one_erase(later: str) -> None:
    got = merge(
        obj(("tags", ["a", "b", "c"])),
        [ListErase(C, 1, ("tags",), 1)],
        [ListErase(C, 1, ("tags",), 1)],
        later=later,
    )
    assert item(got)["tags"] == ["a", "c"]


@BOTH
def test_list_erase_wins_over_set_of_the_element(later: str) -> None:
    got = merge(
        obj(("tags", ["a", "b", "c"])),
        [ListErase(C, 1, ("tags",), 1)],
        [ListSet(C, 1, ("tags",), 1, "B!"), ListSet(C, 1, ("tags",), 2, "C!")],
        later=later,
    )
    assert item(got)["tags"] == ["a", "C!"]


@BOTH
def test_list_set_vs_set_of_same_element_later_wins(later: str) -> None:
    got = merge(
        obj(("tags", ["a"])),
        [ListSet(C, 1, ("tags",), 0, "A")],
        [ListSet(C, 1, ("tags",), 0, "B")],
        later=later,
    )
    assert item(got)["tags"] == [later.upper()]


@BOTH
def test_list_move_vs_move_of_same_element_later_wins(later: str) -> None:
    got = merge(
        obj(("tags", ["a", "b", "c", "d"])),
        [ListMove(C, 1, ("tags",), 0, 3)],
        [ListMove(C, 1, ("tags",), 0, 1)],
        later=later,
    )
    assert item(got)["tags"] == (["b", "c", "d", "a"] if later == "a" else ["b", "a", "c", "d"])


@BOTH
def test_list_move_vs_move_of_different_elements_both_apply(later: str) -> None:
    got = merge(
        obj(("tags", ["a", "b", "c", "d"])),
        [ListMove(C, 1, ("tags",), 0, 3)],
        [ListMove(C, 1, ("tags",), 3, 0)],
        later=later,
    )
    assert sorted(item(got)["tags"]) == ["a", "b", "c", "d"]
    assert item(got)["tags"][1:3] == ["b", "c"]


@BOTH
def test_list_erase_wins_over_move_of_the_element(later: str) -> None:
    got = merge(
        obj(("tags", ["a", "b", "c"])),
        [ListErase(C, 1, ("tags",), 0)],
        [ListMove(C, 1, ("tags",), 0, 2)],
        later=later,
    )
    assert item(got)["tags"] == ["b", "c"]


@BOTH
def test_list_move_keeps_concurrent_insert_next_to_its_neighbours(later: str) -> None:
    got = merge(
        obj(("tags", ["a", "b", "c"])),
        [ListInsert(C, 1, ("tags",), 2, "new")],
        [ListMove(C, 1, ("tags",), 0, 2)],
        later=later,
    )
    tags = item(got)["tags"]
    assert tags.index("new") == tags.index("b") + 1  # still right after "b"


@BOTH
def test_clear_wins_over_concurrent_element_operations(later: str) -> None:
    # Whatever the timestamps: an element added after the clear cannot be
    # told apart from the old ones without the list length (docs/sync.md).
    got = merge(
        obj(("tags", ["a", "b"])),
        [Clear(C, 1, ("tags",))],
        [
            ListInsert(C, 1, ("tags",), 1, "new"),
            ListSet(C, 1, ("tags",), 0, "A"),
            ListMove(C, 1, ("tags",), 0, 1),
            ListErase(C, 1, ("tags",), 2),
        ],
        later=later,
    )
    assert item(got).get("tags", []) == []


@BOTH
def test_clear_vs_clear_keeps_the_later_clears_inserts(later: str) -> None:
    got = merge(
        obj(("tags", ["a", "b"])),
        [Clear(C, 1, ("tags",)), ListInsert(C, 1, ("tags",), 0, "A")],
        [Clear(C, 1, ("tags",)), ListInsert(C, 1, ("tags",), 0, "B")],
        later=later,
    )
    assert item(got)["tags"] == [later.upper()]


@BOTH
def test_add_integer_on_list_element_follows_inserts(later: str) -> None:
    got = merge(
        obj(("nums", [1, 2])),
        [AddInteger(C, 1, ("nums", 1), 10)],
        [ListInsert(C, 1, ("nums",), 0, 0)],
        later=later,
    )
    assert item(got)["nums"] == [0, 1, 12]


# --------------------------------------------------------------------------- paths through lists


def items_base() -> list[Instruction]:
    base = obj()
    for i, name in enumerate("abc"):
        base += [
            ListInsert(C, 1, ("items",), i, EMBEDDED),
            SetValue(C, 1, ("items", i, "name"), name),
        ]
    return base


@BOTH
def test_insert_before_embedded_element_shifts_path(later: str) -> None:
    a = [SetValue(C, 1, ("items", 2, "name"), "C!")]
    b = [ListInsert(C, 1, ("items",), 0, EMBEDDED), SetValue(C, 1, ("items", 0, "name"), "new")]
    _, theirs = transform(Changeset(1, 1, 0, 1, tuple(b)), Changeset(2, 1, 0, 2, tuple(a)))
    assert theirs.instructions == (SetValue(C, 1, ("items", 3, "name"), "C!"),)
    got = merge(items_base(), a, b, later=later)
    assert [p["name"] for p in item(got)["items"]] == ["new", "a", "b", "C!"]


@BOTH
def test_erase_of_embedded_element_drops_instructions_under_it(later: str) -> None:
    got = merge(
        items_base(),
        [ListErase(C, 1, ("items",), 1)],
        [
            SetValue(C, 1, ("items", 1, "name"), "B!"),
            ListInsert(C, 1, ("items", 1, "tags"), 0, "t"),
            SetValue(C, 1, ("items", 2, "name"), "C!"),
        ],
        later=later,
    )
    assert item(got)["items"] == [{"name": "a"}, {"name": "C!"}]


@BOTH
def test_move_of_embedded_element_carries_edits_along(later: str) -> None:
    got = merge(
        items_base(),
        [ListMove(C, 1, ("items",), 0, 2)],
        [SetValue(C, 1, ("items", 0, "name"), "A!")],
        later=later,
    )
    assert [p["name"] for p in item(got)["items"]] == ["b", "c", "A!"]


@BOTH
def test_replacing_an_embedded_element_drops_edits_inside_the_old_one(later: str) -> None:
    got = merge(
        items_base(),
        [ListSet(C, 1, ("items",), 0, EMBEDDED)],
        [SetValue(C, 1, ("items", 0, "name"), "A!")],
        later=later,
    )
    assert item(got)["items"][0] == {}


@BOTH
def test_set_embedded_object_replaces_it_and_drops_concurrent_edits_inside(later: str) -> None:
    base = [*obj(("emb", EMBEDDED)), SetValue(C, 1, ("emb", "name"), "old")]
    got = merge(
        base,
        [SetValue(C, 1, ("emb",), EMBEDDED), SetValue(C, 1, ("emb", "count"), 1)],
        [SetValue(C, 1, ("emb", "name"), "edited"), ListInsert(C, 1, ("emb", "tags"), 0, "t")],
        later=later,
    )
    assert item(got)["emb"] == {"count": 1}


@BOTH
def test_set_embedded_vs_set_embedded_later_object_wins(later: str) -> None:
    got = merge(
        obj(),
        [SetValue(C, 1, ("emb",), EMBEDDED), SetValue(C, 1, ("emb", "a"), 1)],
        [SetValue(C, 1, ("emb",), EMBEDDED), SetValue(C, 1, ("emb", "b"), 2)],
        later=later,
    )
    assert item(got)["emb"] == ({"a": 1} if later == "a" else {"b": 2})


# --------------------------------------------------------------------------- sets


@BOTH
def test_set_insert_vs_erase_of_same_value_later_wins(later: str) -> None:
    got = merge(
        obj(("labels", {"x"})),
        [SetErase(C, 1, ("labels",), "x")],
        [SetInsert(C, 1, ("labels",), "x")],
        later=later,
    )
    assert item(got).get("labels", []) == ([] if later == "a" else ["x"])


@BOTH
def test_set_insert_of_same_value_twice_is_one_element(later: str) -> None:
    got = merge(
        obj(), [SetInsert(C, 1, ("labels",), "x")], [SetInsert(C, 1, ("labels",), "x")], later=later
    )
    assert item(got)["labels"] == ["x"]


@BOTH
def test_set_elements_compare_exactly(later: str) -> None:
    # 1, True and 1.0 are different elements of a mixed set.
    got = merge(
        obj(("labels", {1})),
        [SetErase(C, 1, ("labels",), True)],
        [SetInsert(C, 1, ("labels",), 1.0)],
        later=later,
    )
    assert sorted(map(repr, item(got)["labels"])) == ["1", "1.0"]


@BOTH
def test_clear_of_a_set_wins_over_concurrent_inserts(later: str) -> None:
    got = merge(
        obj(("labels", {"x"})),
        [Clear(C, 1, ("labels",))],
        [SetInsert(C, 1, ("labels",), "y")],
        later=later,
    )
    assert item(got).get("labels", []) == []


# --------------------------------------------------------------------------- dictionaries


@BOTH
def test_dict_set_vs_set_of_same_key_later_wins(later: str) -> None:
    got = merge(
        obj(("props", {"k": 0})),
        [DictSet(C, 1, ("props",), "k", 1)],
        [DictSet(C, 1, ("props",), "k", 2)],
        later=later,
    )
    assert item(got)["props"] == {"k": 1 if later == "a" else 2}


@BOTH
def test_dict_erase_vs_set_of_same_key_later_wins(later: str) -> None:
    got = merge(
        obj(("props", {"k": 0})),
        [DictErase(C, 1, ("props",), "k")],
        [DictSet(C, 1, ("props",), "k", 2)],
        later=later,
    )
    assert item(got).get("props", {}) == ({} if later == "a" else {"k": 2})


@BOTH
def test_dict_erase_wins_over_add_integer_on_the_entry(later: str) -> None:
    got = merge(
        obj(("props", {"k": 0, "j": 0})),
        [DictErase(C, 1, ("props",), "k")],
        [AddInteger(C, 1, ("props", "k"), 5), AddInteger(C, 1, ("props", "j"), 5)],
        later=later,
    )
    assert item(got)["props"] == {"j": 5}


@BOTH
def test_dict_erase_drops_edits_inside_the_embedded_entry(later: str) -> None:
    base = [*obj(("objs", {"k": EMBEDDED})), SetValue(C, 1, ("objs", "k", "name"), "x")]
    got = merge(
        base,
        [DictErase(C, 1, ("objs",), "k")],
        [SetValue(C, 1, ("objs", "k", "name"), "y")],
        later=later,
    )
    assert item(got).get("objs", {}) == {}


# --------------------------------------------------------------------------- links


def linked_base() -> list[Instruction]:
    return obj(pk=1) + obj(pk=2) + obj(pk=3)


@BOTH
def test_link_set_to_an_object_erased_concurrently_becomes_null(later: str) -> None:
    got = merge(
        linked_base(), [SetValue(C, 1, ("ref",), Link(C, 2))], [EraseObject(C, 2)], later=later
    )
    assert got == {1: {"ref": None}, 3: {}}


@BOTH
def test_link_to_an_object_erased_and_recreated_concurrently_is_null_everywhere(
    later: str,
) -> None:
    # The link pointed at the old object 2; the recreated one is another object.
    got = merge(
        linked_base(),
        [SetValue(C, 1, ("ref",), Link(C, 2))],
        [EraseObject(C, 2), CreateObject(C, 2), SetValue(C, 2, ("name",), "new")],
        later=later,
    )
    assert got == {1: {"ref": None}, 2: {"name": "new"}, 3: {}}


@BOTH
def test_link_list_insert_vs_erase_of_the_target_drops_the_entry_and_what_follows(
    later: str,
) -> None:
    got = merge(
        [*linked_base(), ListInsert(C, 1, ("refs",), 0, Link(C, 3))],
        [
            ListInsert(C, 1, ("refs",), 0, Link(C, 2)),
            ListMove(C, 1, ("refs",), 0, 1),
            ListInsert(C, 1, ("refs",), 0, Link(C, 3)),
        ],
        [EraseObject(C, 2)],
        later=later,
    )
    assert got[1] == {"refs": [Link(C, 3), Link(C, 3)]}
    assert 2 not in got


@BOTH
def test_link_list_set_vs_erase_of_the_target_removes_the_element(later: str) -> None:
    base = [*linked_base(), *(ListInsert(C, 1, ("refs",), i, Link(C, 3)) for i in range(3))]
    got = merge(
        base,
        [ListSet(C, 1, ("refs",), 1, Link(C, 2))],
        [EraseObject(C, 2), ListInsert(C, 1, ("refs",), 3, Link(C, 1))],
        later=later,
    )
    assert got[1] == {"refs": [Link(C, 3), Link(C, 3), Link(C, 1)]}


@BOTH
def test_link_set_and_dict_entries_vs_erase_of_the_target(later: str) -> None:
    got = merge(
        linked_base(),
        [SetInsert(C, 1, ("friends",), Link(C, 2)), DictSet(C, 1, ("byname",), "b", Link(C, 2))],
        [EraseObject(C, 2)],
        later=later,
    )
    assert got[1].get("friends", []) == []
    assert got[1]["byname"] == {"b": None}


@BOTH
def test_erasing_an_object_removes_links_to_it(later: str) -> None:
    # The eraser records the removal of list entries explicitly (positions
    # matter); to-one links, sets and dictionaries are left to the cascade.
    base = [
        *linked_base(),
        SetValue(C, 3, ("ref",), Link(C, 2)),
        ListInsert(C, 3, ("refs",), 0, Link(C, 2)),
        ListInsert(C, 3, ("refs",), 1, Link(C, 1)),
        SetInsert(C, 3, ("friends",), Link(C, 2)),
        DictSet(C, 3, ("byname",), "b", Link(C, 2)),
    ]
    got = merge(
        base,
        [ListErase(C, 3, ("refs",), 0), EraseObject(C, 2)],
        [ListInsert(C, 3, ("refs",), 1, Link(C, 3))],
        later=later,
    )
    assert got[3].pop("friends", []) == []
    assert got[3] == {"ref": None, "refs": [Link(C, 3), Link(C, 1)], "byname": {"b": None}}


# --------------------------------------------------------------------------- schema


@BOTH
def test_identical_add_class_and_add_property_merge(later: str) -> None:
    schema = [AddClass(C, "_id", "int", False, False), AddProperty(C, "name", "string?")]
    a = Changeset(1, 1, 0, 1, tuple(schema))
    b = Changeset(2, 1, 0, 2, tuple(schema))
    a2, b2 = transform(a, b) if later == "b" else transform(b, a)
    assert a2.instructions == () and b2.instructions == ()


@pytest.mark.parametrize(
    ("ours", "theirs", "fragment"),
    [
        (
            AddClass(C, "_id", "int", False, False),
            AddClass(C, "_id", "string", False, False),
            "primary_key_type is '",
        ),
        (
            AddClass(C, None, None, False, True),
            AddClass(C, "_id", "int", False, False),
            "class 'Item'",
        ),
        (AddProperty(C, "age", "int"), AddProperty(C, "age", "int?"), "property Item.age"),
        (
            AddProperty(C, "dog", "Dog?", object_type="Dog"),
            AddProperty(C, "dog", "Dog?", object_type="Cat"),
            "object_type",
        ),
    ],
)
def test_conflicting_schema_changes_raise_merge_error(
    ours: Instruction, theirs: Instruction, fragment: str
) -> None:
    a = Changeset(1, 1, 0, 1, (ours,))
    b = Changeset(2, 1, 0, 2, (theirs,))
    for first, second in ((a, b), (b, a)):
        with pytest.raises(MergeError) as info:
            transform(first, second)
        assert fragment in str(info.value)
        assert "schema mismatch" in str(info.value)


def test_different_schema_items_are_independent() -> None:
    a = Changeset(1, 1, 0, 1, (AddClass("A", None, None, False, False),))
    b = Changeset(
        2, 1, 0, 2, (AddClass("B", None, None, False, False), AddProperty("A", "x", "int"))
    )
    assert transform(a, b) == (a, b)


# --------------------------------------------------------------------------- mechanics


def test_unrelated_changesets_are_returned_unchanged() -> None:
    a = Changeset(1, 1, 0, 1, tuple(obj(("x", 1), pk=1)))
    b = Changeset(2, 1, 0, 2, tuple(obj(("x", 2), pk=2)))
    a2, b2 = transform(a, b)
    assert a2 is a and b2 is b


def test_same_order_key_cannot_be_merged() -> None:
    a = Changeset(1, 1, 0, 5, ())
    with pytest.raises(MergeError, match="same timestamp"):
        transform(a, Changeset(1, 2, 0, 5, ()))


def test_order_key_is_timestamp_then_origin() -> None:
    assert order_key(Changeset(9, 1, 0, 5, ())) < order_key(Changeset(1, 1, 0, 6, ()))
    assert order_key(Changeset(1, 1, 0, 5, ())) < order_key(Changeset(2, 1, 0, 5, ()))


def test_integer_and_string_primary_keys_are_different_objects() -> None:
    a = Changeset(1, 1, 0, 1, (SetValue(C, 1, ("x",), "int"),))
    b = Changeset(2, 1, 0, 2, (EraseObject(C, "1"),))
    assert transform(a, b) == (a, b)


def test_transform_against_and_rebase_follow_the_grid() -> None:
    start = model.apply(model.State(), obj(("tags", ["x"])))
    ours = [Changeset(1, n, 0, 10 + n, (ListInsert(C, 1, ("tags",), 0, f"o{n}"),)) for n in (1, 2)]
    theirs = [
        Changeset(
            2,
            n,
            0,
            20 + n,
            (ListErase(C, 1, ("tags",), 0), ListInsert(C, 1, ("tags",), 0, f"t{n}")),
        )
        for n in (1,)
    ]
    ours2, theirs2 = rebase(ours, theirs)
    one = start.copy()
    for c in [*ours, *theirs2]:
        model.apply(one, c)
    two = start.copy()
    for c in [*theirs, *ours2]:
        model.apply(two, c)
    assert model.canonical(one) == model.canonical(two)
    single, rest = transform_against(ours[0], theirs)
    assert single == ours2[0] and len(rest) == 1
