"""The realm browser window (object name ``realmBrowser``).

A sidebar of classes with live counts, the object table, the query bar, a status
bar, back/forward through every navigation, and live updates from other processes
(a RealmWatcher polled from a Qt timer). This module builds the window and keeps
its classes, status and live updates; moving between views is
:mod:`studio.ui.browser_navigation`, the edits :mod:`studio.ui.browser_edits`, the
menus, files and schema actions :mod:`studio.ui.browser_actions`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from studio.core import Realm
from studio.core.watcher import RealmWatcher
from studio.ui import errors, theme
from studio.ui.about import show_about
from studio.ui.browser_actions import BrowserActions
from studio.ui.browser_navigation import BrowserNavigation
from studio.ui.class_list import ClassList
from studio.ui.commands import Session
from studio.ui.create_panel import CreatePanel
from studio.ui.goto import GoToDialog, install_goto
from studio.ui.inspector import ObjectInspector, install_inspector
from studio.ui.message_bar import MessageBar
from studio.ui.navigation import History, ViewSpec
from studio.ui.query_bar import QueryBar
from studio.ui.query_history import BrowserQueries
from studio.ui.quick_filter import QuickFilter
from studio.ui.recent import settings
from studio.ui.shortcuts import ShortcutGuard
from studio.ui.sources import BacklinkSource, CollectionSource
from studio.ui.status import BrowserStatus
from studio.ui.table_model import (
    ObjectTableModel,
)
from studio.ui.table_view import ObjectTableView

log = logging.getLogger(__name__)
POLL_MS = 100
# How long a write waits for another process's write lock before the browser says the
# file is locked. Realm.open waits 30 s, which would freeze the window that long.
BUSY_TIMEOUT_MS = 2000


def open_realm(path: str | os.PathLike[str], read_only: bool = False) -> tuple[Realm, str]:
    """Open a realm file for the browser: read-only when the file cannot be written.

    Returns the realm and a note to show (empty when nothing is worth saying).
    Raises what ``Realm.open`` raises; :func:`studio.ui.errors.describe` words it.
    """
    file = Path(path)
    if file.is_dir():
        raise IsADirectoryError(f"{file} is a folder")
    if not file.exists():
        raise FileNotFoundError(f"{file} does not exist")
    note = ""
    if not read_only and not (os.access(file, os.W_OK) and os.access(file.parent, os.W_OK)):
        read_only = True
        note = ("You have no permission to change this file (or its folder), so it is open "
                "read-only.")
    realm = Realm.open(file, read_only=read_only)
    # Opening may wait as long as it needs; a write in the UI must not.
    realm.lock_timeout = BUSY_TIMEOUT_MS / 1000
    return realm, note


class RealmBrowser(BrowserNavigation, BrowserActions, QMainWindow):
    """One realm file's window. Several can be open at once."""

    closed = Signal(object)
    closing = Signal()  # before the realm closes: listeners of other parts let go
    supports_queries = True  # the query bar and the quick filter row work on this file
    viewShown = Signal(object)  # the ViewSpec now on screen

    def __init__(self, realm: Realm, *, manager: Any = None, note: str = "",
                 poll_ms: int = POLL_MS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("realmBrowser")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.realm = realm
        self.manager = manager
        self.read_only = realm.read_only
        self.session = Session(
            realm, lambda exc: self.show_message(errors.describe(exc, realm.path), "error",
                                                 topic="edit"))
        self.undo_stack = QUndoStack(self)
        # "Deleted 1 Book." is no longer true once undone (or redone over).
        self.undo_stack.indexChanged.connect(lambda _i: self.message_bar.clear("change"))
        self.history = History(self)
        self.model = ObjectTableModel(parent=self)
        self.model.expose_when_live = True
        self.model.set_edit_handler(self.edit_cell)
        self.model.readError.connect(lambda text: self.show_message(text, "error"))
        self.model.liveChange.connect(lambda _changes: self.update_status())
        self.model.sortChanged.connect(self._sort_changed)
        self.current_spec: ViewSpec | None = None
        self.inspector: ObjectInspector | None = None  # set by install_inspector
        self.inspector_dock: QDockWidget | None = None
        self.goto_dialog: GoToDialog | None = None  # set by install_goto
        self._closing = False
        self._build()
        self._realm_token = realm.add_listener(self._realm_changed)
        self.watcher = RealmWatcher(realm)
        self._poll_error = ""
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(poll_ms)
        self.poll_timer.timeout.connect(self.poll)
        self.poll_timer.start()
        self.refresh_classes(count=False)
        # Qt adds " — Studio" (the application's display name) itself.
        self.setWindowTitle(Path(realm.path).name + (" (read-only)" if self.read_only else ""))
        self.status.set_path(realm.path)
        self.status.set_read_only(self.read_only)
        self.apply_read_only()
        self.resize(1200, 760)
        if note:
            self.show_message(note, "warning")
        first = next((n for n in self.class_list.names() if not self.class_list.is_embedded(n)),
                     None) or next(iter(self.class_list.names()), None)
        if first is not None:
            self.navigate(ViewSpec("class", first))
        self.update_counts()

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False,
             manager: Any = None) -> RealmBrowser:
        """A browser on any realm file: a studio realm (editable unless ``read_only`` or not
        writable), or a genuine Realm Core file, read-only
        (:class:`studio.ui.corefile_browser.RealmCoreBrowser`)."""
        if cls is RealmBrowser:
            from studio.realmfile.browse import is_core_file

            if is_core_file(path):
                from studio.ui.corefile_browser import RealmCoreBrowser

                return RealmCoreBrowser.open(path, manager=manager)
        realm, note = open_realm(path, read_only)
        return cls(realm, manager=manager, note=note)

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(6, 6, 6, 0)
        self.message_bar = MessageBar(central)
        outer.addWidget(self.message_bar)
        splitter = QSplitter(Qt.Orientation.Horizontal, central)
        outer.addWidget(splitter, 1)

        sidebar = QWidget(splitter)
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(0, 0, 0, 0)
        self.class_list = ClassList(sidebar)
        self.class_list.classChosen.connect(lambda name: self.navigate(ViewSpec("class", name)))
        side.addWidget(self.class_list, 1)
        self.system_toggle = QCheckBox("Show system classes", sidebar)
        self.system_toggle.setObjectName("systemClassesToggle")
        self.system_toggle.toggled.connect(self.class_list.set_show_system)
        side.addWidget(self.system_toggle)
        self.add_class_button = QPushButton("Add class…", sidebar)
        self.add_class_button.setObjectName("addClassButton")
        self.add_class_button.clicked.connect(self.show_add_class)
        side.addWidget(self.add_class_button)

        main = QWidget(splitter)
        right = QVBoxLayout(main)
        right.setContentsMargins(0, 0, 0, 0)
        self.view_title = QLabel(main)
        self.view_title.setObjectName("viewTitle")
        self.view_title.setStyleSheet("QLabel { font-size: 15px; font-weight: bold; }")
        right.addWidget(self.view_title)
        self.query_bar = QueryBar(main)
        self.query_edit = self.query_bar.edit
        self.query_edit.queryChanged.connect(lambda q: self.apply_query(q, submitted=False))
        self.query_edit.querySubmitted.connect(lambda q: self.apply_query(q, submitted=True))
        right.addWidget(self.query_bar)
        self.table = ObjectTableView(main)
        self.table.setModel(self.model)
        self.table.followRequested.connect(self.follow)
        self.table.deleteRequested.connect(self.delete_selected)
        self.table.dataMenuRequested.connect(self.show_cell_menu)
        self.table.customContextMenuRequested.connect(
            lambda pos: self.show_cell_menu(self.table.indexAt(pos), self.table.viewport()
                                            .mapToGlobal(pos)))
        self.model.sortStarted.connect(
            lambda text: self.message_bar.show_message(
                text, "info", [("Cancel", self.model.cancel_sort)], topic="sort", busy=True))
        self.model.sortFinished.connect(lambda: self.message_bar.clear("sort"))
        self.table.delegate.invalidInput.connect(
            lambda text: self.show_message(text, "error", topic="edit"))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_selection())
        right.addWidget(self.table, 1)
        right.addWidget(self._build_collection_bar(main))
        splitter.addWidget(sidebar)
        splitter.addWidget(main)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 960])
        self.setCentralWidget(central)

        self.create_panel = CreatePanel(self)
        self.create_panel.link_choices = self.primary_key_choices
        self.create_dock = QDockWidget("New object", self)
        self.create_dock.setObjectName("createDock")
        self.create_dock.setWidget(self.create_panel)
        self.create_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                                     | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.create_dock)
        self.create_panel.closed.connect(self.create_dock.hide)
        self.create_dock.hide()

        self.status = BrowserStatus(self)
        self.setStatusBar(self.status)
        self._build_actions()

    def _build_collection_bar(self, parent: QWidget) -> QWidget:
        """Buttons under a list, set or dictionary: the context menu's edits, visible."""
        bar = QWidget(parent)
        bar.setObjectName("collectionBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 2, 0, 2)
        self.add_item_button = QPushButton("Add item", bar)
        self.add_item_button.setObjectName("addItemButton")
        self.add_item_button.clicked.connect(lambda _c=False: self.add_element())
        self.remove_items_button = QPushButton("Remove", bar)
        self.remove_items_button.setObjectName("removeItemsButton")
        self.remove_items_button.setToolTip("Remove the selected items (Del)")
        self.remove_items_button.clicked.connect(self.delete_selected)
        self.move_up_button = QPushButton("Move up", bar)
        self.move_up_button.setObjectName("moveUpButton")
        self.move_up_button.clicked.connect(lambda _c=False: self.move_current(-1))
        self.move_down_button = QPushButton("Move down", bar)
        self.move_down_button.setObjectName("moveDownButton")
        self.move_down_button.clicked.connect(lambda _c=False: self.move_current(1))
        for button in (self.add_item_button, self.remove_items_button, self.move_up_button,
                       self.move_down_button):
            row.addWidget(button)
        row.addStretch(1)
        bar.hide()
        self.collection_bar = bar
        self.viewShown.connect(lambda _spec: self.update_collection_bar())
        return bar

    def update_collection_bar(self) -> None:
        source = self.model.source
        is_collection = isinstance(source, CollectionSource)
        self.collection_bar.setVisible(is_collection)
        is_list = isinstance(source, CollectionSource) and source.is_list
        self.move_up_button.setVisible(is_list)
        self.move_down_button.setVisible(is_list)
        self.collection_bar.setEnabled(not self.read_only)

    def _action(self, text: str, slot: Any, shortcut: Any = None, name: str = "",
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.triggered.connect(lambda _checked=False: slot())
        if name:
            action.setObjectName(name)
        if tip:
            action.setToolTip(tip)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.back_action = a("◀ Back", self.go_back, "Alt+Left", "backAction", "Back (Alt+Left)")
        self.forward_action = a("Forward ▶", self.go_forward, "Alt+Right", "forwardAction",
                                "Forward (Alt+Right)")
        self.find_action = a("Query…", self.focus_query, "Ctrl+F", "findAction")
        self.open_action = a("Open…", self.open_files, "Ctrl+O", "openAction")
        self.close_action = a("Close", self.close, "Ctrl+W", "closeAction")
        self.new_action = a("+ New object", self.new_object, "Ctrl+N", "newObjectAction",
                            "Create an object (Ctrl+N)")
        self.delete_action = a("Delete", self.delete_selected, None, "deleteAction",
                               "Delete the selected objects (Del)")
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addActions([self.undo_action, self.redo_action])
        self.copy_json_action = a("Copy rows as JSON", lambda: self.copy_rows("json"),
                                  "Ctrl+Shift+C", "copyJsonAction")
        self.copy_csv_action = a("Copy rows as CSV", lambda: self.copy_rows("csv"), None,
                                 "copyCsvAction")
        self.export_json_action = a("Export view as JSON…", lambda: self.export_dialog("json"),
                                    "Ctrl+E", "exportJsonAction")
        self.export_csv_action = a("Export view as CSV…", lambda: self.export_dialog("csv"),
                                   None, "exportCsvAction")
        self.import_action = a("Import CSV…", self.import_dialog, "Ctrl+I", "importCsvAction")
        self.add_class_action = a("Add class…", self.show_add_class, None, "addClassAction")
        self.add_property_action = a("Add property…", self.show_add_property, None,
                                     "addPropertyAction")
        self.dark_action = a("Dark mode", self.toggle_dark, "Ctrl+Shift+D", "darkModeAction",
                             "Switch between the light and dark palette")
        self.dark_action.setCheckable(True)
        self.dark_action.setChecked(theme.current() == "dark")
        self.refresh_action = a("Refresh", self.poll, "F5", "refreshAction")
        self.classes_action = a("Go to classes", self.class_list.setFocus, "Ctrl+L")
        self.table_action = a("Go to table", self.table.setFocus, "Ctrl+T")

        toolbar = QToolBar("Navigation", self)
        toolbar.setObjectName("browserToolbar")
        toolbar.setMovable(False)
        for action in (self.back_action, self.forward_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        for action in (self.new_action, self.delete_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.undo_action)
        toolbar.addAction(self.redo_action)
        toolbar.addSeparator()
        toolbar.addAction(self.dark_action)
        self.addToolBar(toolbar)
        # The query bar would keep some of these keys (Ctrl+E on X11) to itself.
        self.shortcut_guard = ShortcutGuard(self)
        self.shortcut_guard.guard(self.query_edit)
        # ...and so would the New-object panel's fields (Ctrl+E, Ctrl+W ... from a field).
        self.create_panel.formCreated.connect(lambda form: self.shortcut_guard.guard(
            *form.findChildren(QLineEdit), *form.findChildren(QPlainTextEdit)))

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addSeparator()
        file_menu.addActions([self.export_json_action, self.export_csv_action,
                              self.import_action])
        models = file_menu.addMenu("Export schema as models")
        from studio.ui.codegen import LANGUAGES

        for key, label in LANGUAGES.items():
            act = models.addAction(label)
            act.setObjectName(f"models_{key}")
            act.triggered.connect(lambda _c=False, k=key: self.export_models_dialog(k))
        file_menu.addSeparator()
        file_menu.addAction(self.close_action)
        edit_menu = menus.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([self.new_action, self.delete_action, self.copy_json_action,
                              self.copy_csv_action])
        view_menu = menus.addMenu("&View")
        view_menu.addActions([self.back_action, self.forward_action, self.find_action,
                              self.refresh_action, self.classes_action, self.table_action])
        view_menu.addSeparator()
        view_menu.addAction(self.dark_action)
        self.view_menu = view_menu
        view_menu.addAction(install_inspector(self))
        view_menu.addAction(install_goto(self))
        self.queries = BrowserQueries(self)
        self.quick_filter = QuickFilter(self, self.table.column_header)
        schema_menu = menus.addMenu("&Schema")
        schema_menu.addActions([self.add_class_action, self.add_property_action])
        help_menu = menus.addMenu("&Help")
        about = help_menu.addAction("&About Studio")
        about.setObjectName("aboutAction")
        about.triggered.connect(lambda _checked=False: show_about(self))
        self.history.changed.connect(self._update_nav_actions)
        self._update_nav_actions()

    def _update_nav_actions(self) -> None:
        self.back_action.setEnabled(self.history.can_go_back())
        self.forward_action.setEnabled(self.history.can_go_forward())

    def apply_read_only(self) -> None:
        editing = not self.read_only
        for action in (self.new_action, self.delete_action, self.import_action,
                       self.add_class_action, self.add_property_action):
            action.setEnabled(editing)
        self.add_class_button.setEnabled(editing)

    # -- messages -----------------------------------------------------------------------------

    def show_message(self, text: str, level: str = "info", timeout_ms: int | None = None,
                     topic: str = "") -> None:
        """``topic`` ties the message to its cause (see :class:`MessageBar`): "edit" for a
        failed edit (gone when an edit succeeds), "change" for what a change did (gone
        when it is undone or redone)."""
        self.message_bar.show_message(text, level, timeout_ms=timeout_ms, topic=topic)

    def report_error(self, exc: BaseException) -> None:
        log.debug("browser error", exc_info=exc)
        self.show_message(errors.describe(exc, self.realm.path), "error")

    # -- classes and live updates ----------------------------------------------------------

    def schema_of(self, class_name: str) -> Any:
        return next((s for s in self.realm.schema if s.name == class_name), None)

    def class_count(self, name: str) -> int:
        spec = self.current_spec
        if spec is not None and spec.kind == "class" and spec.class_name == name and not spec.query:
            return self.model.total_rows  # already counted by the live model
        return len(self.realm.objects(name))

    def refresh_classes(self, count: bool = True) -> None:
        """Rebuild the class list; ``count=False`` leaves the counts for :meth:`update_counts`
        (on opening, the class shown first is counted once, by its table)."""
        classes = [(s.name, s.embedded) for s in self.realm.schema]
        self.class_list.set_classes(classes, {})
        if count:
            self.update_counts()

    def update_counts(self) -> None:
        try:
            for schema in self.realm.schema:
                self.class_list.set_count(schema.name, self.class_count(schema.name))
        except Exception as exc:
            self.report_error(exc)

    def poll(self) -> None:
        """Look for commits by other processes (the watcher refreshes and notifies)."""
        if self._closing or self.realm.is_closed:
            return
        try:
            self.watcher.poll()
            self._poll_error = ""
        except Exception as exc:
            text = errors.describe(exc, self.realm.path)
            if text != self._poll_error:  # say it once, not every 150 ms
                self._poll_error = text
                self.show_message(text, "error")

    def _realm_changed(self, _realm: Any, summary: Any) -> None:
        if self._closing:
            return
        if summary.schema_changed:
            self.refresh_classes()
            spec = self.current_spec
            if spec is not None:
                self._show(spec, keep_position=True)
            return
        for name in summary.changed_classes:
            try:
                self.class_list.set_count(name, self.class_count(name))
            except Exception as exc:
                self.report_error(exc)
        source = self.model.source
        # The owner itself, not the source's flag: the model reads its rows again after
        # this listener, so the flag is still the old one here.
        if isinstance(source, CollectionSource | BacklinkSource) and (
                source.owner_deleted or not getattr(source.owner, "is_valid", True)):
            self.show_message(f"The {source.owner.object_schema.name} these "
                              f"{source.prop.name} belonged to was deleted.", "warning")
        self.update_status()

    # -- status ---------------------------------------------------------------------------------

    def update_status(self) -> None:
        if self._closing:
            return
        spec = self.current_spec
        total = self.model.total_rows
        if spec is not None and spec.kind == "class":
            of_class = None
            if spec.query:
                try:
                    of_class = len(self.realm.objects(spec.class_name))
                except Exception:
                    of_class = None
            self.status.set_count(total, of_class, "objects")
        else:
            self.status.set_count(total, None, "items")
        self.status.update_size(self.realm.path)
        self.update_selection()

    def update_selection(self) -> None:
        self.status.set_selection(len(self.table.selected_rows())
                                  if self.table.selectionModel().hasSelection() else 0)

    # -- theme and closing ---------------------------------------------------------------------

    def toggle_dark(self) -> None:
        mode = "dark" if self.dark_action.isChecked() else "light"
        theme.apply(mode)
        settings().setValue("theme", mode)
        self.model.refresh_cells()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closing = True
        self.closing.emit()
        self.poll_timer.stop()
        self._realm_token.remove()
        self.model.close()
        self.realm.close()
        self.closed.emit(self)
        super().closeEvent(event)
