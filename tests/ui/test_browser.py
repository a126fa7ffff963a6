"""The realm browser: navigation, back/forward, queries, sorting, live updates, read-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from browser_support import commit_elsewhere
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLineEdit, QTableView, QTreeWidget

from studio.core import Realm
from studio.ui import browser as browser_module
from studio.ui.browser import RealmBrowser
from studio.ui.navigation import ViewSpec
from studio.ui.sources import BacklinkSource, CollectionSource


def cell(browser: RealmBrowser, row: int, column: str) -> Any:
    model = browser.model
    return model.data(model.index(row, model.column_named(column)))


def index_of(browser: RealmBrowser, row: int, column: str) -> Any:
    return browser.model.index(row, browser.model.column_named(column))


def test_object_names_and_class_list(demo_path: Path, open_browser: Any) -> None:
    browser = open_browser(demo_path)
    assert browser.objectName() == "realmBrowser"
    class_list = browser.findChild(QTreeWidget, "classList")
    assert class_list is browser.class_list
    assert browser.findChild(QTableView, "objectTable") is browser.table
    assert isinstance(browser.findChild(QLineEdit, "queryBar"), QLineEdit)
    names = class_list.names()
    assert names[:2] == ["Author", "Book"]
    assert class_list.count_text("Book") == "150"
    assert class_list.is_embedded("Edition") and not class_list.is_embedded("Book")
    assert "(embedded)" in class_list._item("Edition").text(0)
    assert browser.current_spec == ViewSpec("class", "Author")
    assert browser.model.total_rows == 40
    assert browser.status.count_label.text() == "40 objects"
    assert str(demo_path) in browser.status.path_label.text()
    assert browser.status.size_label.text().endswith("KB")


def test_system_classes_are_hidden_until_toggled(tmp_path: Path, open_browser: Any) -> None:
    path = tmp_path / "sys.realm"
    Realm.open(path, schema=[{"name": "__Meta", "properties": {"v": "int"}},
                             {"name": "Item", "properties": {"v": "int"}}]).close()
    browser = open_browser(path)
    assert browser.class_list.names() == ["Item"]
    browser.system_toggle.setChecked(True)
    assert browser.class_list.names() == ["__Meta", "Item"]


def test_click_class_then_back_and_forward_with_keys(demo_path: Path, open_browser: Any,
                                                     qtbot: Any) -> None:
    browser = open_browser(demo_path)
    item = browser.class_list._item("Loan")
    browser.class_list.setCurrentItem(item)
    assert browser.current_spec.class_name == "Loan"
    assert browser.model.total_rows == 320
    assert browser.back_action.isEnabled() and not browser.forward_action.isEnabled()
    qtbot.keyClick(browser.table, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert browser.current_spec.class_name == "Author"
    assert browser.class_list.current_class() == "Author"
    qtbot.keyClick(browser.table, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert browser.current_spec.class_name == "Loan"


def test_follow_link_and_come_back_to_the_same_row(demo_path: Path, open_browser: Any,
                                                   qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Loan")
    browser.table.go_to_row(7, browser.model.column_named("book"))
    isbn = browser.model.row_object(7)["book"]["isbn"]
    browser.table.setFocus()
    qtbot.keyClick(browser.table, Qt.Key.Key_Return)  # Enter follows the link
    spec = browser.current_spec
    assert spec.kind == "class" and spec.class_name == "Book"
    current = browser.table.currentIndex()
    assert browser.model.row_object(current.row())["isbn"] == isbn
    browser.go_back()
    assert browser.current_spec.class_name == "Loan"
    assert browser.table.currentIndex().row() == 7


def test_click_on_link_follows_it(demo_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Loan")
    index = index_of(browser, 0, "member")
    rect = browser.table.visualRect(index)
    qtbot.mouseClick(browser.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.center())
    assert browser.current_spec.class_name == "Member"
    assert browser.current_spec.focus_key is not None


def test_open_collection_backlinks_and_embedded(demo_path: Path, open_browser: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    book = browser.model.row_object(0)
    browser.follow(index_of(browser, 0, "authors"))
    assert isinstance(browser.model.source, CollectionSource)
    assert browser.current_spec == ViewSpec("collection", "Book", owner_key=book._key,
                                            prop="authors")
    assert browser.model.total_rows == len(book["authors"])
    assert browser.view_title.text() == "Book.authors"
    assert not browser.query_bar.isEnabled()
    browser.go_back()
    browser.follow(index_of(browser, 0, "loans"))
    assert isinstance(browser.model.source, BacklinkSource)
    assert browser.model.total_rows == len(book["loans"])
    browser.go_back()
    browser.follow(index_of(browser, 0, "reviews"))
    assert browser.model.total_rows == len(book["reviews"])
    assert browser.model.columns[0].name == "reviewer"
    browser.go_back()
    assert browser.current_spec == ViewSpec("class", "Book")
    # a new view drops the forward history, as in a web browser
    assert [s.kind for s in browser.history.specs()] == ["class", "class", "collection"]
    browser.go_forward()
    assert browser.current_spec.prop == "reviews"


def test_query_as_you_type_with_debounce_and_history(demo_path: Path, open_browser: Any,
                                                     qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    qtbot.keyClick(browser, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert browser.query_edit.hasFocus()
    qtbot.keyClicks(browser.query_edit, "pages > 500")
    assert browser.query_edit.pending  # debounced: not applied on every key
    with qtbot.waitSignal(browser.viewShown, timeout=2000):
        pass
    expected = len(browser.realm.objects("Book").filtered("pages > 500"))
    assert browser.model.total_rows == expected
    assert browser.status.count_label.text() == f"{expected} of 150 objects"
    specs = browser.history.specs()
    assert specs[-1].query == "pages > 500" and specs[-2] == ViewSpec("class", "Book")
    qtbot.keyClicks(browser.query_edit, "0")  # still typing: the entry is replaced
    qtbot.waitUntil(lambda: browser.current_spec.query == "pages > 5000", timeout=2000)
    assert len(browser.history.specs()) == len(specs)
    assert browser.model.total_rows == 0
    browser.go_back()
    assert browser.current_spec == ViewSpec("class", "Book")
    assert browser.query_edit.text() == ""
    assert browser.model.total_rows == 150


def test_bad_query_shows_error_with_position(demo_path: Path, open_browser: Any,
                                             qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    browser.query_edit.setText("pages > 100 AND nosuch == 3")
    qtbot.keyClick(browser.query_edit, Qt.Key.Key_Return)
    assert browser.model.total_rows == 150  # the last good view stays
    text = browser.query_bar.error_text
    assert "nosuch" in text and "position" in text
    assert browser.query_edit.error_position is not None
    assert browser.query_edit.error_position == browser.query_edit.text().index("nosuch")
    assert "text-decoration: underline" in text
    browser.query_edit.setText("pages > 100")
    qtbot.keyClick(browser.query_edit, Qt.Key.Key_Return)
    assert browser.query_bar.error_text == ""
    assert browser.query_edit.error_position is None


def test_header_click_sorts_asc_desc_off(demo_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    column = browser.model.column_named("pages")
    header = browser.table.horizontalHeader()
    pages = sorted(b["pages"] for b in browser.realm.objects("Book"))

    def click() -> None:
        x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(x, header.height() // 2))

    click()
    assert cell(browser, 0, "pages") == str(pages[0])
    assert browser.current_spec.sort == ("pages", True)
    assert header.isSortIndicatorShown()
    click()
    assert cell(browser, 0, "pages") == str(pages[-1])
    assert browser.current_spec.sort == ("pages", False)
    click()
    assert browser.current_spec.sort is None
    assert not header.isSortIndicatorShown()


def test_live_update_from_another_process(demo_path: Path, open_browser: Any,
                                          qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Loan")
    browser.model.expose_all()
    browser.table.go_to_row(300, 1)
    scroll = browser.table.verticalScrollBar().value()
    resets: list[int] = []
    browser.model.modelReset.connect(lambda: resets.append(1))
    commit_elsewhere(demo_path, """
        loan = realm.objects("Loan")[299]
        loan["renewals"] = 77
        realm.delete(realm.objects("Loan")[0])
        realm.create("Author", {"_id": __import__("studio.core").core.ObjectId(),
                                "name": "Zed"})
    """)
    qtbot.waitUntil(lambda: browser.model.total_rows == 319, timeout=3000)
    qtbot.waitUntil(lambda: browser.class_list.count_text("Author") == "41", timeout=3000)
    assert cell(browser, 298, "renewals") == "77"
    assert browser.table.currentIndex().row() == 299  # the same object stays selected
    assert abs(browser.table.verticalScrollBar().value() - scroll) <= 1
    assert not resets
    assert browser.class_list.count_text("Loan") == "319"


def test_read_only_realm_disables_editing(demo_path: Path, open_browser: Any) -> None:
    browser = open_browser(demo_path, read_only=True)
    assert browser.read_only
    assert not browser.status.mode_label.isHidden()
    assert "read-only" in browser.windowTitle()
    assert not browser.new_action.isEnabled() and not browser.delete_action.isEnabled()
    index = index_of(browser, 0, "name")
    assert not browser.model.is_editable(index)
    assert not browser.model.setData(index, "x")
    browser.delete_selected()
    assert "read-only" in browser.message_bar.text


def test_unwritable_file_opens_read_only(demo_path: Path, open_browser: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_module.os, "access", lambda *_a, **_k: False)
    browser = open_browser(demo_path)
    assert browser.read_only
    assert "permission" in browser.message_bar.text


def test_locked_file_is_a_message_not_a_freeze(demo_path: Path, open_browser: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_module, "BUSY_TIMEOUT_MS", 100)
    browser = open_browser(demo_path)
    other = sqlite3.connect(demo_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        assert not browser.model.setData(index_of(browser, 0, "name"), "x")
        assert browser.message_bar.level == "error"
        assert "locked" in browser.message_bar.text
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert browser.model.setData(index_of(browser, 0, "name"), "x")
    assert cell(browser, 0, "name") == "x"


def test_disk_full_is_reported(demo_path: Path, open_browser: Any,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    browser = open_browser(demo_path)
    realm = browser.realm

    def full() -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(realm, "write", full)
    assert not browser.model.setData(index_of(browser, 0, "name"), "x")
    assert "disk is full" in browser.message_bar.text
    assert browser.undo_stack.count() == 0


def test_theme_toggle(demo_path: Path, open_browser: Any) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from studio.ui import theme
    from studio.ui.recent import settings

    browser = open_browser(demo_path)
    browser.dark_action.trigger()  # checks it and switches
    assert browser.dark_action.isChecked()
    window = QApplication.palette().color(QPalette.ColorRole.Window)
    assert window.lightness() < 80
    assert settings().value("theme") == "dark"
    browser.dark_action.setChecked(False)
    browser.toggle_dark()
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 180
    assert theme.current() == "light"


def test_keyboard_only_navigation(demo_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(demo_path)
    qtbot.keyClick(browser, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert browser.class_list.hasFocus()
    qtbot.keyClick(browser.class_list, Qt.Key.Key_Down)
    assert browser.current_spec.class_name == "Book"
    qtbot.keyClick(browser, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert browser.table.hasFocus()
    browser.table.setCurrentIndex(index_of(browser, 0, "isbn"))
    qtbot.keyClick(browser.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    assert browser.table.currentIndex().row() == 149
    browser.table.setCurrentIndex(index_of(browser, 3, "tags"))
    qtbot.keyClick(browser.table, Qt.Key.Key_Return)
    assert browser.current_spec.kind == "collection"
    qtbot.keyClick(browser.table, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert browser.current_spec == ViewSpec("class", "Book")
