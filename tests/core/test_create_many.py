"""Realm.create_many behaves exactly as a loop of Realm.create: the same rows (object
keys included), the same errors at the same object, the same notifications and the
same recorded sync instructions; and the multi-row writes of the bulk path hold
every row."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from studio.core import Realm
from studio.core.errors import (
    DuplicatePrimaryKeyError,
    MissingValueError,
    RealmError,
    SchemaError,
    UnknownPropertyError,
    ValueTypeError,
)
from studio.core.realm import store_of

# Item and Plain take the bulk path (every column a primitive; Item's collections are
# side tables, an object that fills one goes through create's full path); Owner has a
# link column, so all of its creates take the full path.
SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Item",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "name": "string",
            "price": "double",
            "active": "bool",
            "note": "string?",
            "tags": "string[]",
            "spots": "Spot[]",
        },
    },
    {
        "name": "Owner",
        "primaryKey": "name",
        "properties": {"name": "string", "rank": {"type": "int", "default": 5}, "best": "Item?"},
    },
    {"name": "Plain", "properties": {"n": "int", "f": "float?"}},
    {"name": "Spot", "embedded": True, "properties": {"x": "int"}},
]
# Every class of a synced realm has a primary key.
SYNCED_SCHEMA: list[dict[str, Any]] = [*SCHEMA[:2], {**SCHEMA[2], "primaryKey": "n"}, SCHEMA[3]]


def loop(realm: Realm, cls: str, objects: list[Any]) -> Any:
    return [realm.create(cls, values) for values in objects]


def many(realm: Realm, cls: str, objects: list[Any]) -> Any:
    return realm.create_many(cls, objects)


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every class table's rows as stored (object keys included)."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND (name LIKE 'class_%' OR name LIKE 'list:%') ORDER BY name"
            )
        ]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables}
    finally:
        conn.close()


def run_both(
    tmp_path: Path,
    batches: Iterable[tuple[str, list[Any]]],
    *,
    record: bool = False,
    prefill: Callable[[Realm], None] | None = None,
) -> dict[str, Any]:
    """Apply the batches with a loop of create and with create_many in two files, each
    batch in its own transaction; what each did, side by side."""
    outcome: dict[str, Any] = {}
    batches = list(batches)
    for name, create in (("loop", loop), ("many", many)):
        path = tmp_path / f"{name}.realm"
        schema = SYNCED_SCHEMA if record else SCHEMA
        realm = Realm.open(path, schema=schema, record_history=record)
        if prefill is not None:
            with realm.write():
                prefill(realm)
        insertions: list[tuple[int, ...]] = []
        realm_changes: list[tuple[str, ...]] = []
        token = realm.objects("Item").add_listener(
            lambda r, c, seen=insertions: seen.append(c.insertions)
        )
        realm.add_listener(lambda r, c, seen=realm_changes: seen.append(c.changed_classes))
        errors: list[str | None] = []
        returned: list[list[Any]] = []
        for cls, objects in batches:
            try:
                with realm.write():
                    try:
                        created = create(realm, cls, objects)
                        returned.append([o.to_dict() for o in created])
                        errors.append(None)
                    except RealmError as exc:
                        # What exists when the error reaches the caller, inside the write.
                        errors.append(f"{type(exc).__name__}: {exc} / {len(realm.objects(cls))}")
                        raise
            except RealmError:
                pass
        realm.refresh()
        outcome[name] = {
            "rows": rows(path),
            "errors": errors,
            "returned": returned,
            "insertions": insertions,
            "realm_changes": realm_changes,
            "history": [c.instructions for c in realm.history()] if record else None,
        }
        token.remove()
        realm.close()
    return outcome


def item(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": i, "name": f"item {i}", "price": i * 0.5, "active": i % 2 == 0, **extra}


def test_primitive_objects_match_a_loop_of_create(tmp_path: Path) -> None:
    objects = [item(i, note=None if i % 3 else "n") for i in range(1000)]
    out = run_both(tmp_path, [("Item", objects), ("Plain", [{"n": i} for i in range(5)])])
    assert out["many"] == out["loop"]
    assert len(out["many"]["rows"]["class_Item"]) == 1000
    assert out["many"]["insertions"][-1] == tuple(range(1000))


def test_sync_instructions_match_a_loop_of_create(tmp_path: Path) -> None:
    objects = [item(i, note="x" if i == 2 else None) for i in range(4)]
    objects.append({"id": 9, "name": "nine", "price": 3, "active": False})  # int into double
    out = run_both(tmp_path, [("Item", objects), ("Plain", [{"n": 1}, {"n": 2, "f": 1.5}])],
                   record=True)  # fmt: skip
    assert out["many"] == out["loop"]
    (first, second) = out["many"]["history"][-2:]  # after the schema's changeset
    assert len(first) == 4 * 5 + 4  # CreateObject + a Set per given value
    price = [i for i in first if getattr(i, "path", None) == ("price",)][-1]
    assert type(price.value) is float and price.value == 3.0  # recorded as it reads back
    assert len(second) == 2 + 1  # the primary key is the CreateObject's


def test_nested_objects_and_collections_interleave_in_order(tmp_path: Path) -> None:
    objects = [
        item(0),
        item(1, tags=["a", "b"]),  # a collection: create's full path
        item(2),
        item(3, spots=[{"x": 1}, {"x": 2}]),  # nested embedded objects
        item(4),
        {"id": 5, "name": "five", "price": 1.0, "active": True, "note": "n"},
    ]
    out = run_both(tmp_path, [("Item", objects)], record=True)
    assert out["many"] == out["loop"]
    keys = [row[0] for row in out["many"]["rows"]["class_Item"]]
    assert keys == list(range(1, 7))
    assert [row[1:] for row in out["many"]["rows"]["class_Spot"]] == [(1,), (2,)]
    assert len(out["many"]["rows"]["list:Item.tags"]) == 2


def test_a_class_with_link_columns_takes_create_s_path(tmp_path: Path) -> None:
    owners = [{"name": "Ann"}, {"name": "Bob", "best": item(1)}, {"name": "Cy", "rank": 1}]
    out = run_both(tmp_path, [("Owner", owners), ("Owner", [{"name": "Ann"}])], record=True)
    assert out["many"] == out["loop"]
    assert out["many"]["errors"][1].startswith("DuplicatePrimaryKeyError")
    assert [row[1:] for row in out["many"]["rows"]["class_Owner"]] == [
        ("Ann", 5, None),
        ("Bob", 5, 1),
        ("Cy", 1, None),
    ]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"id": 7, "name": "x", "price": 1.0}, MissingValueError),  # 'active' missing
        ({"id": 7, "name": None, "price": 1.0, "active": True}, ValueTypeError),
        ({"id": 7, "name": 3, "price": 1.0, "active": True}, ValueTypeError),
        ({"id": 7, "name": "x", "price": "1", "active": True}, ValueTypeError),
        ({"id": 2**63, "name": "x", "price": 1.0, "active": True}, ValueTypeError),
        ({"id": 7, "name": "x", "price": 1.0, "active": True, "nope": 1}, UnknownPropertyError),
        ({"id": 2, "name": "again", "price": 1.0, "active": True}, DuplicatePrimaryKeyError),
        ("not a dict", ValueTypeError),
    ],
)
def test_errors_are_the_same_at_the_same_object(
    tmp_path: Path, bad: Any, error: type[Exception]
) -> None:
    objects = [item(0), item(1), item(2), bad, item(3)]
    out = run_both(tmp_path, [("Item", objects), ("Item", [item(10), item(11)])])
    assert out["many"] == out["loop"]
    message = out["many"]["errors"][0]
    assert message.startswith(error.__name__)
    # The three objects before the bad one existed when the error came (as in the loop);
    # the failed write was rolled back, the next one committed.
    assert message.endswith(" / 3")
    assert [row[1] for row in out["many"]["rows"]["class_Item"]] == [10, 11]


def test_duplicates_against_rows_of_earlier_transactions(tmp_path: Path) -> None:
    def prefill(realm: Realm) -> None:
        realm.create("Item", item(50))

    objects = [item(1), item(2), item(50), item(3)]
    out = run_both(tmp_path, [("Item", objects), ("Item", [item(1), item(2)])], prefill=prefill)
    assert out["many"] == out["loop"]
    assert out["many"]["errors"][0].startswith("DuplicatePrimaryKeyError")
    assert "id = 50" in out["many"]["errors"][0]
    # and a duplicate within one batch, when the table already had rows
    (tmp_path / "b").mkdir()
    out = run_both(tmp_path / "b", [("Item", [item(1), item(1)])], prefill=prefill)
    assert out["many"] == out["loop"]
    assert out["many"]["errors"] == ["DuplicatePrimaryKeyError: Item: an object with primary "
                                     "key id = 1 already exists; use update=True to change it / 2"]


def test_schema_defaults_are_filled_per_object(tmp_path: Path) -> None:
    counter = itertools.count(100)
    schema = [{"name": "C", "primaryKey": "id",
               "properties": {"id": {"type": "int", "default": lambda: next(counter)},
                              "n": {"type": "int", "default": 7}, "s": "string?"}}]  # fmt: skip
    realm = Realm.open(tmp_path / "d.realm", schema=schema)
    with realm.write():
        created = realm.create_many("C", [{}, {"n": 1}, {"id": 5, "s": "x"}])
    assert [o.to_dict() for o in created] == [
        {"id": 100, "n": 7, "s": None},
        {"id": 101, "n": 1, "s": None},
        {"id": 5, "n": 7, "s": "x"},
    ]
    realm.close()


def test_update_upserts_as_create_does(tmp_path: Path) -> None:
    def prefill(realm: Realm) -> None:
        realm.create("Item", item(1))

    realm = Realm.open(tmp_path / "u.realm", schema=SCHEMA)
    with realm.write():
        prefill(realm)
        created = realm.create_many(
            "Item", [{"id": 1, "name": "renamed"}, item(2)], update=True
        )
    assert [(o.id, o.name) for o in created] == [(1, "renamed"), (2, "item 2")]
    assert len(realm.objects("Item")) == 2
    realm.close()


def test_a_generator_and_the_objects_returned_are_live(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "g.realm", schema=SCHEMA)
    with realm.write():
        created = realm.create_many("Plain", ({"n": i} for i in range(3)))
        created[1].n = 10
    assert [o.n for o in realm.objects("Plain")] == [0, 10, 2]
    with realm.write():
        assert realm.create_many("Plain", []) == []
    realm.close()


def test_bad_calls_say_what_was_wrong(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "b.realm", schema=SCHEMA)
    with pytest.raises(RealmError) as outside_many:
        realm.create_many("Plain", [{"n": 1}])
    with pytest.raises(RealmError) as outside_one:
        realm.create("Plain", {"n": 1})
    assert str(outside_many.value) == str(outside_one.value)
    with realm.write():
        with pytest.raises(ValueTypeError, match=r"iterable of dicts.*got dict"):
            realm.create_many("Plain", {"n": 1})
        with pytest.raises(ValueTypeError, match=r"iterable of dicts.*got int"):
            realm.create_many("Plain", 3)  # type: ignore[arg-type]
        with pytest.raises(SchemaError, match="embedded class"):
            realm.create_many("Spot", [{"x": 1}])
    realm.close()


@pytest.mark.parametrize("limit", [999, 20, 7])
def test_multi_row_writes_hold_every_row(tmp_path: Path, limit: int) -> None:
    # 600 rows: two full statements of 256 and a remainder (or, with a low parameter
    # limit, statements of 142, 2 or 1 rows).
    realm = Realm.open(tmp_path / "m.realm", schema=SCHEMA)
    store_of(realm).sqlite.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    objects = [{"n": i, "f": None if i % 5 else i / 3} for i in range(600)]
    with realm.write():
        realm.create_many("Plain", objects)
        realm.create("Plain", {"n": 600})
    assert [o.to_dict() for o in realm.objects("Plain")] == [*objects, {"n": 600, "f": None}]
    realm.close()


def test_a_duplicate_of_an_object_created_earlier_in_the_transaction(tmp_path: Path) -> None:
    messages = []
    for name, create in (("loop", loop), ("many", many)):
        realm = Realm.open(tmp_path / f"{name}.realm", schema=SCHEMA)
        with realm.write():
            realm.create("Item", item(1))  # the table has rows: duplicates are looked up
        with realm.write():
            realm.create("Item", item(7))  # still buffered when the batch starts
            with pytest.raises(DuplicatePrimaryKeyError) as info:
                create(realm, "Item", [item(8), item(7)])
            messages.append(str(info.value))
            assert len(realm.objects("Item")) == 3
        realm.close()
    assert messages[0] == messages[1]
    assert "id = 7 already exists" in messages[1]


def test_results_read_in_the_transaction_see_the_new_objects(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "r.realm", schema=SCHEMA)
    with realm.write():
        plain = realm.objects("Plain")
        realm.create_many("Plain", [{"n": 1}])
        assert [o.n for o in plain] == [1]  # the Results keeps its keys until the class changes
        realm.create_many("Plain", [{"n": 2}, {"n": 3}])
        assert [o.n for o in plain] == [1, 2, 3]
        assert len(plain.filtered("n > 1")) == 2
    realm.close()


def test_reads_between_objects_see_each_object_created_before(tmp_path: Path) -> None:
    # The caller's generator reads the class while create_many consumes it: each read
    # sees every object created before it, as between the creates of a loop.
    realm = Realm.open(tmp_path / "r.realm", schema=SCHEMA)
    plain = realm.objects("Plain")
    seen: list[Any] = []

    def objects() -> Iterable[dict[str, Any]]:
        for i in range(4):
            seen.append([o.n for o in plain])
            yield {"n": i}
            if i == 1:
                seen.append(len(plain))

    with realm.write():
        realm.create_many("Plain", objects())
        seen.append(len(plain))
    assert seen == [[], [0], 2, [0, 1], [0, 1, 2], 4]
    realm.close()


def test_the_created_objects_sequence(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "s.realm", schema=SCHEMA)
    with realm.write():
        created = realm.create_many("Item", [item(0), item(1, tags=["t"]), item(2)])
    assert len(created) == 3
    assert [o.id for o in created] == [0, 1, 2]
    assert created[-1].id == 2 and [o.id for o in created[1:]] == [1, 2]
    assert created == list(realm.objects("Item").sorted("id"))
    assert created != [created[0]] and created != "abc"
    assert repr(created) == "<3 created Item objects>"
    with pytest.raises(IndexError):
        created[3]
    realm.close()


def test_a_replica_that_applies_the_changeset_holds_the_same_objects(tmp_path: Path) -> None:
    from studio.core.synced import apply_remote

    source = Realm.open(tmp_path / "a.realm", schema=SYNCED_SCHEMA, record_history=True)
    replica = Realm.open(tmp_path / "b.realm", schema=SYNCED_SCHEMA, record_history=True)
    objects = [item(i, note=None if i % 2 else f"n{i}") for i in range(300)]
    objects[7] = item(7, tags=["x", "y"])
    with source.write():
        source.create_many("Item", objects)
    apply_remote(replica, source.history()[-1].instructions)
    as_read = [o.to_dict() for o in replica.objects("Item").sorted("id")]
    assert as_read == [o.to_dict() for o in source.objects("Item").sorted("id")]
    assert len(as_read) == 300 and as_read[7]["tags"] == ["x", "y"]
    source.close()
    replica.close()
