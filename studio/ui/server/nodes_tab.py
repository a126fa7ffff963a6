"""The Nodes tab: the server processes serving the store (``GET /admin/nodes``).

One row per process: its address, host and pid, uptime, open connections
and bound sessions, and whether its heartbeat is recent. A server on its own
(SQLite under ``--data``) shows one row; several processes on one PostgreSQL
``--store`` show one each, whichever of them the Studio is connected to.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from studio.ui.server.common import AdminTab
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
from studio.ui.wording import plural

POLL_MS = 2000  # heartbeats come every second; the list is polled while shown


def fmt_uptime(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    seconds = int(value)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def fmt_alive(value: Any) -> str:
    return "up" if value else "no heartbeat"


def fmt_this(value: Any) -> str:
    return "connected here" if value else ""


NODE_COLUMNS = (
    Column("address", "Address"),
    Column("alive", "State", fmt_alive),
    Column("this", "Studio", fmt_this),
    Column("host", "Host"),
    Column("pid", "PID", align_right=True),
    Column("uptime", "Uptime", fmt_uptime, align_right=True),
    Column("connections", "Connections", align_right=True),
    Column("sessions", "Sessions", align_right=True),
    Column("realms", "Loaded realms", align_right=True),
    Column("started", "Started", fmt_time),
    Column("version", "Version"),
)


class NodesTab(AdminTab):
    def __init__(self, link: ServerLink, parent: QWidget | None = None) -> None:
        super().__init__(link, parent)
        self.setObjectName("nodesTab")
        row = QHBoxLayout()
        self.count_label = QLabel("", self)
        row.addWidget(self.count_label, 1)
        refresh = QPushButton("Refresh", self)
        refresh.setObjectName("refreshNodesButton")
        refresh.clicked.connect(lambda _checked=False: self.spawn(self.reload()))
        row.addWidget(refresh)
        self.outer.addLayout(row)
        self.model = RecordModel(NODE_COLUMNS)
        self.proxy = FilterProxy(self.model, self)
        self.table = make_table(self.proxy, self, "nodesTable")
        self.outer.addWidget(self.table, 1)
        self._loading = False
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._poll)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.poll.start()
        self._poll()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.poll.stop()

    def _poll(self) -> None:
        # One request at a time: a slow server must not pile reloads up.
        if self.link.is_connected and not self._loading:
            self.spawn(self.reload())

    async def reload(self) -> None:
        self._loading = True
        try:
            nodes = await self.link.admin.list_nodes()
        finally:
            self._loading = False
        chosen = selected_record(self.table)
        self.model.set_records(nodes)
        fit_columns(self.table)
        if chosen is not None:
            select_where(self.table, lambda n: n.get("node") == chosen.get("node"))
        alive = sum(1 for n in nodes if n.get("alive"))
        text = f"{plural(len(nodes), 'server process', 'server processes')}"
        if alive != len(nodes):
            text += f", {len(nodes) - alive} without a recent heartbeat"
        connections = sum(int(n.get("connections") or 0) for n in nodes)
        self.count_label.setText(f"{text}; {plural(connections, 'connection')} in all")
