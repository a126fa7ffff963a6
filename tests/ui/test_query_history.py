"""Query history and saved queries per realm file, kept in QSettings (a temporary
settings folder in every test: see conftest.temp_settings)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from studio.ui.query_history import QueryHistory, file_key
from studio.ui.recent import settings


def menu_actions(browser: Any, name: str) -> list[QAction]:
    button = browser.queries.button
    button.rebuild()
    return [a for a in button.menu_.actions() if a.objectName() == name]


def test_recent_queries_per_file(tmp_path: Path, temp_settings: Path) -> None:
    assert settings().fileName().startswith(str(temp_settings))  # never the user's
    one = QueryHistory(tmp_path / "one.realm", limit=3)
    other = QueryHistory(tmp_path / "other.realm")
    for query in ("a > 1", "b > 2", "a > 1", "c > 3", "d > 4", "  "):
        one.add(query)
    assert one.recent() == ["d > 4", "c > 3", "a > 1"]  # newest first, once, at most 3
    assert other.recent() == []
    # another process (another QSettings object) sees the same history
    assert QueryHistory(tmp_path / "x" / ".." / "one.realm").recent() == one.recent()
    one.clear_recent()
    assert one.recent() == []


def test_saved_queries(tmp_path: Path) -> None:
    history = QueryHistory(tmp_path / "one.realm")
    history.save("Zed", "z == 1")
    history.save("adults", "age >= 18")
    history.save("Zed", "z == 2")
    assert history.saved() == {"adults": "age >= 18", "Zed": "z == 2"}
    assert list(history.saved()) == ["adults", "Zed"]
    history.remove("Zed")
    assert history.saved() == {"adults": "age >= 18"}
    for name, query in (("", "a == 1"), ("empty", "  ")):
        try:
            history.save(name, query)
        except ValueError:
            continue
        raise AssertionError(f"saved {name!r}: {query!r}")


def test_unreadable_settings_are_ignored(tmp_path: Path) -> None:
    store = settings()
    store.setValue(file_key(tmp_path / "one.realm") + "/recent", "{not json")
    store.sync()
    history = QueryHistory(tmp_path / "one.realm")
    assert history.recent() == []
    history.add("a == 1")
    assert history.recent() == ["a == 1"]


def test_queries_run_are_remembered(people_path: Path, open_browser: Any, qtbot: Any) -> None:
    browser = open_browser(people_path)
    edit = browser.query_edit
    edit.setFocus()
    qtbot.keyClicks(edit, "age > 3")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    edit.set_query("age >")  # a bad query is not kept
    edit.submit()
    assert browser.query_bar.error_text
    edit.set_query("name BEGINSWITH 'person 1'")
    edit.submit()
    assert [a.data() for a in menu_actions(browser, "recentQuery")] == [
        "name BEGINSWITH 'person 1'", "age > 3"]
    # picking one runs it, and puts it in the bar
    with qtbot.waitSignal(browser.viewShown):
        menu_actions(browser, "recentQuery")[1].trigger()
    assert browser.current_spec.query == "age > 3" and edit.text() == "age > 3"
    assert browser.model.total_rows == len(browser.realm.objects("Person").filtered("age > 3"))


def test_saved_queries_in_the_menu(people_path: Path, tmp_path: Path, open_browser: Any,
                                   qtbot: Any) -> None:
    browser = open_browser(people_path)
    assert not browser.queries.save_query("nothing")  # an empty bar
    assert "no query to save" in browser.message_bar.text
    browser.query_edit.set_query("alive == true")
    assert browser.queries.save_query("living")
    browser.query_edit.set_query("")
    browser.query_edit.submit()
    saved = menu_actions(browser, "savedQuery")
    assert [(a.text(), a.data()) for a in saved] == [("living — alive == true", "alive == true")]
    with qtbot.waitSignal(browser.viewShown):
        saved[0].trigger()
    assert browser.model.total_rows == 25
    # the same file opened again has them; another file has its own
    browser.close()
    again = open_browser(people_path)
    assert [a.data() for a in menu_actions(again, "savedQuery")] == ["alive == true"]
    copy = tmp_path / "copy.realm"
    shutil.copyfile(people_path, copy)
    other = open_browser(copy)
    assert menu_actions(other, "savedQuery") == []
    assert menu_actions(other, "recentQuery") == []
