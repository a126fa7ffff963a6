"""Shared fixtures and schemas of the core store tests (tests/core/test_realm_*.py)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.core import Realm

CORPUS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "realm-corpus"

# The example schema of docs/design.md, plus an embedded class and a backlink.
PEOPLE_SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Person",
        "primaryKey": "_id",
        "properties": {
            "_id": "objectId",
            "name": {"type": "string", "indexed": True},
            "age": "int?",
            "dog": "Dog?",
            "friends": "Person[]",
            "tags": "string<>",
            "scores": "int{}",
            "address": "Address?",
            "addresses": "Address[]",
        },
    },
    {
        "name": "Dog",
        "properties": {
            "name": "string",
            "owners": {"type": "linkingObjects", "objectType": "Person", "property": "dog"},
        },
    },
    {
        "name": "Address",
        "embedded": True,
        "properties": {"street": "string", "city": "string?"},
    },
]

# A class with a property of every primitive type, required and optional, and
# every collection kind of every primitive type.
PRIMITIVES = [
    "bool",
    "int",
    "float",
    "double",
    "string",
    "data",
    "date",
    "objectId",
    "uuid",
    "decimal128",
]


def all_types_schema() -> list[dict[str, Any]]:
    props: dict[str, Any] = {"pk": "int"}
    for t in PRIMITIVES:
        props[t] = t
        props[f"{t}_opt"] = f"{t}?"
        props[f"{t}_list"] = f"{t}[]"
        props[f"{t}_opt_list"] = f"{t}?[]"
        props[f"{t}_set"] = f"{t}<>"
        props[f"{t}_dict"] = f"{t}{{}}"
        props[f"{t}_opt_dict"] = f"{t}?{{}}"
    props["mixed"] = "mixed"
    props["mixed_list"] = "mixed[]"
    props["mixed_set"] = "mixed<>"
    props["mixed_dict"] = "mixed{}"
    props["link"] = "Target?"
    props["link_list"] = "Target[]"
    props["link_set"] = "Target<>"
    props["link_dict"] = "Target{}"
    return [
        {"name": "AllTypes", "primaryKey": "pk", "properties": props},
        {"name": "Target", "primaryKey": "id", "properties": {"id": "int", "label": "string?"}},
    ]


@pytest.fixture
def people_schema() -> list[dict[str, Any]]:
    return copy.deepcopy(PEOPLE_SCHEMA)


@pytest.fixture
def all_types() -> list[dict[str, Any]]:
    return all_types_schema()


@pytest.fixture
def corpus_dir() -> Path:
    return CORPUS_DIR


@pytest.fixture
def realm_path(tmp_path: Path) -> Path:
    return tmp_path / "test.realm"


@pytest.fixture
def people(realm_path: Path) -> Iterator[Realm]:
    """An open realm with PEOPLE_SCHEMA, closed after the test."""
    realm = Realm.open(realm_path, schema=PEOPLE_SCHEMA)
    yield realm
    realm.close()


@pytest.fixture(scope="module")
def types_realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    """One all-types realm per module (hypothesis examples each write their own objects)."""
    path = tmp_path_factory.mktemp("types") / "types.realm"
    realm = Realm.open(path, schema=all_types_schema())
    yield realm
    realm.close()
