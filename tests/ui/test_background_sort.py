"""Sorting many rows off the UI thread (issue 16, defect 10): a busy message with
Cancel, the window keeps running, the rows come sorted, later changes re-sort."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from studio.ui.sources import KeyedSource


def _sort_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("studio-sort-")]


def _names(browser: Any, rows: int) -> list[str]:
    column = browser.model.column_named("name")
    return [browser.model.data(browser.model.index(r, column)) for r in range(rows)]


def test_sort_runs_in_a_worker_with_a_busy_message(people_path: Path, open_browser: Any,
                                                   qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.model.background_sort_rows = 10  # 50 people count as "many" here
    column = browser.model.column_named("name")
    browser.table.horizontalHeader().sectionClicked.emit(column)  # a header click
    bar = browser.message_bar
    assert bar.text.startswith("Sorting 50 objects by name")
    assert bar.busy_bar.isVisible() and [b.text() for b in bar.buttons()] == ["Cancel"]
    qtbot.waitUntil(lambda: isinstance(browser.model.source, KeyedSource), timeout=10_000)
    assert bar.text == ""
    assert _names(browser, 3) == ["person 00", "person 01", "person 02"]
    assert browser.model.sort_state() is not None
    browser.table.horizontalHeader().sectionClicked.emit(column)  # descending
    qtbot.waitUntil(lambda: _names(browser, 1) == ["person 49"], timeout=10_000)
    # an edit that moves a row: the order is computed again in the worker
    with browser.realm.write():
        browser.realm.object_for_primary_key("Person", 0)["name"] = "zz first"
    browser.poll()
    qtbot.waitUntil(lambda: _names(browser, 1) == ["zz first"], timeout=10_000)
    assert browser.model.total_rows == 50


def test_cancel_keeps_the_rows_as_they_were(people_path: Path, open_browser: Any,
                                            qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.model.background_sort_rows = 10
    before = browser.model.source
    browser.table.cycle_sort(browser.model.column_named("name"))
    browser.message_bar.click("Cancel")
    assert browser.message_bar.text == ""
    qtbot.waitUntil(lambda: not _sort_threads(), timeout=10_000)
    QApplication.processEvents()  # the worker's answer arrives, and is dropped
    assert browser.model.source is before and browser.model.sort_state() is None


def test_small_classes_sort_in_place(people_path: Path, open_browser: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.table.cycle_sort(browser.model.column_named("name"))
    assert browser.message_bar.text == "" and not isinstance(browser.model.source, KeyedSource)
    assert browser.model.sort_state() is not None


def test_leaving_the_view_cancels_the_sort(people_path: Path, open_browser: Any,
                                           qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.model.background_sort_rows = 10
    browser.table.cycle_sort(browser.model.column_named("name"))
    assert browser.message_bar.text.startswith("Sorting")
    browser.show_class("Dog")
    assert browser.message_bar.text == ""
    qtbot.waitUntil(lambda: not _sort_threads(), timeout=10_000)
    QApplication.processEvents()
    assert browser.model.source is not None
    assert browser.model.source.object_schema.name == "Dog"


def test_a_sorted_view_restored_by_back_sorts_in_the_worker(
        people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    browser.show_class("Person")
    browser.model.background_sort_rows = 10
    column = browser.model.column_named("name")
    browser.table.cycle_sort(column)
    qtbot.waitUntil(lambda: isinstance(browser.model.source, KeyedSource), timeout=10_000)
    browser.table.cycle_sort(column)  # descending
    qtbot.waitUntil(lambda: _names(browser, 1) == ["person 49"], timeout=10_000)
    browser.table.go_to_row(7, column)
    browser.show_class("Dog")
    browser.go_back()
    # Shown at once unsorted, the sort running in the worker, as for a header click.
    assert browser.message_bar.text.startswith("Sorting 50 objects by name")
    assert not isinstance(browser.model.source, KeyedSource)
    qtbot.waitUntil(lambda: isinstance(browser.model.source, KeyedSource), timeout=10_000)
    assert _names(browser, 2) == ["person 49", "person 48"]
    assert browser.table.currentIndex().row() == 7  # the row left, in the sorted order
    assert browser.model.sort_state() is not None
    browser.go_forward()
    assert browser.model.source.object_schema.name == "Dog"
    browser.go_back()
    qtbot.waitUntil(lambda: isinstance(browser.model.source, KeyedSource), timeout=10_000)
    assert browser.history.current.spec.sort == ("name", False)
