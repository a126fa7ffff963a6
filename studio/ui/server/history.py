"""The History panel: a synced realm's changesets, for debugging app data.

Server changesets come from the admin API (``/admin/realms/history``: server
version, origin client, user, time, readable instructions), fetched
incrementally as new versions arrive. When the realm is also open in this
Studio, the local changesets the server has not acknowledged yet are listed on
top as "not uploaded yet", read from the local file's history. A class and an
object filter narrow both to who changed what, and when.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QWidget,
)

from studio.core import Realm
from studio.core.synced import get_sync_value
from studio.ui.server.common import AdminTab, async_slot
from studio.ui.server.instructions_text import describe, matches, target_of
from studio.ui.server.link import ServerLink
from studio.ui.server.tables import (
    Column,
    FilterProxy,
    RecordModel,
    fit_columns,
    fmt_time,
    make_table,
    select_where,
    selected_record,
)
from studio.ui.server.time_travel import KeptWindows, TimeTravelWindow
from studio.ui.wording import plural

PAGE = 500
MAX_SERVER_ROWS = 5000  # the newest ones; older history stays on the server
LOCAL_POLL_MS = 1000
PENDING = "not uploaded yet"
# Admin log events after which the realm list is stale.
_REALM_LIST_EVENTS = frozenset({"realm_created", "realm_deleted"})


def _same_changeset(chosen: dict[str, Any]) -> Any:
    """A predicate finding ``chosen`` again in a rebuilt list: by its server version, or
    for a local one not uploaded yet by its origin client and client version."""
    version = chosen.get("server_version")
    if version is not None:
        return lambda r: r.get("server_version") == version
    origin, client_version = chosen.get("origin_file_ident"), chosen.get("client_version")
    return lambda r: (r.get("origin_file_ident") == origin
                      and r.get("client_version") == client_version)


def _instructions_cell(record: dict[str, Any]) -> str:
    shown = record.get("shown") or record.get("instructions") or []
    total = len(record.get("instructions") or [])
    text = " · ".join(shown[:4])
    if len(shown) > 4:
        text += f" · … ({len(shown)} of {total})"
    elif len(shown) != total:
        text += f"   ({len(shown)} of {total})"
    return text


HISTORY_COLUMNS = (
    Column("status", "Status"),
    Column("server_version", "Server version", align_right=True),
    Column("client_version", "Client version", align_right=True),
    Column("origin_file_ident", "Origin client", align_right=True),
    Column("user", "User"),
    Column("timestamp_ms", "Time", fmt_time),
    Column("instructions", "Instructions", get=_instructions_cell),
)


class HistoryPanel(AdminTab):
    """Changesets of one realm path (chosen in the panel, or fixed for a browser's dock)."""

    def __init__(self, link: ServerLink, realm_path: str = "", realm: Realm | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(link, parent)
        self.setObjectName("historyPanel")
        self.realm = realm
        self.server_rows: list[dict[str, Any]] = []
        self.local_rows: list[dict[str, Any]] = []
        self.loaded_version = 0
        self.loaded_path = ""
        # One load at a time: two interleaved loads would both append the same pages.
        self._loading = asyncio.Lock()
        self._full_load_path = ""  # the realm a full load is under way for
        self._rebuilding = False
        self.classes: set[str] = set()

        bar = QHBoxLayout()
        self.realm_combo = QComboBox(self)
        self.realm_combo.setObjectName("historyRealm")
        self.realm_combo.setEditable(True)
        self.realm_combo.setMinimumWidth(220)
        realm_line = self.realm_combo.lineEdit()
        assert realm_line is not None  # an editable combo box has one
        realm_line.setPlaceholderText("/shared/realm")
        self.realm_combo.setCurrentText(realm_path)
        realm_line.returnPressed.connect(self._realm_chosen)
        self.realm_combo.activated.connect(lambda _i: self._realm_chosen())
        bar.addWidget(QLabel("Realm", self))
        bar.addWidget(self.realm_combo, 1)
        self.class_combo = QComboBox(self)
        self.class_combo.setObjectName("historyClass")
        self.class_combo.addItem("All classes", "")
        self.class_combo.currentIndexChanged.connect(lambda _i: self._apply_filters())
        bar.addWidget(self.class_combo)
        self.object_filter = QLineEdit(self)
        self.object_filter.setObjectName("historyObject")
        self.object_filter.setPlaceholderText("object (primary key)")
        self.object_filter.setClearButtonEnabled(True)
        self.object_filter.textChanged.connect(lambda _t: self._apply_filters())
        bar.addWidget(self.object_filter)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setObjectName("refreshHistoryButton")
        self.refresh_button.clicked.connect(lambda _c=False: self.spawn(self.reload(full=True)))
        bar.addWidget(self.refresh_button)
        self.time_travel_button = QPushButton("Open as of this version", self)
        self.time_travel_button.setObjectName("timeTravelButton")
        self.time_travel_button.setToolTip(
            "The realm as it was right after the selected changeset (read-only), with "
            "what it changed")
        self.time_travel_button.setEnabled(False)
        self.time_travel_button.clicked.connect(lambda _c=False: self.open_as_of())
        bar.addWidget(self.time_travel_button)
        self._time_travel = KeptWindows()
        self.outer.addLayout(bar)
        if realm is not None:
            self.realm_combo.setEnabled(False)  # a browser's dock shows its own realm only

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.model = RecordModel(HISTORY_COLUMNS)
        self.proxy = FilterProxy(self.model, self)
        self.table = make_table(self.proxy, splitter, "historyTable", sortable=False)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_details())
        splitter.addWidget(self.table)
        self.details = QPlainTextEdit(splitter)
        self.details.setObjectName("historyDetails")
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a changeset to see all its instructions.")
        splitter.addWidget(self.details)
        splitter.setSizes([400, 140])
        self.outer.addWidget(splitter, 1)
        self.summary = QLabel("", self)
        self.summary.setObjectName("historySummary")
        self.summary.setStyleSheet("QLabel { color: gray; }")
        self.outer.addWidget(self.summary)

        self._server_soon = self.debounce(400, lambda: self.spawn(self.reload()))
        self._local_soon = self.debounce(150, self.reload_local)
        self._paths_soon = self.debounce(300, lambda: self.spawn(self.reload_paths()))
        self._token = realm.add_listener(lambda *_: self._local_soon()) if realm else None
        # Acknowledgements trim the local history without a change to listen for: poll.
        self.local_poll = QTimer(self)
        self.local_poll.setInterval(LOCAL_POLL_MS)
        self.local_poll.timeout.connect(self.reload_local)
        if realm is not None:
            self.local_poll.start()

    @property
    def realm_path(self) -> str:
        return self.realm_combo.currentText().strip()

    def set_realm_paths(self, paths: list[str]) -> None:
        if self.realm is not None:
            return
        current = self.realm_combo.currentText()
        self.realm_combo.clear()
        self.realm_combo.addItems(paths)
        self.realm_combo.setCurrentText(current)

    def show_realm(self, path: str) -> None:
        self.realm_combo.setCurrentText(path)
        self._realm_chosen()

    @async_slot()
    async def _realm_chosen(self) -> None:
        # Enter in the editable combo box is both returnPressed and activated: one load.
        if self.realm_path and self.realm_path == self._full_load_path:
            return
        async with self.acting():
            await self.reload(full=True)

    async def reload_paths(self) -> None:
        """Refetch the realm list for the drop-down (a realm was created or deleted)."""
        realms = await self.link.admin.list_realms()
        self.set_realm_paths(sorted(str(r["path"]) for r in realms))

    # -- loading ---------------------------------------------------------------------------

    async def reload(self, full: bool = False) -> None:
        """Fetch the server changesets after the last one loaded (all, with ``full``)."""
        path = self.realm_path
        if not path:
            return
        if full:
            self._full_load_path = path
        try:
            async with self._loading:
                if not await self._load_server_rows(path, full or path != self.loaded_path):
                    return
        finally:
            if full and self._full_load_path == path:
                self._full_load_path = ""
        self.reload_local(rebuild=False)
        self._rebuild()

    async def _load_server_rows(self, path: str, full: bool) -> bool:
        """Append the server's changesets of ``path`` after the last one loaded; False if
        another realm was chosen meanwhile."""
        if full:
            self.server_rows, self.loaded_version, self.loaded_path = [], 0, path
        while True:
            page = await self.link.admin.realm_history(path, since=self.loaded_version,
                                                       limit=PAGE)
            if path != self.realm_path:
                return False  # another realm was chosen meanwhile
            fresh = [c for c in page if int(c["server_version"]) > self.loaded_version]
            for changeset in fresh:
                changeset["status"] = "uploaded"
                self.server_rows.append(changeset)
            if fresh:
                self.loaded_version = int(fresh[-1]["server_version"])
            if len(page) < PAGE:
                break
        del self.server_rows[:-MAX_SERVER_ROWS]
        return True

    def reload_local(self, rebuild: bool = True) -> None:
        realm = self.realm
        rows: list[dict[str, Any]] = []
        if realm is not None and not realm.is_closed:
            acked = int(get_sync_value(realm, "upload_ack", "0") or 0)
            ident = int(get_sync_value(realm, "client_file_ident", "0") or 0)
            user = get_sync_value(realm, "user", "") or ""
            for changeset in realm.history(since=acked):
                rows.append({
                    "status": PENDING,
                    "server_version": None,
                    "client_version": changeset.client_version,
                    "origin_file_ident": ident or None,
                    "user": user,
                    "timestamp_ms": changeset.timestamp_ms,
                    "instructions": [describe(i) for i in changeset.instructions],
                })
        changed = [r["client_version"] for r in rows] != \
            [r["client_version"] for r in self.local_rows]
        self.local_rows = rows
        if rebuild and changed:
            self._rebuild()

    def on_events(self, events: list[dict[str, Any]]) -> None:
        if self.realm is None and self.link.is_connected and any(
                e.get("type") == "log" and e.get("event") in _REALM_LIST_EVENTS
                for e in events):
            self._paths_soon()
        path = self.realm_path
        # A hidden panel catches up when shown (showEvent) rather than on every upload.
        if path and self.isVisible() and any(
                e.get("type") == "upload" and e.get("realm") == path for e in events):
            self._server_soon()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.realm_path and self.link.is_connected:
            self._server_soon()

    # -- showing ---------------------------------------------------------------------------

    def _rebuild(self) -> None:
        for record in self.server_rows[-200:] + self.local_rows:
            for text in record["instructions"]:
                cls, _key = target_of(text)
                if cls and cls not in self.classes:
                    self.classes.add(cls)
                    self._add_class_item(cls)
        # Newest first, the pending local ones on top: what a developer looks at first.
        records = list(reversed(self.local_rows)) + list(reversed(self.server_rows))
        first = self.model.rowCount() == 0
        # A reset drops the selection: keep the changeset being read selected, and its
        # details as they are (not emptied and refilled: that would lose their scroll).
        chosen = selected_record(self.table)
        self._rebuilding = True
        try:
            self.model.set_records(records)
            if first:
                fit_columns(self.table, max_width=200)
            self._apply_filters()
            if chosen is not None:
                select_where(self.table, _same_changeset(chosen))
        finally:
            self._rebuilding = False
        self._show_details()

    def _add_class_item(self, name: str) -> None:
        names = sorted(self.classes)
        self.class_combo.insertItem(1 + names.index(name), name, name)

    def _apply_filters(self) -> None:
        cls = str(self.class_combo.currentData() or "")
        obj = self.object_filter.text()
        for record in self.model.records:
            record["shown"] = [t for t in record["instructions"] if matches(t, cls, obj)]
        self.model.refresh_texts()  # the Instructions cells show the matching ones only
        self.proxy.set_predicate((lambda r: bool(r["shown"])) if cls or obj else None)
        pending = len(self.local_rows)
        text = f"{self.proxy.rowCount():,} of {plural(self.model.rowCount(), 'changeset')} shown"
        if self.realm is not None:
            text += f" · {plural(pending, 'local change')} not uploaded yet"
        self.summary.setText(text + f" · updated {time.strftime('%H:%M:%S')}")
        self._show_details()

    def selected_version(self) -> int | None:
        """The server version of the selected changeset (None: none, or not uploaded)."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        version = self.proxy.record(rows[0].row()).get("server_version")
        return int(version) if version is not None else None

    def open_as_of(self, version: int | None = None) -> TimeTravelWindow | None:
        """Open the realm as of ``version`` (default: the selected changeset's)."""
        version = version if version is not None else self.selected_version()
        if version is None or not self.realm_path:
            return None
        window = TimeTravelWindow(self.link, self.realm_path, version,
                                  latest=self.loaded_version)
        self._time_travel.add(window)
        window.show()
        return window

    @property
    def time_travel_windows(self) -> list[TimeTravelWindow]:
        """The time-travel windows opened here and not closed yet."""
        return self._time_travel.open()

    def _show_details(self) -> None:
        if self._rebuilding:
            return
        self.time_travel_button.setEnabled(self.selected_version() is not None)
        rows = self.table.selectionModel().selectedRows()
        text = ""
        if rows:
            record = self.proxy.record(rows[0].row())
            head = (f"{record['status']} · server version "
                    f"{record.get('server_version') or '-'} · "
                    f"client {record.get('origin_file_ident')} · {record.get('user') or ''} · "
                    f"{fmt_time(record.get('timestamp_ms'))}")
            text = head + "\n\n" + "\n".join(record["instructions"])
        if text != self.details.toPlainText():  # unchanged: keep where the reader scrolled
            self.details.setPlainText(text)

    def close_panel(self) -> None:
        for window in list(self.time_travel_windows):
            window.close()
        self.local_poll.stop()
        self._server_soon.stop()
        self._local_soon.stop()
        self._paths_soon.stop()
        if self._token is not None:
            self._token.remove()
            self._token = None
        self.cancel_tasks()
