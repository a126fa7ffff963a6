"""The Nodes tab: the server processes serving the store (``GET /admin/nodes``).

One row per process: its address, host and pid, uptime, open connections
and bound sessions, and whether its heartbeat is recent. A server on its own
(SQLite under ``--data``) shows one row; several processes on one PostgreSQL
``--store`` show one each, whichever of them the Studio is connected to.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

from studio.ui.server.link import ServerLink
from studio.ui.server.polled_tab import PolledTableTab
from studio.ui.server.tables import (
    Column,
    fmt_time,
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


class NodesTab(PolledTableTab):
    key_field = "node"

    def __init__(self, link: ServerLink, parent: QWidget | None = None) -> None:
        super().__init__(link, parent, name="nodes", columns=NODE_COLUMNS, poll_ms=POLL_MS,
                         fetch=lambda: link.admin.list_nodes(), summary=summarize_nodes)


def summarize_nodes(records: list[dict[str, Any]]) -> str:
    alive = sum(1 for n in records if n.get("alive"))
    text = plural(len(records), "server process", "server processes")
    if alive != len(records):
        text += f", {len(records) - alive} without a recent heartbeat"
    connections = sum(int(n.get("connections") or 0) for n in records)
    return f"{text}; {plural(connections, 'connection')} in all"
