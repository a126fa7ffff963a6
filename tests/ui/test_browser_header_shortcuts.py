"""Header clicks sort without selecting (issue 16, defect 5), and every browser
shortcut works wherever the focus is (defect 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt

from studio.ui.browser import RealmBrowser


def _click_header(browser: RealmBrowser, qtbot: Any, name: str) -> None:
    header = browser.table.horizontalHeader()
    column = browser.model.column_named(name)
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(x, header.height() // 2))


def test_sorting_by_a_header_click_selects_nothing(demo_path: Path, open_browser: Any,
                                                    qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    table = browser.table
    _click_header(browser, qtbot, "pages")
    assert browser.current_spec.sort == ("pages", True)
    assert table.selectionModel().selectedIndexes() == []
    _click_header(browser, qtbot, "pages")
    assert browser.current_spec.sort == ("pages", False)
    assert table.selectionModel().selectedIndexes() == []


def test_sorting_keeps_a_row_selection_to_rows(demo_path: Path, open_browser: Any,
                                               qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    table = browser.table
    table.selectRow(1)
    _click_header(browser, qtbot, "pages")
    columns = {i.column() for i in table.selectionModel().selectedIndexes()}
    rows = {i.row() for i in table.selectionModel().selectedIndexes()}
    # Never the whole column: at most the one row that was selected.
    assert len(rows) <= 1
    assert not rows or len(columns) == browser.model.columnCount()


def test_header_press_and_unsortable_columns_select_nothing(demo_path: Path,
                                                            open_browser: Any,
                                                            qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.show_class("Book")
    model, table = browser.model, browser.table
    header = table.horizontalHeader()
    for column in range(model.columnCount()):
        x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
        # The press alone (a sort may take a while on a big table) selects nothing...
        qtbot.mousePress(header.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(x, header.height() // 2))
        assert table.selectionModel().selectedIndexes() == [], column
        qtbot.mouseRelease(header.viewport(), Qt.MouseButton.LeftButton,
                           pos=QPoint(x, header.height() // 2))
        # ...nor does the click on a column that cannot be sorted.
        assert table.selectionModel().selectedIndexes() == [], column
