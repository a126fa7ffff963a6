"""Live tails of the admin event stream: the Sync events tab and the Logs tab.

Both keep the newest ``MAX_ROWS`` rows (older ones scroll away), filter what is
shown without touching what is kept, can be paused (events that arrive
meanwhile are kept, up to the same cap, and appear on resume), and follow the
newest row unless the user scrolled up to read.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from studio.ui.server.common import AdminTab
from studio.ui.server.link import ServerLink
from studio.ui.server.tables import (
    Column,
    TailModel,
    fit_columns,
    fmt_clock,
    make_table,
)
from studio.ui.wording import plural

MAX_ROWS = 5000
# Rows reach the table at most this often: one insert (and one repaint) per interval
# however fast events arrive; a hidden tab only keeps its rows, so it can wait longer.
FLUSH_VISIBLE_MS = 250
FLUSH_HIDDEN_MS = 1000
SYNC_KINDS = ("upload", "download", "error", "session")
_SESSION_TYPES = frozenset({"session_bound", "session_unbound", "connection_opened",
                            "connection_closed"})
LOG_LEVELS = ("debug", "info", "warning", "error")


def sync_kind(event: dict[str, Any]) -> str | None:
    kind = event.get("type")
    if kind in ("upload", "download", "error"):
        return str(kind)
    if kind in _SESSION_TYPES:
        return "session"
    return None


def _client(event: dict[str, Any]) -> str:
    parts = []
    if event.get("connection") is not None:
        parts.append(f"conn {event['connection']}")
    if event.get("client") is not None:
        parts.append(f"client {event['client']}")
    return " · ".join(parts) or str(event.get("address") or "")


def _detail(event: dict[str, Any]) -> str:
    kind = event.get("type")
    if kind == "error":
        return f"{event.get('name', event.get('code'))}: {event.get('message', '')}"
    if kind in ("upload", "download"):
        text = f"server version {event.get('server_version')}"
        if event.get("skipped"):
            text += f", {event['skipped']} already integrated"
        return text
    if kind == "session_bound":
        level = event.get("level") or event.get("access")
        text = f"bound with {level} access" if level else "bound"
        return f"{text} by {event['agent']}" if event.get("agent") else text
    if kind == "session_unbound":
        return f"unbound: {event.get('reason', '')}"
    if kind == "connection_opened":
        text = f"connection opened from {event.get('address', '')}"
        return f"{text} ({event['agent']})" if event.get("agent") else text
    if kind == "connection_closed":
        return "connection closed"
    return ""


SYNC_COLUMNS = (
    Column("time", "Time", fmt_clock),
    Column("realm", "Realm"),
    Column("client", "Client", get=_client),
    Column("user", "User"),
    Column("kind", "Event", get=lambda e: sync_kind(e) or ""),
    Column("changesets", "Changesets", align_right=True),
    Column("instructions", "Instructions", align_right=True),
    Column("bytes", "Bytes", align_right=True),
    Column("merge_ms", "Merge ms", align_right=True),
    Column("detail", "Detail", get=_detail),
)


def _fields(event: dict[str, Any]) -> str:
    fields = event.get("fields")
    if not isinstance(fields, dict):
        return ""
    return "  ".join(f"{k}={v}" for k, v in fields.items())


LOG_COLUMNS = (
    Column("time", "Time", fmt_clock),
    Column("level", "Level"),
    Column("event", "Event"),
    Column("fields", "Details", get=_fields),
)


class TailTab(AdminTab):
    """A capped, filterable, pausable live table."""

    def __init__(self, link: ServerLink, columns: Sequence[Column], table_name: str,
                 parent: QWidget | None = None, max_rows: int = MAX_ROWS) -> None:
        super().__init__(link, parent)
        self.filters = QHBoxLayout()
        self.outer.addLayout(self.filters)
        self.model = TailModel(columns, max_rows, self)
        self.table = make_table(self.model, self, table_name, sortable=False)
        self.outer.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.count_label = QLabel("", self)
        self.count_label.setStyleSheet("QLabel { color: gray; }")
        bottom.addWidget(self.count_label, 1)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self.set_paused)
        bottom.addWidget(self.pause_button)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setObjectName("clearButton")
        self.clear_button.clicked.connect(lambda _checked=False: self.clear())
        bottom.addWidget(self.clear_button)
        self.outer.addLayout(bottom)
        self.paused = False
        self._held: deque[dict[str, Any]] = deque(maxlen=max_rows)
        self._incoming: deque[dict[str, Any]] = deque(maxlen=max_rows)
        self.received = 0
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.timeout.connect(self.flush)

    def accepts(self, event: dict[str, Any]) -> bool:
        """Which stream events belong in this tail at all (subclasses narrow it)."""
        return True

    def shown(self, event: dict[str, Any]) -> bool:
        """The filters: whether a kept row is shown (subclasses add their filters)."""
        return True

    def filters_changed(self) -> None:
        self.model.set_predicate(self.shown)
        self._update_count()

    def on_events(self, events: list[dict[str, Any]]) -> None:
        rows = [e for e in events if self.accepts(e)]
        if not rows:
            return
        self.received += len(rows)
        if self.paused:
            self._held.extend(rows)
            self._update_count()
            return
        self._incoming.extend(rows)
        if not self._flush.isActive():
            self._flush.start(FLUSH_VISIBLE_MS if self.isVisible() else FLUSH_HIDDEN_MS)

    def flush(self) -> None:
        """Move the rows that arrived since the last flush into the table."""
        self._flush.stop()
        if self._incoming:
            rows = list(self._incoming)
            self._incoming.clear()
            self._add(rows)

    def _add(self, rows: Sequence[dict[str, Any]]) -> None:
        bar = self.table.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2  # the user has not scrolled up to read
        first = not self.model.kept
        self.model.append(rows)
        if first:
            fit_columns(self.table)
        if follow:
            self.table.scrollToBottom()
        self._update_count()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.flush()  # what arrived while hidden, at once

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.flush()  # what arrived before the click is shown; later rows wait
        self.paused = paused
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        if not paused and self._held:
            held = list(self._held)
            self._held.clear()
            self._add(held)
        self._update_count()

    def clear(self) -> None:
        self.model.clear()
        self._held.clear()
        self._incoming.clear()
        self._update_count()

    def _update_count(self) -> None:
        shown, kept = self.model.rowCount(), len(self.model.kept)
        text = f"{shown:,} of {kept:,} shown" if shown != kept else f"{kept:,} shown"
        if self.paused:
            text += f" · paused ({len(self._held):,} new waiting)"
        self.count_label.setText(text)

    def _filter_edit(self, name: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(True)
        edit.textChanged.connect(lambda _text: self.filters_changed())
        self.filters.addWidget(edit)
        return edit


class SyncEventsTab(TailTab):
    def __init__(self, link: ServerLink, parent: QWidget | None = None,
                 max_rows: int = MAX_ROWS) -> None:
        super().__init__(link, SYNC_COLUMNS, "syncEventsTable", parent, max_rows)
        self.setObjectName("syncEventsTab")
        self.users_by_connection: dict[Any, str] = {}
        self.realm_filter = self._filter_edit("eventRealmFilter", "realm path contains…")
        self.client_filter = self._filter_edit("eventClientFilter", "client, user…")
        self.kind_boxes: dict[str, QCheckBox] = {}
        for kind in SYNC_KINDS:
            box = QCheckBox({"session": "connections && sessions"}.get(kind, kind + "s"), self)
            box.setObjectName(f"show_{kind}")
            box.setChecked(True)
            box.toggled.connect(lambda _on: self.filters_changed())
            self.kind_boxes[kind] = box
            self.filters.addWidget(box)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.setObjectName("exportCsvButton")
        self.export_button.setToolTip("Save the rows shown (with the filters applied) as CSV")
        self.export_button.clicked.connect(lambda _checked=False: self.export_dialog())
        self.filters.addWidget(self.export_button)
        self.filters_changed()

    def accepts(self, event: dict[str, Any]) -> bool:
        kind = sync_kind(event)
        if kind is None:
            return False
        # Downloads and errors do not name the user; the connection's bind did.
        connection = event.get("connection")
        if event.get("type") == "session_bound" and event.get("user"):
            self.users_by_connection[connection] = str(event["user"])
        elif event.get("type") == "connection_closed":
            self.users_by_connection.pop(connection, None)
        if not event.get("user") and connection in self.users_by_connection:
            event["user"] = self.users_by_connection[connection]
        return True

    def shown(self, event: dict[str, Any]) -> bool:
        kind = sync_kind(event)
        if kind is None or not self.kind_boxes[kind].isChecked():
            return False
        realm = self.realm_filter.text().strip().lower()
        if realm and realm not in str(event.get("realm") or "").lower():
            return False
        who = self.client_filter.text().strip().lower()
        if who:
            haystack = f"{_client(event)} {event.get('user') or ''} {event.get('address') or ''}"
            if who not in haystack.lower():
                return False
        return True

    def export_csv(self, path: str | os.PathLike[str]) -> int:
        return self.model.export_csv(path)

    def export_dialog(self, ask: Callable[..., tuple[str, str]] = QFileDialog.getSaveFileName
                      ) -> None:
        path, _ = ask(self, "Export the events shown", "sync-events.csv", "CSV files (*.csv)")
        if not path:
            return
        try:
            rows = self.export_csv(path)
        except OSError as exc:
            self.report(f"Could not write {path}: {exc.strerror or exc}. Choose another "
                        "folder.", "error")
            return
        self.report(f"Exported {plural(rows, 'event')} to {path}.", "success", timeout_ms=6000)


class LogsTab(TailTab):
    def __init__(self, link: ServerLink, parent: QWidget | None = None,
                 max_rows: int = MAX_ROWS) -> None:
        super().__init__(link, LOG_COLUMNS, "logsTable", parent, max_rows)
        self.setObjectName("logsTab")
        self.filters.addWidget(QLabel("Level at least:", self))
        self.level_combo = QComboBox(self)
        self.level_combo.setObjectName("logLevel")
        self.level_combo.addItems(LOG_LEVELS)
        self.level_combo.setCurrentText("info")
        self.level_combo.currentIndexChanged.connect(lambda _i: self.filters_changed())
        self.filters.addWidget(self.level_combo)
        self.text_filter = self._filter_edit("logTextFilter", "event or details contain…")
        note = QLabel("(the server sends the levels its --log-level lets through)", self)
        note.setStyleSheet("QLabel { color: gray; }")
        self.filters.addWidget(note, 1)
        self.filters_changed()

    def accepts(self, event: dict[str, Any]) -> bool:
        return event.get("type") == "log"

    def shown(self, event: dict[str, Any]) -> bool:
        level = str(event.get("level", "info"))
        minimum = LOG_LEVELS.index(self.level_combo.currentText())
        rank = LOG_LEVELS.index(level) if level in LOG_LEVELS else len(LOG_LEVELS)
        if rank < minimum:
            return False
        text = self.text_filter.text().strip().lower()
        return not text or text in f"{event.get('event', '')} {_fields(event)}".lower()
