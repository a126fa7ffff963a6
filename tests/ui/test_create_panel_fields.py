"""The new-object panel (issue 16, defect 2): every field readable at common window
sizes, and links, lists, sets, dictionaries and embedded objects filled in it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QCompleter, QLineEdit

from studio.ui.browser import RealmBrowser

MIN_FIELD_WIDTH = 200


@pytest.mark.parametrize("size", [(1200, 760), (1600, 1000)])
def test_every_field_is_wide_and_tall_enough(demo_path: Path, open_browser: Any, qtbot: Any,
                                             size: tuple[int, int]) -> None:
    browser: RealmBrowser = open_browser(demo_path)
    browser.resize(*size)
    browser.show_class("Book")
    qtbot.keyClick(browser.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    panel = browser.create_panel
    qtbot.waitUntil(panel.isVisible)
    QApplication.processEvents()
    viewport = panel.scroll_area.viewport()
    assert panel.editors
    for name, editor in panel.editors.items():
        left = editor.mapTo(viewport, QPoint(0, 0)).x()
        assert editor.width() >= MIN_FIELD_WIDTH, (name, editor.width())
        assert left >= 0 and left + editor.width() <= viewport.width(), name  # no h-scroll
        assert editor.height() >= editor.minimumSizeHint().height(), name
        if isinstance(editor, QLineEdit):
            assert editor.height() >= editor.sizeHint().height(), name


@pytest.mark.parametrize("size", [(1200, 760), (1600, 1000)])
def test_the_panel_has_room_beside_an_open_inspector(demo_path: Path, open_browser: Any,
                                                     qtbot: Any, size: tuple[int, int]) -> None:
    # Docked above the inspector the panel once got a strip that showed a single field.
    browser: RealmBrowser = open_browser(demo_path)
    browser.resize(*size)
    browser.show_class("Book")
    inspector = browser.findChild(QAction, "inspectorAction")
    assert isinstance(inspector, QAction)
    inspector.trigger()
    browser.table.selectRow(2)
    qtbot.waitUntil(lambda: browser.inspector_dock is not None
                    and browser.inspector_dock.isVisible())
    qtbot.keyClick(browser.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    panel = browser.create_panel
    qtbot.waitUntil(panel.isVisible)
    QApplication.processEvents()
    viewport = panel.scroll_area.viewport()
    shown = [name for name, editor in panel.editors.items()
             if editor.isVisible() and editor.mapTo(viewport, QPoint(0, 0)).y() >= 0
             and editor.mapTo(viewport, QPoint(0, editor.height())).y() <= viewport.height()]
    assert len(shown) >= 5, shown
    assert viewport.height() >= size[1] // 2
    panel.close_panel()
    assert browser.inspector_dock is not None and browser.inspector_dock.isVisible()


def test_links_collections_and_embedded_objects_are_filled_in_the_panel(
        demo_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser: RealmBrowser = open_browser(demo_path)
    realm = browser.realm
    authors = [str(a["_id"]) for a in list(realm.objects("Author"))[:2]]
    related = str(realm.objects("Book")[0]["isbn"])
    browser.show_class("Book")
    browser.new_object()
    panel = browser.create_panel
    assert {"authors", "tags", "related", "edition", "loansPerMonth"} <= set(panel.editors)
    assert "loans" not in panel.editors  # a backlink is computed
    # The link fields complete the target class's primary keys.
    related_editor = panel.editor("related")
    assert related_editor.placeholderText().startswith("one 'primary key of a Book'")
    panel.set_text("isbn", "978-0-0000-0000-1")
    panel.set_text("title", "Made in the panel")
    panel.set_text("genre", "Poetry")
    panel.set_text("authors", "\n".join(authors))
    panel.set_text("tags", "new\nshiny\nnew")  # a set: the duplicate goes
    panel.set_text("related", related)
    panel.set_text("loansPerMonth", "2026-01: 3\n2026-02: 5")
    panel.editor("edition").setChecked(True)
    panel.set_text("edition.number", "2")
    panel.set_text("edition.publisher", "Panel Press")
    panel.set_text("edition.year", "2026")
    panel.set_text("edition.format", "paperback")
    panel.submit()
    assert panel.isHidden(), panel.error.text()
    book = realm.object_for_primary_key("Book", "978-0-0000-0000-1")
    assert book is not None and book["title"] == "Made in the panel"
    assert [str(a["_id"]) for a in book["authors"]] == authors
    assert sorted(book["tags"]) == ["new", "shiny"]
    assert [b["isbn"] for b in book["related"]] == [related]
    assert dict(book["loansPerMonth"]) == {"2026-01": 3, "2026-02": 5}
    edition = book["edition"]
    assert edition["publisher"] == "Panel Press" and edition["year"] == 2026
    assert isinstance(book["published"], datetime)


def test_bad_collection_lines_and_unknown_keys_are_named(demo_path: Path,
                                                          open_browser: Any) -> None:
    browser: RealmBrowser = open_browser(demo_path)
    browser.show_class("Book")
    browser.new_object()
    panel = browser.create_panel
    panel.set_text("isbn", "978-0-0000-0000-2")
    panel.set_text("title", "t")
    panel.set_text("genre", "g")
    panel.set_text("loansPerMonth", "2026-01: three")
    panel.submit()
    assert not panel.isHidden() and "loansPerMonth: line 1" in panel.error.text()
    panel.set_text("loansPerMonth", "")
    panel.set_text("authors", "ffffffffffffffffffffffff")
    panel.submit()
    assert not panel.isHidden() and "authors: no Author" in panel.error.text()


def test_a_link_field_completes_primary_keys(demo_path: Path, open_browser: Any) -> None:
    browser: RealmBrowser = open_browser(demo_path)
    browser.show_class("Loan")
    browser.new_object()
    panel = browser.create_panel
    book = panel.editor("book")
    assert isinstance(book, QLineEdit)
    completer = book.completer()
    assert isinstance(completer, QCompleter)
    isbn = str(browser.realm.objects("Book")[3]["isbn"])
    completer.setCompletionPrefix(isbn[-6:])  # any part of the key, not only its start
    assert completer.currentCompletion() == isbn


def test_a_link_field_finds_objects_by_their_text(demo_path: Path, open_browser: Any,
                                                  qtbot: Any) -> None:
    # Nobody remembers an ISBN or an ObjectId: typing part of a title finds the book,
    # and picking it puts its primary key into the field.
    browser: RealmBrowser = open_browser(demo_path)
    browser.show_class("Loan")
    browser.new_object()
    panel = browser.create_panel
    field = panel.editor("book")
    assert isinstance(field, QLineEdit)
    assert field.placeholderText() == "primary key of a Book, or text to search"
    titles = [str(b["title"]) for b in browser.realm.objects("Book")]
    title = next(t for t in titles if titles.count(t) == 1)
    book = browser.realm.objects("Book").filtered("title == $0", title)[0]
    field.setFocus()
    qtbot.keyClicks(field, title.lower()[2:12])
    popup = field.completer().popup()
    qtbot.waitUntil(popup.isVisible)
    labels = [popup.model().index(r, 0).data() for r in range(popup.model().rowCount())]
    row = next(r for r, label in enumerate(labels) if title in label)
    popup.setCurrentIndex(popup.model().index(row, 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert field.text() == str(book["isbn"])
    # An Author link names the class with "an", and finds authors by name.
    browser.show_class("Book")
    browser.new_object()
    assert panel.editor("authors").placeholderText() == "one 'primary key of an Author' per line"


def test_a_field_that_refuses_its_text_says_why_in_the_panel(
        demo_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser: RealmBrowser = open_browser(demo_path)
    browser.show_class("Book")
    browser.new_object()
    panel = browser.create_panel
    pages = panel.editor("pages")
    pages.setFocus()
    pages.selectAll()
    qtbot.keyClicks(pages, "abc")
    qtbot.keyClick(pages, Qt.Key.Key_Return)
    assert panel.error.isVisible()  # (isVisible: the panel is shown)
    assert panel.error.text().startswith("pages: ") and "abc" in panel.error.text()
    assert pages.text() == "abc"  # nothing lost, nothing created
    # A mixed value's line names its field too.
    extra = panel.editor("extra")
    extra.type_box.setCurrentText("int")  # type: ignore[attr-defined]
    line = extra.line  # type: ignore[attr-defined]
    line.setText("x1")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert panel.error.text().startswith("extra: ")
