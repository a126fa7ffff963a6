"""Go to (Ctrl+G): a row number or a primary key typed as its type; the row is scrolled
to and selected; what is not there is said in the dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from studio.ui.goto import PRIMARY_KEY, ROW
from studio.ui.navigation import ViewSpec


def open_goto(browser: Any, qtbot: Any, widget: Any = None) -> Any:
    target = widget if widget is not None else browser.table
    target.setFocus()
    qtbot.keyClick(target, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    dialog = browser.goto_dialog
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def current_key(browser: Any) -> Any:
    row = browser.table.currentIndex().row()
    return browser.model.row_object(row)["id"]


def test_primary_key_scrolls_to_and_selects_the_row(people_path: Path, open_browser: Any,
                                                    qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.table.cycle_sort(browser.model.column_named("name"))  # rows are not in key order
    browser.table.cycle_sort(browser.model.column_named("name"))  # descending
    dialog = open_goto(browser, qtbot)
    assert dialog.mode.currentData() == PRIMARY_KEY
    assert dialog.mode.currentText() == "Primary key (id: int)"
    qtbot.keyClicks(dialog.input, "17")
    qtbot.keyClick(dialog.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert current_key(browser) == 17
    assert browser.table.currentIndex().row() == 49 - 17
    assert browser.table.selected_rows() == [49 - 17]


@pytest.mark.parametrize(("text", "error"), [
    ("999", "No Person has the id 999."),
    ("abc", "'abc' is not a valid int (the type of id): "),
    ("", "'' is not a valid int (the type of id): "),
])
def test_a_key_that_leads_nowhere_is_said(people_path: Path, open_browser: Any, qtbot: Any,
                                          text: str, error: str) -> None:
    browser = open_browser(people_path)
    browser.table.go_to_row(3, 0)
    dialog = open_goto(browser, qtbot)
    dialog.input.setText(text)
    assert not dialog.go()
    assert dialog.isVisible() and dialog.error.text().startswith(error)
    assert browser.table.currentIndex().row() == 3  # nothing moved


def test_a_key_the_query_hides(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.apply_query("id < 10", submitted=True)
    dialog = open_goto(browser, qtbot)
    dialog.input.setText("20")
    assert not dialog.go()
    assert dialog.error.text() == ("The Person 20 is not in this view (the query hides it): "
                                   "clear the query to go to it.")
    dialog.input.setText("7")
    assert dialog.go()
    assert current_key(browser) == 7


def test_string_keys(demo_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(demo_path)
    browser.navigate(ViewSpec("class", "Book"))
    isbn = browser.model.row_object(120)["isbn"]
    dialog = open_goto(browser, qtbot)
    dialog.input.setText(isbn)
    assert dialog.go()
    assert browser.table.currentIndex().row() == 120


def test_row_numbers(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    dialog = open_goto(browser, qtbot)
    dialog.set_mode(ROW)
    dialog.input.setText("500")
    assert not dialog.go()
    assert dialog.error.text() == "There is no row 500: this view has 50 rows (0 to 49)."
    dialog.input.setText("x")
    assert not dialog.go()
    assert dialog.error.text() == "Type a row number (0 to 49)."
    dialog.input.setText("42")
    assert dialog.go()
    assert browser.table.currentIndex().row() == 42


def test_collections_go_to_rows_only(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    owner = browser.realm.object_for_primary_key("Person", 1)
    browser.navigate(ViewSpec("collection", "Person", owner_key=owner._key, prop="scores"))
    dialog = open_goto(browser, qtbot)
    assert [dialog.mode.itemData(i) for i in range(dialog.mode.count())] == [ROW]
    with pytest.raises(ValueError, match="cannot go to a primaryKey"):
        dialog.set_mode(PRIMARY_KEY)
    dialog.input.setText("1")
    assert dialog.go()
    assert browser.table.currentIndex().row() == 1


def test_ctrl_g_works_from_text_fields(people_path: Path, open_browser: Any,
                                       qtbot: Any) -> None:
    browser = open_browser(people_path)
    dialog = open_goto(browser, qtbot, browser.query_edit)
    dialog.reject()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    browser.findChild(object, "inspectorAction").trigger()
    browser.table.go_to_row(2, 0)
    assert browser.inspector.form is not None
    field = browser.inspector.form.fields["name"].editor
    assert isinstance(field, QLineEdit)
    open_goto(browser, qtbot, field)
