"""Column headers with types, and the quick filter row that writes RQL into the query
bar: quoting that Realm's query language reads back exactly, one term per box."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from studio.core import Realm
from studio.core.schema import Property
from studio.ui.quick_filter import (
    QuickFilterError,
    build_query,
    date_literal,
    filter_term,
    string_literal,
)

AWKWARD = ['say "hi"', "it's", "C:\\temp", "two\\\\back", "a\\'b", "tab\\t", "plain",
           "", "   spaced  ", "\\u00e9t\\u00e9", "50%_*?"]
IMPOSSIBLE = ["both ' and \"", "ends with \\", "bad \\q escape", "\\u12 short"]


def prop(name: str, type_name: str, optional: bool = False, **extra: Any) -> Property:
    return Property(name=name, type=type_name, optional=optional, **extra)


def test_string_literals_read_back_exactly(tmp_path: Path) -> None:
    schema = [{"name": "Thing", "properties": {"name": "string"}}]
    with Realm.open(tmp_path / "t.realm", schema=schema) as realm:
        with realm.write():
            for name in AWKWARD + IMPOSSIBLE:
                realm.create("Thing", {"name": name})
        things = realm.objects("Thing")
        for name in AWKWARD:
            found = things.filtered(f"name == {string_literal(name)}")
            assert [t["name"] for t in found] == [name], name
            if name.strip():
                term = filter_term(prop("name", "string"), name)
                assert name in [t["name"] for t in things.filtered(term)]
        for name in IMPOSSIBLE:
            with pytest.raises(QuickFilterError, match="cannot write this text"):
                string_literal(name)


def test_the_quotes_chosen() -> None:
    assert string_literal("plain") == '"plain"'
    assert string_literal('say "hi"') == "'say \"hi\"'"
    assert string_literal("it's") == '"it\'s"'
    assert string_literal("C:\\temp") == '"C:\\temp"'


@pytest.mark.parametrize(("type_name", "optional", "text", "term"), [
    ("string", False, "Ann", 'name CONTAINS[c] "Ann"'),
    ("string", False, "= Ann", 'name == "Ann"'),
    ("string", False, "!=Ann", 'name != "Ann"'),
    ("string", False, ">= m", 'name >= "m"'),
    ("string", False, "null", 'name CONTAINS[c] "null"'),  # bare text is searched
    ("string", True, "== null", "name == null"),
    ("int", True, "5", "name == 5"),
    ("int", True, " > 5 ", "name > 5"),
    ("int", True, "=<-3", "name <= -3"),
    ("int", True, "<> 4", "name != 4"),
    ("int", True, "null", "name == null"),
    ("int", True, "NIL", "name == null"),
    ("int", True, "!= null", "name != null"),
    ("double", False, "1.5", "name == 1.5"),
    ("double", False, "> 1e3", "name > 1000.0"),
    ("decimal128", False, "10.50", "name == 10.50"),
    ("bool", False, "yes", "name == true"),
    ("bool", False, "false", "name == false"),
    ("date", False, "> 2024-01-02", "name > 2024-01-02@00:00:00"),
    ("date", False, "2024-01-02T03:04:05.5Z", "name == 2024-01-02@03:04:05:500000000"),
    ("objectId", False, "6001c033600510df3bbfd864", "name == oid(6001c033600510df3bbfd864)"),
    ("uuid", False, "12345678-1234-1234-1234-123456789abc",
     "name == uuid(12345678-1234-1234-1234-123456789abc)"),
    ("int", False, "   ", ""),
])
def test_terms(type_name: str, optional: bool, text: str, term: str) -> None:
    assert filter_term(prop("name", type_name, optional), text) == term


@pytest.mark.parametrize(("p", "text", "error"), [
    (prop("age", "int", True), "abc", "age: "),
    (prop("age", "int", True), ">", "age: type a value after >"),
    (prop("age", "int", False), "null", "age is never null"),
    (prop("age", "int", True), "> null", "age: null can only be compared with == or !="),
    (prop("friends", "object", False, object_type="Person", collection="list"), "x",
     "No quick filter for Person[]"),
])
def test_bad_boxes_say_why(p: Property, text: str, error: str) -> None:
    with pytest.raises(QuickFilterError) as caught:
        filter_term(p, text)
    assert str(caught.value).startswith(error)


def test_terms_are_joined_with_and() -> None:
    terms = [(prop("name", "string"), "a"), (prop("age", "int", True), ""),
             (prop("n", "int"), ">1")]
    assert build_query(terms) == 'name CONTAINS[c] "a" AND n > 1'


def test_dates_are_written_in_utc() -> None:
    from datetime import timedelta, timezone

    local = datetime(2024, 1, 2, 5, 0, tzinfo=timezone(timedelta(hours=2)))
    assert date_literal(local) == "2024-01-02@03:00:00"
    assert date_literal(datetime(2024, 1, 2, tzinfo=UTC)) == "2024-01-02@00:00:00"


# -- in the browser ---------------------------------------------------------------------------


def column(browser: Any, name: str) -> int:
    return int(browser.model.column_named(name))


def test_headers_show_types_and_marks(people_path: Path, open_browser: Any) -> None:
    browser = open_browser(people_path)
    header = browser.table.column_header
    texts = {name: header.section_type_text(column(browser, name))
             for name in ("id", "name", "age", "friends", "tags", "notes", "owners")}
    assert texts == {"id": "int · PK", "name": "string · indexed", "age": "int?",
                     "friends": "Person[]", "tags": "string<>", "notes": "string{}",
                     "owners": "← Dog.owner"}
    assert header.sizeHint().height() > 2 * header.fontMetrics().height()


def test_typing_in_the_filter_row_writes_and_runs_the_query(
        people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    header = browser.table.column_header
    assert header.filters_shown()
    age = header.filter_box(column(browser, "age"))
    name = header.filter_box(column(browser, "name"))
    assert not header.filter_box(column(browser, "friends")).isEnabled()
    qtbot.keyClicks(age, "> 3")
    qtbot.waitUntil(lambda: browser.current_spec.query == "age > 3")
    assert browser.query_edit.text() == "age > 3"
    qtbot.keyClicks(name, 'son "1')  # a quote: written with the other quote character
    qtbot.keyClick(name, Qt.Key.Key_Return)
    query = "name CONTAINS[c] 'son \"1' AND age > 3"
    assert browser.current_spec.query == query and browser.query_edit.text() == query
    assert browser.model.total_rows == 0
    name.clear()
    qtbot.keyClicks(name, "1")
    qtbot.keyClick(name, Qt.Key.Key_Return)
    expected = browser.realm.objects("Person").filtered('name CONTAINS[c] "1" AND age > 3')
    assert browser.model.total_rows == len(expected) > 0
    # the boxes keep their text on the filtered view, and the query went to the history
    assert age.text() == "> 3" and name.text() == "1"
    assert browser.queries.history.recent()[0] == 'name CONTAINS[c] "1" AND age > 3'
    # a query typed in the bar is not the boxes' any more: they empty
    browser.query_edit.set_query("alive == true")
    browser.query_edit.submit()
    assert age.text() == "" and name.text() == ""
    assert browser.current_spec.query == "alive == true"


def test_a_bad_box_is_marked_and_runs_nothing(people_path: Path, open_browser: Any,
                                              qtbot: Any) -> None:
    browser = open_browser(people_path)
    header = browser.table.column_header
    age = header.filter_box(column(browser, "age"))
    age.setText("lots")
    assert not browser.quick_filter.apply()
    assert age.styleSheet() and age.toolTip().startswith("age: ")
    assert browser.message_bar.text.startswith("Age: ")
    assert browser.current_spec.query == ""
    age.setText("1")
    assert browser.quick_filter.apply()
    assert age.styleSheet() == "" and browser.current_spec.query == "age == 1"


def test_filters_only_where_queries_run(people_path: Path, open_browser: Any,
                                        qtbot: Any) -> None:
    from studio.ui.navigation import ViewSpec

    browser = open_browser(people_path)
    header = browser.table.column_header
    owner = browser.realm.object_for_primary_key("Person", 1)
    browser.navigate(ViewSpec("collection", "Person", owner_key=owner._key, prop="scores"))
    assert not header.filters_shown()
    browser.navigate(ViewSpec("class", "Dog"))
    assert header.filters_shown()
    assert [b.objectName() for b in header.filters] == ["filter_name", "filter_owner"]


def test_ctrl_g_from_a_filter_box(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    box = browser.table.column_header.filter_box(column(browser, "name"))
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(browser.goto_dialog.isVisible)


def test_columns_are_wide_enough_for_their_type(tmp_path: Path, open_browser: Any) -> None:
    path = tmp_path / "narrow.realm"
    schema = [{"name": "T", "properties": {"d": "decimal128?", "w": "objectId?"}}]
    with Realm.open(path, schema=schema) as realm, realm.write():
        realm.create("T", {})
    browser = open_browser(path)
    header = browser.table.column_header
    for name in ("d", "w"):
        col = column(browser, name)
        needed = header.fontMetrics().horizontalAdvance(header.section_type_text(col))
        assert browser.table.columnWidth(col) >= needed + 12, name
