"""Results: len, indexing, slicing, iteration, sorted and simple filtered queries; live."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from studio.core import ObjectId, QueryError, Realm, RealmObject, Results

SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Person",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "name": "string",
            "age": "int?",
            "score": "double?",
            "born": "date?",
            "price": "decimal128?",
            "oid": "objectId?",
            "uid": "uuid?",
            "active": "bool?",
        },
    },
    {"name": "Empty", "properties": {"x": "int"}},
]

PEOPLE = [
    # id, name, age, score
    (1, "ann", 30, 1.5),
    (2, "bob", 25, 2.5),
    (3, "cy", 35, None),
    (4, "dee", None, 0.5),
    (5, "ann", 25, 3.5),
    (6, "eve", 40, 2.0),
]


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[Realm]:
    r = Realm.open(tmp_path / "results.realm", schema=SCHEMA)
    with r.write():
        for pid, name, age, score in PEOPLE:
            r.create("Person", {
                "id": pid, "name": name, "age": age, "score": score,
                "born": datetime(1990 + pid, 1, 1, tzinfo=UTC),
                "price": Decimal(pid * 5) / 2,  # 2.5, 5, 7.5, 10, 12.5, 15
                "oid": ObjectId(bytes([pid]) * 12), "uid": uuid.UUID(int=pid),
                "active": pid % 2 == 0,
            })
    yield r
    r.close()


def ids(results: Results | list[RealmObject]) -> list[int]:
    return [o.id for o in results]


def test_len_index_and_iteration(realm: Realm) -> None:
    people = realm.objects("Person")
    assert len(people) == 6 and bool(people)
    assert ids(people) == [1, 2, 3, 4, 5, 6]  # insertion order
    assert people[0].id == 1 and people[5].id == 6
    assert people[-1].id == 6 and people[-6].id == 1
    with pytest.raises(IndexError):
        people[6]
    with pytest.raises(IndexError):
        people[-7]
    assert all(isinstance(o, RealmObject) for o in people)
    assert people[2] in people and people.index(people[3]) == 3
    assert not realm.objects("Empty") and len(realm.objects("Empty")) == 0
    assert list(realm.objects("Empty")) == []


@pytest.mark.parametrize(
    "sl", [slice(1, 3), slice(None, None, -1), slice(-2, None), slice(None, None, 2),
           slice(10, 20), slice(-100, 2), slice(4, 1, -1)],
)
def test_slicing_matches_list_slicing(realm: Realm, sl: slice) -> None:
    people = realm.objects("Person")
    assert ids(people[sl]) == [1, 2, 3, 4, 5, 6][sl]


def test_results_are_live(realm: Realm) -> None:
    people = realm.objects("Person")
    adults = people.filtered("age >= 30")
    assert len(people) == 6 and ids(adults) == [1, 3, 6]
    with realm.write():
        realm.create("Person", {"id": 7, "name": "fay", "age": 50})
        assert len(people) == 7  # a write transaction sees its own changes
        realm.object_for_primary_key("Person", 1).age = 10
        assert ids(adults) == [3, 6, 7]
    assert ids(adults) == [3, 6, 7]
    with realm.write():
        realm.delete(people[0])
    assert len(people) == 6 and people[0].id == 2


def test_sorted_ascending_descending_and_nulls(realm: Realm) -> None:
    people = realm.objects("Person")
    # nulls first in ascending order, as Realm; ties keep insertion order
    assert ids(people.sorted("age")) == [4, 2, 5, 1, 3, 6]
    assert ids(people.sorted("age", reverse=True)) == [6, 3, 1, 2, 5, 4]
    assert ids(people.sorted("name")) == [1, 5, 2, 3, 4, 6]
    assert ids(people.sorted("score")) == [3, 4, 1, 6, 2, 5]
    assert ids(people.sorted("born", reverse=True)) == [6, 5, 4, 3, 2, 1]
    # sorting does not change the original results
    assert ids(people) == [1, 2, 3, 4, 5, 6]


def test_sorted_decimals_numerically(realm: Realm) -> None:
    # as text, "10" < "2.5"; the DECIMAL collation sorts numbers
    assert ids(realm.objects("Person").sorted("price")) == [1, 2, 3, 4, 5, 6]
    assert ids(realm.objects("Person").sorted("price", reverse=True)) == [6, 5, 4, 3, 2, 1]


def test_sorted_by_several_keys(realm: Realm) -> None:
    people = realm.objects("Person")
    assert ids(people.sorted([("name", True), ("age", True)])) == [5, 1, 2, 3, 4, 6]
    assert ids(people.sorted([("name", True), ("age", False)])) == [1, 5, 2, 3, 4, 6]
    # a later sort is the primary order; the earlier one breaks its ties
    assert ids(people.sorted("id", reverse=True).sorted("name")) == [5, 1, 2, 3, 4, 6]


@pytest.mark.parametrize(
    ("query", "args", "expected"),
    [
        ("age > $0", (29,), [1, 3, 6]),
        ("age > 29", (), [1, 3, 6]),
        ("age >= $0", (30,), [1, 3, 6]),
        ("age < $0", (30,), [2, 5]),
        ("age <= 25", (), [2, 5]),
        ("age == 25", (), [2, 5]),
        ("age != 25", (), [1, 3, 4, 6]),
        ("age == null", (), [4]),
        ("age == $0", (None,), [4]),
        ("age != null", (), [1, 2, 3, 5, 6]),
        ("name == 'ann'", (), [1, 5]),
        ('name == "bob"', (), [2]),
        ("name == $0", ("cy",), [3]),
        ("name != 'ann'", (), [2, 3, 4, 6]),
        ("name == 'nobody'", (), []),
        ("name == 'ann' AND age > 26", (), [1]),
        ("age > $0 AND age < $1", (24, 31), [1, 2, 5]),
        ("name == $0 AND age == $1 AND score == $2", ("ann", 25, 3.5), [5]),
        ("score > 1.9", (), [2, 5, 6]),
        ("score >= $0", (2,), [2, 5, 6]),
        ("active == true", (), [2, 4, 6]),
        ("active == $0", (False,), [1, 3, 5]),
        ("born >= $0", (datetime(1994, 1, 1, tzinfo=UTC),), [4, 5, 6]),
        ("price > $0", (Decimal("9.5"),), [4, 5, 6]),
        ("price == $0", (Decimal("10.00"),), [4]),
        ("oid == $0", (ObjectId(bytes([3]) * 12),), [3]),
        ("uid == $0", (uuid.UUID(int=2),), [2]),
    ],
)
def test_filtered_simple_comparisons(
    realm: Realm, query: str, args: tuple[Any, ...], expected: list[int]
) -> None:
    assert ids(realm.objects("Person").filtered(query, *args)) == expected
    assert len(realm.objects("Person").filtered(query, *args)) == len(expected)


def test_filtered_and_sorted_chain(realm: Realm) -> None:
    people = realm.objects("Person")
    chain = people.filtered("age > $0", 20).filtered("name != 'cy'").sorted("age", reverse=True)
    assert ids(chain) == [6, 1, 2, 5]
    assert ids(people.sorted("age").filtered("age > 26")) == [1, 3, 6]
    assert chain[0].name == "eve" and chain[-1].id == 5 and ids(chain[1:3]) == [1, 2]


@pytest.mark.parametrize(
    "query", ["colour == 1", "age >", "age > $3", "== 5", "age > 1 OR", "age ~ 2"],
)
def test_bad_queries_are_query_errors(realm: Realm, query: str) -> None:
    with pytest.raises(QueryError):
        list(realm.objects("Person").filtered(query, 1))


def test_sorting_on_unknown_property_is_an_error(realm: Realm) -> None:
    with pytest.raises(QueryError, match="colour"):
        list(realm.objects("Person").sorted("colour"))


def test_page_is_a_window_of_the_results_with_or_without_loaded_keys(realm: Realm) -> None:
    results = realm.objects("Person").sorted("id", reverse=True)
    every = ids(results.snapshot())
    assert len(results.keys()) == len(every) == len(PEOPLE)  # keys() loads the keys
    fresh = realm.objects("Person").sorted("id", reverse=True)
    for offset, limit in [(0, 2), (1, 3), (len(every) - 1, 5), (len(every), 2), (2, 0)]:
        window = every[offset : offset + limit]
        assert ids(fresh.page(offset, limit)) == window  # LIMIT/OFFSET in SQL
        assert ids(results.page(offset, limit)) == window  # a slice of the loaded keys


def test_snapshot_does_not_change(realm: Realm) -> None:
    people = realm.objects("Person")
    snap = people.snapshot()
    with realm.write():
        realm.create("Person", {"id": 9, "name": "new"})
    assert len(snap) == 6 and len(people) == 7


def test_design_example_query(realm: Realm) -> None:
    query = "age > $0 AND name BEGINSWITH[c] 'a'"
    results = realm.objects("Person").filtered(query, 20).sorted("age", reverse=True)
    assert ids(results) == [1, 5]
    with realm.write():
        realm.create("Person", {"id": 8, "name": "Alma", "age": 99})
    assert ids(results) == [8, 1, 5]
