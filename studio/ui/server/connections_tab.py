"""The Connections tab: every sync websocket open on the server right now; "Debug this
device" (or a double click) opens one in detail (:mod:`studio.ui.server.device`)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QPushButton, QWidget

from studio.ui.server.device import DeviceWindow
from studio.ui.server.link import ServerLink
from studio.ui.server.polled_tab import PolledTableTab
from studio.ui.server.tables import (
    Column,
    fmt_list,
    fmt_size,
    fmt_time,
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


def summarize_connections(records: list[dict[str, Any]]) -> str:
    users = {c.get("user") for c in records if c.get("user")}
    return f"{plural(len(records), 'connection')} from {plural(len(users), 'user')}"


class ConnectionsTab(PolledTableTab):
    def __init__(self, link: ServerLink, parent: QWidget | None = None) -> None:
        super().__init__(link, parent, name="connections", columns=CONNECTION_COLUMNS,
                         poll_ms=POLL_MS, fetch=lambda: link.admin.list_connections(),
                         summary=summarize_connections)  # fmt: skip
        self.debug_button = QPushButton("Debug this device…", self)
        self.debug_button.setObjectName("debugDeviceButton")
        self.debug_button.setToolTip("What the selected client uploaded recently and how far "
                                     "behind the server it is, per realm")
        self.debug_button.setEnabled(False)
        self.debug_button.clicked.connect(lambda _checked=False: self.debug_device())
        self.toolbar.addWidget(self.debug_button)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self.debug_button.setEnabled(selected_record(self.table) is not None))
        self.table.doubleClicked.connect(lambda _index: self.debug_device())
        self.device_windows: list[DeviceWindow] = []
        self._reload_soon = self.debounce(300, self._poll)

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

    def on_events(self, events: list[dict[str, Any]]) -> None:
        if self.isVisible() and any(e.get("type") in _CONNECTION_EVENTS for e in events):
            self._reload_soon()
