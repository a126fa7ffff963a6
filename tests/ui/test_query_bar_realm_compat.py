"""The Studio's query bar accepts the Realm compatibility additions of the query
language (full-text TEXT, arithmetic, ordered booleans, lists of literals)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from studio.core import Realm

SCHEMA = [{"name": "Doc", "properties": {
    "title": "string", "body": {"type": "string?", "indexed": "full-text"},
    "size": "int", "done": "bool",
}}]


@pytest.fixture
def docs_path(tmp_path: Path) -> Path:
    path = tmp_path / "docs.realm"
    with Realm.open(path, schema=SCHEMA) as realm, realm.write():
        realm.create("Doc", {"title": "a", "body": "red apple", "size": 1, "done": True})
        realm.create("Doc", {"title": "b", "body": "green apples", "size": 5, "done": True})
        realm.create("Doc", {"title": "c", "body": "apple pie", "size": 9, "done": False})
    return path


@pytest.mark.parametrize(("query", "rows"), [
    ("body TEXT 'apple*'", 3),
    ("body TEXT 'apple -pie'", 1),
    ("size * 2 + 1 > 12", 1),
    ("done > false AND size + 1 >= 6", 1),
    ("ANY {1, 9} == size", 2),
])
def test_query_bar_applies_realm_queries(docs_path: Path, open_browser: Any, qtbot: Any,
                                         query: str, rows: int) -> None:
    browser = open_browser(docs_path)
    browser.show_class("Doc")
    browser.query_edit.setText(query)
    qtbot.keyClick(browser.query_edit, Qt.Key.Key_Return)
    assert browser.query_bar.error_text == ""
    assert browser.model.total_rows == rows


def test_query_bar_shows_full_text_errors(docs_path: Path, open_browser: Any,
                                          qtbot: Any) -> None:
    browser = open_browser(docs_path)
    browser.show_class("Doc")
    browser.query_edit.setText("title TEXT 'a'")
    qtbot.keyClick(browser.query_edit, Qt.Key.Key_Return)
    assert "full-text" in browser.query_bar.error_text
    assert browser.model.total_rows == 3
