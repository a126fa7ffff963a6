"""Undoing a delete puts back the links other objects had to the deleted ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QUndoStack

from studio.core import Realm
from studio.ui.commands import DeleteObjectsCommand, Session

SCHEMA = [
    {"name": "Dog", "primaryKey": "name", "properties": {"name": "string", "buddy": "Dog?"}},
    {
        "name": "Person",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "dog": "Dog?",
            "dogs": "Dog[]",
            "liked": "Dog<>",
            "by_name": "Dog{}",
            "anything": "mixed",
            "home": "Home?",
        },
    },
    {"name": "Home", "embedded": True, "properties": {"pet": "Dog?"}},
]


def test_links_to_deleted_objects_come_back_on_undo(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "links.realm", schema=SCHEMA)
    with realm.write():
        rex = realm.create("Dog", {"name": "rex"})
        fido = realm.create("Dog", {"name": "fido", "buddy": rex})
        other = realm.create("Dog", {"name": "other"})
        rex["buddy"] = fido  # the two deleted dogs link to each other
        realm.create("Person", {
            "id": 1, "dog": rex, "dogs": [other, rex, other, fido, rex],
            "liked": [rex, other], "by_name": {"r": rex, "o": other, "f": fido},
            "anything": fido, "home": {"pet": rex},
        })  # fmt: skip
    errors: list[BaseException] = []
    stack = QUndoStack()
    command = DeleteObjectsCommand(
        Session(realm, errors.append), "Dog", [rex._key, fido._key]
    )
    stack.push(command)
    ann = realm.object_for_primary_key("Person", 1)
    assert ann["dog"] is None and [d["name"] for d in ann["dogs"]] == ["other", "other"]

    stack.undo()
    assert not errors
    rex = realm.object_for_primary_key("Dog", "rex")
    fido = realm.object_for_primary_key("Dog", "fido")
    assert rex is not None and fido is not None

    def names(values: Any) -> list[str]:
        return [v["name"] for v in values]

    assert ann["dog"] == rex
    assert names(ann["dogs"]) == ["other", "rex", "other", "fido", "rex"]
    assert sorted(names(ann["liked"])) == ["other", "rex"]
    assert {k: v["name"] for k, v in ann["by_name"].items()} == {
        "r": "rex", "o": "other", "f": "fido"
    }
    assert ann["anything"] == fido
    assert rex["buddy"] == fido and fido["buddy"] == rex  # between the deleted ones too
    # Redo deletes the new objects; undo again restores again.
    stack.redo()
    assert realm.object_for_primary_key("Dog", "rex") is None and ann["dog"] is None
    stack.undo()
    assert ann["dog"] == realm.object_for_primary_key("Dog", "rex")
    assert not errors
    realm.close()
