"""The Realms tab: every realm on the server, search, create, delete, permissions,
"Compact now" (squash its history: docs/server.md, "History compaction"), and
"Open" (the realm in the normal browser, as a synced local copy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.ui.server.common import AdminTab, async_slot
from studio.ui.server.link import ServerLink
from studio.ui.server.tables import (
    Column,
    FilterProxy,
    RecordModel,
    fit_columns,
    fmt_size,
    fmt_time,
    make_table,
    select_where,
    selected_record,
)
from studio.ui.wording import plural

LEVELS = ("read", "write", "admin")
# Realm events that change what the list shows (clients, server version, activity, state).
_REALM_EVENTS = frozenset(
    {"session_bound", "session_unbound", "upload", "state_error", "realm_compacted"}
)
STATE_FAILED = "⚠ failed: "


def compaction_message(result: dict[str, Any]) -> tuple[str, str]:
    """The message bar's text and level for a compaction's result (the
    server's ``POST /admin/realms/{realm}/compact`` answer)."""
    path = result.get("realm", "")
    if not result.get("compacted"):
        reason = result.get("reason") or "nothing can go yet"
        return f"Nothing to compact in {path}: {reason}.", "info"
    before, after = int(result["versions_before"]), int(result["versions_after"])
    return (
        f"Compacted {path} up to version {result['base_version']}: "
        f"{plural(before, 'stored changeset')} → {after}, "
        f"{fmt_size(result['bytes_before'])} → {fmt_size(result['bytes_after'])} "
        f"in {float(result['seconds']):.2f} s.",
        "success",
    )


def realm_state(record: dict[str, Any]) -> str:
    """Whether the realm's state file follows its history (the server's
    ``state_error`` when a changeset could not be applied)."""
    error = record.get("state_error")
    if error:
        return STATE_FAILED + str(error)
    behind = int(record.get("server_version") or 0) - int(record.get("state_version") or 0)
    return f"behind by {behind}" if behind > 0 else "up to date"


REALM_COLUMNS = (
    Column("path", "Path"),
    Column("owner", "Owner"),
    Column("size", "Size", fmt_size, align_right=True),
    Column("objects", "Objects", align_right=True),
    Column("clients", "Clients", align_right=True),
    Column("server_version", "Server version", align_right=True),
    Column("state", "State", get=realm_state),
    Column("last_activity", "Last activity", fmt_time),
)


class PermissionsEditor(QGroupBox):
    """Who may read, write or administer the selected realm."""

    def __init__(self, tab: RealmsTab) -> None:
        super().__init__("Permissions", tab)
        self.setObjectName("permissionsEditor")
        self.tab = tab
        self.path = ""
        layout = QVBoxLayout(self)
        self.model = RecordModel((Column("username", "User"), Column("level", "Level")))
        self.proxy = FilterProxy(self.model, self)
        self.table = make_table(self.proxy, self, "permissionsTable")
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.user_combo = QComboBox(self)
        self.user_combo.setObjectName("permissionUser")
        self.user_combo.setEditable(True)
        self.user_combo.setMinimumWidth(140)
        user_line = self.user_combo.lineEdit()
        assert user_line is not None  # an editable combo box has one
        user_line.setPlaceholderText("user")
        row.addWidget(self.user_combo, 1)
        self.level_combo = QComboBox(self)
        self.level_combo.setObjectName("permissionLevel")
        self.level_combo.addItems(LEVELS)
        self.level_combo.setCurrentText("write")
        row.addWidget(self.level_combo)
        self.grant_button = QPushButton("Grant", self)
        self.grant_button.setObjectName("grantButton")
        self.grant_button.clicked.connect(self.grant)
        row.addWidget(self.grant_button)
        self.revoke_button = QPushButton("Revoke", self)
        self.revoke_button.setObjectName("revokeButton")
        self.revoke_button.setToolTip("Take away the selected user's permission")
        self.revoke_button.clicked.connect(self.revoke)
        row.addWidget(self.revoke_button)
        layout.addLayout(row)
        self.set_realm("")

    def set_realm(self, path: str) -> None:
        self.path = path
        self.setTitle(f"Permissions of {path}" if path else "Permissions (select a realm)")
        for widget in (self.grant_button, self.revoke_button, self.user_combo, self.level_combo):
            widget.setEnabled(bool(path))
        self.model.clear()
        if path:
            self.tab.spawn(self.load())

    def set_users(self, names: list[str]) -> None:
        current = self.user_combo.currentText()
        self.user_combo.clear()
        self.user_combo.addItems(names)
        self.user_combo.setCurrentText(current)

    async def load(self) -> None:
        path = self.path
        permissions = await self.tab.link.admin.get_permissions(path)
        if path == self.path:  # the selection may have moved on meanwhile
            self.model.set_records(permissions)

    @async_slot()
    async def grant(self) -> None:
        user, level, path = self.user_combo.currentText().strip(), self.level_combo.currentText(), \
            self.path
        if not user:
            self.tab.report("Choose the user to grant a permission to.", "warning")
            return
        async with self.tab.acting(f"{user} may now {level} {path}."):
            # level is one of LEVELS (the combo box's items); set_permission checks it too.
            await self.tab.link.admin.set_permission(path, user, level)  # type: ignore[arg-type]
            await self.load()

    @async_slot()
    async def revoke(self) -> None:
        record = selected_record(self.table)
        if record is None:
            self.tab.report("Select the permission to revoke.", "warning")
            return
        user, path = str(record["username"]), self.path
        async with self.tab.acting(f"{user} has no permission on {path} any more."):
            await self.tab.link.admin.revoke_permission(path, user)
            await self.load()


class RealmsTab(AdminTab):
    def __init__(self, link: ServerLink, open_realm: Callable[[str], Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(link, parent)
        self.setObjectName("realmsTab")
        self.open_realm_callback = open_realm
        self.loaded = False

        bar = QHBoxLayout()
        self.search = QLineEdit(self)
        self.search.setObjectName("realmSearch")
        self.search.setPlaceholderText("Search realms (path, owner)…")
        self.search.setClearButtonEnabled(True)
        bar.addWidget(self.search, 2)
        self.new_path = QLineEdit(self)
        self.new_path.setObjectName("newRealmPath")
        self.new_path.setPlaceholderText("/shared/new-realm")
        self.new_path.returnPressed.connect(self.create_realm)
        bar.addWidget(self.new_path, 1)
        self.create_button = self._button("Create", "createRealmButton", self.create_realm, bar)
        self.open_button = self._button("Open in browser", "openRealmButton", self.open_selected,
                                        bar)
        self.open_button.setToolTip("Open a synced copy in the realm browser: edits there "
                                    "sync to every client, and theirs show up live")
        self.delete_button = self._button("Delete…", "deleteRealmButton", self.ask_delete, bar)
        self.compact_button = self._button("Compact now", "compactRealmButton",
                                           self.compact_selected, bar)
        self.compact_button.setToolTip("Squash the history every client has (or, with "
                                       "--history-retention, that is older than it) into a "
                                       "snapshot: new clients download less")
        self.refresh_button = self._button("Refresh", "refreshRealmsButton",
                                           lambda: self.spawn(self.reload()), bar)
        self.outer.addLayout(bar)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.model = RecordModel(REALM_COLUMNS)
        self.proxy = FilterProxy(self.model, self)
        self.proxy.setFilterKeyColumn(-1)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = make_table(self.proxy, splitter, "realmsTable")
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        splitter.addWidget(self.table)
        self.permissions = PermissionsEditor(self)
        splitter.addWidget(self.permissions)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([820, 360])
        self.outer.addWidget(splitter, 1)
        self.count_label = QLabel("", self)
        self.count_label.setStyleSheet("QLabel { color: gray; }")
        self.outer.addWidget(self.count_label)
        self._reload_soon = self.debounce(1500, lambda: self.spawn(self.reload()))
        self._selection_changed()

    def _button(self, text: str, name: str, slot: Any, row: QHBoxLayout) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.clicked.connect(lambda _checked=False: slot())
        row.addWidget(button)
        return button

    # -- data ------------------------------------------------------------------------------

    async def reload(self) -> None:
        realms = await self.link.admin.list_realms()
        chosen = selected_record(self.table)
        self.model.set_records(sorted(realms, key=lambda r: str(r.get("path"))))
        fit_columns(self.table)
        self.loaded = True
        if chosen is not None:
            select_where(self.table, lambda r: r.get("path") == chosen.get("path"))
        failed = sum(1 for r in realms if r.get("state_error"))
        self.count_label.setText(
            plural(len(realms), "realm")
            + (f", {failed} with a failed state (see the State column)" if failed else "")
        )

    def paths(self) -> list[str]:
        return [str(r["path"]) for r in self.model.records]

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.loaded and self.link.is_connected:
            self._reload_soon()  # the list skipped updates while hidden

    def on_events(self, events: list[dict[str, Any]]) -> None:
        if any(e.get("type") in _REALM_EVENTS for e in events) and self.isVisible():
            self._reload_soon()

    def _selection_changed(self) -> None:
        record = selected_record(self.table)
        path = str(record["path"]) if record else ""
        for button in (self.open_button, self.delete_button, self.compact_button):
            button.setEnabled(bool(path))
        if path != self.permissions.path:
            self.permissions.set_realm(path)

    def select_path(self, path: str) -> bool:
        return select_where(self.table, lambda r: r.get("path") == path)

    # -- actions ---------------------------------------------------------------------------

    @async_slot()
    async def create_realm(self) -> None:
        path = self.new_path.text().strip()
        if not path:
            self.report("Type the new realm's path first, e.g. /shared/inventory.", "warning")
            return
        if not path.startswith("/"):
            path = "/" + path
        async with self.acting(f"Created {path}."):
            await self.link.admin.create_realm(path)
            self.new_path.clear()
            await self.reload()
            self.select_path(path)

    def ask_delete(self) -> None:
        record = selected_record(self.table)
        if record is None:
            return
        path = str(record["path"])
        clients = record.get("clients") or 0
        more = f" {clients} client(s) are connected to it right now." if clients else ""
        self.message_bar.ask(f"Delete {path} and all its data on the server? This cannot be "
                             f"undone.{more}", "Delete", lambda: self._delete(path))

    @async_slot()
    async def _delete(self, path: str) -> None:
        async with self.acting(f"Deleted {path}."):
            await self.link.admin.delete_realm(path)
            await self.reload()

    @async_slot()
    async def compact_selected(self) -> None:
        record = selected_record(self.table)
        if record is None:
            return
        path = str(record["path"])
        async with self.acting():
            result = await self.link.admin.compact_realm(path)
            text, level = compaction_message(result)
            self.report(text, level, timeout_ms=10000)
            await self.reload()

    def open_selected(self) -> None:
        record = selected_record(self.table)
        if record is not None:
            self.open_realm_callback(str(record["path"]))
