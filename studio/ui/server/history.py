"""The History panel: a synced realm's changesets, for debugging app data.

Server changesets come from the admin API (``/admin/realms/history``: server
version, origin client, user, time, readable instructions), fetched
incrementally as new versions arrive. When the realm is also open in this
Studio, the local changesets the server has not acknowledged yet are listed on
top as "not uploaded yet", read from the local file's history. A class and an
object filter narrow both to who changed what, and when.
"""

from __future__ import annotations

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
from studio.ui.server.common import AdminTab, Debounce, async_slot
from studio.ui.server.instructions_text import describe, matches, target_of
from studio.ui.server.link import ServerLink
from studio.ui.server.tables import (
    Column,
    FilterProxy,
    RecordModel,
    fit_columns,
    fmt_time,
    make_table,
)

PAGE = 500
MAX_SERVER_ROWS = 5000  # the newest ones; older history stays on the server
LOCAL_POLL_MS = 1000
PENDING = "not uploaded yet"


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

        self._server_soon = Debounce(self, 400, lambda: self.spawn(self.reload()))
        self._local_soon = Debounce(self, 150, self.reload_local)
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
        async with self.acting():
            await self.reload(full=True)

    # -- loading ---------------------------------------------------------------------------

    async def reload(self, full: bool = False) -> None:
        """Fetch the server changesets after the last one loaded (all, with ``full``)."""
        path = self.realm_path
        if not path:
            return
        if full:
            self.server_rows, self.loaded_version = [], 0
        while True:
            page = await self.link.admin.realm_history(path, since=self.loaded_version,
                                                       limit=PAGE)
            if path != self.realm_path:
                return  # another realm was chosen meanwhile
            for changeset in page:
                changeset["status"] = "uploaded"
                self.server_rows.append(changeset)
            if page:
                self.loaded_version = int(page[-1]["server_version"])
            if len(page) < PAGE:
                break
        del self.server_rows[:-MAX_SERVER_ROWS]
        self.reload_local(rebuild=False)
        self._rebuild()

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
        self.model.set_records(records)
        if first:
            fit_columns(self.table, max_width=200)
        self._apply_filters()

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
        text = (f"{self.proxy.rowCount():,} of {self.model.rowCount():,} changesets shown"
                f" · {pending} local change{'s' if pending != 1 else ''} not uploaded yet"
                if self.realm is not None else
                f"{self.proxy.rowCount():,} of {self.model.rowCount():,} changesets shown")
        self.summary.setText(text + f" · updated {time.strftime('%H:%M:%S')}")
        self._show_details()

    def _show_details(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.details.setPlainText("")
            return
        record = self.proxy.record(rows[0].row())
        head = (f"{record['status']} · server version {record.get('server_version') or '-'} · "
                f"client {record.get('origin_file_ident')} · {record.get('user') or ''} · "
                f"{fmt_time(record.get('timestamp_ms'))}")
        self.details.setPlainText(head + "\n\n" + "\n".join(record["instructions"]))

    def close_panel(self) -> None:
        self.local_poll.stop()
        self._server_soon.stop()
        self._local_soon.stop()
        if self._token is not None:
            self._token.remove()
            self._token = None
        self.cancel_tasks()
