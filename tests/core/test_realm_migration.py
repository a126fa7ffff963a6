"""Migrations: additive changes need none; other changes need a higher schema_version
(the error names the difference); the migration callback gets the old and the new realm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.core import MigrationError, Realm, SchemaMismatchError

V1: list[dict[str, Any]] = [
    {
        "name": "Person",
        "primaryKey": "id",
        "properties": {
            "id": "int", "first": "string", "last": "string", "age": "int", "dog": "Dog?",
            "tags": "string[]",
        },
    },
    {"name": "Dog", "properties": {"name": "string"}},
]


def _with(changes: dict[str, Any], drop: tuple[str, ...] = (), **cls: Any) -> list[dict[str, Any]]:
    props = {k: v for k, v in V1[0]["properties"].items() if k not in drop}
    props.update(changes)
    return [{**V1[0], **cls, "properties": props}, V1[1]]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "m.realm"
    with Realm.open(p, schema=V1, schema_version=1) as realm, realm.write():
        rex = realm.create("Dog", {"name": "Rex"})
        realm.create("Person", {"id": 1, "first": "Ann", "last": "Lee", "age": 41, "dog": rex,
                                "tags": ["a", "b"]})
        realm.create("Person", {"id": 2, "first": "Bob", "last": "Ray", "age": 7})
    return p


# -- additive changes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        _with({"nick": "string?"}),
        _with({"scores": "int{}", "labels": "string<>", "friends": "Person[]"}),
        _with({"first": {"type": "string", "indexed": True}}),
        [*V1, {"name": "Cat", "properties": {"name": "string", "owner": "Person?"}}],
        [V1[1]],  # naming fewer classes keeps the others
    ],
    ids=["optional-property", "collections", "index", "new-class", "subset"],
)
def test_additive_changes_need_no_migration(path: Path, schema: list[dict[str, Any]]) -> None:
    calls: list[Any] = []
    with Realm.open(path, schema=schema, migration=lambda o, n: calls.append(1)) as realm:
        assert calls == []
        assert realm.schema_version == 1
        names = {c.name for c in realm.schema}
        assert {"Person", "Dog"} <= names
        ann = realm.object_for_primary_key("Person", 1)
        assert ann is not None and ann.first == "Ann" and ann.dog.name == "Rex"
        assert list(ann.tags) == ["a", "b"]
        person = next(c for c in realm.schema if c.name == "Person")
        for prop in person.properties:
            if prop.name not in V1[0]["properties"] and prop.collection is None:
                assert ann[prop.name] is None
    with Realm.open(path) as again:  # the change is stored in the file
        assert {c.name for c in again.schema} == names


# -- breaking changes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        (_with({}, drop=("last",)), ["Person.last", "removed"]),
        (_with({"age": "string"}), ["Person.age", "int", "string"]),
        (_with({"age": "int?"}), ["Person.age", "int?"]),
        (_with({"dog": "Person?"}), ["Person.dog", "Dog?", "Person?"]),
        (_with({"tags": "string<>"}), ["Person.tags", "string[]", "string<>"]),
        (_with({}, primaryKey="first"), ["primary key", "Person"]),
    ],
    ids=["removed", "type", "optionality", "link-target", "collection-kind", "primary-key"],
)
def test_breaking_change_without_higher_version_names_the_difference(
    path: Path, schema: list[dict[str, Any]], words: list[str]
) -> None:
    for version in (None, 1):
        with pytest.raises(SchemaMismatchError) as info:
            Realm.open(path, schema=schema, schema_version=version)
        message = str(info.value)
        for word in words:
            assert word in message
        assert "schema_version" in message
    with Realm.open(path) as realm:  # the file was not changed
        assert realm.schema_version == 1
        assert realm.object_for_primary_key("Person", 1).last == "Lee"


def test_lower_schema_version_is_an_error(path: Path) -> None:
    with pytest.raises(SchemaMismatchError, match="schema version 1"):
        Realm.open(path, schema=V1, schema_version=0)


# -- migrations ---------------------------------------------------------------------------

V2 = _with({"full": "string", "age": "string"}, drop=("first", "last"))


def test_higher_version_runs_migration_with_old_and_new_realm(path: Path) -> None:
    seen: dict[str, Any] = {}

    def migrate(old: Realm, new: Realm) -> None:
        seen["old_props"] = [p.name for p in old.object_schema("Person").properties]
        seen["new_props"] = [p.name for p in new.object_schema("Person").properties]
        seen["old_read_only"] = old.read_only
        seen["old_version"], seen["new_version"] = old.schema_version, new.schema_version
        assert new.is_in_transaction
        for before in old.objects("Person"):
            after = new.object_for_primary_key("Person", before.id)
            after.full = f"{before.first} {before.last}"
            after.age = str(before.age)

    with Realm.open(path, schema=V2, schema_version=2, migration=migrate) as realm:
        assert seen["old_props"] == ["id", "first", "last", "age", "dog", "tags"]
        assert sorted(seen["new_props"]) == ["age", "dog", "full", "id", "tags"]
        assert seen["old_read_only"] is True
        assert realm.schema_version == 2
        ann = realm.object_for_primary_key("Person", 1)
        assert ann.full == "Ann Lee" and ann.age == "41"
        assert ann.dog.name == "Rex" and list(ann.tags) == ["a", "b"]  # kept as they were
        assert realm.object_for_primary_key("Person", 2).full == "Bob Ray"
    with Realm.open(path) as again:
        assert again.schema_version == 2
        assert [p.name for p in again.object_schema("Person").properties] == seen["new_props"]
        assert again.object_for_primary_key("Person", 1).full == "Ann Lee"
    with Realm.open(path, schema=V2, schema_version=2) as same:
        assert same.schema_version == 2


def test_old_realm_in_migration_is_read_only(path: Path) -> None:
    errors: list[Exception] = []

    def migrate(old: Realm, new: Realm) -> None:
        try:
            with old.write():
                pass  # pragma: no cover
        except Exception as exc:
            errors.append(exc)

    Realm.open(path, schema=V2, schema_version=2, migration=migrate).close()
    assert len(errors) == 1


def test_migration_can_create_and_delete(path: Path) -> None:
    def migrate(old: Realm, new: Realm) -> None:
        new.delete(new.object_for_primary_key("Person", 2))
        new.create("Person", {"id": 3, "full": "Cy", "age": "3"})
        for i in range(3):
            new.create("Dog", {"name": f"pup{i}"})

    with Realm.open(path, schema=V2, schema_version=2, migration=migrate) as realm:
        assert sorted(p.id for p in realm.objects("Person")) == [1, 3]
        assert sorted(d.name for d in realm.objects("Dog")) == ["Rex", "pup0", "pup1", "pup2"]
    with Realm.open(path) as again:
        assert len(again.objects("Dog")) == 4


def test_version_bump_with_additive_change_runs_migration(path: Path) -> None:
    def migrate(old: Realm, new: Realm) -> None:
        assert old.object_schema("Person").get("nick") is None
        for p in new.objects("Person"):
            p.nick = p.first.lower()

    with Realm.open(path, schema=_with({"nick": "string?"}), schema_version=2,
                    migration=migrate) as realm:
        assert realm.schema_version == 2
        assert realm.object_for_primary_key("Person", 1).nick == "ann"


def test_failing_migration_is_an_error_and_changes_nothing(path: Path) -> None:
    def migrate(old: Realm, new: Realm) -> None:
        new.object_for_primary_key("Person", 1).full = "half done"
        raise ValueError("bad migration")

    with pytest.raises(MigrationError, match="bad migration"):
        Realm.open(path, schema=V2, schema_version=2, migration=migrate)
    with Realm.open(path) as realm:
        # as in Realm, the schema change and the migration commit together or not at all
        assert realm.schema_version == 1
        assert realm.object_for_primary_key("Person", 1).last == "Lee"
    # and the migration can run again
    with Realm.open(path, schema=V2, schema_version=2,
                    migration=lambda o, n: None) as realm:
        assert realm.schema_version == 2


def test_breaking_change_with_higher_version_and_no_callback(path: Path) -> None:
    with Realm.open(path, schema=_with({}, drop=("last",)), schema_version=2) as realm:
        assert realm.schema_version == 2
        assert realm.object_for_primary_key("Person", 1).first == "Ann"
        assert realm.object_schema("Person").get("last") is None


def test_read_only_open_with_different_schema_is_an_error(path: Path) -> None:
    with pytest.raises(SchemaMismatchError):
        Realm.open(path, schema=_with({"nick": "string?"}), read_only=True)
    with Realm.open(path, schema=V1, read_only=True) as realm:
        assert len(realm.objects("Person")) == 2


def test_a_rebuilt_class_does_not_reuse_the_keys_of_deleted_objects(tmp_path: Path) -> None:
    path = tmp_path / "keys.realm"
    realm = Realm.open(path, schema=V1)
    with realm.write():
        for i in range(3):
            realm.create("Person", {"id": i, "first": "a", "last": "b", "age": i})
        realm.delete(realm.object_for_primary_key("Person", 2))  # the highest key, 3
    realm.close()
    realm = Realm.open(path, schema=_with({"age": "string"}), schema_version=1)  # rebuilt
    with realm.write():
        new = realm.create("Person", {"id": 9, "first": "c", "last": "d", "age": "x"})
    assert new._key == 4
    assert sorted(p._key for p in realm.objects("Person")) == [1, 2, 4]
    realm.close()
