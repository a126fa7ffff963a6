"""Python classes as schema sugar (studio.core.models)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pytest

from studio.core import (
    Backlinks,
    EmbeddedModel,
    Indexed,
    Model,
    ObjectId,
    Realm,
    SchemaError,
    parse_schema,
)
from studio.core.models import schema_of


class Toy(Model):
    __primary_key__ = "name"
    name: str
    kids = Backlinks("Kid", "toys")


class Address(EmbeddedModel):
    street: str
    number: int | None


class Kid(Model):
    __primary_key__ = "_id"
    _id: ObjectId = ObjectId
    name: Annotated[str, Indexed]
    age: int | None
    flag: bool = False
    score: float = 1.5
    photo: bytes | None
    born: datetime | None
    ref: uuid.UUID | None
    money: Decimal | None
    anything: Any
    best: Toy | None
    toys: list[Toy]
    tags: set[str]
    scores: dict[str, int | None]
    home: Address | None


JSON_FORM = [
    {"name": "Toy", "primaryKey": "name",
     "properties": {"name": "string",
                    "kids": {"type": "linkingObjects", "objectType": "Kid", "property": "toys"}}},
    {"name": "Address", "embedded": True,
     "properties": {"street": "string", "number": "int?"}},
    {"name": "Kid", "primaryKey": "_id", "properties": {
        "_id": "objectId", "name": {"type": "string", "indexed": True}, "age": "int?",
        "flag": "bool", "score": "double", "photo": "data?", "born": "date?", "ref": "uuid?",
        "money": "decimal128?", "anything": "mixed", "best": "Toy?", "toys": "Toy[]",
        "tags": "string<>", "scores": "int?{}", "home": "Address?",
    }},
]  # fmt: skip


def test_classes_give_the_same_schema_as_the_json_form() -> None:
    assert parse_schema([Toy, Address, Kid]) == parse_schema(JSON_FORM)
    spec = schema_of(Kid)
    assert spec["properties"]["_id"]["default"] is ObjectId
    assert spec["properties"]["flag"]["default"] is False


def test_a_realm_opened_with_classes(tmp_path: Path) -> None:
    with Realm.open(tmp_path / "kids.realm", schema=[Toy, Address, Kid]) as realm:
        with realm.write():
            ball = realm.create(Toy, {"name": "ball"})
            ann = realm.create(Kid, {"name": "ann", "toys": [ball], "home": {"street": "x"}})
        assert isinstance(ann["_id"], ObjectId) and ann["flag"] is False
        assert realm.objects(Kid).filtered("name == 'ann'")[0] == ann
        assert realm.object_for_primary_key(Toy, "ball")["kids"][0] == ann
    # The file holds the plain schema: it opens with the JSON form too.
    with Realm.open(tmp_path / "kids.realm", schema=JSON_FORM) as realm:
        assert len(realm.objects("Kid")) == 1


def test_a_model_is_not_instantiated() -> None:
    with pytest.raises(TypeError, match=r"realm\.create"):
        Toy()


def test_unsupported_annotations_are_clear_schema_errors() -> None:
    class Bad(Model):
        x: complex

    class TwoTypes(Model):
        x: int | str

    class BadKeys(Model):
        x: dict[int, str]

    class Missing(Model):
        x: NoSuchModel  # type: ignore[name-defined]  # noqa: F821

    for model, message in [
        (Bad, "cannot store"),
        (TwoTypes, "one type"),
        (BadKeys, "string keys"),
        (Missing, "does not exist"),
    ]:
        with pytest.raises(SchemaError, match=message):
            parse_schema([model])
