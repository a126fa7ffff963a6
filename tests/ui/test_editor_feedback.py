"""Editors say in place what is wrong (issue 16, defect 9): Enter on "abc" in an int
cell, a link key no object has (the text stays), and the link picker that searches the
target class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.core import Realm
from studio.ui.delegates import LinkEditor, TypedLineEdit

SCHEMA = [
    {"name": "Owner", "primaryKey": "id",
     "properties": {"id": "int", "name": "string", "city": "string?"}},
    {"name": "Pet", "properties": {"name": "string", "owner": "Owner?"}},
]


def _open_editor(browser: Any, row: int, column: str) -> TypedLineEdit:
    index = browser.model.index(row, browser.model.column_named(column))
    browser.table.setCurrentIndex(index)
    browser.table.edit(index)
    editors = [w for w in browser.table.viewport().findChildren(TypedLineEdit) if w.isVisible()]
    assert len(editors) == 1, editors
    return editors[0]


def _type_enter(qtbot: Any, editor: TypedLineEdit, text: str) -> None:
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()


def test_enter_on_text_that_is_not_an_int_says_why(people_path: Path, open_browser: Any,
                                                   qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    editor = _open_editor(browser, 3, "age")
    _type_enter(qtbot, editor, "abc")
    assert editor.isVisible() and editor.text() == "abc"  # still editing, nothing lost
    assert "border" in editor.styleSheet() and editor.toolTip()
    assert browser.message_bar.level == "error" and browser.message_bar.text
    assert browser.realm.object_for_primary_key("Person", 3)["age"] == 3
    editor.selectAll()
    qtbot.keyClicks(editor, "8")
    assert editor.styleSheet() == ""  # typing again clears the verdict
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert browser.realm.object_for_primary_key("Person", 3)["age"] == 8


def _pets(tmp_path: Path) -> Path:
    path = tmp_path / "pets.realm"
    with Realm.open(path, schema=SCHEMA) as realm, realm.write():
        alice = realm.create("Owner", {"id": 1, "name": "Alice", "city": "Oslo"})
        realm.create("Owner", {"id": 2, "name": "Bob", "city": "Paris"})
        realm.create("Owner", {"id": 3, "name": "Malik", "city": "Alicante"})
        realm.create("Pet", {"name": "Rex", "owner": alice})
    return path


def test_wrong_link_key_keeps_the_text(tmp_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(_pets(tmp_path))
    browser.show_class("Pet")
    editor = _open_editor(browser, 0, "owner")
    assert isinstance(editor, LinkEditor)
    _type_enter(qtbot, editor, "99")
    assert editor.isVisible() and editor.text() == "99"
    assert "no Owner has the id 99" in browser.message_bar.text
    assert browser.realm.objects("Pet")[0]["owner"]["id"] == 1
    _type_enter(qtbot, editor, "2")
    assert browser.realm.objects("Pet")[0]["owner"]["id"] == 2
    assert browser.message_bar.text == ""  # the error went with the successful edit


def test_link_picker_searches_string_properties(tmp_path: Path, open_browser: Any,
                                                qtbot: Any) -> None:
    browser = open_browser(_pets(tmp_path))
    browser.show_class("Pet")
    editor = _open_editor(browser, 0, "owner")
    assert isinstance(editor, LinkEditor)
    assert editor.search("ALI") == ["1", "3"]  # name Alice, city Alicante
    assert editor.search("bob") == ["2"]
    editor.setText("")
    qtbot.keyClicks(editor, "pari")
    popup = editor.completer().popup()
    qtbot.waitUntil(popup.isVisible)
    assert popup.model().rowCount() == 1
    assert "Bob" in popup.model().index(0, 0).data()
    popup.setCurrentIndex(popup.model().index(0, 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert editor.text() == "2"
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert browser.realm.objects("Pet")[0]["owner"]["name"] == "Bob"
