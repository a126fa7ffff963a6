"""The object inspector: the table's current object as a form with every property,
edits through the undo stack, live updates, navigating links, read-only realms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser_support import commit_elsewhere
from PySide6.QtWidgets import QCheckBox, QLabel

from studio.core import Realm
from studio.ui.create_fields import CollectionEditor, EmbeddedEditor
from studio.ui.delegates import TypedLineEdit
from studio.ui.inspector import ObjectInspector
from studio.ui.inspector_fields import anchor_target
from studio.ui.navigation import ViewSpec


def show_inspector(browser: Any, qtbot: Any, row: int = 5) -> ObjectInspector:
    browser.findChild(object, "inspectorAction").trigger()
    inspector = browser.inspector
    qtbot.waitUntil(inspector.isVisible)
    with qtbot.waitSignal(inspector.objectShown):
        browser.table.go_to_row(row, 0)
    return inspector


def editor(inspector: ObjectInspector, name: str) -> Any:
    assert inspector.form is not None
    return inspector.form.fields[name].editor


def test_every_property_is_shown(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    inspector = show_inspector(browser, qtbot, row=1)
    assert inspector.target == ("Person", browser.model.row_object(1)._key)
    assert inspector.title.text() == "Person 1"
    assert editor(inspector, "name").text() == "person 01"
    assert isinstance(editor(inspector, "alive"), QCheckBox)
    assert not editor(inspector, "alive").isChecked()
    assert isinstance(editor(inspector, "scores"), CollectionEditor)
    assert editor(inspector, "scores").toPlainText() == "1\n2"
    assert editor(inspector, "tags").toPlainText() == "red"
    assert editor(inspector, "notes").toPlainText() == "a: first"
    assert editor(inspector, "friends").toPlainText() == "2\n3"  # links as primary keys
    assert editor(inspector, "dog").text() == "null"  # Dog has no primary key: shown
    # the primary key and the backlinks show as text; backlinks list their links
    assert isinstance(editor(inspector, "id"), QLabel)
    assert editor(inspector, "owners").text() == "1 Dog"
    links = inspector.form.fields["owners"].links.text()  # type: ignore[union-attr]
    assert "dog 1" in links and "open as a table" in links
    data = json.loads(inspector.json_view.toPlainText())
    assert data["id"] == 1 and data["scores"] == [1, 2] and data["notes"] == {"a": "first"}


def test_edits_are_one_undoable_command(people_path: Path, open_browser: Any,
                                        qtbot: Any) -> None:
    browser = open_browser(people_path)
    inspector = show_inspector(browser, qtbot, row=5)
    editor(inspector, "name").setText("Fifth")
    editor(inspector, "scores").setPlainText("7\n8\n9")
    editor(inspector, "friends").setPlainText("1")
    editor(inspector, "alive").setChecked(True)
    assert inspector.form is not None and inspector.form.dirty
    assert inspector.save()
    person = browser.realm.object_for_primary_key("Person", 5)
    assert person["name"] == "Fifth" and list(person["scores"]) == [7, 8, 9]
    assert [f["id"] for f in person["friends"]] == [1] and person["alive"] is True
    assert not inspector.form.dirty
    # the table shows it too, and one undo takes all of it back
    qtbot.waitUntil(lambda: browser.model.data(browser.model.index(
        5, browser.model.column_named("name"))) == "Fifth")
    assert browser.undo_stack.count() == 1
    browser.undo_action.trigger()
    assert person["name"] == "person 05" and list(person["scores"]) == [5, 6]
    assert list(person["friends"]) == [] and person["alive"] is False
    qtbot.waitUntil(lambda: editor(inspector, "name").text() == "person 05")
    browser.redo_action.trigger()
    assert person["name"] == "Fifth"


def test_bad_input_names_the_field_and_saves_nothing(people_path: Path, open_browser: Any,
                                                     qtbot: Any) -> None:
    browser = open_browser(people_path)
    inspector = show_inspector(browser, qtbot)
    editor(inspector, "scores").setPlainText("1\nlots")
    assert not inspector.save()
    assert inspector.error.text().startswith("scores: line 2")
    editor(inspector, "scores").setPlainText("1")
    editor(inspector, "friends").setPlainText("999")
    assert not inspector.save()
    assert inspector.error.text() == "friends: no Person has the primary key 999"
    assert browser.undo_stack.count() == 0
    assert list(browser.realm.object_for_primary_key("Person", 5)["scores"]) == [5, 6]


def test_follows_live_changes_and_keeps_what_is_being_typed(
        people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    inspector = show_inspector(browser, qtbot, row=3)
    editor(inspector, "age").setText("42")  # being edited: a live update leaves it
    commit_elsewhere(people_path, """
        p = realm.object_for_primary_key("Person", 3)
        p["name"] = "renamed"
        p["age"] = 1
        p["tags"].add("blue")
    """)
    qtbot.waitUntil(lambda: editor(inspector, "name").text() == "renamed", timeout=5000)
    assert editor(inspector, "tags").toPlainText() == "blue"
    assert editor(inspector, "age").text() == "42"
    assert '"name": "renamed"' in inspector.json_view.toPlainText()


def test_a_deleted_object_is_said(people_realm: Realm, qtbot: Any) -> None:
    inspector = ObjectInspector(people_realm, read_only=False)
    qtbot.addWidget(inspector)
    inspector.show()
    person = people_realm.object_for_primary_key("Person", 7)
    inspector.inspect(person)
    assert inspector.title.text() == "Person 7"
    with people_realm.write():
        people_realm.delete(person)
    inspector.refresh()
    assert inspector.deleted
    assert "was deleted" in inspector.note.text()
    assert not inspector.save_button.isEnabled() and not inspector.save()


def test_deleting_in_the_table_never_leaves_a_stale_object(
        people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    inspector = show_inspector(browser, qtbot, row=4)
    assert browser.delete_objects("Person", [browser.model.row_object(4)._key])
    qtbot.waitUntil(lambda: inspector.deleted or inspector.title.text() != "Person 4")
    if not inspector.deleted:  # the table moved to a neighbour: shown instead
        assert inspector.title.text() in ("Person 3", "Person 5")


def test_links_navigate(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    inspector = show_inspector(browser, qtbot, row=1)
    links = inspector.form.fields["owners"].links  # type: ignore[union-attr]
    dog_href = next(h for h in links.text().split("'") if h.startswith("link:Dog:"))
    with qtbot.waitSignal(inspector.objectShown):
        links.linkActivated.emit(dog_href)
    assert browser.current_spec.class_name == "Dog"
    assert inspector.title.text() == "Dog dog 1"
    # a dog's owner link goes back; "open as a table" opens a collection
    owner_href = inspector.form.fields["owner"].links.text().split("'")[1]  # type: ignore
    assert anchor_target(owner_href) is not None
    with qtbot.waitSignal(inspector.objectShown):
        inspector.form.fields["owner"].links.linkActivated.emit(owner_href)  # type: ignore
    assert browser.current_spec.class_name == "Person"
    assert inspector.title.text() == "Person 1"
    open_href = next(h for h in inspector.form.fields["scores"].links.text().split("'")  # type: ignore
                     if h.startswith("collection:"))
    inspector.form.fields["scores"].links.linkActivated.emit(open_href)  # type: ignore
    assert browser.current_spec.kind == "collection" and browser.current_spec.prop == "scores"


def test_embedded_objects_are_edited_in_place(tmp_path: Path, open_browser: Any,
                                              qtbot: Any) -> None:
    path = tmp_path / "shop.realm"
    schema = [
        {"name": "Shop", "primaryKey": "id",
         "properties": {"id": "int", "address": "Address?", "stock": "Item[]"}},
        {"name": "Address", "embedded": True,
         "properties": {"street": "string", "city": "string"}},
        {"name": "Item", "embedded": True, "properties": {"label": "string"}},
    ]
    with Realm.open(path, schema=schema) as realm, realm.write():
        realm.create("Shop", {"id": 1, "address": {"street": "Main", "city": "Oslo"},
                              "stock": [{"label": "a"}]})
    browser = open_browser(path)
    inspector = show_inspector(browser, qtbot, row=0)
    address = editor(inspector, "address")
    assert isinstance(address, EmbeddedEditor)
    assert address.editors["city"].text() == "Oslo"
    assert isinstance(address.editors["city"], TypedLineEdit)
    assert editor(inspector, "stock").text() == "1 item: a"  # shown, opened as a table
    address.editors["city"].setText("Bergen")
    assert inspector.save()
    assert browser.realm.object_for_primary_key("Shop", 1)["address"]["city"] == "Bergen"
    browser.undo_action.trigger()
    assert browser.realm.object_for_primary_key("Shop", 1)["address"]["city"] == "Oslo"
    # a list of embedded objects opened as a table: its rows are inspected and edited
    href = next(h for h in inspector.form.fields["stock"].links.text().split("'")  # type: ignore
                if h.startswith("collection:"))
    inspector.form.fields["stock"].links.linkActivated.emit(href)  # type: ignore[union-attr]
    assert browser.current_spec.kind == "collection"
    with qtbot.waitSignal(inspector.objectShown):
        browser.table.go_to_row(0, 0)
    assert inspector.title.text() == "Item a"
    editor(inspector, "label").setText("b")
    assert inspector.save()
    assert browser.realm.object_for_primary_key("Shop", 1)["stock"][0]["label"] == "b"


def test_a_table_edit_shows_in_the_inspector(people_path: Path, open_browser: Any,
                                             qtbot: Any) -> None:
    browser = open_browser(people_path)
    inspector = show_inspector(browser, qtbot, row=6)
    index = browser.model.index(6, browser.model.column_named("name"))
    with qtbot.waitSignal(inspector.objectShown):
        assert browser.model.setData(index, "edited in the table")
    assert editor(inspector, "name").text() == "edited in the table"


def test_read_only_realm_shows_without_editing(people_path: Path, open_browser: Any,
                                               qtbot: Any) -> None:
    browser = open_browser(people_path, read_only=True)
    inspector = show_inspector(browser, qtbot, row=2)
    assert editor(inspector, "name").isReadOnly()
    assert editor(inspector, "scores").isReadOnly()
    assert not editor(inspector, "alive").isEnabled()
    assert inspector.save_button.isHidden() and not inspector.save()
    assert "Read-only" in inspector.note.text()


def test_a_hidden_inspector_loads_when_shown(people_path: Path, open_browser: Any,
                                             qtbot: Any) -> None:
    browser = open_browser(people_path)
    inspector = browser.inspector
    browser.table.go_to_row(9, 0)
    assert inspector.form is None  # nothing was built while hidden
    with qtbot.waitSignal(inspector.objectShown):
        browser.findChild(object, "inspectorAction").trigger()
    assert inspector.title.text() == "Person 9"


CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "realm-corpus"
ASSET = CORPUS / "studio__asset_file_2024-03-26_154b6ff3.realm"


@pytest.mark.skipif(not ASSET.is_file(), reason="../shared/realm-corpus is missing")
def test_realm_core_files_are_inspected_read_only(open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(ASSET)
    browser.navigate(ViewSpec("class", "Owner"))
    inspector = show_inspector(browser, qtbot, row=0)
    assert inspector.title.text().startswith("Owner ")
    assert inspector.save_button.isHidden()
    assert inspector.form is not None
    for field in inspector.form.fields.values():
        if isinstance(field.editor, TypedLineEdit | CollectionEditor):
            assert field.editor.isReadOnly()
    assert json.loads(inspector.json_view.toPlainText())
