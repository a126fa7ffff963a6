"""Column widths (issue 16, defect 8): fitted again when a class that was empty gets
objects, kept per class across navigation, fitted on demand from the header edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from studio.core import Realm
from studio.ui.navigation import ViewSpec

SCHEMA = [
    {"name": "Note", "properties": {"title": "string", "body": "string"}},
    {"name": "Tag", "properties": {"label": "string"}},
]
LONG = "a rather long title that needs a wide column to be read"


def _notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.realm"
    with Realm.open(path, schema=SCHEMA) as realm, realm.write():
        realm.create("Tag", {"label": "x"})
    return path


def _width(browser: Any, column: str) -> int:
    return int(browser.table.columnWidth(browser.model.column_named(column)))


def test_empty_class_is_fitted_when_objects_arrive(tmp_path: Path, open_browser: Any,
                                                   qtbot: Any) -> None:
    path = _notes(tmp_path)
    browser = open_browser(path)
    browser.show_class("Note")
    narrow = _width(browser, "title")
    with Realm.open(path) as other, other.write():
        other.create("Note", {"title": LONG, "body": "b"})
    qtbot.waitUntil(lambda: browser.model.total_rows == 1)
    text = browser.table.fontMetrics().horizontalAdvance(LONG)
    assert _width(browser, "title") > narrow
    assert _width(browser, "title") >= min(text, 320)


def test_widths_are_kept_per_class(tmp_path: Path, open_browser: Any) -> None:
    browser = open_browser(_notes(tmp_path))
    browser.show_class("Tag")
    browser.table.horizontalHeader().resizeSection(browser.model.column_named("label"), 260)
    browser.show_class("Note")
    assert _width(browser, "title") != 260
    browser.show_class("Tag")
    assert _width(browser, "label") == 260


def test_user_width_is_not_refitted_when_rows_arrive(tmp_path: Path, open_browser: Any,
                                                     qtbot: Any) -> None:
    path = _notes(tmp_path)
    browser = open_browser(path)
    browser.show_class("Note")
    browser.table.horizontalHeader().resizeSection(browser.model.column_named("title"), 90)
    with Realm.open(path) as other, other.write():
        other.create("Note", {"title": LONG, "body": "b"})
    qtbot.waitUntil(lambda: browser.model.total_rows == 1)
    assert _width(browser, "title") == 90


def test_double_click_on_the_edge_fits_the_column(tmp_path: Path, open_browser: Any,
                                                  qtbot: Any) -> None:
    path = _notes(tmp_path)
    with Realm.open(path) as realm, realm.write():
        realm.create("Note", {"title": LONG, "body": "b"})
    browser = open_browser(path)
    browser.show_class("Note")
    fitted = _width(browser, "title")  # fitted to the content on load
    assert fitted >= min(browser.table.fontMetrics().horizontalAdvance(LONG), 320)
    column = browser.model.column_named("title")
    header = browser.table.horizontalHeader()
    header.resizeSection(column, 80)
    QApplication.processEvents()
    # A real double-click on the section's right edge (the resize handle).
    edge = QPoint(header.sectionViewportPosition(column) + header.sectionSize(column) - 1,
                  header.height() // 2)
    qtbot.mouseDClick(header.viewport(), Qt.MouseButton.LeftButton, pos=edge)
    assert _width(browser, "title") == fitted


def test_a_class_first_shown_empty_by_its_query_is_fitted_when_rows_show(
        tmp_path: Path, open_browser: Any) -> None:
    path = tmp_path / "later.realm"
    with Realm.open(path, schema=list(reversed(SCHEMA))) as realm, realm.write():
        realm.create("Note", {"title": LONG, "body": "b"})
    browser = open_browser(path)
    assert browser.current_spec.class_name == "Tag"  # Note is not shown yet
    browser.navigate(ViewSpec("class", "Note", query="title == 'nothing like it'"))
    assert browser.model.total_rows == 0
    narrow = _width(browser, "title")
    browser.navigate(ViewSpec("class", "Note"))
    assert browser.model.total_rows == 1
    assert _width(browser, "title") > narrow
    assert _width(browser, "title") >= min(browser.table.fontMetrics().horizontalAdvance(LONG),
                                           320)
