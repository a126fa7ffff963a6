"""The Users tab: create users, change passwords, admin on/off, suspend, delete, and
grant or revoke their permissions on realms."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
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
from studio.ui.server.realms_tab import LEVELS
from studio.ui.server.tables import (
    Column,
    FilterProxy,
    RecordModel,
    fit_columns,
    fmt_bool,
    fmt_time,
    make_table,
    select_where,
    selected_record,
)


def fmt_user_realms(value: Any) -> str:
    if not isinstance(value, list):
        return ""
    return ", ".join(f"{r.get('path')} ({r.get('level')})" if isinstance(r, dict) else str(r)
                     for r in value)


USER_COLUMNS = (
    Column("username", "User"),
    Column("is_admin", "Admin", fmt_bool),
    Column("suspended", "Suspended", fmt_bool),
    Column("created", "Created", fmt_time),
    Column("realms", "Realms", fmt_user_realms),
)


class UsersTab(AdminTab):
    def __init__(self, link: ServerLink, parent: QWidget | None = None) -> None:
        super().__init__(link, parent)
        self.setObjectName("usersTab")
        self.realm_paths: list[str] = []

        create = QHBoxLayout()
        self.new_name = self._edit("newUserName", "new user name", create)
        self.new_password = self._edit("newUserPassword", "password", create, secret=True)
        self.new_admin = QCheckBox("Admin", self)
        self.new_admin.setObjectName("newUserAdmin")
        create.addWidget(self.new_admin)
        self.create_button = self._button("Create user", "createUserButton", self.create_user,
                                          create)
        create.addStretch(1)
        self.refresh_button = self._button("Refresh", "refreshUsersButton",
                                           lambda: self.spawn(self.reload()), create)
        self.new_password.returnPressed.connect(self.create_user)
        self.outer.addLayout(create)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.model = RecordModel(USER_COLUMNS)
        self.proxy = FilterProxy(self.model, self)
        self.table = make_table(self.proxy, splitter, "usersTable")
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        splitter.addWidget(self.table)
        splitter.addWidget(self._build_side(splitter))
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([800, 380])
        self.outer.addWidget(splitter, 1)
        self._selection_changed()

    def _edit(self, name: str, placeholder: str, row: QHBoxLayout | QGridLayout | None = None,
              secret: bool = False) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        if secret:
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        if isinstance(row, QHBoxLayout):
            row.addWidget(edit)
        return edit

    def _button(self, text: str, name: str, slot: Any, row: QHBoxLayout | None = None
                ) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.clicked.connect(lambda _checked=False: slot())
        if row is not None:
            row.addWidget(button)
        return button

    def _build_side(self, parent: QWidget) -> QWidget:
        side = QWidget(parent)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        self.user_box = QGroupBox("Selected user", side)
        grid = QGridLayout(self.user_box)
        self.password_edit = self._edit("passwordEdit", "new password", secret=True)
        grid.addWidget(self.password_edit, 0, 0)
        self.password_button = self._button("Set password", "setPasswordButton",
                                            self.set_password)
        grid.addWidget(self.password_button, 0, 1)
        self.admin_button = self._button("Make admin", "adminToggleButton", self.toggle_admin)
        grid.addWidget(self.admin_button, 1, 0)
        self.suspend_button = self._button("Suspend", "suspendButton", self.toggle_suspended)
        grid.addWidget(self.suspend_button, 1, 1)
        self.delete_button = self._button("Delete user…", "deleteUserButton", self.ask_delete)
        grid.addWidget(self.delete_button, 2, 1)
        column.addWidget(self.user_box)

        self.grant_box = QGroupBox("Permissions", side)
        grant = QGridLayout(self.grant_box)
        self.grant_realm = QComboBox(side)
        self.grant_realm.setObjectName("grantRealm")
        self.grant_realm.setEditable(True)
        realm_line = self.grant_realm.lineEdit()
        assert realm_line is not None  # an editable combo box has one
        realm_line.setPlaceholderText("/shared/realm")
        grant.addWidget(QLabel("Realm", side), 0, 0)
        grant.addWidget(self.grant_realm, 0, 1, 1, 2)
        self.grant_level = QComboBox(side)
        self.grant_level.setObjectName("grantLevel")
        self.grant_level.addItems(LEVELS)
        self.grant_level.setCurrentText("write")
        grant.addWidget(QLabel("Level", side), 1, 0)
        grant.addWidget(self.grant_level, 1, 1)
        self.grant_button = self._button("Grant", "grantUserButton", self.grant)
        grant.addWidget(self.grant_button, 1, 2)
        self.revoke_button = self._button("Revoke", "revokeUserButton", self.revoke)
        grant.addWidget(self.revoke_button, 2, 2)
        self.realms_label = QLabel("", side)
        self.realms_label.setObjectName("userRealms")
        self.realms_label.setWordWrap(True)
        grant.addWidget(self.realms_label, 3, 0, 1, 3)
        column.addWidget(self.grant_box)
        column.addStretch(1)
        return side

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.model.records and self.link.is_connected:
            self.spawn(self.reload())  # suspensions or new users made elsewhere

    # -- data ------------------------------------------------------------------------------

    async def reload(self) -> None:
        users = await self.link.admin.list_users()
        chosen = self.selected_name()
        self.model.set_records(sorted(users, key=lambda u: str(u.get("username"))))
        fit_columns(self.table)
        if chosen:
            select_where(self.table, lambda u: u.get("username") == chosen)
        self._selection_changed()

    def names(self) -> list[str]:
        return [str(u["username"]) for u in self.model.records]

    def set_realm_paths(self, paths: list[str]) -> None:
        current = self.grant_realm.currentText()
        self.realm_paths = paths
        self.grant_realm.clear()
        self.grant_realm.addItems(paths)
        self.grant_realm.setCurrentText(current)

    def selected_name(self) -> str:
        record = selected_record(self.table)
        return str(record["username"]) if record else ""

    def select_user(self, name: str) -> bool:
        return select_where(self.table, lambda u: u.get("username") == name)

    def _selection_changed(self) -> None:
        record = selected_record(self.table)
        self.user_box.setEnabled(record is not None)
        self.grant_box.setEnabled(record is not None)
        if record is None:
            self.user_box.setTitle("Selected user (none)")
            self.realms_label.setText("")
            return
        name = record["username"]
        self.user_box.setTitle(f"User {name}")
        self.admin_button.setText("Remove admin" if record.get("is_admin") else "Make admin")
        self.suspend_button.setText("Unsuspend" if record.get("suspended") else "Suspend")
        realms = fmt_user_realms(record.get("realms"))
        self.realms_label.setText(f"Realms: {realms}" if realms else "No realms yet.")

    # -- actions ---------------------------------------------------------------------------

    @async_slot()
    async def create_user(self) -> None:
        name, password = self.new_name.text().strip(), self.new_password.text()
        if not name or not password:
            self.report("A new user needs a name and a password.", "warning")
            return
        admin = self.new_admin.isChecked()
        async with self.acting(f"Created {'admin ' if admin else ''}user {name}."):
            await self.link.admin.create_user(name, password, is_admin=admin)
            self.new_name.clear()
            self.new_password.clear()
            self.new_admin.setChecked(False)
            await self.reload()
            self.select_user(name)

    @async_slot()
    async def set_password(self) -> None:
        name, password = self.selected_name(), self.password_edit.text()
        if not name or not password:
            self.report("Type the new password first.", "warning")
            return
        async with self.acting(f"Changed the password of {name}; their devices must log in "
                               "again."):
            await self.link.admin.set_password(name, password)
            self.password_edit.clear()

    @async_slot()
    async def toggle_admin(self) -> None:
        record = selected_record(self.table)
        if record is None:
            return
        name, admin = str(record["username"]), not record.get("is_admin")
        async with self.acting(f"{name} is {'now' if admin else 'no longer'} an admin."):
            await self.link.admin.set_admin(name, admin)
            await self.reload()

    @async_slot()
    async def toggle_suspended(self) -> None:
        record = selected_record(self.table)
        if record is None:
            return
        name, suspend = str(record["username"]), not record.get("suspended")
        async with self.acting(f"{name} is {'suspended' if suspend else 'active again'}."):
            await self.link.admin.suspend_user(name, suspend)
            await self.reload()

    def ask_delete(self) -> None:
        name = self.selected_name()
        if name:
            self.message_bar.ask(f"Delete the user {name}? Their own realms stay on the "
                                 "server.", "Delete", lambda: self._delete(name))

    @async_slot()
    async def _delete(self, name: str) -> None:
        async with self.acting(f"Deleted the user {name}."):
            await self.link.admin.delete_user(name)
            await self.reload()

    @async_slot()
    async def grant(self) -> None:
        name, path = self.selected_name(), self.grant_realm.currentText().strip()
        level = self.grant_level.currentText()
        if not name or not path:
            self.report("Choose a user and type or pick the realm's path.", "warning")
            return
        async with self.acting(f"{name} may now {level} {path}."):
            # level is one of LEVELS (the combo box's items); set_permission checks it too.
            await self.link.admin.set_permission(path, name, level)  # type: ignore[arg-type]
            await self.reload()

    @async_slot()
    async def revoke(self) -> None:
        name, path = self.selected_name(), self.grant_realm.currentText().strip()
        if not name or not path:
            self.report("Choose a user and the realm to revoke.", "warning")
            return
        async with self.acting(f"{name} has no permission on {path} any more."):
            await self.link.admin.revoke_permission(path, name)
            await self.reload()
