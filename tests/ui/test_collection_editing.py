"""Editing lists in the browser (issue 16, defect 11): the cursor stays on the edited
item, and Add / Remove / Move up / Move down are buttons, not only a context menu."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.core import Realm
from studio.ui.delegates import TypedLineEdit
from studio.ui.formatting import object_key
from studio.ui.navigation import ViewSpec


def _open_scores(browser: Any) -> Any:
    owner = browser.realm.object_for_primary_key("Person", 1)
    with browser.realm.write():
        owner["scores"].extend([3, 4, 5])
    browser.navigate(ViewSpec("collection", "Person", owner_key=object_key(owner),
                              prop="scores"))
    return owner


def test_editing_a_list_item_keeps_the_cursor_on_it(people_path: Path, open_browser: Any,
                                                    qtbot: Any) -> None:
    browser = open_browser(people_path)
    owner = _open_scores(browser)
    index = browser.model.index(3, 0)
    browser.table.setCurrentIndex(index)
    browser.table.edit(index)
    editor = next(w for w in browser.table.viewport().findChildren(TypedLineEdit)
                  if w.isVisible())
    editor.selectAll()
    qtbot.keyClicks(editor, "40")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()
    assert list(owner["scores"]) == [1, 2, 3, 40, 5]
    assert browser.table.currentIndex().row() == 3
    assert browser.table.selected_rows() == [3]


def test_list_buttons(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    assert browser.collection_bar.isHidden()
    owner = _open_scores(browser)
    assert browser.collection_bar.isVisible() and browser.move_up_button.isVisible()
    browser.table.setCurrentIndex(browser.model.index(1, 0))
    qtbot.mouseClick(browser.move_down_button, Qt.MouseButton.LeftButton)
    assert list(owner["scores"]) == [1, 3, 2, 4, 5]
    assert browser.table.currentIndex().row() == 2
    qtbot.mouseClick(browser.move_up_button, Qt.MouseButton.LeftButton)
    assert list(owner["scores"]) == [1, 2, 3, 4, 5]
    qtbot.mouseClick(browser.add_item_button, Qt.MouseButton.LeftButton)
    assert list(owner["scores"]) == [1, 2, 3, 4, 5, 0]
    browser.table.setCurrentIndex(browser.model.index(0, 0))
    qtbot.mouseClick(browser.remove_items_button, Qt.MouseButton.LeftButton)
    browser.message_bar.click("Remove")
    assert list(owner["scores"]) == [2, 3, 4, 5, 0]
    browser.navigate(ViewSpec("collection", "Person", owner_key=object_key(owner),
                              prop="tags"))
    assert browser.collection_bar.isVisible() and browser.move_up_button.isHidden()


def test_a_deleted_owner_is_said_in_words(people_path: Path, open_browser: Any,
                                          qtbot: Any) -> None:
    browser = open_browser(people_path)
    _open_scores(browser)
    with Realm.open(people_path) as other, other.write():  # another program deletes it
        other.delete(other.object_for_primary_key("Person", 1))
    qtbot.waitUntil(lambda: browser.message_bar.level == "warning", timeout=5000)
    assert browser.model.total_rows == 0
    assert browser.message_bar.text == "The Person these scores belonged to was deleted."
