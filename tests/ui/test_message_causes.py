"""Messages tied to their cause (issue 16, defect 7): an error goes when a later edit
succeeds, "Deleted…" goes on undo, and Delete works right after Ctrl+Enter created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.ui.delegates import TypedLineEdit


def _editor(browser: Any) -> TypedLineEdit:
    editors = [w for w in browser.table.viewport().findChildren(TypedLineEdit) if w.isVisible()]
    assert len(editors) == 1, editors
    return editors[0]


def test_edit_error_goes_when_a_later_edit_succeeds(people_path: Path, open_browser: Any,
                                                   qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.table.delegate.invalidInput.emit("no Dog has the primary key 7")
    assert browser.message_bar.level == "error" and "primary key 7" in browser.message_bar.text
    index = browser.model.index(3, browser.model.column_named("age"))
    browser.table.setCurrentIndex(index)
    browser.table.edit(index)
    editor = _editor(browser)
    editor.selectAll()
    qtbot.keyClicks(editor, "42")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert browser.realm.object_for_primary_key("Person", 3)["age"] == 42
    assert browser.message_bar.text == ""


def test_unrelated_message_stays_after_an_edit(people_path: Path, open_browser: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.show_message("Exported 3 rows.", "success")
    assert browser.edit_cell(browser.model.index(3, browser.model.column_named("age")), 5)
    assert browser.message_bar.text == "Exported 3 rows."


def test_deleted_message_goes_on_undo(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.table.setFocus()
    browser.table.setCurrentIndex(browser.model.index(4, browser.model.column_named("name")))
    qtbot.keyClick(browser.table, Qt.Key.Key_Delete)
    browser.message_bar.click("Delete")
    assert browser.message_bar.text == "Deleted 1 Person."
    qtbot.keyClick(browser, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert browser.realm.object_for_primary_key("Person", 4) is not None
    assert browser.message_bar.text == ""


def test_delete_right_after_creating_with_ctrl_enter(people_path: Path, open_browser: Any,
                                                     qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    qtbot.keyClick(browser, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    panel = browser.create_panel
    panel.set_text("id", "1000")
    panel.set_text("name", "Zed")
    qtbot.keyClick(panel.editors["name"], Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert browser.realm.object_for_primary_key("Person", 1000) is not None
    focused = QApplication.focusWidget()
    assert focused is browser.table
    qtbot.keyClick(focused, Qt.Key.Key_Delete)
    assert browser.message_bar.text.startswith("Delete 1 Person?")
    browser.message_bar.click("Delete")
    assert browser.realm.object_for_primary_key("Person", 1000) is None
