"""Listeners on realms, Results and objects, with Realm's change shape.

``deletions`` and ``modifications`` index the old results, ``insertions`` and
``new_modifications`` the new; listeners run after the commit, never inside a
transaction; they are not called when they are registered (our documented choice).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core import (
    CollectionChanges,
    ObjectChange,
    Realm,
    RealmChanges,
    RealmObject,
    Results,
)
from studio.core.realm import store_of

SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Item",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "name": "string",
            "age": "int",
            "group": "int?",
            "tags": "string[]",
            "spot": "Spot?",
        },
    },
    {"name": "Spot", "embedded": True, "properties": {"x": "int"}},
    {"name": "Other", "properties": {"v": "int"}},
]


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[Realm]:
    r = Realm.open(tmp_path / "n.realm", schema=SCHEMA)
    yield r
    r.close()


def _items(realm: Realm, *ages: int) -> list[RealmObject]:
    start = len(realm.objects("Item"))
    with realm.write():
        return [
            realm.create("Item", {"id": start + i, "name": f"n{start + i}", "age": age})
            for i, age in enumerate(ages)
        ]


class Recorder:
    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.calls: list[tuple[Any, ...]] = []
        self.in_transaction: list[bool] = []

    def __call__(self, *args: Any) -> None:
        self.in_transaction.append(self.realm.is_in_transaction)
        self.calls.append(args)

    @property
    def changes(self) -> list[Any]:
        return [c[1] for c in self.calls]


# -- realm listeners --------------------------------------------------------------------


def test_realm_listener_after_each_commit(realm: Realm) -> None:
    rec = Recorder(realm)
    token = realm.add_listener(rec)
    assert rec.calls == []  # not called on registration
    _items(realm, 1)
    assert len(rec.calls) == 1
    called_realm, changes = rec.calls[0]
    assert called_realm is realm
    assert isinstance(changes, RealmChanges)
    assert changes.changed_classes == ("Item",) and changes.local
    with realm.write():
        realm.create("Other", {"v": 1})
        realm.objects("Item")[0].age = 3
    assert rec.changes[1].changed_classes == ("Item", "Other")
    token.remove()
    _items(realm, 2)
    assert len(rec.calls) == 2


def test_one_argument_realm_listener(realm: Realm) -> None:
    calls: list[Realm] = []
    realm.add_listener(lambda r: calls.append(r))
    _items(realm, 1)
    assert calls == [realm]


def test_listeners_never_run_inside_a_transaction(realm: Realm) -> None:
    (item,) = _items(realm, 1)
    recs = [Recorder(realm) for _ in range(4)]
    realm.add_listener(recs[0])
    realm.objects("Item").add_listener(recs[1])
    realm.objects("Item").sorted("age").filtered("age > 0").add_listener(recs[2])
    item.add_listener(recs[3])
    with realm.write():
        item.age = 5
        realm.create("Item", {"id": 100, "name": "x", "age": 9})
        assert all(r.calls == [] for r in recs)  # nothing is delivered before the commit
    assert [len(r.calls) for r in recs] == [1, 1, 1, 1]
    assert not any(flag for r in recs for flag in r.in_transaction)


def test_listener_sees_committed_data_from_another_connection(realm: Realm) -> None:
    seen: list[int] = []

    def check(_realm: Realm, _changes: Any) -> None:
        with Realm.open(realm.path) as other:
            seen.append(len(other.objects("Item")))

    realm.add_listener(check)
    _items(realm, 1, 2)
    assert seen == [2]


def test_failing_listener_does_not_stop_others_or_undo_the_commit(realm: Realm) -> None:
    def boom(*_: Any) -> None:
        raise RuntimeError("listener bug")

    rec = Recorder(realm)
    realm.add_listener(boom)
    realm.objects("Item").add_listener(boom)
    realm.add_listener(rec)
    realm.objects("Item").add_listener(rec)
    _items(realm, 1)
    assert len(rec.calls) == 2 and len(realm.objects("Item")) == 1


def test_listener_may_write(realm: Realm) -> None:
    def on_change(r: Realm, changes: RealmChanges) -> None:
        if "Item" in changes.changed_classes:
            with r.write():
                r.create("Other", {"v": len(r.objects("Item"))})

    realm.add_listener(on_change)
    _items(realm, 1)
    assert [o.v for o in realm.objects("Other")] == [1]


# -- Results listeners ------------------------------------------------------------------


def test_results_change_shape(realm: Realm) -> None:
    items = _items(realm, 10, 20, 30, 40)
    results = realm.objects("Item")
    rec = Recorder(realm)
    token = results.add_listener(rec)
    assert rec.calls == []
    with realm.write():
        realm.delete(items[1])  # old index 1
        items[3].name = "changed"  # old index 3, new index 2
        realm.create("Item", {"id": 50, "name": "e", "age": 50})  # new index 3
    assert len(rec.calls) == 1
    got_results, changes = rec.calls[0]
    assert got_results is results and isinstance(changes, CollectionChanges)
    assert changes == CollectionChanges(
        deletions=(1,), insertions=(3,), modifications=(3,), new_modifications=(2,)
    )
    token.remove()
    token.remove()  # removing twice is harmless
    _items(realm, 60)
    assert len(rec.calls) == 1


def test_sorted_results_report_moves(realm: Realm) -> None:
    items = _items(realm, 10, 20, 30, 40)
    by_age = realm.objects("Item").sorted("age")
    rec = Recorder(realm)
    by_age.add_listener(rec)
    with realm.write():
        items[0].age = 35  # moves from 0 to 2
        items[2].name = "same place"  # old 2, new 1
        realm.create("Item", {"id": 9, "name": "first", "age": 1})  # new 0
    (changes,) = rec.changes
    assert [o.age for o in by_age] == [1, 20, 30, 35, 40]
    assert changes.deletions == (0,)
    assert changes.insertions == (0, 3)
    assert changes.modifications == (2,) and changes.new_modifications == (2,)


def test_filtered_results_report_entering_and_leaving(realm: Realm) -> None:
    items = _items(realm, 10, 20, 30, 40)
    old = realm.objects("Item").filtered("age > 25")
    rec = Recorder(realm)
    old.add_listener(rec)
    with realm.write():
        items[0].age = 50  # enters at the end (insertion order)
        items[2].age = 5  # leaves: old index 0
    (changes,) = rec.changes
    assert [o.id for o in old] == [0, 3]
    assert changes.deletions == (0,) and changes.insertions == (0,)
    assert changes.modifications == () and changes.new_modifications == ()
    with realm.write():
        items[1].name = "not in the results"
        realm.create("Other", {"v": 1})
    assert len(rec.calls) == 1  # nothing changed for these results


def test_results_listener_on_sorted_filtered_chain(realm: Realm) -> None:
    _items(realm, 5, 15, 25, 35)
    results = realm.objects("Item").filtered("age > $0", 10).sorted("age", reverse=True)
    rec = Recorder(realm)
    results.add_listener(rec)
    with realm.write():
        realm.create("Item", {"id": 10, "name": "x", "age": 30})
    assert [o.age for o in results] == [35, 30, 25, 15]
    assert rec.changes == [CollectionChanges(insertions=(1,))]


def test_object_listener(realm: Realm) -> None:
    a, b = _items(realm, 1, 2)
    rec = Recorder(realm)
    token = a.add_listener(rec)
    assert rec.calls == []
    with realm.write():
        a.age = 5
        a.name = "x"
        b.age = 9
    assert rec.calls == [(a, ObjectChange(deleted=False, changed_properties=("age", "name")))]
    with realm.write():
        b.age = 10  # another object: no call
    assert len(rec.calls) == 1
    with realm.write():
        a.tags.append("t")
        a.spot = {"x": 1}
    assert rec.calls[-1][1].changed_properties == ("spot", "tags")
    with realm.write():
        a.spot.x = 2  # a change inside an embedded object changes its parent
    assert rec.calls[-1][1].changed_properties == ("spot",)
    with realm.write():
        realm.delete(a)
    assert rec.calls[-1][1] == ObjectChange(deleted=True)
    token.remove()


def test_object_listener_removed(realm: Realm) -> None:
    (a,) = _items(realm, 1)
    rec = Recorder(realm)
    with a.add_listener(rec), realm.write():
        a.age = 2
    with realm.write():
        a.age = 3
    assert len(rec.calls) == 1


def test_list_property_listener(realm: Realm) -> None:
    (a,) = _items(realm, 1)
    rec = Recorder(realm)
    a.tags.add_listener(rec)
    with realm.write():
        a.age = 2
    assert rec.calls == []
    with realm.write():
        a.tags.append("x")
    assert len(rec.calls) == 1 and "tags" in rec.calls[0][1].changed_properties


# -- incremental changes against a recomputed diff, for random transactions -------------

QUERIES: list[Callable[[Results], Results]] = [
    lambda r: r,
    lambda r: r.sorted("age"),
    lambda r: r.sorted("name", reverse=True),
    lambda r: r.filtered("age > 50"),
    lambda r: r.filtered("age > $0 AND group == $1", 30, 1).sorted("age"),
    lambda r: r.sorted([("group", True), ("age", False)]),
    lambda r: r.filtered("group != null").sorted("age", reverse=True),
]

_op = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 100), st.sampled_from("abcd"),
              st.none() | st.integers(0, 2)),
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("age"), st.integers(0, 10**6), st.integers(0, 100)),
    st.tuples(st.just("name"), st.integers(0, 10**6), st.sampled_from("abcd")),
    st.tuples(st.just("group"), st.integers(0, 10**6), st.none() | st.integers(0, 2)),
    st.tuples(st.just("tags"), st.integers(0, 10**6)),
)
TRANSACTIONS = st.lists(st.lists(_op, min_size=1, max_size=8), min_size=1, max_size=6)


def check_changes(old: list[int], new: list[int], calls: list[CollectionChanges],
                  touched: set[int]) -> None:
    """The delivered changes turn the old keys into the new ones, and report exactly the
    modified objects that stayed."""
    stayed_modified = {k for k in touched if k in old and k in new}
    if not calls:
        assert old == new, "the results changed but no notification came"
        assert not stayed_modified, "objects in the results changed but no notification came"
        return
    assert len(calls) == 1
    (c,) = calls
    assert c, "an empty change set was delivered"
    assert list(c.deletions) == sorted(set(c.deletions))
    assert list(c.insertions) == sorted(set(c.insertions))
    assert all(0 <= i < len(old) for i in (*c.deletions, *c.modifications))
    assert all(0 <= i < len(new) for i in (*c.insertions, *c.new_modifications))
    applied = [k for i, k in enumerate(old) if i not in set(c.deletions)]
    for i in c.insertions:
        applied.insert(i, new[i])
    assert applied == new, "deletions and insertions do not turn the old results into the new"
    assert not set(c.modifications) & set(c.deletions)
    assert not set(c.new_modifications) & set(c.insertions)
    reported_old = {old[i] for i in c.modifications}
    reported_new = {new[i] for i in c.new_modifications}
    assert reported_old == reported_new
    assert reported_old <= stayed_modified, "a modification was reported for an unmodified object"
    moved = {old[i] for i in c.deletions} & {new[i] for i in c.insertions}
    assert stayed_modified <= reported_old | moved, "a modified object was not reported"


def _run(realm: Realm, ops: list[tuple[Any, ...]], next_id: Iterator[int]) -> set[int]:
    """Apply ops in one transaction; return the keys of objects modified and not deleted."""
    touched: set[int] = set()
    deleted: set[int] = set()
    with realm.write():
        for op in ops:
            existing = realm.objects("Item")
            if op[0] == "insert":
                realm.create("Item", {"id": next(next_id), "age": op[1], "name": op[2],
                                      "group": op[3]})
                continue
            if not existing:
                continue
            obj = existing[op[1] % len(existing)]
            if op[0] == "delete":
                deleted.add(obj._key)
                realm.delete(obj)
            elif op[0] == "tags":
                obj.tags.append("t")
                touched.add(obj._key)
            else:
                obj[op[0]] = op[2]
                touched.add(obj._key)
    return touched - deleted


@settings(max_examples=50, deadline=None)
@given(initial=st.lists(st.tuples(st.integers(0, 100), st.sampled_from("abcd"),
                                  st.none() | st.integers(0, 2)), max_size=12),
       transactions=TRANSACTIONS)
def test_incremental_changes_match_recomputed_results(
    tmp_path_factory: pytest.TempPathFactory,
    initial: list[tuple[int, str, int | None]],
    transactions: list[list[tuple[Any, ...]]],
) -> None:
    path = tmp_path_factory.mktemp("notify") / "n.realm"
    next_id = itertools.count()
    with Realm.open(path, schema=SCHEMA) as realm, Realm.open(path) as remote:
        with realm.write():
            for age, name, group in initial:
                realm.create("Item", {"id": next(next_id), "age": age, "name": name,
                                      "group": group})
        remote.refresh()
        watched: list[tuple[Realm, Callable[[Results], Results], Results,
                            list[CollectionChanges]]] = []
        olds: list[list[int]] = []
        for r in (realm, remote):
            for make in QUERIES:
                results = make(r.objects("Item"))
                calls: list[CollectionChanges] = []
                results.add_listener(lambda _r, c, calls=calls: calls.append(c))
                watched.append((r, make, results, calls))
                olds.append(list(results.keys()))
        for ops in transactions:
            touched = _run(realm, ops, next_id)
            remote.refresh()  # the other connection gets the same changes from the change log
            for i, (r, make, results, calls) in enumerate(watched):
                new = list(make(r.objects("Item")).keys())  # recomputed from scratch
                assert list(results.keys()) == new
                check_changes(olds[i], new, calls, touched)
                calls.clear()
                olds[i] = new


def test_many_changes_at_once(realm: Realm) -> None:
    # more changed objects than the incremental path handles: the full diff takes over
    _items(realm, *range(100))
    results = realm.objects("Item").sorted("age", reverse=True)
    calls: list[CollectionChanges] = []
    results.add_listener(lambda _r, c: calls.append(c))
    old = [o._key for o in results]
    with realm.write():
        for i, item in enumerate(realm.objects("Item")):
            if i % 3 == 0:
                realm.delete(item)
            else:
                item.age = (item.age * 7) % 100
        for i in range(2500):
            realm.create("Item", {"id": 1000 + i, "name": "bulk", "age": i % 100})
    new = [o._key for o in realm.objects("Item").sorted("age", reverse=True)]
    touched = {o._key for o in realm.objects("Item") if o.name != "bulk"}
    check_changes(old, new, calls, touched)


def test_listener_registered_inside_a_write_sees_that_write(realm: Realm) -> None:
    _items(realm, 1)
    rec = Recorder(realm)
    with realm.write():
        results = realm.objects("Item")
        results.add_listener(rec)
        realm.create("Item", {"id": 77, "name": "x", "age": 7, "spot": {"x": 1}})
        item = realm.object_for_primary_key("Item", 77)
    assert rec.calls == [(results, CollectionChanges(insertions=(1,)))]
    assert not any(rec.in_transaction)
    item.add_listener(rec)
    with realm.write():
        item.age = 8
    assert rec.calls[-1] == (item, ObjectChange(changed_properties=("age",)))


@pytest.mark.parametrize(
    "query", [lambda r: r, lambda r: r.sorted("age", reverse=True), lambda r: r.filtered("age > 0")]
)
def test_listener_registered_after_changes_in_the_same_write(
    realm: Realm, query: Callable[[Results], Results]
) -> None:
    first, second = _items(realm, 1, 2)
    results = query(realm.objects("Item"))
    calls: list[CollectionChanges] = []
    with realm.write():
        realm.create("Item", {"id": 50, "name": "x", "age": 50})
        realm.delete(first)
        second.age = 3
        old = list(results.keys())  # what the listener sees when it starts
        results.add_listener(lambda _r, c: calls.append(c))
        realm.create("Item", {"id": 51, "name": "y", "age": 51})
    new = list(query(realm.objects("Item")).keys())
    assert list(results.keys()) == new and len(set(new)) == len(new)
    # the change made before listening may be reported as a modification (conservative)
    check_changes(old, new, calls, {second._key})
    with realm.write():
        second.age = 4
    assert list(results.keys()) == list(query(realm.objects("Item")).keys())


# -- sorted listeners keep SQL's order for every sortable type --------------------------

SORTABLE: list[dict[str, Any]] = [
    {"name": "S", "primaryKey": "id", "properties": {
        "id": "int", "d": "decimal128?", "f": "double?", "s": "string?", "m": "mixed",
        "b": "bool?", "dt": "date?"}},
]
SORT_VALUES: dict[str, list[Any]] = {
    "d": [Decimal("2.5"), Decimal("10"), Decimal("-1"), None, Decimal("NaN"), Decimal("1E+2"),
          Decimal("0.001"), Decimal("10.0")],
    "f": [2.5, 10.0, math.nan, None, -1.0, math.inf, -math.inf, 0.0],
    "s": ["b", "a", "B", "", None, "é", "z", "a\x00"],
    "m": [1, "a", 2.5, None, b"x", True, Decimal("3"), datetime(2000, 1, 1, tzinfo=UTC)],
    "b": [True, None, False, True],
    "dt": [datetime(2000, 1, 1, tzinfo=UTC), None, datetime(1960, 1, 1, tzinfo=UTC),
           datetime(2030, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)],
}


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("prop", list(SORT_VALUES))
def test_sorted_listener_keeps_sql_order_for_every_type(
    tmp_path: Path, prop: str, reverse: bool
) -> None:
    with Realm.open(tmp_path / "s.realm", schema=SORTABLE) as realm:
        results = realm.objects("S").sorted(prop, reverse=reverse)
        calls: list[CollectionChanges] = []
        results.add_listener(lambda _r, c: calls.append(c))
        old: list[int] = []
        for i, value in enumerate(SORT_VALUES[prop]):
            with realm.write():
                realm.create("S", {"id": i, prop: value})
            new = [o._key for o in realm.objects("S").sorted(prop, reverse=reverse)]
            assert [o._key for o in results] == new
            check_changes(old, new, calls, set())
            calls.clear()
            old = new
        with realm.write():  # move every object: new values in reverse order
            for obj, value in zip(realm.objects("S"), reversed(SORT_VALUES[prop]), strict=True):
                obj[prop] = value
        new = [o._key for o in realm.objects("S").sorted(prop, reverse=reverse)]
        assert [o._key for o in results] == new
        check_changes(old, new, calls, set(new))


# -- the cost of a one-object change follows the change, not the class size --------------


def _sql_steps(path: Path, size: int, query: Callable[[Results], Results]) -> int:
    """SQLite VM work (in units of 10 instructions) to commit and deliver a small change."""
    rows = [{"name": "Item", "primaryKey": "id",
             "properties": {"id": "int", "name": "string", "age": "int"}}]
    with Realm.open(path, schema=rows) as realm:
        with realm.write():
            for i in range(size):
                realm.create("Item", {"id": i, "name": f"n{(i * 31) % size}",
                                      "age": (i * 7919) % 1000})
        results = query(realm.objects("Item"))
        calls: list[CollectionChanges] = []
        results.add_listener(lambda _r, c: calls.append(c))
        steps = [0]

        def tick() -> int:
            steps[0] += 1
            return 0

        store_of(realm).sqlite.set_progress_handler(tick, 10)
        with realm.write():
            realm.object_for_primary_key("Item", size // 2).age = 5
            realm.create("Item", {"id": size, "name": "new", "age": 3})
            realm.delete(realm.object_for_primary_key("Item", size // 3))
        store_of(realm).sqlite.set_progress_handler(None, 0)
        assert len(calls) == 1 and len(calls[0].insertions) >= 1
        assert [o._key for o in results] == [o._key for o in query(realm.objects("Item"))]
        return steps[0]


@pytest.mark.parametrize(
    "query",
    [lambda r: r, lambda r: r.sorted("age"), lambda r: r.sorted("name", reverse=True)],
    ids=["whole-class", "sorted-int", "sorted-string-reversed"],
)
def test_one_object_change_cost_does_not_grow_with_class_size(
    tmp_path: Path, query: Callable[[Results], Results]
) -> None:
    small = _sql_steps(tmp_path / "small.realm", 200, query)
    large = _sql_steps(tmp_path / "large.realm", 5_000, query)
    # re-running the query would cost thousands of steps more on the large class
    assert large <= 3 * small + 30, (small, large)


def test_unfiltered_results_learn_changes_without_probing_rows(realm: Realm) -> None:
    # Every object of the class belongs to an unfiltered Results: the change log says
    # which were inserted, modified and deleted, and no query has to confirm it.
    items = _items(realm, 5, 1, 9)
    for round_, make in enumerate((lambda r: r, lambda r: r.sorted("age"))):
        results = make(realm.objects("Item"))
        calls: list[CollectionChanges] = []
        token = results.add_listener(lambda _r, c, calls=calls: calls.append(c))
        probes: list[str] = []
        store_of(realm).conn.set_trace_callback(
            # Membership probes select keys only (sort values are still read for places).
            lambda sql, probes=probes: (
                probes.append(sql) if sql.startswith('SELECT t0."@key" FROM') else None
            )
        )
        try:
            with realm.write():
                realm.create("Item", {"id": 100 + round_, "name": "x", "age": 3})
                items[0].name = f"renamed{round_}"
                gone = realm.create("Item", {"id": 200 + round_, "name": "y", "age": 2})
                realm.delete(gone)
        finally:
            store_of(realm).conn.set_trace_callback(None)
        assert len(calls) == 1
        assert list(results.keys()) == list(make(realm.objects("Item")).keys())
        assert [results[i].id for i in calls[0].insertions] == [100 + round_]
        assert [results[i].name for i in calls[0].new_modifications] == [f"renamed{round_}"]
        assert calls[0].deletions == ()
        assert probes == []
        token.remove()
