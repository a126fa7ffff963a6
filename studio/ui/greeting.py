"""The greeting window (object name ``greetingWindow``): what ``studio`` opens first.

Open realm files, reopen a recent one (missing files are marked), create a new realm
(empty, or from a schema JSON file), open the demo realm, or connect to an object
server. Errors appear in the window's message bar, never as a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.about import show_about
from studio.ui.message_bar import MessageBar
from studio.ui.recent import RecentFiles

PathRole = Qt.ItemDataRole.UserRole + 20


class RecentList(QListWidget):
    """Recent files; Enter opens, Delete forgets the selected entry."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.currentItem():
            parent = self.parent()
            while parent is not None and not isinstance(parent, GreetingWindow):
                parent = parent.parent()
            if isinstance(parent, GreetingWindow):
                parent.forget(str(self.currentItem().data(PathRole)))
            return
        super().keyPressEvent(event)


class GreetingWindow(QWidget):
    def __init__(self, manager: Any, recent: RecentFiles | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("greetingWindow")
        self.setWindowTitle("Studio")
        self.manager = manager
        self.recent = recent or RecentFiles()
        self.resize(760, 520)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 20, 24, 20)
        self.message_bar = MessageBar(self)
        outer.addWidget(self.message_bar)
        title = QLabel("Studio", self)
        title.setObjectName("greetingTitle")
        font = QFont(title.font())
        font.setPointSize(26)
        font.setBold(True)
        title.setFont(font)
        outer.addWidget(title)
        subtitle = QLabel("Browse and edit realm files: offline-first object databases.", self)
        subtitle.setStyleSheet("QLabel { color: gray; }")
        outer.addWidget(subtitle)
        outer.addSpacing(12)

        columns = QHBoxLayout()
        outer.addLayout(columns, 1)
        actions = QVBoxLayout()
        columns.addLayout(actions)
        self.open_button = self._button("Open realm file…", "openButton", self.open_dialog,
                                        "Ctrl+O")
        self.new_button = self._button("Create new realm…", "newButton", self.new_dialog,
                                       "Ctrl+N")
        self.schema_button = self._button("Create from schema file…", "schemaButton",
                                          self.new_from_schema_dialog, "Ctrl+Shift+N")
        self.demo_button = self._button("Open the demo realm", "demoButton", self.open_demo,
                                        "Ctrl+D")
        self.connect_button = self._button("Connect to server…", "connectServerButton",
                                           self.connect_to_server, "Ctrl+K")
        for button in (self.open_button, self.new_button, self.schema_button, self.demo_button,
                       self.connect_button):
            button.setMinimumWidth(220)
            button.setMinimumHeight(34)
            actions.addWidget(button)
        actions.addStretch(1)
        self.about_button = self._button("About Studio", "aboutButton",
                                         lambda: show_about(self), "F1")
        self.about_button.setFlat(True)
        actions.addWidget(self.about_button)

        recent_box = QVBoxLayout()
        columns.addLayout(recent_box, 1)
        recent_title = QLabel("Recent files", self)
        recent_title.setStyleSheet("QLabel { font-weight: bold; }")
        recent_box.addWidget(recent_title)
        self.recent_list = RecentList(self)
        self.recent_list.setObjectName("recentFiles")
        self.recent_list.itemActivated.connect(self._open_item)
        recent_box.addWidget(self.recent_list, 1)
        self.clear_missing_button = QPushButton("Forget missing files", self)
        self.clear_missing_button.setObjectName("forgetMissingButton")
        self.clear_missing_button.clicked.connect(self.forget_missing)
        recent_box.addWidget(self.clear_missing_button, 0, Qt.AlignmentFlag.AlignRight)
        self.refresh_recent()

    def _button(self, text: str, name: str, slot: Any, shortcut: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setToolTip(shortcut)
        button.clicked.connect(lambda _checked=False: slot())
        action = QAction(self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return button

    def refresh_recent(self) -> None:
        self.recent_list.clear()
        entries = self.recent.entries()
        for entry in entries:
            text = f"{entry.name}\n{entry.path}"
            item = QListWidgetItem(text if entry.exists else f"{entry.name}  (missing)\n"
                                   f"{entry.path}")
            item.setData(PathRole, entry.path)
            item.setToolTip(entry.path if entry.exists else
                            f"{entry.path} no longer exists (Delete forgets it)")
            if not entry.exists:
                item.setForeground(QBrush(QColor(150, 150, 150)))
                font = item.font()
                font.setItalic(True)
                item.setFont(font)
            self.recent_list.addItem(item)
        if not entries:
            placeholder = QListWidgetItem("No recent files yet.")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            placeholder.setData(PathRole, "")
            self.recent_list.addItem(placeholder)
        else:
            self.recent_list.setCurrentRow(0)
        self.clear_missing_button.setEnabled(any(not e.exists for e in entries))

    def _open_item(self, item: QListWidgetItem) -> None:
        path = item.data(PathRole)
        if not path:
            return
        if not Path(path).is_file():
            self.message_bar.show_message(
                f"{path} no longer exists. Press Delete to forget it, or open another file.",
                "warning")
            return
        self.manager.open_path(path)

    def forget(self, path: str) -> None:
        self.recent.remove(path)
        self.refresh_recent()

    def forget_missing(self) -> None:
        self.recent.remove_missing()
        self.refresh_recent()

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open realm files", "",
                                                "Realm files (*.realm);;All files (*)")
        if paths:
            self.manager.open_paths(paths)

    def new_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Create a realm", "new.realm",
                                              "Realm files (*.realm)")
        if path:
            self.manager.create_realm(path)

    def new_from_schema_dialog(self) -> None:
        schema, _ = QFileDialog.getOpenFileName(self, "Choose a schema (JSON)", "",
                                                "JSON files (*.json);;All files (*)")
        if not schema:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Create a realm", "new.realm",
                                              "Realm files (*.realm)")
        if path:
            self.manager.create_realm(path, schema)

    def open_demo(self) -> None:
        self.manager.open_demo()

    def connect_to_server(self) -> None:
        """The server window's login form (URL and username as last time)."""
        self.manager.show_server()
