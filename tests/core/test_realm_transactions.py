"""Write transactions, their errors (nothing of a failed transaction is written), upserts
and lookups by primary key."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.core import (
    DuplicatePrimaryKeyError,
    MissingValueError,
    ObjectId,
    Realm,
    RealmError,
    SchemaError,
    UnknownPropertyError,
    ValueTypeError,
    WrongTransactionStateError,
)

SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Item",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "name": "string",
            "count": "int?",
            "tags": "string[]",
            "labels": "string<>",
            "attrs": "string{}",
            "next": "Item?",
            "parts": "Part[]",
        },
    },
    {"name": "Part", "embedded": True, "properties": {"label": "string"}},
    {"name": "Plain", "properties": {"x": "int", "y": "string?"}},
    {"name": "ByString", "primaryKey": "code", "properties": {"code": "string", "v": "int?"}},
    {"name": "ByOid", "primaryKey": "_id", "properties": {"_id": "objectId", "v": "int?"}},
    {"name": "ByUuid", "primaryKey": "_id", "properties": {"_id": "uuid", "v": "int?"}},
    {"name": "ByOptional", "primaryKey": "k", "properties": {"k": "int?", "v": "int?"}},
]


@pytest.fixture
def realm(tmp_path: Path) -> Iterator[Realm]:
    r = Realm.open(tmp_path / "tx.realm", schema=SCHEMA)
    yield r
    r.close()


def _state(realm: Realm) -> list[dict[str, Any]]:
    """Everything in the realm, as plain data (to compare before and after)."""
    out = []
    for cls in ("Item", "Plain", "ByString"):
        out.extend({"class": cls, **o.to_dict()} for o in realm.objects(cls))
    out.append({"parts": sorted(p.label for p in realm.objects("Part"))})
    return out


def _fill(realm: Realm) -> Any:
    with realm.write():
        a = realm.create("Item", {"id": 1, "name": "a", "count": 1, "tags": ["t"],
                                  "labels": ["l"], "attrs": {"k": "v"}, "parts": [{"label": "p"}]})
        realm.create("Item", {"id": 2, "name": "b", "next": a})
        realm.create("Plain", {"x": 1})
    return a


# -- rollback --------------------------------------------------------------------------------


def test_exception_inside_write_rolls_back_everything(realm: Realm) -> None:
    a = _fill(realm)
    before = _state(realm)
    with pytest.raises(RuntimeError, match="boom"), realm.write():
        realm.create("Item", {"id": 3, "name": "c"})
        realm.create("Plain", {"x": 2})
        a.name = "changed"
        a.count = None
        a.tags.append("u")
        a.labels.add("m")
        a.attrs["z"] = "w"
        a.parts.append({"label": "q"})
        realm.delete(realm.object_for_primary_key("Item", 2))
        assert len(realm.objects("Item")) == 2 and a.name == "changed"
        raise RuntimeError("boom")
    assert not realm.is_in_transaction
    assert _state(realm) == before
    assert a.name == "a" and a.count == 1 and list(a.tags) == ["t"]
    # the realm is still usable and the same file agrees
    with realm.write():
        realm.create("Plain", {"x": 3})
    with Realm.open(realm.path) as other:
        assert len(other.objects("Plain")) == 2 and len(other.objects("Item")) == 2


def test_base_exception_rolls_back_too(realm: Realm) -> None:
    with pytest.raises(KeyboardInterrupt), realm.write():
        realm.create("Plain", {"x": 1})
        raise KeyboardInterrupt
    assert len(realm.objects("Plain")) == 0


def test_rolled_back_transaction_notifies_nobody(realm: Realm) -> None:
    calls: list[Any] = []
    realm.add_listener(lambda r, c: calls.append(c))
    results = realm.objects("Plain")
    results.add_listener(lambda r, c: calls.append(c))
    with pytest.raises(ValueError), realm.write():
        realm.create("Plain", {"x": 1})
        raise ValueError
    assert calls == []


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (lambda r: r.create("Item", {"id": 1, "name": "dup"}), DuplicatePrimaryKeyError),
        (lambda r: r.create("Item", {"id": 9, "name": 5}), ValueTypeError),
        (lambda r: r.create("Item", {"id": 9, "name": "x", "colour": "red"}),
         UnknownPropertyError),
        (lambda r: r.create("Item", {"id": 9}), MissingValueError),
        (lambda r: r.create("Item", {"name": "no id"}), MissingValueError),
        (lambda r: r.create("Nope", {}), UnknownPropertyError),
        (lambda r: r.create("Plain", {"y": "no x"}), MissingValueError),
        (lambda r: r.create("Item", {"id": 9, "name": "x", "tags": ["ok", 3]}), ValueTypeError),
        (lambda r: r.create("Item", {"id": 9, "name": "x", "tags": "abc"}), ValueTypeError),
        (lambda r: r.create("Item", {"id": 9, "name": "x", "attrs": ["a"]}), ValueTypeError),
        (lambda r: r.create("Item", {"id": 9, "name": "x", "next": {"id": 1, "name": "dup"}}),
         DuplicatePrimaryKeyError),
        (lambda r: r.create("Item", {"id": 9, "name": "x", "parts": [{"label": 1}]}),
         ValueTypeError),
        (lambda r: setattr(r.object_for_primary_key("Item", 1), "count", "many"), ValueTypeError),
        (lambda r: setattr(r.object_for_primary_key("Item", 1), "colour", "x"),
         UnknownPropertyError),
        (lambda r: setattr(r.object_for_primary_key("Item", 1), "id", 5), SchemaError),
    ],
    ids=["duplicate-pk", "wrong-type", "unknown-property", "missing-required", "missing-pk",
         "unknown-class", "missing-required-no-pk", "wrong-list-element", "string-as-list",
         "list-as-dict", "duplicate-nested", "wrong-embedded", "set-wrong-type",
         "set-unknown", "change-pk"],
)
def test_errors_are_clear_and_nothing_of_the_transaction_is_written(
    realm: Realm, action: Callable[[Realm], Any], error: type[Exception]
) -> None:
    _fill(realm)
    before = _state(realm)
    with pytest.raises(error) as info, realm.write():
        realm.create("Item", {"id": 50, "name": "earlier in the same transaction"})
        realm.create("Plain", {"x": 50})
        realm.object_for_primary_key("Item", 1).name = "edited"
        action(realm)
    assert isinstance(info.value, RealmError)
    assert str(info.value)  # says what was wrong
    assert _state(realm) == before
    with Realm.open(realm.path) as other:
        assert other.object_for_primary_key("Item", 50) is None
        assert other.object_for_primary_key("Item", 1).name == "a"


def test_failed_create_caught_inside_the_transaction_leaves_no_trace(realm: Realm) -> None:
    _fill(realm)
    with realm.write():
        realm.create("Item", {"id": 10, "name": "kept"})
        with pytest.raises(DuplicatePrimaryKeyError):
            realm.create("Item", {"id": 11, "name": "x", "tags": ["a"], "parts": [{"label": "p"}],
                                  "next": {"id": 2, "name": "dup"}})
        with pytest.raises(ValueTypeError):
            realm.create("Item", {"id": 12, "name": "x", "next": {"id": 13, "name": "y"},
                                  "tags": [1]})
    assert sorted(o.id for o in realm.objects("Item")) == [1, 2, 10]
    assert len(realm.objects("Part")) == 1


def test_messages_name_the_problem(realm: Realm) -> None:
    _fill(realm)
    with realm.write():
        with pytest.raises(DuplicatePrimaryKeyError, match="id"):
            realm.create("Item", {"id": 1, "name": "a"})
        with pytest.raises(UnknownPropertyError, match="colour"):
            realm.create("Item", {"id": 3, "name": "a", "colour": 1})
        with pytest.raises(MissingValueError, match="name"):
            realm.create("Item", {"id": 3})
        with pytest.raises(ValueTypeError, match="name"):
            realm.create("Item", {"id": 3, "name": 1})
        with pytest.raises(UnknownPropertyError, match="Item"):
            realm.create("Nope", {})


def test_unknown_property_on_read(realm: Realm) -> None:
    a = _fill(realm)
    with pytest.raises(UnknownPropertyError, match="colour"):
        a["colour"]
    with pytest.raises(KeyError):
        a["colour"]
    with pytest.raises(AttributeError):
        a.colour  # noqa: B018
    with pytest.raises(UnknownPropertyError):
        realm.objects("Nope")


# -- transaction state ----------------------------------------------------------------------


def test_nested_write_is_an_error(realm: Realm) -> None:
    with realm.write():
        assert realm.is_in_transaction
        realm.create("Plain", {"x": 1})
        with pytest.raises(WrongTransactionStateError, match="nested"), realm.write():
            pass  # pragma: no cover
        realm.create("Plain", {"x": 2})  # the outer transaction goes on
    assert not realm.is_in_transaction
    assert sorted(o.x for o in realm.objects("Plain")) == [1, 2]


def test_nested_write_error_that_escapes_rolls_back_the_outer(realm: Realm) -> None:
    with pytest.raises(WrongTransactionStateError), realm.write():
        realm.create("Plain", {"x": 1})
        with realm.write():
            pass  # pragma: no cover
    assert len(realm.objects("Plain")) == 0


WRITES: list[tuple[str, Callable[[Realm, Any], Any]]] = [
    ("create", lambda r, a: r.create("Plain", {"x": 1})),
    ("delete", lambda r, a: r.delete(a)),
    ("delete-results", lambda r, a: r.delete(r.objects("Item"))),
    ("setattr", lambda r, a: setattr(a, "name", "x")),
    ("setitem", lambda r, a: a.__setitem__("count", 3)),
    ("list-append", lambda r, a: a.tags.append("x")),
    ("list-set", lambda r, a: a.tags.__setitem__(0, "x")),
    ("list-delete", lambda r, a: a.tags.__delitem__(0)),
    ("list-clear", lambda r, a: a.tags.clear()),
    ("set-add", lambda r, a: a.labels.add("x")),
    ("set-discard", lambda r, a: a.labels.discard("l")),
    ("dict-set", lambda r, a: a.attrs.__setitem__("x", "y")),
    ("dict-delete", lambda r, a: a.attrs.__delitem__("k")),
    ("embedded-set", lambda r, a: setattr(a.parts[0], "label", "x")),
    ("increment", lambda r, a: a.increment("count")),
]


@pytest.mark.parametrize("write", [w for _, w in WRITES], ids=[n for n, _ in WRITES])
def test_writes_outside_write_are_errors(realm: Realm, write: Callable[[Realm, Any], Any]) -> None:
    a = _fill(realm)
    before = _state(realm)
    with pytest.raises(WrongTransactionStateError, match="write"):
        write(realm, a)
    assert _state(realm) == before


@pytest.mark.parametrize("write", [w for _, w in WRITES], ids=[n for n, _ in WRITES])
def test_writes_on_read_only_realm_are_errors(
    realm: Realm, write: Callable[[Realm, Any], Any]
) -> None:
    _fill(realm)
    with Realm.open(realm.path, read_only=True) as ro:
        assert ro.read_only
        a = ro.object_for_primary_key("Item", 1)
        before = _state(ro)
        with pytest.raises(WrongTransactionStateError, match="read-only"):
            write(ro, a)
        with pytest.raises(WrongTransactionStateError, match="read-only"), ro.write():
            write(ro, a)  # pragma: no cover
        assert _state(ro) == before


def test_read_only_realm_sees_later_commits_after_refresh(realm: Realm) -> None:
    _fill(realm)
    with Realm.open(realm.path, read_only=True) as ro:
        assert len(ro.objects("Plain")) == 1
        with realm.write():
            realm.create("Plain", {"x": 2})
        ro.refresh()
        assert len(ro.objects("Plain")) == 2


def test_committed_writes_survive_reopen(realm: Realm, tmp_path: Path) -> None:
    _fill(realm)
    realm.close()
    with Realm.open(tmp_path / "tx.realm") as again:
        item = again.object_for_primary_key("Item", 1)
        assert item is not None and item.name == "a" and list(item.tags) == ["t"]
        assert again.object_for_primary_key("Item", 2).next == item
        assert [p.label for p in item.parts] == ["p"]


def test_increment(realm: Realm) -> None:
    a = _fill(realm)
    with realm.write():
        a.increment("count")
        a.increment("count", 10)
        with pytest.raises(ValueTypeError):
            a.increment("name")
    assert a.count == 12


def test_bulk_and_slow_create_paths_mix(realm: Realm) -> None:
    with realm.write():
        for i in range(5):
            realm.create("ByString", {"code": f"c{i}"})
            realm.create("ByString", {"code": f"u{i}", "v": i}, update=True)
            realm.create("Plain", {"x": i})
        with pytest.raises(DuplicatePrimaryKeyError):
            realm.create("ByString", {"code": "u3"})
        with pytest.raises(DuplicatePrimaryKeyError):
            realm.create("ByString", {"code": "c4"})
        realm.delete(realm.object_for_primary_key("ByString", "c0"))
        realm.create("ByString", {"code": "c0", "v": 100})
    assert len(realm.objects("ByString")) == 10 and len(realm.objects("Plain")) == 5
    assert realm.object_for_primary_key("ByString", "c0").v == 100
    keys = [o._key for o in realm.objects("ByString")]
    assert len(set(keys)) == 10


# -- upsert --------------------------------------------------------------------------------


def test_update_true_changes_only_the_given_values(realm: Realm) -> None:
    a = _fill(realm)
    with realm.write():
        same = realm.create("Item", {"id": 1, "count": 7}, update=True)
    assert same == a
    assert a.count == 7 and a.name == "a" and list(a.tags) == ["t"]
    assert len(realm.objects("Item")) == 2
    with realm.write():
        new = realm.create("Item", {"id": 3, "name": "new"}, update=True)
    assert new.name == "new" and len(realm.objects("Item")) == 3
    with realm.write():
        realm.create("Item", {"id": 1, "tags": ["x", "y"], "count": None}, update=True)
    assert list(a.tags) == ["x", "y"] and a.count is None


def test_update_true_checks_values(realm: Realm) -> None:
    _fill(realm)
    with pytest.raises(ValueTypeError), realm.write():
        realm.create("Item", {"id": 1, "name": 3}, update=True)
    with pytest.raises(MissingValueError), realm.write():
        realm.create("Item", {"id": 77}, update=True)  # a new object needs its name
    with pytest.raises(UnknownPropertyError), realm.write():
        realm.create("Item", {"id": 1, "colour": 3}, update=True)
    assert realm.object_for_primary_key("Item", 1).name == "a"
    assert realm.object_for_primary_key("Item", 77) is None


def test_update_true_upserts_nested_objects(realm: Realm) -> None:
    a = _fill(realm)
    with realm.write():
        b = realm.create("Item", {"id": 2, "next": {"id": 1, "name": "renamed"}}, update=True)
    assert b.next == a and a.name == "renamed" and len(realm.objects("Item")) == 2
    with realm.write(), pytest.raises(DuplicatePrimaryKeyError):
        realm.create("Item", {"id": 5, "name": "x", "next": {"id": 1, "name": "dup"}})


def test_update_true_without_changes_notifies_as_modification_only(realm: Realm) -> None:
    a = _fill(realm)
    seen: list[Any] = []
    token = realm.objects("Item").add_listener(lambda r, c: seen.append(c))
    with realm.write():
        realm.create("Item", {"id": 1, "name": "a2"}, update=True)
    token.remove()
    assert len(seen) == 1
    assert seen[0].insertions == () and seen[0].deletions == ()
    assert seen[0].modifications == (0,) and a.name == "a2"


# -- object_for_primary_key ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "pk", "other"),
    [
        ("Item", 1, 2),
        ("ByString", "é\x00", "e"),
        ("ByOid", ObjectId("6001c033600510df3bbfd864"), ObjectId("6001c033600510df3bbfd865")),
        ("ByUuid", uuid.UUID(int=7), uuid.UUID(int=8)),
        ("ByOptional", None, 0),
    ],
)
def test_object_for_primary_key(realm: Realm, cls: str, pk: Any, other: Any) -> None:
    values = {realm.object_schema(cls).primary_key: pk}
    if cls == "Item":
        values["name"] = "x"
    with realm.write():
        obj = realm.create(cls, values)
    found = realm.object_for_primary_key(cls, pk)
    assert found == obj and found is not None
    assert found[realm.object_schema(cls).primary_key] == pk
    assert realm.object_for_primary_key(cls, other) is None
    with realm.write():
        realm.delete(obj)
    assert realm.object_for_primary_key(cls, pk) is None


def test_object_for_primary_key_errors(realm: Realm) -> None:
    with pytest.raises(SchemaError, match="primary key"):
        realm.object_for_primary_key("Plain", 1)
    with pytest.raises(UnknownPropertyError):
        realm.object_for_primary_key("Nope", 1)
    with pytest.raises(ValueTypeError):
        realm.object_for_primary_key("Item", "1")


def test_object_keys_stay_unique_with_another_connection_creating_between(
    tmp_path: Path,
) -> None:
    # A connection carries the next object key from one of its commits to the next;
    # commits of another connection (and rollbacks) must not make it hand out a
    # key that is taken.
    schema = [{"name": "Thing", "primaryKey": "id", "properties": {"id": "int"}}]
    path = tmp_path / "keys.realm"
    first = Realm.open(path, schema=schema)
    second = Realm.open(path)
    for n in range(0, 12, 3):
        with first.write():
            first.create("Thing", {"id": n})
        with second.write():
            second.create("Thing", {"id": n + 1})
        try:
            with first.write():
                first.create("Thing", {"id": 100 + n})
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        with first.write():
            first.create("Thing", {"id": n + 2})
    for realm in (first, second):
        realm.refresh()
        assert sorted(t.id for t in realm.objects("Thing")) == [  # type: ignore[attr-defined]
            n for base in range(0, 12, 3) for n in (base, base + 1, base + 2)
        ]
    first.close()
    second.close()
