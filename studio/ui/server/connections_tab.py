"""The Connections tab: every sync websocket open on the server right now; "Debug this
device" (or a double click) opens one in detail (:mod:`studio.ui.server.device`)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from studio.ui.server.common import AdminTab, Debounce
from studio.ui.server.device import DeviceWindow
from studio.ui.server.link import ServerLink
from studio.ui.server.tables import (
    Column,
    FilterProxy,
    RecordModel,
    fit_columns,
    fmt_list,
    fmt_size,
    fmt_time,
    make_table,
    select_where,
    selected_record,
)
from studio.ui.wording import plural

POLL_MS = 2000  # bytes and "last message" change all the time; the list is polled while shown
_CONNECTION_EVENTS = frozenset({"connection_opened", "connection_closed", "session_bound",
                                "session_unbound"})

CONNECTION_COLUMNS = (
    Column("id", "#", align_right=True),
    Column("address", "Client address"),
    Column("agent", "Client"),
    Column("user", "User"),
    Column("realms", "Bound realms", fmt_list),
    Column("since", "Connected since", fmt_time),
    Column("bytes_in", "Bytes in", fmt_size, align_right=True),
    Column("bytes_out", "Bytes out", fmt_size, align_right=True),
    Column("last_message", "Last message", fmt_time),
)


class ConnectionsTab(AdminTab):
    def __init__(self, link: ServerLink, parent: QWidget | None = None) -> None:
        super().__init__(link, parent)
        self.setObjectName("connectionsTab")
        row = QHBoxLayout()
        self.count_label = QLabel("", self)
        row.addWidget(self.count_label, 1)
        refresh = QPushButton("Refresh", self)
        refresh.setObjectName("refreshConnectionsButton")
        refresh.clicked.connect(lambda _checked=False: self.spawn(self.reload()))
        row.addWidget(refresh)
        self.debug_button = QPushButton("Debug this device…", self)
        self.debug_button.setObjectName("debugDeviceButton")
        self.debug_button.setToolTip("What the selected client uploaded recently and how far "
                                     "behind the server it is, per realm")
        self.debug_button.setEnabled(False)
        self.debug_button.clicked.connect(lambda _checked=False: self.debug_device())
        row.addWidget(self.debug_button)
        self.outer.addLayout(row)
        self.model = RecordModel(CONNECTION_COLUMNS)
        self.proxy = FilterProxy(self.model, self)
        self.table = make_table(self.proxy, self, "connectionsTable")
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self.debug_button.setEnabled(selected_record(self.table) is not None))
        self.table.doubleClicked.connect(lambda _index: self.debug_device())
        self.outer.addWidget(self.table, 1)
        self.device_windows: list[DeviceWindow] = []
        self._loading = False
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._poll)
        self._reload_soon = Debounce(self, 300, self._poll)

    def debug_device(self) -> DeviceWindow | None:
        """Open the selected connection in detail."""
        connection = selected_record(self.table)
        if connection is None:
            return None
        window = DeviceWindow(self.link, connection)
        self.device_windows.append(window)
        window.destroyed.connect(lambda _o=None, w=window: self._forget(w))
        window.show()
        return window

    def _forget(self, window: DeviceWindow) -> None:
        if window in self.device_windows:
            self.device_windows.remove(window)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.poll.start()
        self._poll()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.poll.stop()

    def on_events(self, events: list[dict[str, Any]]) -> None:
        if self.isVisible() and any(e.get("type") in _CONNECTION_EVENTS for e in events):
            self._reload_soon()

    def _poll(self) -> None:
        # One request at a time: a slow server must not pile reloads up.
        if self.link.is_connected and not self._loading:
            self.spawn(self.reload())

    async def reload(self) -> None:
        self._loading = True
        try:
            connections = await self.link.admin.list_connections()
        finally:
            self._loading = False
        chosen = selected_record(self.table)
        self.model.set_records(connections)
        fit_columns(self.table)
        if chosen is not None:
            select_where(self.table, lambda c: c.get("id") == chosen.get("id"))
        users = {c.get("user") for c in connections if c.get("user")}
        self.count_label.setText(
            f"{plural(len(connections), 'connection')} from {plural(len(users), 'user')}")
