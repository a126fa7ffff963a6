"""QueryPlan chains: SORT, DISTINCT and LIMIT in order, the SQL the store runs, the
Python twin of ORDER BY, and what a plan says about its dependencies."""

from __future__ import annotations

import functools
import sqlite3
from decimal import Decimal
from typing import Any

import pytest
from rql_data import SCHEMA
from rql_fixtures import RawRealm, Ref

from studio.core.query import QueryPlan, SortKey


def labels(db: RawRealm, plan: QueryPlan) -> list[str]:
    return [db.names[(plan.class_name, k)] for k in db.keys_of(plan)]


def asc(*paths: str) -> list[SortKey]:
    return [SortKey(p) for p in paths]


def desc(*paths: str) -> list[SortKey]:
    return [SortKey(p, False) for p in paths]


SORTS: list[tuple[list[SortKey], list[str]]] = [
    (asc("age"), ["Cid", "Eve", "Bob", "Ann", "Emile", "Dora"]),
    (desc("age"), ["Dora", "Ann", "Emile", "Bob", "Eve", "Cid"]),
    (asc("name"), ["Ann", "Bob", "Cid", "Dora", "Eve", "Emile"]),  # code points: e < É
    (desc("name"), ["Emile", "Eve", "Dora", "Cid", "Bob", "Ann"]),
    (asc("score"), ["Cid", "Emile", "Eve", "Bob", "Ann", "Dora"]),  # numeric, not text
    (desc("score"), ["Dora", "Ann", "Bob", "Eve", "Emile", "Cid"]),
    (asc("dog.name"), ["Cid", "Emile", "Bob", "Ann", "Dora", "Eve"]),
    (desc("dog.age"), ["Eve", "Ann", "Dora", "Bob", "Cid", "Emile"]),
    (asc("address.city"), ["Bob", "Cid", "Emile", "Eve", "Dora", "Ann"]),
    (asc("m"), ["Eve", "Emile", "Ann", "Bob", "Dora", "Cid"]),
    (desc("m"), ["Cid", "Ann", "Bob", "Dora", "Emile", "Eve"]),
    (asc("alive"), ["Cid", "Eve", "Bob", "Emile", "Ann", "Dora"]),
    (asc("born"), ["Cid", "Eve", "Dora", "Ann", "Bob", "Emile"]),
    (asc("weight"), ["Bob", "Eve", "Dora", "Ann", "Emile", "Cid"]),
    (asc("oid"), ["Cid", "Eve", "Ann", "Bob", "Dora", "Emile"]),
    (asc("photo"), ["Cid", "Eve", "Dora", "Ann", "Bob", "Emile"]),
    (asc("nick"), ["Bob", "Cid", "Eve", "Ann", "Dora", "Emile"]),
    ([SortKey("alive"), SortKey("age", False)], ["Eve", "Cid", "Emile", "Bob", "Dora", "Ann"]),
    ([SortKey("dog.name", False), SortKey("name")], ["Eve", "Ann", "Dora", "Bob", "Cid", "Emile"]),
]


@pytest.mark.parametrize("keys, expected", SORTS, ids=lambda v: repr(v)[:60])
def test_sorted(people: RawRealm, keys: list[SortKey], expected: list[str]) -> None:
    plan = people.plan("Person").sorted(keys)
    assert labels(people, plan) == expected
    assert plan.sort_keys == tuple(keys)
    assert_compare_rows_agree(people.conn, plan)


def test_mixed_sort_order(boxes: RawRealm) -> None:
    plan = boxes.plan("Box").sorted(asc("m"))
    assert labels(boxes, plan) == [
        "null", "coll", "f", "t", "neg", "f25", "i5", "f5", "d5", "dbig", "s5", "sA", "sa",
        "su", "data", "date", "oid", "uid", "link",
    ]
    assert_compare_rows_agree(boxes.conn, plan)
    reverse = boxes.plan("Box").sorted(desc("m"))
    assert_compare_rows_agree(boxes.conn, reverse)
    # Ties keep the object key ascending in both directions.
    assert labels(boxes, reverse)[-2:] == ["null", "coll"]


def test_later_sort_is_primary(people: RawRealm) -> None:
    plan = people.plan("Person").sorted(asc("age")).sorted(asc("alive"))
    assert labels(people, plan) == ["Cid", "Eve", "Bob", "Emile", "Ann", "Dora"]
    assert plan.sort_keys == (SortKey("alive"), SortKey("age"))
    # Sorting again by a key already used moves it to the front, once.
    again = plan.sorted(desc("age"))
    assert again.sort_keys == (SortKey("age", False), SortKey("alive"))
    assert labels(people, again) == ["Dora", "Emile", "Ann", "Bob", "Eve", "Cid"]
    assert people.plan("Person").sorted([]).sort_keys == ()


CHAINS: list[tuple[list[str], list[str]]] = [
    (["age > 20 SORT(age DESC)"], ["Dora", "Ann", "Emile", "Bob"]),
    (["SORT(age ASC)"], ["Cid", "Eve", "Bob", "Ann", "Emile", "Dora"]),
    (["TRUEPREDICATE SORT(alive ASC, name DESC)"], ["Eve", "Cid", "Emile", "Bob", "Dora", "Ann"]),
    (["TRUEPREDICATE sort(age descending)"], ["Dora", "Ann", "Emile", "Bob", "Eve", "Cid"]),
    (["TRUEPREDICATE SORT(age)"], ["Cid", "Eve", "Bob", "Ann", "Emile", "Dora"]),
    (["TRUEPREDICATE DISTINCT(age)"], ["Ann", "Bob", "Cid", "Dora", "Eve"]),
    (["TRUEPREDICATE SORT(age DESC) DISTINCT(age)"], ["Dora", "Ann", "Bob", "Eve", "Cid"]),
    (["TRUEPREDICATE DISTINCT(alive, dog.name)"], ["Ann", "Bob", "Cid", "Emile", "Eve"]),
    (["TRUEPREDICATE DISTINCT(m)"], ["Ann", "Cid", "Emile", "Eve"]),
    (["TRUEPREDICATE LIMIT(2)"], ["Ann", "Bob"]),
    (["TRUEPREDICATE SORT(age DESC) LIMIT(2)"], ["Dora", "Ann"]),
    (["TRUEPREDICATE LIMIT(0)"], []),
    (["TRUEPREDICATE LIMIT(100)"], ["Ann", "Bob", "Cid", "Dora", "Emile", "Eve"]),
    (["TRUEPREDICATE LIMIT(2) SORT(age DESC)"], ["Ann", "Bob"]),
    (["TRUEPREDICATE LIMIT(3)", "age > 26"], ["Ann"]),
    (["age > 26 LIMIT(1)"], ["Ann"]),
    (["TRUEPREDICATE DISTINCT(age)", "age >= 30"], ["Ann", "Dora"]),
    (["TRUEPREDICATE LIMIT(4) LIMIT(2)"], ["Ann", "Bob"]),
    (["TRUEPREDICATE LIMIT(2) LIMIT(4)"], ["Ann", "Bob"]),
    (["TRUEPREDICATE DISTINCT(alive) SORT(name DESC)"], ["Cid", "Bob", "Ann"]),
    (["alive != null SORT(age ASC) LIMIT(3)", "name != 'Bob' SORT(name DESC)"],
     ["Emile", "Ann"]),
    (["age > 10", "age < 35", "TRUEPREDICATE SORT(age DESC) LIMIT(2) SORT(name ASC)"],
     ["Ann", "Emile"]),
    (["TRUEPREDICATE SORT(dog.name ASC) DISTINCT(dog.name) LIMIT(3)"], ["Cid", "Bob", "Ann"]),
    (["TRUEPREDICATE DISTINCT(dog.name) DISTINCT(alive)"], ["Ann", "Bob", "Cid"]),
    (["friends.@count > 0 SORT(rank DESC) LIMIT(2)"], ["Eve", "Emile"]),
]


@pytest.mark.parametrize("queries, expected", CHAINS, ids=lambda v: " | ".join(v)[:70])
def test_chains(people: RawRealm, queries: list[str], expected: list[str]) -> None:
    plan = people.plan("Person")
    for query in queries:
        plan = plan.filtered(query)
    assert labels(people, plan) == expected
    barrier = any(word in " ".join(queries) for word in ("LIMIT", "DISTINCT"))
    assert plan.is_incremental is not barrier


def test_api_distinct_and_limited(people: RawRealm) -> None:
    plan = people.plan("Person").sorted(desc("age")).distinct(["age"]).limited(3)
    assert labels(people, plan) == ["Dora", "Ann", "Bob"]
    assert not plan.is_incremental
    assert labels(people, people.plan("Person").distinct([])) == labels(
        people, people.plan("Person")
    )
    assert labels(people, plan.filtered("age < 35")) == ["Ann", "Bob"]


def test_distinct_decimal_is_numeric() -> None:
    db = RawRealm(SCHEMA)
    for i, score in enumerate(["1", "1.0", "1.00", "2", "10"]):
        db.add("Person", f"p{i}", name=f"p{i}", rank=i, score=Decimal(score))
    plan = db.plan("Person").filtered("TRUEPREDICATE DISTINCT(score)")
    assert labels(db, plan) == ["p0", "p3", "p4"]
    assert labels(db, db.plan("Person").sorted(desc("score"))) == ["p4", "p3", "p0", "p1", "p2"]


def test_distinct_mixed_groups_numbers_by_value(boxes: RawRealm) -> None:
    plan = boxes.plan("Box").filtered("TRUEPREDICATE DISTINCT(m)")
    assert labels(boxes, plan) == [
        "i5", "f25", "dbig", "s5", "sa", "sA", "su", "t", "f", "date", "data", "oid", "uid",
        "link", "null", "neg",
    ]


def assert_compare_rows_agree(conn: sqlite3.Connection, plan: QueryPlan) -> None:
    """Sorting the rows of sort_values_sql with compare_sort_rows gives the SQL order."""
    sql, params = plan.select_keys_sql()
    keys = [row[0] for row in conn.execute(sql, params)]
    rows = [tuple(r) for r in conn.execute(*plan.sort_values_sql(keys))]
    assert len(rows) == len(keys)
    ordered = sorted(rows, key=functools.cmp_to_key(plan.compare_sort_rows))
    assert [r[0] for r in ordered] == keys
    for a in rows:
        assert plan.compare_sort_rows(a, a) == 0


def test_sort_values_rows(people: RawRealm) -> None:
    plan = people.plan("Person").sorted([SortKey("m"), SortKey("dog.name", False)])
    sql, params = plan.sort_values_sql([1, 3])
    rows = sorted(people.conn.execute(sql, params).fetchall())
    # Mixed sorts by (type rank, value); then the dog's name.
    assert rows == [(1, 2, 5, "Rex"), (3, 3, "5", None)]
    # A row whose object vanished sorts as nulls (first ascending).
    assert plan.compare_sort_rows((9,), rows[0]) < 0


def test_match_keys(people: RawRealm) -> None:
    plan = people.plan("Person").filtered("age > $0 AND dog.name == 'Rex'", [20])
    sql, params = plan.match_keys_sql([1, 2, 3, 4, 99])
    assert sorted(r[0] for r in people.conn.execute(sql, params)) == [1, 4]
    sql, params = plan.match_keys_sql([])
    assert people.conn.execute(sql, params).fetchall() == []


def test_many_keys_use_one_parameter() -> None:
    db = RawRealm(SCHEMA)
    for i in range(1200):
        db.add("Person", None, name=f"p{i}", rank=i, age=i % 50)
    plan = db.plan("Person").filtered("age == 7").sorted(desc("rank"))
    keys = list(range(1, 1201))
    sql, params = plan.match_keys_sql(keys)
    assert len(params) == 2
    matched = {r[0] for r in db.conn.execute(sql, params)}
    assert matched == {k for k in keys if (k - 1) % 50 == 7}
    sql, params = plan.sort_values_sql(keys)
    assert len(db.conn.execute(sql, params).fetchall()) == 1200


INCREMENTAL: list[tuple[str, bool, set[str]]] = [
    ("age > 3", True, set()),
    ("tags == 'x' AND scores['a'] > 1 AND nums.@count > 2", True, set()),
    ("dog.name == 'x'", True, {"Dog"}),
    ("address.city == 'x'", True, {"Address"}),
    ("dog.toys.price > 1", True, {"Dog", "Toy"}),
    ("SUBQUERY(dog.toys, $t, $t.price > 1).@count > 0", True, {"Dog", "Toy"}),
    ("clubs.@count > 0", True, {"Club"}),
    ("pets.first.name == 'x'", True, {"Dog"}),
    ("m == $0", True, set()),
    ("friends.age > 3", False, set()),
    ("@links.Person.friends.@count > 0", False, set()),
    ("@links.@count > 0", False, {"Club"}),
    ("dog.owners.@count > 1", False, {"Dog"}),
    ("TRUEPREDICATE LIMIT(3)", False, set()),
    ("TRUEPREDICATE DISTINCT(dog.name)", False, {"Dog"}),
    ("TRUEPREDICATE SORT(dog.name ASC)", True, {"Dog"}),
]


@pytest.mark.parametrize("query, incremental, dependencies", INCREMENTAL)
def test_dependencies(
    people: RawRealm, query: str, incremental: bool, dependencies: set[str]
) -> None:
    plan = people.plan("Person").filtered(query, [None])
    assert plan.is_incremental is incremental
    assert plan.dependencies == frozenset(dependencies)


def test_sorting_through_a_link_depends_on_its_class(people: RawRealm) -> None:
    plan = people.plan("Person").sorted(asc("dog.age"))
    assert plan.dependencies == {"Dog"}
    assert plan.is_incremental
    clubs = people.plan("Club").sorted(asc("leader.name"))
    assert clubs.dependencies == {"Person"}


def test_plans_are_immutable(people: RawRealm) -> None:
    base = people.plan("Person")
    filtered = base.filtered("age > 20")
    base.filtered("age < 20")
    assert labels(people, base) == ["Ann", "Bob", "Cid", "Dora", "Emile", "Eve"]
    assert labels(people, filtered) == ["Ann", "Bob", "Dora", "Emile"]
    assert "limit(2)" in filtered.limited(2).steps_description


def test_arguments_are_bound_per_filter(people: RawRealm) -> None:
    plan = (
        people.plan("Person")
        .filtered("age > $0", [20])
        .filtered("name != $0", ["Bob"])
        .filtered("TRUEPREDICATE LIMIT(2)")
        .filtered("alive == $0", [False])
    )
    assert labels(people, plan) == []
    assert labels(people, plan.filtered("TRUEPREDICATE")) == []


def test_sql_uses_indexes(people: RawRealm) -> None:
    def plan_of(query: str, *args: Any) -> str:
        sql, params = people.plan("Person").filtered(query, args).count_sql()
        rows = people.conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return " ".join(str(r[-1]) for r in rows)

    assert "USING COVERING INDEX" in plan_of("name == 'Ann'")
    assert "INDEX" in plan_of("name BEGINSWITH 'A'")
    assert "INDEX" in plan_of("name IN {'Ann', 'Bob'}")


def test_scan_and_probe_forms(people: RawRealm) -> None:
    plan = people.plan("Person")
    # Every object is visited: each collection table is read once.
    scan = plan.filtered("ANY tags == 'red' AND tags.@count > 1")
    assert "EXISTS" not in scan.count_sql()[0]
    assert labels(people, scan) == ["Ann"]
    # An index picks the candidates (in this filter or another of the stage, or a LIMIT
    # before): per-object lookups.
    for probe, expected in (
        (plan.filtered("name == 'Ann' AND ANY tags == 'red' AND tags.@count > 1"), ["Ann"]),
        (plan.filtered("ANY tags == 'red'").filtered("name IN {'Ann', 'Bob'}"), ["Ann"]),
        (plan.filtered("TRUEPREDICATE LIMIT(3)").filtered("ANY tags == 'red'"), ["Ann"]),
        (plan.filtered("dog == $0 AND ANY tags == 'red'", [Ref(1, "Dog")]), ["Ann", "Dora"]),
    ):
        assert "EXISTS" in probe.select_keys_sql()[0]
        assert labels(people, probe) == expected
    # The store's incremental check is always per object.
    assert "EXISTS" in scan.match_keys_sql([1])[0]
