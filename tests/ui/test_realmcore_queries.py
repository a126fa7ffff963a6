"""Queries and sorts on genuine Realm Core files (issue 16): the query bar and the quick
filter row work, the scan runs in the worker with a busy message and Cancel, header
sorts too, and an answer is kept so that back/forward shows it at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from studio.realmfile.browse import CoreFileRealm
from studio.ui.corefile_browser import RealmCoreBrowser

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "realm-corpus"
BIG = CORPUS / "rc__test_upgrade_database_1000_24.realm"
ASSET = CORPUS / "studio__asset_file_2024-03-26_154b6ff3.realm"
JS_DEFAULT = CORPUS / "js__packages_realm-tools_samples_default.realm"


def _column(browser: RealmCoreBrowser, name: str, rows: int) -> list[Any]:
    model = browser.model
    source = model.source
    assert source is not None
    return [source.fetch(r, r + 1)[0][name] for r in range(rows)]


def _expected(path: Path, test: Callable[[Any], bool]) -> list[Any]:
    realm = CoreFileRealm.open(path)
    try:
        return [o["_id"] for o in realm.objects("table") if test(o)]
    finally:
        realm.close()


def test_a_query_scans_in_the_worker_and_back_shows_it_at_once(
        open_browser: Callable[..., Any], qtbot: Any) -> None:
    browser: RealmCoreBrowser = open_browser(BIG)
    assert isinstance(browser, RealmCoreBrowser)
    browser.show_class("table")
    with qtbot.waitSignal(browser.queryFinished, timeout=20_000):
        browser.query_edit.set_query("string == 'orange' AND int > 65600")
        browser.query_edit.submit()
        # the window answers meanwhile: the busy message, an empty view
        assert browser.message_bar.text == "Running the query on 10,001 table objects…"
        assert browser.model.total_rows == 0
    expected = _expected(BIG, lambda o: o["string"] == "orange" and o["int"] > 65600)
    assert browser.model.total_rows == len(expected) > 100
    assert _column(browser, "_id", 3) == expected[:3]
    assert browser.message_bar.text == ""
    assert "of 10,001" in browser.status.count_label.text()
    # back to the class, forward to the query: the kept answer, no second scan
    browser.go_back()
    assert browser.model.total_rows == 10_001
    browser.go_forward()
    assert browser.model.total_rows == len(expected) and browser.message_bar.text == ""


def test_a_bad_query_says_where_and_keeps_the_rows(open_browser: Callable[..., Any]) -> None:
    browser: RealmCoreBrowser = open_browser(BIG)
    browser.show_class("table")
    browser.apply_query("nope > 1", submitted=True)
    assert "no property &#x27;nope&#x27;" in browser.query_bar.error_text
    browser.apply_query("int > $0", submitted=True)
    assert "query argument" in browser.query_bar.error_text
    assert browser.model.total_rows == 10_001


def test_header_sort_runs_in_the_worker(open_browser: Callable[..., Any], qtbot: Any) -> None:
    browser: RealmCoreBrowser = open_browser(BIG)
    browser.show_class("table")
    column = browser.model.column_named("int")
    with qtbot.waitSignal(browser.model.sortChanged, timeout=20_000):
        browser.table.cycle_sort(column)
        assert browser.message_bar.text.startswith("Sorting 10,001 objects by int")
    values = _column(browser, "int", 50)
    assert values == sorted(values)
    with qtbot.waitSignal(browser.model.sortChanged, timeout=20_000):
        browser.table.cycle_sort(column)  # descending
    everything = sorted((o for o in _expected(BIG, lambda _o: True)), key=str)
    assert len(everything) == browser.model.total_rows
    top = _column(browser, "int", 3)
    assert top == sorted(top, reverse=True) and top[0] >= values[-1]
    assert browser.current_spec is not None and browser.current_spec.sort == ("int", False)
    # back and forth to a sorted view: kept in the history, sorted in the worker again
    browser.show_class("target")
    with qtbot.waitSignal(browser.queryFinished, timeout=20_000):
        browser.go_back()
    assert _column(browser, "int", 3) == top


def test_cancel_shows_the_whole_class(open_browser: Callable[..., Any], qtbot: Any) -> None:
    browser: RealmCoreBrowser = open_browser(BIG)
    browser.show_class("table")
    browser.apply_query("string CONTAINS 'e'", submitted=True)
    assert browser.model.sorter.busy
    browser.message_bar.click("Cancel")
    assert browser.model.total_rows == 10_001 and not browser.model.sorter.busy
    assert browser.current_spec is not None and browser.current_spec.query == ""
    assert browser.message_bar.text.startswith("The query was stopped")


@pytest.mark.parametrize("typed", ["owner"])
def test_the_quick_filter_row_works_on_core_files(open_browser: Callable[..., Any],
                                                  qtbot: Any, typed: str) -> None:
    browser: RealmCoreBrowser = open_browser(ASSET)
    browser.show_class("Owner")
    header = browser.table.column_header
    assert header.filters_shown
    box = header.filters[browser.model.column_named("name")]
    with qtbot.waitSignal(browser.queryFinished, timeout=20_000):
        box.setText(typed)
        qtbot.keyClick(box, Qt.Key.Key_Return)
    assert browser.query_edit.text() == f'name CONTAINS[c] "{typed}"'
    names = _column(browser, "name", browser.model.total_rows)
    assert names and all(typed in (n or "").lower() for n in names)


def test_a_query_shown_first_fits_its_columns_when_the_answer_comes(
        open_browser: Callable[..., Any], qtbot: Any) -> None:
    # `studio FILE --class Parent --query ...`: the class is first shown empty (the scan
    # runs), then the answer comes as a new source: the columns fit it, not the header.
    from studio.ui.navigation import ViewSpec

    browser: RealmCoreBrowser = open_browser(JS_DEFAULT)
    with qtbot.waitSignal(browser.queryFinished, timeout=20_000):
        browser.navigate(ViewSpec("class", "Parent", query="children.@count >= 2"))
    assert browser.model.total_rows == 4
    table, model = browser.table, browser.model
    metrics = table.fontMetrics()
    for name in ("city", "marriedTo", "children"):
        column = model.column_named(name)
        widest = max(metrics.horizontalAdvance(str(model.data(model.index(row, column))))
                     for row in range(model.rowCount()))
        assert table.columnWidth(column) >= min(widest, 320), name
