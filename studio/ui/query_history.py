"""Query history and saved queries, per realm file (the ▾ button of the query bar,
``queryHistoryButton``).

The last :data:`MAX_HISTORY` queries run on a file (Enter in the query bar, the quick
filter row, or picked from the menu) and the queries saved under a name are kept in
the Studio's QSettings, under a key made from the file's full path. Several Studio
processes share them: every change reads the stored value again first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMenu, QToolButton, QWidget

from studio.ui.recent import settings

if TYPE_CHECKING:
    from studio.ui.browser import RealmBrowser

log = logging.getLogger(__name__)
MAX_HISTORY = 20
MENU_TEXT_LIMIT = 80  # a long query is cut in the menu (its tooltip has all of it)


def file_key(path: str | os.PathLike[str]) -> str:
    """The settings group of a realm file: a digest of its full path (QSettings would
    read the path's slashes as groups)."""
    full = str(Path(path).resolve())
    return "queries/" + hashlib.sha256(full.encode("utf-8")).hexdigest()[:24]


class QueryHistory:
    """The recent and saved queries of one realm file."""

    def __init__(self, path: str | os.PathLike[str], store: QSettings | None = None,
                 limit: int = MAX_HISTORY) -> None:
        self.path = str(Path(path).resolve())
        self._store = store or settings()
        self._group = file_key(path)
        self.limit = limit

    def _read(self, name: str, default: Any) -> Any:
        self._store.sync()  # what other processes saved since this one last looked
        raw = self._store.value(f"{self._group}/{name}", "")
        if not isinstance(raw, str) or not raw:
            return default
        try:
            value = json.loads(raw)
        except ValueError:
            log.warning("ignoring unreadable %s of %s in the settings", name, self.path)
            return default
        return value if isinstance(value, type(default)) else default

    def _write(self, name: str, value: Any) -> None:
        self._store.setValue(f"{self._group}/path", self.path)
        self._store.setValue(f"{self._group}/{name}", json.dumps(value, ensure_ascii=False))
        self._store.sync()

    def recent(self) -> list[str]:
        """Most recent first."""
        return [q for q in self._read("recent", []) if isinstance(q, str) and q]

    def add(self, query: str) -> None:
        query = query.strip()
        if not query:
            return
        queries = [query] + [q for q in self.recent() if q != query]
        self._write("recent", queries[: self.limit])

    def clear_recent(self) -> None:
        self._write("recent", [])

    def saved(self) -> dict[str, str]:
        """Saved queries by name, in name order."""
        stored = self._read("saved", {})
        return {str(k): str(v) for k, v in sorted(stored.items(), key=lambda kv: kv[0].lower())
                if isinstance(v, str)}

    def save(self, name: str, query: str) -> None:
        """Save (or replace) the query ``name``."""
        name, query = name.strip(), query.strip()
        if not name:
            raise ValueError("a saved query needs a name")
        if not query:
            raise ValueError("there is no query to save: type one in the query bar first")
        saved = self.saved()
        saved[name] = query
        self._write("saved", saved)

    def remove(self, name: str) -> None:
        saved = self.saved()
        saved.pop(name, None)
        self._write("saved", saved)


def _menu_text(query: str) -> str:
    text = " ".join(query.split())
    text = text if len(text) <= MENU_TEXT_LIMIT else text[: MENU_TEXT_LIMIT - 1] + "…"
    return text.replace("&", "&&")  # not a mnemonic


class QueryHistoryButton(QToolButton):
    """The drop-down of recent and saved queries; picking one emits ``querySelected``."""

    querySelected = Signal(str)
    saveRequested = Signal()

    def __init__(self, history: QueryHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.setObjectName("queryHistoryButton")
        self.setText("History")
        self.setToolTip("Recent and saved queries of this file")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = QMenu(self)
        self.menu_.setObjectName("queryHistoryMenu")
        self.menu_.aboutToShow.connect(self.rebuild)
        self.setMenu(self.menu_)

    def rebuild(self) -> None:
        """Fill the menu from the settings (another window may have added queries)."""
        menu = self.menu_
        menu.clear()
        recent = self.history.recent()
        saved = self.history.saved()
        menu.addSection("Recent queries")
        if not recent:
            menu.addAction("(none yet: queries run with Enter show here)").setEnabled(False)
        for query in recent:
            self._query_action(menu, _menu_text(query), query, "recentQuery")
        menu.addSection("Saved queries")
        if not saved:
            menu.addAction("(none saved)").setEnabled(False)
        for name, query in saved.items():
            self._query_action(menu, f"{name.replace('&', '&&')} — {_menu_text(query)}", query,
                               "savedQuery")
        menu.addSeparator()
        save = menu.addAction("Save current query…")
        save.setObjectName("saveQueryAction")
        save.triggered.connect(lambda _c=False: self.saveRequested.emit())
        if saved:
            remove = menu.addMenu("Delete saved query")
            remove.setObjectName("deleteSavedQueryMenu")
            for name in saved:
                act = remove.addAction(name.replace("&", "&&"))
                act.triggered.connect(lambda _c=False, n=name: self.history.remove(n))
        clear = menu.addAction("Clear recent queries")
        clear.setObjectName("clearQueryHistoryAction")
        clear.setEnabled(bool(recent))
        clear.triggered.connect(lambda _c=False: self.history.clear_recent())

    def _query_action(self, menu: QMenu, text: str, query: str, name: str) -> QAction:
        action = menu.addAction(text)
        action.setObjectName(name)
        action.setData(query)
        action.setToolTip(query)
        action.triggered.connect(lambda _c=False, q=query: self.querySelected.emit(q))
        return action


class BrowserQueries:
    """The history of a browser's query bar: records the queries it runs, runs the ones
    picked from the menu, saves the current one under a name."""

    def __init__(self, browser: RealmBrowser) -> None:
        self.browser = browser
        self.history = QueryHistory(browser.realm.path)
        self.button = QueryHistoryButton(self.history, browser.query_bar)
        browser.query_bar.add_tool(self.button)
        self.edit = browser.query_edit
        self.edit.querySubmitted.connect(self.submitted)
        self.button.querySelected.connect(self.run)
        self.button.saveRequested.connect(self.ask_name)

    def submitted(self, query: str) -> None:
        # Connected after the browser's own handler: the query has been applied (or its
        # error shown) by now, and only queries that ran are worth keeping.
        spec = self.browser.current_spec
        if query and not self.browser.query_bar.error_text and spec is not None \
                and spec.kind == "class" and spec.query == query:
            self.history.add(query)

    def run(self, query: str) -> None:
        """Put ``query`` in the bar and run it."""
        self.edit.set_query(query)
        self.edit.submit()

    def ask_name(self) -> None:
        name, ok = QInputDialog.getText(self.browser, "Save query",
                                        f"A name for the query\n{self.edit.text().strip()}")
        if ok:
            self.save_query(name)

    def save_query(self, name: str) -> bool:
        """Save the query bar's text as ``name``; a message says how it went."""
        try:
            self.history.save(name, self.edit.text())
        except ValueError as exc:
            text = str(exc)
            self.browser.show_message(text[:1].upper() + text[1:] + ".", "warning", 4000)
            return False
        self.browser.show_message(f"Saved the query as {name.strip()!r}.", "success", 3000)
        return True
