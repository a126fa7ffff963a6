"""Editing in the browser: every type through its editor, undo/redo, create, delete,
collections, data cells, copying rows."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from studio.core import ObjectId
from studio.ui.browser import RealmBrowser
from studio.ui.delegates import DateTimeEditor, MixedEditor, TypedLineEdit, to_qdatetime
from studio.ui.navigation import ViewSpec


def index_of(browser: RealmBrowser, row: int, column: str) -> Any:
    return browser.model.index(row, browser.model.column_named(column))


def person(browser: RealmBrowser, pk: int) -> Any:
    return browser.realm.object_for_primary_key("Person", pk)


def open_editor(browser: RealmBrowser, qtbot: Any, row: int, column: str) -> QWidget:
    index = index_of(browser, row, column)
    browser.table.setCurrentIndex(index)
    browser.table.edit(index)
    editors = [w for w in browser.table.viewport().findChildren(QWidget)
               if isinstance(w, TypedLineEdit | DateTimeEditor | MixedEditor) and w.isVisible()
               and not isinstance(w.parent(), MixedEditor)]
    assert len(editors) == 1, editors
    return editors[0]


def type_and_enter(qtbot: Any, editor: QWidget, text: str) -> None:
    line = editor.line if isinstance(editor, MixedEditor) else editor
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    QApplication.processEvents()


@pytest.mark.parametrize(
    ("column", "text", "expected"),
    [
        ("age", "42", 42),
        ("height", "1.85", 1.85),
        ("name", "Renee O Brien", "Renee O Brien"),
        ("oid", "6001c033600510df3bbfd864", ObjectId("6001c033600510df3bbfd864")),
        ("uid", "123e4567-e89b-12d3-a456-426614174000",
         uuid.UUID("123e4567-e89b-12d3-a456-426614174000")),
        ("money", "12.345", Decimal("12.345")),
    ],
)
def test_edit_typed_values_through_their_editors(people_path: Path, open_browser: Any,
                                                 qtbot: Any, column: str, text: str,
                                                 expected: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    editor = open_editor(browser, qtbot, 3, column)
    type_and_enter(qtbot, editor, text)
    assert person(browser, 3)[column] == expected
    assert browser.undo_stack.count() == 1


def test_invalid_text_cannot_be_committed(people_path: Path, open_browser: Any,
                                          qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    editor = open_editor(browser, qtbot, 3, "age")
    type_and_enter(qtbot, editor, "forty")
    assert editor.isVisible()  # Enter refused: the editor stays open
    assert not editor.hasAcceptableInput()
    assert person(browser, 3)["age"] == 3
    editor = open_editor(browser, qtbot, 3, "oid")
    type_and_enter(qtbot, editor, "not-hex")
    assert person(browser, 3)["oid"] is None


def test_bool_toggles_with_space(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.table.setCurrentIndex(index_of(browser, 1, "alive"))
    browser.table.setFocus()
    qtbot.keyClick(browser.table, Qt.Key.Key_Space)
    assert person(browser, 1)["alive"] is True
    qtbot.keyClick(browser, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert person(browser, 1)["alive"] is False


def test_date_editor_is_utc(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    editor = open_editor(browser, qtbot, 2, "born")
    assert isinstance(editor, DateTimeEditor)
    when = datetime(1999, 12, 31, 23, 59, 58, 125000, tzinfo=UTC)
    editor.setDateTime(to_qdatetime(when))
    assert editor.text() == "1999-12-31T23:59:58.125Z"
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()  # the delegate commits on the next event loop turn
    assert person(browser, 2)["born"] == when
    assert browser.model.data(index_of(browser, 2, "born")) == "1999-12-31T23:59:58.125Z"


def test_mixed_editor_picks_the_type(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    editor = open_editor(browser, qtbot, 4, "anything")
    assert isinstance(editor, MixedEditor)
    editor.type_box.setCurrentText("int")
    type_and_enter(qtbot, editor, "7")
    assert person(browser, 4)["anything"] == 7
    editor = open_editor(browser, qtbot, 4, "anything")
    assert editor.type_box.currentText() == "int"
    editor.type_box.setCurrentText("string")
    type_and_enter(qtbot, editor, "7")
    assert person(browser, 4)["anything"] == "7"
    editor = open_editor(browser, qtbot, 4, "anything")
    editor.type_box.setCurrentText("null")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert person(browser, 4)["anything"] is None


def test_link_is_typed_as_the_targets_primary_key(demo_path: Path, open_browser: Any,
                                                  qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Loan")
    isbn = browser.realm.objects("Book")[5]["isbn"]
    editor = open_editor(browser, qtbot, 0, "book")
    type_and_enter(qtbot, editor, isbn)
    assert browser.model.row_object(0)["book"]["isbn"] == isbn
    editor = open_editor(browser, qtbot, 0, "book")
    type_and_enter(qtbot, editor, "no-such-isbn")
    assert "no Book has the isbn" in browser.message_bar.text
    assert browser.model.row_object(0)["book"]["isbn"] == isbn


def test_undo_redo_of_edits(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    for text in ("first", "second"):
        type_and_enter(qtbot, open_editor(browser, qtbot, 0, "name"), text)
    assert person(browser, 0)["name"] == "second"
    qtbot.keyClick(browser, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert person(browser, 0)["name"] == "first"
    qtbot.keyClick(browser, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert person(browser, 0)["name"] == "person 00"
    assert browser.model.data(index_of(browser, 0, "name")) == "person 00"
    qtbot.keyClick(browser, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert person(browser, 0)["name"] == "first"


def test_set_null_and_data_files(people_path: Path, open_browser: Any, tmp_path: Path) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    assert browser.set_null(index_of(browser, 3, "age"))
    assert person(browser, 3)["age"] is None
    assert not browser.set_null(index_of(browser, 3, "alive"))  # required
    blob = tmp_path / "in.bin"
    blob.write_bytes(bytes(range(256)) * 8)
    assert browser.load_data(index_of(browser, 3, "photo"), str(blob))
    assert browser.model.data(index_of(browser, 3, "photo")) == "2.0 KB data"
    out = tmp_path / "out.bin"
    assert browser.save_data(index_of(browser, 3, "photo"), str(out))
    assert out.read_bytes() == blob.read_bytes()
    browser.undo_stack.undo()
    assert person(browser, 3)["photo"] is None
    menu = browser.show_cell_menu(index_of(browser, 3, "photo"))
    texts = [a.text() for a in menu.actions()]
    assert "Load data from file…" in texts and "Set to null" in texts
    menu.close()


def test_create_object_in_side_panel_and_undo(people_path: Path, open_browser: Any,
                                              qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    qtbot.keyClick(browser, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    panel = browser.create_panel
    assert not browser.create_dock.isHidden() and not panel.isHidden()
    assert "friends" in panel.editors and "owners" not in panel.editors  # backlinks: no
    panel.set_text("id", "1000")
    panel.set_text("name", "Zed")
    panel.set_text("age", "31")
    panel.set_text("alive", "true")
    panel.submit()
    created = person(browser, 1000)
    assert created is not None and created["name"] == "Zed" and created["age"] == 31
    assert panel.isHidden()
    assert browser.model.row_object(browser.table.currentIndex().row())["id"] == 1000
    browser.undo_stack.undo()
    assert person(browser, 1000) is None
    browser.undo_stack.redo()
    assert person(browser, 1000)["name"] == "Zed"
    # a duplicate primary key is an error shown in the panel, which stays open
    browser.new_object()
    panel.set_text("id", "1000")
    panel.submit()
    assert not panel.isHidden()
    assert "1000" in panel.error.text()
    panel.set_text("id", "x")
    panel.submit()
    assert "id:" in panel.error.text()


def test_delete_with_one_confirmation_and_undo(demo_path: Path, open_browser: Any,
                                               qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    isbns = [browser.model.row_object(r)["isbn"] for r in (1, 2)]
    browser.table.setCurrentIndex(index_of(browser, 1, "title"))
    browser.table.selectRow(1)
    browser.table.selectionModel().select(
        index_of(browser, 2, "title"),
        browser.table.selectionModel().SelectionFlag.Select)
    qtbot.keyClick(browser.table, Qt.Key.Key_Delete)
    assert "Delete 2 Book objects?" in browser.message_bar.text
    assert len(browser.realm.objects("Book")) == 150  # nothing yet
    browser.message_bar.click("Delete")
    assert len(browser.realm.objects("Book")) == 148
    assert browser.model.total_rows == 148
    assert browser.class_list.count_text("Book") == "148"
    qtbot.keyClick(browser, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    restored = [browser.realm.object_for_primary_key("Book", i) for i in isbns]
    assert all(b is not None for b in restored)
    assert len(restored[0]["authors"]) >= 1  # links out of the object come back too


def test_cancelled_delete_changes_nothing(demo_path: Path, open_browser: Any) -> None:
    browser = open_browser(demo_path)
    browser.table.selectRow(0)
    browser.delete_selected()
    browser.message_bar.click("Cancel")
    assert len(browser.realm.objects("Author")) == 40


def test_list_add_edit_move_remove_with_undo(people_path: Path, open_browser: Any,
                                             qtbot: Any) -> None:
    browser = open_browser(people_path)
    owner = person(browser, 1)
    browser.navigate(ViewSpec("collection", "Person", owner_key=owner._key, prop="scores"))
    assert browser.model.total_rows == 2
    assert browser.add_element()
    assert list(owner["scores"]) == [1, 2, 0]
    editor = open_editor(browser, qtbot, 2, "value")
    type_and_enter(qtbot, editor, "9")
    assert list(owner["scores"]) == [1, 2, 9]
    assert browser.move_element(2, -1)
    assert list(owner["scores"]) == [1, 9, 2]
    assert browser.table.currentIndex().row() == 1
    browser.table.selectRow(0)
    browser.delete_selected()
    assert "Remove 1 item" in browser.message_bar.text
    browser.message_bar.click("Remove")
    assert list(owner["scores"]) == [9, 2]
    for expected in ([1, 9, 2], [1, 2, 9], [1, 2, 0], [1, 2]):
        browser.undo_stack.undo()
        assert list(owner["scores"]) == expected
    assert browser.model.total_rows == 2


def test_set_dictionary_and_link_list_editing(people_path: Path, open_browser: Any) -> None:
    browser = open_browser(people_path)
    owner = person(browser, 1)
    browser.navigate(ViewSpec("collection", "Person", owner_key=owner._key, prop="tags"))
    assert browser.add_element("blue")
    assert set(owner["tags"]) == {"red", "blue"}
    assert not browser.add_element("blue")  # already in the set
    assert browser.model.setData(browser.model.index(0, 0), "green")
    assert set(owner["tags"]) == {"green", "red"} or set(owner["tags"]) == {"blue", "green"}
    browser.navigate(ViewSpec("collection", "Person", owner_key=owner._key, prop="notes"))
    assert browser.add_element()
    assert dict(owner["notes"]) == {"a": "first", "key1": ""}
    browser.navigate(ViewSpec("collection", "Person", owner_key=owner._key, prop="friends"))
    assert browser.add_element()  # asks for the primary key in the side panel
    browser.create_panel.set_text("primaryKey", "40")
    browser.create_panel.submit()
    assert [f["id"] for f in owner["friends"]] == [2, 3, 40]
    browser.table.selectRow(0)
    browser.delete_selected()
    browser.message_bar.click("Remove")
    assert [f["id"] for f in owner["friends"]] == [3, 40]
    assert person(browser, 2) is not None  # removing a link does not delete the object
    browser.undo_stack.undo()
    assert [f["id"] for f in owner["friends"]] == [2, 3, 40]


def test_embedded_list_add_and_remove(demo_path: Path, open_browser: Any) -> None:
    browser = open_browser(demo_path)
    book = browser.realm.objects("Book")[0]
    count = len(book["reviews"])
    browser.navigate(ViewSpec("collection", "Book", owner_key=book._key, prop="reviews"))
    assert browser.add_element()
    assert len(book["reviews"]) == count + 1
    browser.table.selectRow(count)
    browser.delete_selected()
    browser.message_bar.click("Remove")
    assert len(book["reviews"]) == count
    browser.undo_stack.undo()
    assert len(book["reviews"]) == count + 1


def test_copy_rows_as_json_and_csv(demo_path: Path, open_browser: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    browser.table.selectRow(0)
    text = browser.copy_rows("json")
    rows = json.loads(text)
    assert rows[0]["isbn"] == browser.model.row_object(0)["isbn"]
    assert QGuiApplication.clipboard().text() == text
    csv_text = browser.copy_rows("csv")
    assert csv_text.splitlines()[0].startswith("isbn,title,authors")
    assert len(csv_text.splitlines()) == 2


def test_delete_by_keyboard_only(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.table.setFocus()
    browser.table.setCurrentIndex(index_of(browser, 4, "name"))
    qtbot.keyClick(browser.table, Qt.Key.Key_Delete)
    button = browser.message_bar.buttons()[0]
    assert button.text() == "Delete" and button.hasFocus()
    qtbot.keyClick(button, Qt.Key.Key_Return)
    assert person(browser, 4) is None
    assert browser.table.hasFocus()
