"""A tab showing a list the admin API answers, reloaded while the tab is shown.

The Connections and Nodes tabs are this: a count line with a Refresh button,
a table of records, a poll while visible, the selection kept across reloads.
A subclass passes where the records come from (``fetch``) and what the
count line says of them (``summary``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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
    make_table,
    select_where,
    selected_record,
)


class PolledTableTab(AdminTab):
    key_field = "id"
    """The record field that names a row across reloads (to keep the selection)."""

    def __init__(
        self,
        link: ServerLink,
        parent: QWidget | None,
        *,
        name: str,
        columns: Sequence[Column],
        poll_ms: int,
        fetch: Callable[[], Awaitable[list[dict[str, Any]]]],
        summary: Callable[[list[dict[str, Any]]], str],
    ) -> None:
        """``name``: the tab's object name stem (``connections`` gives
        ``connectionsTab``, ``connectionsTable``, ``refreshConnectionsButton``)."""
        super().__init__(link, parent)
        self.fetch = fetch
        self.summary = summary
        self.setObjectName(f"{name}Tab")
        self.toolbar = QHBoxLayout()
        self.count_label = QLabel("", self)
        self.toolbar.addWidget(self.count_label, 1)
        refresh = QPushButton("Refresh", self)
        refresh.setObjectName(f"refresh{name[:1].upper()}{name[1:]}Button")
        refresh.clicked.connect(lambda _checked=False: self.spawn(self.reload()))
        self.toolbar.addWidget(refresh)
        self.outer.addLayout(self.toolbar)
        self.model = RecordModel(columns)
        self.proxy = FilterProxy(self.model, self)
        self.table = make_table(self.proxy, self, f"{name}Table")
        self.outer.addWidget(self.table, 1)
        self._loading = False
        self.poll = QTimer(self)
        self.poll.setInterval(poll_ms)
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
            records = await self.fetch()
        finally:
            self._loading = False
        chosen = selected_record(self.table)
        self.model.set_records(records)
        fit_columns(self.table)
        if chosen is not None:
            key = chosen.get(self.key_field)
            select_where(self.table, lambda record: record.get(self.key_field) == key)
        self.count_label.setText(self.summary(records))
