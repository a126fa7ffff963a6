"""Schemas: both Realm JS forms, what realm.schema reports, indexes, schema errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from studio.core import ObjectSchema, Property, Realm, SchemaError, parse_schema

DICT_FORM: list[dict[str, Any]] = [
    {
        "name": "Owner",
        "primaryKey": "_id",
        "properties": {
            "_id": "uuid",
            "name": {"type": "string", "indexed": True},
            "age": "int?",
            "weight": {"type": "double", "optional": True},
            "dogs": "Dog[]",
            "favourite": "Dog",
            "nicknames": "string<>",
            "scores": "int?{}",
            "extra": "mixed",
        },
    },
    {
        "name": "Dog",
        "properties": {
            "name": "string",
            "owners": {"type": "linkingObjects", "objectType": "Owner", "property": "dogs"},
        },
    },
]

LIST_FORM: list[dict[str, Any]] = [
    {
        "name": "Owner",
        "primaryKey": "_id",
        "properties": [
            {"name": "_id", "type": "uuid"},
            {"name": "name", "type": "string", "indexed": True},
            {"name": "age", "type": "int", "optional": True},
            {"name": "weight", "type": "double", "optional": True},
            {"name": "dogs", "type": "list", "objectType": "Dog"},
            {"name": "favourite", "type": "object", "objectType": "Dog"},
            {"name": "nicknames", "type": "set", "objectType": "string"},
            {"name": "scores", "type": "dictionary", "objectType": "int", "optional": True},
            {"name": "extra", "type": "mixed"},
        ],
    },
    {
        "name": "Dog",
        "properties": [
            {"name": "name", "type": "string"},
            {
                "name": "owners",
                "type": "linkingObjects",
                "objectType": "Owner",
                "property": "dogs",
            },
        ],
    },
]


def _props(schema: ObjectSchema) -> dict[str, Property]:
    return {p.name: p for p in schema.properties}


def test_dict_form_parses_every_property_kind() -> None:
    owner, dog = parse_schema(DICT_FORM)
    assert owner.name == "Owner" and owner.primary_key == "_id" and not owner.embedded
    p = _props(owner)
    assert (p["_id"].type, p["_id"].is_primary_key, p["_id"].optional) == ("uuid", True, False)
    assert p["name"].indexed and p["name"].type == "string" and not p["name"].optional
    assert p["age"].type == "int" and p["age"].optional and p["age"].collection is None
    assert p["weight"].type == "double" and p["weight"].optional
    dogs = p["dogs"]
    assert (dogs.type, dogs.collection, dogs.object_type) == ("object", "list", "Dog")
    # to-one links are always optional, with or without '?'
    assert p["favourite"].type == "object" and p["favourite"].optional
    assert p["favourite"].object_type == "Dog"
    assert (p["nicknames"].type, p["nicknames"].collection) == ("string", "set")
    assert (p["scores"].type, p["scores"].collection, p["scores"].optional) == (
        "int", "dictionary", True)
    assert p["extra"].type == "mixed" and p["extra"].optional
    owners = _props(dog)["owners"]
    assert owners.is_backlink and owners.object_type == "Owner"
    assert owners.origin_property == "dogs"


def test_list_form_equals_dict_form() -> None:
    assert parse_schema(LIST_FORM) == parse_schema(DICT_FORM)


def test_json_text_form_equals_dict_form() -> None:
    assert parse_schema(json.dumps(DICT_FORM)) == parse_schema(DICT_FORM)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("int", "int"),
        ("int?", "int?"),
        ("Dog", "Dog?"),
        ("Dog?", "Dog?"),
        ("Dog[]", "Dog[]"),
        ("string<>", "string<>"),
        ("string?<>", "string?<>"),
        ("double{}", "double{}"),
        ("mixed", "mixed?"),
        ("mixed[]", "mixed?[]"),
        ("decimal128?[]", "decimal128?[]"),
    ],
)
def test_type_strings_round_trip(spec: str, expected: str) -> None:
    schema = parse_schema(
        [{"name": "Owner", "properties": {"p": spec}}, {"name": "Dog", "properties": {"n": "int"}}]
    )
    prop = schema[0].properties[0]
    assert prop.type_string == expected
    again = parse_schema(
        [{"name": "Owner", "properties": {"p": prop.to_json()}},
         {"name": "Dog", "properties": {"n": "int"}}]
    )
    assert again[0].properties[0] == prop


@pytest.mark.parametrize("form", [DICT_FORM, LIST_FORM], ids=["dict", "list"])
def test_realm_schema_reports_classes_and_survives_reopen(tmp_path: Path, form: Any) -> None:
    path = tmp_path / "s.realm"
    with Realm.open(path, schema=form) as realm:
        names = [c.name for c in realm.schema]
        assert names == ["Owner", "Dog"]
        owner = realm.schema[0]
        assert owner.primary_key == "_id" and owner.embedded is False
        assert [p.name for p in owner.properties][:3] == ["_id", "name", "age"]
        first = realm.schema
    with Realm.open(path) as again:  # no schema: read from the file
        assert again.schema == first
        assert _props(again.schema[1])["owners"].is_backlink


def test_embedded_flag_is_reported(people: Realm) -> None:
    by_name = {c.name: c for c in people.schema}
    assert by_name["Address"].embedded is True
    assert by_name["Address"].primary_key is None
    assert by_name["Person"].embedded is False


def _indexes(path: Path) -> dict[str, tuple[str, bool]]:
    conn = sqlite3.connect(path)
    try:
        out = {}
        for (name, table) in conn.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ):
            cols = [row[2] for row in conn.execute(f'PRAGMA index_info("{name}")')]
            unique = bool(
                next(r[2] for r in conn.execute(f'PRAGMA index_list("{table}")') if r[1] == name)
            )
            out[f"{table}:{','.join(cols)}"] = (name, unique)
        return out
    finally:
        conn.close()


def test_indexed_and_primary_key_are_real_sqlite_indexes(
    tmp_path: Path, people_schema: list[dict[str, Any]]
) -> None:
    path = tmp_path / "i.realm"
    Realm.open(path, schema=people_schema).close()
    indexes = _indexes(path)
    assert indexes["class_Person:name"][1] is False
    assert indexes["class_Person:_id"][1] is True  # primary key: unique index
    assert "class_Person:age" not in indexes  # not indexed
    conn = sqlite3.connect(path)
    try:
        plan = " ".join(
            str(row[-1]) for row in conn.execute(
                'EXPLAIN QUERY PLAN SELECT * FROM "class_Person" WHERE name = ?', ("x",))
        )
    finally:
        conn.close()
    assert "USING INDEX" in plan


def test_adding_indexed_flag_creates_the_index(tmp_path: Path) -> None:
    path = tmp_path / "i.realm"
    plain = [{"name": "T", "properties": {"a": "int", "b": "string"}}]
    Realm.open(path, schema=plain).close()
    assert "class_T:b" not in _indexes(path)
    indexed = [{"name": "T", "properties": {"a": "int", "b": {"type": "string", "indexed": True}}}]
    with Realm.open(path, schema=indexed) as realm:
        assert _props(realm.schema[0])["b"].indexed
    assert "class_T:b" in _indexes(path)


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ([{"name": "A", "properties": {"b": "Missing?"}}], ["Missing"]),
        ([{"name": "A", "properties": {"b": "Missing[]"}}], ["Missing"]),
        ([{"name": "A", "primaryKey": "x", "properties": {"y": "int"}}], ["x"]),
        ([{"name": "A", "primaryKey": "x", "properties": {"x": "double"}}], ["x", "double"]),
        ([{"name": "A", "primaryKey": "x", "properties": {"x": "bool"}}], ["x"]),
        ([{"name": "A", "primaryKey": "x", "properties": {"x": "int[]"}}], ["x"]),
        ([{"name": "A", "embedded": True, "primaryKey": "x", "properties": {"x": "int"}}],
         ["embedded"]),
        ([{"name": "A", "properties": {"x": "int"}}, {"name": "A", "properties": {}}], ["A"]),
        ([{"name": "A", "properties": [{"name": "x", "type": "int"},
                                       {"name": "x", "type": "string"}]}], ["x"]),
        ([{"name": "A", "properties": {"x": "whatever type"}}], ["whatever type"]),
        ([{"name": "A", "properties": {"x": {"type": "list"}}}], ["objectType"]),
        ([{"name": "A", "properties": {"x": {"type": "double", "indexed": True}}}], ["indexed"]),
        ([{"name": "A", "properties": {"x": {"type": "int[]", "indexed": True}}}], ["indexed"]),
        ([{"name": "A", "properties": {"x": {"type": "linkingObjects", "objectType": "A"}}}],
         ["linkingObjects"]),
        ([{"name": "A", "properties": {"x": "int", "back": {
            "type": "linkingObjects", "objectType": "A", "property": "x"}}}], ["A.x"]),
        ([{"name": "A", "properties": 5}], ["properties"]),
        ([{"name": "A.B", "properties": {}}], ["A.B"]),
        ([{"properties": {}}], ["None"]),
        ([{"name": "A", "properties": {"e": "E<>"}}, {"name": "E", "embedded": True,
                                                       "properties": {"x": "int"}}], ["embedded"]),
    ],
)
def test_malformed_schemas_are_clear_errors(
    tmp_path: Path, schema: list[dict[str, Any]], words: list[str]
) -> None:
    with pytest.raises(SchemaError) as info:
        parse_schema(schema)
    for word in words:
        assert word in str(info.value)
    path = tmp_path / "bad.realm"
    with pytest.raises(SchemaError):
        Realm.open(path, schema=schema)
