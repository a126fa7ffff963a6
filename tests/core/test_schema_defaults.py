"""Default values in the schema (Realm JS's ``default``)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from studio.core import MissingValueError, ObjectId, Realm, SchemaError
from studio.core.schema import NO_DEFAULT

SCHEMA = [
    {
        "name": "Task",
        "primaryKey": "_id",
        "properties": {
            "_id": {"type": "objectId", "default": ObjectId},
            "title": "string",
            "done": {"type": "bool", "default": False},
            "priority": {"type": "int", "default": 3},
            "note": {"type": "string", "optional": True, "default": "none"},
        },
    }
]


def test_missing_values_take_the_schema_defaults(tmp_path: Path) -> None:
    with Realm.open(tmp_path / "t.realm", schema=SCHEMA) as realm:
        with realm.write():
            a = realm.create("Task", {"title": "a"})
            b = realm.create("Task", {"title": "b", "done": True, "note": None, "priority": 1})
            c = realm.create("Task", {"title": "c"})
        assert (a.done, a.priority, a.note) == (False, 3, "none")
        assert (b.done, b.priority, b.note) == (True, 1, None)  # given values win, None too
        assert isinstance(a._id, ObjectId) and a._id != c._id  # a function: called per object


def test_an_upsert_fills_defaults_only_for_a_new_object(tmp_path: Path) -> None:
    schema = [{"name": "P", "primaryKey": "id",
               "properties": {"id": "int", "n": {"type": "int", "default": 7}}}]  # fmt: skip
    with Realm.open(tmp_path / "p.realm", schema=schema) as realm:
        with realm.write():
            realm.create("P", {"id": 1, "n": 1})
            existing = realm.create("P", {"id": 1}, update=True)
            new = realm.create("P", {"id": 2}, update=True)
        assert existing.n == 1 and new.n == 7


def test_defaults_are_not_stored_in_the_file(tmp_path: Path) -> None:
    counter = itertools.count(100)
    next_id = {"type": "int", "default": lambda: next(counter)}
    schema = [{"name": "P", "primaryKey": "id", "properties": {"id": next_id}}]
    with Realm.open(tmp_path / "p.realm", schema=schema) as realm, realm.write():
        assert realm.create("P").id == 100
    # Opened with the same schema minus defaults: no mismatch, and no default.
    plain = [{"name": "P", "primaryKey": "id", "properties": {"id": "int"}}]
    with (
        Realm.open(tmp_path / "p.realm", schema=plain) as realm,
        realm.write(),
        pytest.raises(MissingValueError, match="required"),
    ):
        realm.create("P")
    with Realm.open(tmp_path / "p.realm") as realm:
        assert realm.schema[0].properties[0].default is NO_DEFAULT


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "int", "default": "three"}, "does not fit"),
        ({"type": "list", "objectType": "int", "default": []}, "primitive type"),
        ({"type": "object", "objectType": "P", "default": None}, "primitive type"),
    ],
)
def test_bad_defaults_are_schema_errors(
    tmp_path: Path, spec: dict[str, object], message: str
) -> None:
    schema = [{"name": "P", "properties": {"x": spec}}]
    with pytest.raises(SchemaError, match=message):
        Realm.open(tmp_path / "p.realm", schema=schema)
