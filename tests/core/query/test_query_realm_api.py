"""The query language through the store's public API: Realm.open, write, create,
objects().filtered().sorted(), and live results with listeners."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from studio.core import ObjectId, QueryError, Realm

SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Person",
        "primaryKey": "_id",
        "properties": {
            "_id": "objectId",
            "name": {"type": "string", "indexed": True},
            "age": "int?",
            "score": "decimal128?",
            "born": "date?",
            "extra": "mixed",
            "dog": "Dog?",
            "friends": "Person[]",
            "tags": "string<>",
            "scores": "int{}",
            "address": "Address?",
        },
    },
    {
        "name": "Dog",
        "properties": {
            "name": "string",
            "owners": {"type": "linkingObjects", "objectType": "Person", "property": "dog"},
        },
    },
    {"name": "Address", "embedded": True, "properties": {"city": "string?"}},
]


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[Realm]:
    with Realm.open(tmp_path / "people.realm", schema=SCHEMA) as realm:
        with realm.write():
            rex = realm.create("Dog", {"name": "Rex"})
            fido = realm.create("Dog", {"name": "Fido"})
            ann = realm.create("Person", {
                "_id": ObjectId(), "name": "Ann", "age": 41, "score": Decimal("1.50"),
                "born": datetime(1983, 5, 1, tzinfo=UTC), "extra": 5, "dog": rex,
                "tags": {"red"}, "scores": {"math": 90}, "address": {"city": "Oslo"},
            })
            bob = realm.create("Person", {
                "_id": ObjectId(), "name": "bob", "age": 17, "score": Decimal("10"),
                "extra": "five", "dog": fido, "tags": {"blue", "red"}, "scores": {},
            })
            realm.create("Person", {"_id": ObjectId(), "name": "Ärne", "age": None,
                                    "extra": 5.0, "friends": [ann, bob]})
            ann["friends"].append(bob)
        yield realm


def names(results: Any) -> list[str]:
    return [p["name"] for p in results]


def test_filter_sort_through_the_store(realm: Realm) -> None:
    people = realm.objects("Person")
    assert names(people.filtered("age > $0 AND name BEGINSWITH[c] 'a'", 30)) == ["Ann"]
    assert names(people.filtered("name ==[c] 'ärne'")) == ["Ärne"]
    assert names(people.filtered("age == null")) == ["Ärne"]
    assert names(people.filtered("dog.name == 'Rex'")) == ["Ann"]
    assert names(people.filtered("dog == $0", realm.objects("Dog")[1])) == ["bob"]
    assert names(people.filtered("$0 IN friends", people.filtered("name == 'bob'")[0])) == [
        "Ann", "Ärne"]
    assert names(people.filtered("friends.@count > 1")) == ["Ärne"]
    young = people.filtered("age < 20")
    assert names(people.filtered("ANY friends IN $0", young)) == ["Ann", "Ärne"]
    assert names(realm.objects("Dog").filtered("NONE owners IN $0", young)) == ["Rex"]
    assert names(people.filtered("ALL tags == 'red'")) == ["Ann", "Ärne"]
    assert names(people.filtered("scores['math'] >= 90")) == ["Ann"]
    assert names(people.filtered("address.city == 'Oslo'")) == ["Ann"]
    assert names(people.filtered("score > 2")) == ["bob"]
    assert names(people.filtered("extra == 5")) == ["Ann", "Ärne"]
    assert names(people.filtered("born < 1990-01-01@00:00:00")) == ["Ann"]
    assert names(realm.objects("Dog").filtered("owners.@count == 1 SORT(name ASC)")) == [
        "Fido", "Rex"]
    assert names(people.filtered("TRUEPREDICATE SORT(name ASC)")) == ["Ann", "bob", "Ärne"]
    assert names(people.sorted("age")) == ["Ärne", "bob", "Ann"]
    assert names(people.sorted("age", reverse=True)) == ["Ann", "bob", "Ärne"]
    assert names(people.sorted("dog.name")) == ["Ärne", "bob", "Ann"]
    assert len(people.filtered("age > 10 LIMIT(1)")) == 1
    assert len(people.filtered("TRUEPREDICATE DISTINCT(extra)")) == 2


def test_query_errors_through_the_store(realm: Realm) -> None:
    with pytest.raises(QueryError) as info:
        realm.objects("Person").filtered("age == 'x'")
    assert info.value.position == 7
    with pytest.raises(QueryError):
        realm.objects("Person").sorted("friends.name")


def test_live_sorted_results_follow_changes(realm: Realm) -> None:
    results = realm.objects("Person").filtered("age != null").sorted("age")
    seen: list[Any] = []
    token = results.add_listener(lambda r, changes: seen.append(changes))
    assert names(results) == ["bob", "Ann"]
    with realm.write():
        realm.create("Person", {"_id": ObjectId(), "name": "Cy", "age": 30})
    assert names(results) == ["bob", "Cy", "Ann"]
    assert seen[-1].insertions == (1,)
    with realm.write():
        results[0]["age"] = 99
    assert names(results) == ["Cy", "Ann", "bob"]
    with realm.write():
        realm.objects("Person").filtered("name == 'Cy'")[0]["age"] = None
    assert names(results) == ["Ann", "bob"]
    token.remove()


def test_live_results_over_a_link_follow_the_linked_class(realm: Realm) -> None:
    results = realm.objects("Person").filtered("dog.name BEGINSWITH 'R'")
    seen: list[Any] = []
    token = results.add_listener(lambda r, changes: seen.append(changes))
    assert names(results) == ["Ann"]
    with realm.write():
        realm.objects("Dog").filtered("name == 'Fido'")[0]["name"] = "Rover"
    assert names(results) == ["Ann", "bob"]
    assert seen and seen[-1].insertions == (1,)
    token.remove()


def test_live_limited_results(realm: Realm) -> None:
    results = realm.objects("Person").filtered("TRUEPREDICATE SORT(age DESC) LIMIT(2)")
    token = results.add_listener(lambda r, changes: None)
    assert names(results) == ["Ann", "bob"]
    with realm.write():
        realm.create("Person", {"_id": ObjectId(), "name": "Old", "age": 90})
    assert names(results) == ["Old", "Ann"]
    token.remove()


@pytest.mark.parametrize("keypath", ["extra", "score", "name", "born"])
def test_incremental_order_matches_a_fresh_query(realm: Realm, keypath: str) -> None:
    # Live results place changed objects with compare_sort_rows; a fresh query uses SQL.
    live = realm.objects("Person").sorted(keypath)
    token = live.add_listener(lambda r, changes: None)
    values: list[dict[str, Any]] = [
        {"name": "Zoë", "extra": Decimal("4.5"), "score": Decimal("1.5"),
         "born": datetime(2000, 1, 1, tzinfo=UTC)},
        {"name": "Émile", "extra": True, "score": Decimal("-0.5")},
        {"name": "zed", "extra": "abc", "score": Decimal("1e1")},
        {"name": "Al", "extra": None, "born": datetime(1970, 1, 1, tzinfo=UTC)},
    ]
    for value in values:
        with realm.write():
            realm.create("Person", {"_id": ObjectId(), **value})
        assert names(live) == names(realm.objects("Person").sorted(keypath))
    with realm.write():
        realm.objects("Person").filtered("name == 'Ann'")[0][keypath] = (
            "Ånn" if keypath == "name" else None
        )
    assert names(live) == names(realm.objects("Person").sorted(keypath))
    token.remove()


def test_select_keys_sql_keeps_the_shape_the_store_relies_on(realm: Realm) -> None:
    # Results streams whole rows by rewriting this prefix (see Results.__iter__).
    plan = realm.objects("Person").filtered("dog.name == 'Rex' SORT(address.city DESC)").plan
    sql, _ = plan.select_keys_sql()
    assert sql.startswith('SELECT t0."@key" FROM "class_Person" AS t0 ')
    assert names(realm.objects("Person").filtered("dog.name == 'Rex' SORT(name DESC)")) == [
        "Ann"]
