"""inspect_json: the summary behind ``studio inspect --json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.realmfile import EncryptedRealmError
from studio.realmfile.inspect import inspect_json


def test_summary_of_an_sdk_file(corpus: Path) -> None:
    info = inspect_json(corpus / "studio__asset_file_2024-03-26_154b6ff3.realm")
    assert info["format"] == 24
    assert [(c["name"], c["count"]) for c in info["classes"]] == [
        ("Cat", 10),
        ("Owner", 11),
        ("Dog", 2),
        ("DogPrimaryKey", 0),
    ]
    owner = info["classes"][1]
    assert owner == {
        "name": "Owner",
        "count": 11,
        "primary_key": None,
        "embedded": False,
        "properties": [
            {
                "name": "name",
                "type": "string",
                "optional": True,
                "object_type": None,
                "type_string": "string?",
            },
            {
                "name": "dogs",
                "type": "object",
                "optional": False,
                "object_type": "Dog",
                "type_string": "Dog[]",
            },
            {
                "name": "cat",
                "type": "object",
                "optional": True,
                "object_type": "Cat",
                "type_string": "Cat?",
            },
        ],
    }
    assert info["classes"][3]["primary_key"] == "id"
    json.dumps(info)  # plain JSON values only
    internal = inspect_json(
        corpus / "studio__asset_file_2024-03-26_154b6ff3.realm", include_internal=True
    )
    assert next(c["name"] for c in internal["classes"]) == "metadata"


def test_summary_of_a_realm_core_file_lists_its_tables(corpus: Path) -> None:
    info = inspect_json(corpus / "rc__test_upgrade_database_1000_24.realm")
    assert info["format"] == 24
    assert [(c["name"], c["count"], c["primary_key"]) for c in info["classes"]] == [
        ("table", 10001, "_id"),
        ("target", 1, "_id"),
    ]
    types = {p["name"]: p["type"] for p in info["classes"][0]["properties"]}
    assert types == {
        "_id": "objectId",
        "int": "int",
        "optint": "int",
        "bool": "bool",
        "string": "string",
        "binary": "data",
        "any": "mixed",
        "date": "date",
        "float": "float",
        "double": "double",
        "decimal": "decimal128",
        "uuid": "uuid",
        "link": "object",
    }


def test_errors_propagate(corpus: Path) -> None:
    with pytest.raises(EncryptedRealmError):
        inspect_json(corpus / "rc__0.98.0-alltypes-default-encrypted.realm")
