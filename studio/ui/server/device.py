"""Debug a device: one connected client in detail, opened from the Connections tab.

Per realm it has bound (``GET /admin/connections/device``): its client file ident, the
last server version it said it has integrated against the realm's latest ("missing N
versions" is what it has not caught up with), the last of its own changesets the server
integrated, and its recent uploads with their instructions. "Open as of its version"
shows the realm as that device last integrated it (time travel,
:mod:`studio.ui.server.time_travel`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSplitter, QWidget

from studio.ui.server.common import AdminTab, async_slot
from studio.ui.server.link import ServerLink
from studio.ui.server.tables import (
    Column,
    RecordModel,
    fit_columns,
    fmt_time,
    make_table,
    select_where,
    selected_record,
)
from studio.ui.server.time_travel import KeptWindows, TimeTravelWindow
from studio.ui.wording import plural

RECENT_UPLOADS = 50


def missing_text(session: dict[str, Any]) -> str:
    missing = int(session.get("missing_versions") or 0)
    return "up to date" if missing == 0 else f"missing {plural(missing, 'version')}"


SESSION_COLUMNS = (
    Column("realm", "Realm"),
    Column("client_file_ident", "Client file ident", align_right=True),
    Column("integrated_version", "Integrated", align_right=True),
    Column("latest_version", "Latest", align_right=True),
    Column("sent_version", "Sent up to", align_right=True),
    Column("missing", "Behind", get=missing_text),
    Column("last_client_version", "Last client version", align_right=True),
    Column("level", "Access"),
)
UPLOAD_COLUMNS = (
    Column("server_version", "Server version", align_right=True),
    Column("client_version", "Client version", align_right=True),
    Column("timestamp_ms", "Time", fmt_time),
    Column("instructions", "Instructions", get=lambda r: " · ".join(r["instructions"][:4])),
)


class DeviceWindow(AdminTab):
    """One connection's sessions, progress and recent uploads (see the module docstring)."""

    loaded = Signal()  # the device's state was fetched and shown

    def __init__(self, link: ServerLink, connection: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(link, parent)
        self.setObjectName("deviceWindow")
        self.setWindowFlag(Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.connection_id = int(connection["id"])
        self.device: dict[str, Any] = {}
        self._time_travel = KeptWindows()
        self.setWindowTitle(f"Device: connection #{self.connection_id} "
                            f"({connection.get('user') or 'not logged in'})")
        head = QHBoxLayout()
        self.title = QLabel("", self)
        self.title.setObjectName("deviceTitle")
        self.title.setStyleSheet("QLabel { font-weight: bold; }")
        head.addWidget(self.title, 1)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setObjectName("refreshDeviceButton")
        self.refresh_button.clicked.connect(lambda _c=False: self.refresh())
        head.addWidget(self.refresh_button)
        self.time_travel_button = QPushButton("Open as of its version", self)
        self.time_travel_button.setObjectName("deviceTimeTravelButton")
        self.time_travel_button.setToolTip(
            "The realm as this device last integrated it (read-only)")
        self.time_travel_button.clicked.connect(lambda _c=False: self.open_as_of())
        head.addWidget(self.time_travel_button)
        self.outer.addLayout(head)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.sessions_model = RecordModel(SESSION_COLUMNS)
        self.sessions_table = make_table(self.sessions_model, splitter, "deviceSessions")
        self.sessions_table.selectionModel().selectionChanged.connect(
            lambda *_: self._show_uploads())
        splitter.addWidget(self.sessions_table)
        self.uploads_title = QLabel("", splitter)
        self.uploads_title.setObjectName("deviceUploadsTitle")
        splitter.addWidget(self.uploads_title)
        self.uploads_model = RecordModel(UPLOAD_COLUMNS)
        self.uploads_table = make_table(self.uploads_model, splitter, "deviceUploads",
                                        sortable=False)
        self.uploads_table.selectionModel().selectionChanged.connect(
            lambda *_: self._show_upload())
        splitter.addWidget(self.uploads_table)
        self.details = QPlainTextEdit(splitter)
        self.details.setObjectName("deviceUploadDetails")
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select an upload to see all its instructions.")
        splitter.addWidget(self.details)
        splitter.setSizes([140, 20, 300, 120])
        self.outer.addWidget(splitter, 1)
        self.resize(900, 640)
        self.refresh()

    @async_slot()
    async def refresh(self) -> None:
        async with self.acting():
            device = await self.link.admin.connection_device(self.connection_id,
                                                             recent=RECENT_UPLOADS)
            self._show(device)

    def _show(self, device: dict[str, Any]) -> None:
        self.device = device
        chosen = selected_record(self.sessions_table)
        sessions = list(device.get("sessions") or [])
        self.title.setText(
            f"Connection #{device.get('id')} · {device.get('user') or 'not logged in'} · "
            f"{device.get('agent') or 'unknown client'} · {device.get('address') or ''} · "
            f"{plural(len(sessions), 'realm')} bound")
        self.sessions_model.set_records(sessions)
        fit_columns(self.sessions_table)
        if not sessions:
            self.report("This connection has no realm bound (it may be logging in, or "
                        "between sessions).", "info")
        elif chosen is None or not select_where(
                self.sessions_table, lambda s: s.get("session") == chosen.get("session")):
            self.sessions_table.selectRow(0)
        self._show_uploads()
        self.loaded.emit()

    def selected_session(self) -> dict[str, Any] | None:
        return selected_record(self.sessions_table)

    def _show_uploads(self) -> None:
        session = self.selected_session()
        self.time_travel_button.setEnabled(
            session is not None and int(session.get("integrated_version") or 0) > 0)
        uploads = list(session.get("uploads") or []) if session else []
        self.uploads_model.set_records(uploads)
        if session is None:
            self.uploads_title.setText("")
        else:
            self.uploads_title.setText(
                f"{session['realm']}: {missing_text(session)} (integrated "
                f"{session['integrated_version']:,} of {session['latest_version']:,}) · "
                f"its {plural(len(uploads), 'latest upload')}, newest first")
        fit_columns(self.uploads_table)
        self._show_upload()

    def _show_upload(self) -> None:
        upload = selected_record(self.uploads_table)
        text = "" if upload is None else (
            f"server version {upload['server_version']} · client version "
            f"{upload['client_version']} · {fmt_time(upload.get('timestamp_ms'))}\n\n"
            + "\n".join(upload["instructions"]))
        self.details.setPlainText(text)

    def open_as_of(self) -> TimeTravelWindow | None:
        """The selected realm as this device last integrated it."""
        session = self.selected_session()
        if session is None or not int(session.get("integrated_version") or 0):
            return None
        window = TimeTravelWindow(self.link, str(session["realm"]),
                                  int(session["integrated_version"]),
                                  latest=int(session["latest_version"]))
        self._time_travel.add(window)
        window.show()
        return window

    @property
    def time_travel_windows(self) -> list[TimeTravelWindow]:
        """The time-travel windows opened here and not closed yet."""
        return self._time_travel.open()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel_tasks()
        super().closeEvent(event)
