"""The object inspector (object name ``objectInspector``): the table's current object as a
form, in a side pane of the browser (View > Inspector, Ctrl+Shift+I).

Every property is a row (see :mod:`studio.ui.inspector_fields`): values are edited
with the new-object panel's editors and saved together (Save, Ctrl+Enter, or Enter in
a line) as one undoable command, the same undo stack as the table's edits. Links,
collections and backlinks navigate. Under the form, the object's JSON (as "Copy rows
as JSON" writes it).

It follows the realm: a commit (here or by another process) fills the form again,
keeping what the user is changing; an object deleted meanwhile is said so. On a
read-only realm (a Realm Core file) the fields only show.

A hidden inspector does no work: it loads the object when it is shown again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.export_files import export_object
from studio.core.schema import ObjectSchema
from studio.ui import formatting as fmt
from studio.ui.commands import RealmCommand, Session, restore_values, snapshot_value
from studio.ui.create_fields import LinkChoices
from studio.ui.inspector_fields import ClassForm, Target, anchor_target
from studio.ui.navigation import ViewSpec

if TYPE_CHECKING:
    from studio.ui.browser import RealmBrowser

log = logging.getLogger(__name__)

# commit(class_name, key, values) -> saved; raises ValueError for a value it cannot use
PANE_MIN_WIDTH = 300
Commit = Callable[[str, int, dict[str, Any]], bool]


class SetValuesCommand(RealmCommand):
    """Several properties of one object get new values (one undo step)."""

    def __init__(self, session: Session, class_name: str, key: int, old: dict[str, Any],
                 new: dict[str, Any]) -> None:
        names = ", ".join(new)
        super().__init__(session, f"Edit {class_name}.{names}" if len(new) == 1
                         else f"Edit {class_name} ({names})")
        self.class_name, self.key = class_name, key
        self.old, self.new = old, new

    def _set(self, values: dict[str, Any]) -> None:
        obj = self.session.object(self.class_name, self.key)
        for name, value in values.items():
            obj[name] = restore_values(self.session.realm, value)

    def apply(self) -> None:
        self._set(self.new)

    def revert(self) -> None:
        self._set(self.old)


def object_json(obj: Any) -> str:
    """The object as the table's "Copy rows as JSON" writes it."""
    try:
        return json.dumps(export_object(obj), ensure_ascii=False, indent=2)
    except Exception as exc:  # a value export does not know: say so, show the rest
        log.debug("inspector JSON failed", exc_info=exc)
        return f"(no JSON: {exc})"


class ObjectInspector(QWidget):
    """One object at a time, as a form (see the module docstring)."""

    navigateRequested = Signal(object)  # a Target
    objectShown = Signal()  # the form was filled (a new object, or a live update)
    formCreated = Signal(QWidget)  # a class's form, built the first time it is needed

    def __init__(self, realm: Any, *, read_only: bool, commit: Commit | None = None,
                 link_choices: LinkChoices | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("objectInspector")
        self.setMinimumWidth(PANE_MIN_WIDTH)
        self.realm = realm
        self.read_only = read_only
        self.commit = commit
        self.link_choices = link_choices
        self._forms: dict[str, ClassForm] = {}
        self._form: ClassForm | None = None
        self._target: tuple[str, int] | None = None  # class name and object key
        self._stale = False  # asked to show something while hidden
        self.deleted = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel("Select an object in the table.", self)
        self.title.setObjectName("inspectorTitle")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("QLabel { font-weight: bold; }")
        layout.addWidget(self.title)
        self.note = QLabel(self)
        self.note.setObjectName("inspectorNote")
        self.note.setWordWrap(True)
        self.note.hide()
        layout.addWidget(self.note)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.scroll_area = QScrollArea(splitter)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.json_view = QPlainTextEdit(splitter)
        self.json_view.setObjectName("inspectorJson")
        self.json_view.setReadOnly(True)
        self.json_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        splitter.addWidget(self.scroll_area)
        splitter.addWidget(self.json_view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)
        self.error = QLabel(self)
        self.error.setObjectName("inspectorError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel { color: #d32f2f; }")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.revert_button = QPushButton("Revert", self)
        self.revert_button.setObjectName("inspectorRevert")
        self.revert_button.setToolTip("Show the stored values again (drops your changes)")
        self.revert_button.clicked.connect(lambda _c=False: self.revert())
        self.save_button = QPushButton("Save", self)
        self.save_button.setObjectName("inspectorSave")
        self.save_button.setToolTip("Save the changed fields (Ctrl+Enter); Ctrl+Z undoes it")
        self.save_button.clicked.connect(lambda _c=False: self.save())
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.save,
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._set_buttons()

    # -- what is shown ------------------------------------------------------------------------

    @property
    def form(self) -> ClassForm | None:
        return self._form

    @property
    def target(self) -> tuple[str, int] | None:
        return self._target

    def current_object(self) -> Any:
        if self._target is None:
            return None
        try:
            return self.realm.object_for_key(*self._target)
        except Exception as exc:
            log.debug("inspector lookup failed", exc_info=exc)
            return None

    def inspect(self, obj: Any) -> None:
        """Show ``obj`` (None, or a row that is not an object: nothing)."""
        key = fmt.object_key(obj) if fmt.is_object(obj) else None
        target = (fmt.object_class(obj), key) if key is not None else None
        if target == self._target and not self.deleted and not self._stale:
            return
        self._target = target
        if not self.isVisible():
            self._stale = True  # loaded when shown: a hidden pane costs nothing
            return
        self._load(obj if target is not None else None, keep_changes=False)

    def refresh(self) -> None:
        """The realm changed: fill the form again, keeping the user's changes."""
        if self._target is None:
            return
        if not self.isVisible():
            self._stale = True
            return
        self._load(self.current_object(), keep_changes=not self.deleted)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._load(self.current_object(), keep_changes=False)

    def _load(self, obj: Any, keep_changes: bool) -> None:
        self._stale = False
        self.error.hide()
        if self._target is None:
            self._show_form(None)
            self.title.setText("Select an object in the table.")
            self._note("")
            self.json_view.clear()
            self.deleted = False
            self._set_buttons()
            self.objectShown.emit()
            return
        class_name = self._target[0]
        if obj is None:
            self.deleted = True
            self._note(f"This {class_name} was deleted (by this window or another program).")
            if self._form is not None:
                self._form.setEnabled(False)
            self._set_buttons()
            self.objectShown.emit()
            return
        self.deleted = False
        form = self._form_for(obj.object_schema)
        if form is None:
            return
        self._show_form(form)
        form.setEnabled(True)
        try:
            form.load(obj, keep_changes=keep_changes)
        except Exception as exc:  # a damaged value, a closed realm: say it, keep the pane
            log.debug("inspector load failed", exc_info=exc)
            self._note(f"⚠ {exc}")
            return
        self.title.setText(f"{class_name} {fmt.object_summary(obj)}")
        self._note("Read-only: this realm cannot be changed here." if self.read_only else "")
        self.json_view.setPlainText(object_json(obj))
        self._set_buttons()
        self.objectShown.emit()

    def _note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _form_for(self, schema: ObjectSchema) -> ClassForm | None:
        form = self._forms.get(schema.name)
        if form is None or form.schema is not schema:
            try:
                classes = {s.name: s for s in self.realm.schema}
            except Exception as exc:
                self._note(f"⚠ {exc}")
                return None
            form = ClassForm(schema, classes, self.link_choices, self._enter_pressed)
            form.linkActivated.connect(self._link_activated)
            form.set_read_only(self.read_only)
            self._forms[schema.name] = form
            self.formCreated.emit(form)
        return form

    def _show_form(self, form: ClassForm | None) -> None:
        if self._form is form:
            return
        # takeWidget: setWidget would delete the form shown before (kept per class).
        self.scroll_area.takeWidget()
        if form is not None:
            self.scroll_area.setWidget(form)
        self._form = form

    def _set_buttons(self) -> None:
        editable = not self.read_only and self._form is not None and not self.deleted \
            and self._target is not None
        self.save_button.setVisible(not self.read_only)
        self.revert_button.setVisible(not self.read_only)
        self.save_button.setEnabled(editable)
        self.revert_button.setEnabled(editable)

    def _link_activated(self, href: str) -> None:
        target = anchor_target(href)
        if target is not None:
            self.navigateRequested.emit(target)

    # -- saving --------------------------------------------------------------------------------

    def save(self) -> bool:
        """Save the fields the user changed; errors show under the form."""
        form = self._form
        if form is None or self._target is None or self.deleted or self.read_only:
            return False
        try:
            values = form.changed()
        except ValueError as exc:
            self.show_error(str(exc))
            return False
        if not values:
            return True
        if self.commit is None:
            return False
        try:
            saved = self.commit(*self._target, values)
        except ValueError as exc:
            self.show_error(str(exc))
            return False
        if not saved:
            self.show_error("Not saved (the message above the table says why).")
            return False
        self.error.hide()
        self._load(self.current_object(), keep_changes=False)
        return True

    def _enter_pressed(self) -> None:
        self.save()

    def revert(self) -> None:
        self._load(self.current_object(), keep_changes=False)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()


# -- in the browser window ---------------------------------------------------------------------


def target_spec(target: Target) -> ViewSpec:
    if target.kind == "object":
        return ViewSpec("class", target.class_name, focus_key=target.key)
    if target.kind == "backlinks":
        return ViewSpec("backlinks", target.class_name, owner_key=target.key, prop=target.prop)
    return ViewSpec("collection", target.class_name, owner_key=target.key, prop=target.prop)


def install_inspector(browser: RealmBrowser) -> QAction:
    """Add the inspector pane to a browser window; returns its toggle action."""
    realm = browser.realm

    def commit(class_name: str, key: int, values: dict[str, Any]) -> bool:
        resolved = browser.resolve_links(class_name, values)
        obj = browser.session.object(class_name, key)
        old = {name: snapshot_value(obj[name]) for name in resolved}
        return browser.push(SetValuesCommand(browser.session, class_name, key, old, resolved))

    inspector = ObjectInspector(realm, read_only=browser.read_only, commit=commit,
                                link_choices=None if browser.read_only
                                else browser.primary_key_choices, parent=browser)
    inspector.navigateRequested.connect(lambda t: browser.navigate(target_spec(t)))
    # The window's shortcuts (Ctrl+G, Ctrl+E ...) work while a field has the focus.
    inspector.formCreated.connect(lambda form: browser.shortcut_guard.guard(
        *form.findChildren(QLineEdit), *form.findChildren(QPlainTextEdit)))
    dock = QDockWidget("Inspector", browser)
    dock.setObjectName("inspectorDock")
    dock.setWidget(inspector)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetMovable)
    browser.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    browser.inspector = inspector
    browser.inspector_dock = dock

    def current_changed(current: QModelIndex, _previous: QModelIndex) -> None:
        inspector.inspect(browser.model.row_object(current.row()) if current.isValid()
                          else None)

    browser.table.selectionModel().currentChanged.connect(current_changed)
    browser.model.modelReset.connect(lambda: current_changed(browser.table.currentIndex(),
                                                             QModelIndex()))
    token = realm.add_listener(lambda _realm, _summary: inspector.refresh())

    def stop() -> None:
        try:
            token.remove()
        except Exception as exc:  # the realm is closed already: nothing listens any more
            log.debug("inspector listener removal failed", exc_info=exc)

    browser.closing.connect(stop)
    action = dock.toggleViewAction()
    action.setText("Inspector")
    action.setObjectName("inspectorAction")
    action.setShortcut(QKeySequence("Ctrl+Shift+I"))
    action.setToolTip("Show the selected object as a form (Ctrl+Shift+I)")
    browser.addAction(action)
    return action
